//! Percentiles and the outlier fences Kayenta's `IQRDetector` uses (with reduced sensitivity).

/// The p-th percentile (0 ≤ p ≤ 100) of a sorted sample by linear interpolation between order
/// statistics (R's type 7, numpy's default); NaN for an empty sample.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let position = (n - 1) as f64 * p / 100.0;
    let below = position.floor();
    let index = below as usize;
    if index + 1 >= n {
        return sorted[n - 1];
    }
    let fraction = position - below;
    sorted[index] + fraction * (sorted[index + 1] - sorted[index])
}

/// The fences outside which a value is an outlier: the wider of Tukey's fences (quartiles ∓ factor
/// × IQR) and the 1st/99th percentiles, so a long but dense tail is kept.
pub fn fences(sorted: &[f64], factor: f64) -> (f64, f64) {
    let (q1, q3) = (percentile(sorted, 25.0), percentile(sorted, 75.0));
    let iqr = q3 - q1;
    let low = percentile(sorted, 1.0).min(q1 - factor * iqr);
    let high = percentile(sorted, 99.0).max(q3 + factor * iqr);
    (low, high)
}

/// The values inside the fences, in their order.
pub fn without_outliers(values: &[f64], factor: f64) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (low, high) = fences(&sorted, factor);
    values.iter().copied().filter(|v| !(*v > high || *v < low)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 25.0), 1.75);
        assert_eq!(percentile(&s, 100.0), 4.0);
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn a_far_value_is_an_outlier_and_a_dense_tail_is_not() {
        let mut v: Vec<f64> = (0..100).map(|i| f64::from(i % 10)).collect();
        v.push(1000.0);
        let kept = without_outliers(&v, 3.0);
        assert_eq!(kept.len(), 100);
        assert!(!kept.contains(&1000.0));
    }
}
