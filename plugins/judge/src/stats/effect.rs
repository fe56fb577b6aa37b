//! Effect sizes of the canary against the baseline, as Kayenta's `EffectSizes` defines them.

use super::ranks::pool;

/// mean(canary) / mean(baseline); NaN when either mean is 0 (no ratio to speak of).
pub fn mean_ratio(baseline: &[f64], canary: &[f64]) -> f64 {
    let (b, c) = (mean(baseline), mean(canary));
    if b == 0.0 || c == 0.0 || b.is_nan() || c.is_nan() { f64::NAN } else { c / b }
}

/// The common-language effect size: the share of (canary, baseline) pairs where the canary is
/// larger, ties counting one half (Vargha and Delaney's A). Both samples sorted; NaN when one is empty.
pub fn cles(baseline: &[f64], canary: &[f64]) -> f64 {
    let (n, m) = (baseline.len() as f64, canary.len() as f64);
    if baseline.is_empty() || canary.is_empty() {
        return f64::NAN;
    }
    let r = pool(canary, baseline).rank_sum_a;
    (2.0 * r - m * (m + 1.0)) / (2.0 * n * m)
}

/// The mean, with the second pass that corrects the first's rounding (as Apache Commons Math's).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    first + values.iter().map(|v| v - first).sum::<f64>() / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_have_no_ratio() {
        assert!(mean_ratio(&[0.0, 0.0], &[1.0]).is_nan());
        assert!(mean_ratio(&[1.0], &[-1.0, 1.0]).is_nan());
        assert_eq!(mean_ratio(&[1.0, 3.0], &[4.0]), 2.0);
    }

    #[test]
    fn cles_counts_ties_as_half() {
        assert_eq!(cles(&[1.0, 2.0], &[2.0, 3.0]), (0.5 + 1.0 + 1.0 + 1.0) / 4.0);
        assert_eq!(cles(&[5.0], &[5.0]), 0.5);
    }
}
