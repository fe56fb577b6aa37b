//! The two-sided Mann–Whitney U test (Wilcoxon rank-sum) with its normal approximation, corrected
//! for ties and for continuity: what `scipy.stats.mannwhitneyu(canary, baseline,
//! method="asymptotic")` and R's `wilcox.test(exact = FALSE, correct = TRUE)` compute.

use super::ranks::pool;
use super::{StatsError, normal};

/// The test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the canary: pairs (canary, baseline) where the canary is larger, ties counting one half.
    pub u: f64,
    /// The two-sided p-value.
    pub p: f64,
}

/// Tests `canary` against `baseline`, both sorted and finite.
pub fn test(canary: &[f64], baseline: &[f64]) -> Result<MannWhitney, StatsError> {
    let (n1, n2) = (canary.len() as f64, baseline.len() as f64);
    if canary.is_empty() || baseline.is_empty() {
        return Err(StatsError::Empty);
    }
    let pooled = pool(canary, baseline);
    let u1 = pooled.rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let u = u1.max(n1 * n2 - u1);
    let sigma = rank_sum_sigma(n1, n2, pooled.tie_term);
    // The continuity correction moves U half a step towards its mean; U is the larger of the two,
    // so that is always −0.5 (a U exactly at its mean gives p = 1).
    let numerator = u - n1 * n2 / 2.0 - 0.5;
    let p = if sigma > 0.0 { 2.0 * normal::sf(numerator / sigma) } else { 1.0 };
    Ok(MannWhitney { u: u1, p: p.min(1.0) })
}

/// The standard deviation of U (or of a rank sum) under the null, with the tie correction:
/// sqrt(n1·n2/12 · ((N + 1) − Σ(t³ − t) / (N(N − 1)))).
pub fn rank_sum_sigma(n1: f64, n2: f64, tie_term: f64) -> f64 {
    let n = n1 + n2;
    let ties = if n > 1.0 { tie_term / (n * (n - 1.0)) } else { 0.0 };
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties);
    if variance > 0.0 { variance.sqrt() } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_samples_give_a_small_p_and_the_full_u() {
        let canary: Vec<f64> = (10..20).map(f64::from).collect();
        let baseline: Vec<f64> = (0..10).map(f64::from).collect();
        let r = test(&canary, &baseline).unwrap();
        assert_eq!(r.u, 100.0);
        assert!(r.p < 0.001, "{r:?}");
    }

    #[test]
    fn all_equal_is_p_one() {
        let r = test(&[3.0, 3.0], &[3.0, 3.0, 3.0]).unwrap();
        assert_eq!((r.u, r.p), (3.0, 1.0));
    }

    #[test]
    fn an_empty_sample_is_an_error() {
        assert_eq!(test(&[], &[1.0]), Err(StatsError::Empty));
    }
}
