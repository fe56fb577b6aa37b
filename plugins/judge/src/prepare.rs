//! What the judge does to a series before comparing it, as Kayenta does: NaN removed or replaced
//! by 0, then (if asked) the values outside the outlier fences removed. Each series separately.

use upshift_sdk::serde::Deserialize;

use crate::stats::describe;

/// What a NaN sample (no value: 0/0, a gap, `null` in a file) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", rename_all = "kebab-case")]
pub enum NanStrategy {
    /// Dropped: no value is not a value.
    #[default]
    Remove,
    /// 0: for counts and rates, where no value means nothing happened.
    Replace,
}

/// NaN handling, then outlier removal with `outlier_factor` (IQR multiples) when given.
pub fn prepare(raw: &[f64], nan: NanStrategy, outlier_factor: Option<f64>) -> Vec<f64> {
    let cleaned: Vec<f64> = match nan {
        NanStrategy::Remove => raw.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => raw.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect(),
    };
    match outlier_factor {
        Some(factor) if !cleaned.is_empty() => describe::without_outliers(&cleaned, factor),
        _ => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_removed_or_zero() {
        let raw = [1.0, f64::NAN, 2.0];
        assert_eq!(prepare(&raw, NanStrategy::Remove, None), vec![1.0, 2.0]);
        assert_eq!(prepare(&raw, NanStrategy::Replace, None), vec![1.0, 0.0, 2.0]);
    }

    #[test]
    fn outliers_are_removed_after_nan_handling() {
        let mut raw: Vec<f64> = (0..50).map(|i| f64::from(i % 5)).collect();
        raw.extend([f64::NAN, 500.0]);
        let kept = prepare(&raw, NanStrategy::Remove, Some(3.0));
        assert_eq!(kept.len(), 50);
    }
}
