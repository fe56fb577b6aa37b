//! The judge's statistics, pure functions of samples with no I/O and nothing of the SDK, so they
//! compile and run natively: unit tests, the scipy vectors (`tests/vectors.rs`) and the bench.
//!
//! Conventions: `canary` is the experiment, `baseline` the control; a location estimate is
//! canary − baseline. Inputs are finite numbers (the judge removes or replaces NaN and refuses
//! infinities before calling anything here).

pub mod describe;
pub mod effect;
pub mod hodges_lehmann;
pub mod ks;
pub mod mann_whitney;
pub mod normal;
pub mod ranks;

use std::fmt;

/// Why a statistic could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsError {
    /// One of the samples is empty.
    Empty,
    /// Every observation of the shifted samples is tied: the rank statistic has no variance
    /// (R's "cannot compute confidence interval when all observations are tied").
    AllTied,
    /// A sample holds NaN or an infinity.
    NonFinite,
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatsError::Empty => "a sample is empty",
            StatsError::AllTied => "cannot compute a confidence interval when all observations are tied",
            StatsError::NonFinite => "a sample holds NaN or an infinite value",
        })
    }
}

impl std::error::Error for StatsError {}

/// A sorted copy of `values`, refusing NaN and infinities; −0 becomes +0 (they compare equal, and
/// differences must not depend on which one a source wrote).
pub fn sorted_finite(values: &[f64]) -> Result<Vec<f64>, StatsError> {
    if values.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let mut sorted: Vec<f64> = values.iter().map(|v| if *v == 0.0 { 0.0 } else { *v }).collect();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted)
}
