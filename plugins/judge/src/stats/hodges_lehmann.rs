//! The Hodges–Lehmann estimate of the shift canary − baseline (the median of all pairwise
//! differences) and its confidence interval: the shifts the two-sided Mann–Whitney test, with tie
//! and continuity correction, does not reject (R's `wilcox.test(conf.int = TRUE)`, exact = FALSE).
//!
//! R finds each end with `uniroot` on the standardized statistic of (canary − d, baseline), a step
//! function of d that jumps only at pairwise differences; so each end *is* a pairwise difference, and
//! this module computes which one: on the open stretch between two adjacent differences, no
//! canary − d ties a baseline value, the statistic is (G − nm/2 ∓ ½)/σ₀ with G = #{differences > d}
//! and σ₀ the variance with the ties inside each sample only. The lower end is where that value
//! falls to z₁₋α/₂, the upper end where it falls below −z₁₋α/₂: order statistics of the
//! differences, found without forming the n·m of them (each count is a merge of the sorted samples).

use super::mann_whitney::rank_sum_sigma;
use super::ranks::tie_term;
use super::{StatsError, normal};

/// The estimate and the interval, canary − baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The shift of `canary` from `baseline` (both sorted, finite) at `confidence` (e.g. 0.98).
pub fn shift(canary: &[f64], baseline: &[f64], confidence: f64) -> Result<Shift, StatsError> {
    if canary.is_empty() || baseline.is_empty() {
        return Err(StatsError::Empty);
    }
    let d = Differences { x: canary, y: baseline };
    let total = d.len();
    // Every canary value equal and every baseline value equal: at the one shift there is, all
    // observations tie and the statistic has no variance (R stops there; Kayenta adds noise first).
    if canary[0] == canary[canary.len() - 1] && baseline[0] == baseline[baseline.len() - 1] {
        return Err(StatsError::AllTied);
    }
    let sigma = rank_sum_sigma(canary.len() as f64, baseline.len() as f64, tie_term(canary) + tie_term(baseline));
    let z = normal::quantile(1.0 - (1.0 - confidence) / 2.0);
    let half = total as f64 / 2.0;
    // The corrected, standardized statistic on a stretch where G differences lie above the shift.
    let standardized = |g: usize| {
        let c = g as f64 - half;
        (c - 0.5 * sign(c)) / sigma
    };
    // Lower end: the first stretch (from the left) where the statistic is at most z, i.e. where G is at
    // most the largest G that passes; the stretch starts at that order statistic.
    let g_low = last_true(total, |g| standardized(g) - z <= 0.0);
    // Upper end: the first stretch where the statistic drops below −z starts right after the last
    // difference of the stretches where it is at least −z.
    let g_high = first_true(total, |g| standardized(g) + z >= 0.0);
    let rank = |k: isize| k.clamp(1, total as isize) as usize;
    let lower = d.order_statistic(rank(total as isize - g_low as isize));
    let upper = d.order_statistic(rank(total as isize - g_high as isize + 1));
    let estimate = if total % 2 == 1 {
        d.order_statistic(total.div_ceil(2))
    } else {
        let below = d.order_statistic(total / 2);
        let above = d.order_statistic(total / 2 + 1);
        (below + above) / 2.0
    };
    Ok(Shift { estimate, lower, upper })
}

fn sign(c: f64) -> f64 {
    if c > 0.0 {
        1.0
    } else if c < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The largest g in 0..=n with `pred(g)`, for a predicate true up to some point (`pred(0)` holds).
fn last_true(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if pred(mid) { lo = mid } else { hi = mid - 1 }
    }
    lo
}

/// The smallest g in 0..=n with `pred(g)`, for a predicate true from some point on (`pred(n)` holds).
fn first_true(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

/// The pairwise differences x_i − y_j of two sorted samples, never materialised: in row i they
/// fall as j grows, and the boundary of {j : x_i − y_j ≤ v} moves right as i grows.
pub struct Differences<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
}

impl Differences<'_> {
    pub fn len(&self) -> usize {
        self.x.len() * self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many differences are at most `v` (as computed in floating point).
    pub fn count_at_most(&self, v: f64) -> usize {
        let (m, mut s, mut total) = (self.y.len(), 0usize, 0usize);
        for &xi in self.x {
            while s < m && xi - self.y[s] > v {
                s += 1;
            }
            total += m - s;
        }
        total
    }

    /// The k-th smallest difference (1-based, k ≤ len): the smallest double v with at least k
    /// differences at most v, found by bisecting the doubles between the extremes in their order.
    pub fn order_statistic(&self, k: usize) -> f64 {
        let (first, last) = (self.x[0] - self.y[self.y.len() - 1], self.x[self.x.len() - 1] - self.y[0]);
        let (mut lo, mut hi) = (order_key(first), order_key(last));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.count_at_most(from_order_key(mid)) >= k { hi = mid } else { lo = mid + 1 }
        }
        let v = from_order_key(lo);
        if v == 0.0 { 0.0 } else { v }
    }
}

/// A u64 that orders like the finite double it encodes.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_differences(x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = x.iter().flat_map(|a| y.iter().map(move |b| a - b)).collect();
        d.sort_by(f64::total_cmp);
        d
    }

    #[test]
    fn order_statistics_match_the_sorted_differences() {
        let x = [-3.5, 0.0, 0.25, 1.0, 1.0, 7.0];
        let y = [-1.0, 0.5, 0.5, 2.0];
        let all = all_differences(&x, &y);
        let d = Differences { x: &x, y: &y };
        for k in 1..=all.len() {
            assert_eq!(d.order_statistic(k), all[k - 1], "k = {k}");
        }
    }

    #[test]
    fn the_estimate_is_the_median_difference() {
        let s = shift(&[1.0, 2.0, 3.0], &[0.0, 10.0], 0.98).unwrap();
        // differences 1 2 3 −9 −8 −7: median of 6 = mean of −7 and 1
        assert_eq!(s.estimate, -3.0);
    }

    #[test]
    fn constant_samples_have_no_interval() {
        assert_eq!(shift(&[2.0, 2.0], &[1.0, 1.0, 1.0], 0.98), Err(StatsError::AllTied));
        assert_eq!(shift(&[], &[1.0], 0.98), Err(StatsError::Empty));
    }

    #[test]
    fn order_keys_preserve_order() {
        let values = [f64::MIN, -1.0, -1e-300, 0.0, 1e-300, 1.0, f64::MAX];
        for w in values.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]));
            assert_eq!(from_order_key(order_key(w[0])), w[0]);
        }
    }
}
