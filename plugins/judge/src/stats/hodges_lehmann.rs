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
    // The estimate first: the interval's ends are near it and start from its counts. The difference
    // of the medians is a first guess of the median difference (equal for symmetric samples).
    let guess = canary[canary.len() / 2] - baseline[baseline.len() / 2];
    let mut probes = vec![(guess, d.count_at_most(guess))];
    let estimate = if total % 2 == 1 {
        d.order_statistic_with(total.div_ceil(2), &mut probes)
    } else {
        let below = d.order_statistic_with(total / 2, &mut probes);
        let above = d.order_statistic_with(total / 2 + 1, &mut probes);
        (below + above) / 2.0
    };
    let lower = d.order_statistic_with(rank(total as isize - g_low as isize), &mut probes);
    let upper = d.order_statistic_with(rank(total as isize - g_high as isize + 1), &mut probes);
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

    /// The k-th smallest difference (1-based, 1 ≤ k ≤ len).
    pub fn order_statistic(&self, k: usize) -> f64 {
        self.order_statistic_with(k, &mut Vec::new())
    }

    /// The k-th smallest difference, starting from the counts `probes` already holds (value, number
    /// of differences at most it) and adding those it makes, so that order statistics of nearby
    /// ranks share their work. Keeps a bracket (lo, hi] holding it, with the counts at both ends,
    /// and narrows it: by interpolating the count (a CDF of the differences, usually smooth; the
    /// Illinois variant, so a far end does not stall it); when that fails to halve the candidates,
    /// by halving the bracket; when that fails too, by trying the smallest candidate (which settles
    /// a run of ties at once). Once few candidates remain it lists and selects them.
    pub fn order_statistic_with(&self, k: usize, probes: &mut Vec<(f64, usize)>) -> f64 {
        let first = self.x[0] - self.y[self.y.len() - 1];
        let (mut hi, mut through) = (self.x[self.x.len() - 1] - self.y[0], self.len());
        // The double below the smallest difference (never −0: it would count the zeros).
        let mut lo = if first == 0.0 { -f64::from_bits(1) } else { from_order_key(order_key(first) - 1) };
        let mut below = 0usize;
        for &(v, count) in probes.iter() {
            if count < k && v > lo {
                (lo, below) = (v, count);
            } else if count >= k && v < hi {
                (hi, through) = (v, count);
            }
        }
        let enumerate_at = (self.x.len() + self.y.len()).max(MIN_ENUMERATED);
        let mut stalls = 0u32;
        // Illinois: the weight of each end's count in the interpolation, halved while that end stays.
        let (mut weight_lo, mut weight_hi, mut last_moved_lo) = (1.0f64, 1.0f64, None::<bool>);
        loop {
            if order_key(hi) - order_key(lo) <= 1 {
                return positive_zero(hi);
            }
            let candidates = through - below;
            if candidates <= enumerate_at {
                return positive_zero(self.select_between(lo, hi, k - below));
            }
            let guess = match stalls {
                0 => {
                    let f_lo = (below as f64 - k as f64 + 0.5) * weight_lo;
                    let f_hi = (through as f64 - k as f64 + 0.5) * weight_hi;
                    let v = lo + (hi - lo) * (-f_lo / (f_hi - f_lo));
                    if v > lo && v < hi { v } else { midpoint(lo, hi) }
                }
                1 => midpoint(lo, hi),
                _ => {
                    let smallest = self.smallest_above(lo);
                    let count = self.count_at_most(smallest);
                    probes.push((smallest, count));
                    if count >= k {
                        return positive_zero(smallest);
                    }
                    (lo, below, stalls) = (smallest, count, 0);
                    continue;
                }
            };
            let count = self.count_at_most(guess);
            probes.push((guess, count));
            let moved_lo = count < k;
            if moved_lo {
                (lo, below) = (guess, count);
            } else {
                (hi, through) = (guess, count);
            }
            match last_moved_lo {
                Some(previous) if previous == moved_lo => {
                    if moved_lo {
                        weight_hi /= 2.0
                    } else {
                        weight_lo /= 2.0
                    }
                }
                _ => (weight_lo, weight_hi) = (1.0, 1.0),
            }
            last_moved_lo = Some(moved_lo);
            stalls = if (through - below) * 2 <= candidates { 0 } else { stalls + 1 };
        }
    }

    /// The smallest difference above `v` (there is one: v is below the bracket's top).
    fn smallest_above(&self, v: f64) -> f64 {
        let (m, mut s) = (self.y.len(), 0usize);
        let mut smallest = f64::INFINITY;
        for &xi in self.x {
            // s: the first j with x_i − y_j ≤ v; the row's smallest difference above v is at s − 1.
            while s < m && xi - self.y[s] > v {
                s += 1;
            }
            if s > 0 {
                smallest = smallest.min(xi - self.y[s - 1]);
            }
        }
        smallest
    }

    /// The r-th smallest (1-based) of the differences in (lo, hi].
    fn select_between(&self, lo: f64, hi: f64, r: usize) -> f64 {
        let m = self.y.len();
        let mut found = Vec::new();
        // Row i: differences fall as j grows; those in (lo, hi] form one run, moving right with i.
        let (mut start, mut end) = (0usize, 0usize);
        for &xi in self.x {
            while start < m && xi - self.y[start] > hi {
                start += 1;
            }
            end = end.max(start);
            while end < m && xi - self.y[end] > lo {
                end += 1;
            }
            found.extend(self.y[start..end].iter().map(|&yj| xi - yj));
        }
        let (_, nth, _) = found.select_nth_unstable_by(r - 1, f64::total_cmp);
        *nth
    }
}

/// Candidates few enough to list and select directly, at least.
const MIN_ENUMERATED: usize = 4096;

/// A double strictly between lo and hi: their mean when it is, otherwise the middle of the doubles
/// between them (for a bracket spanning many binades, or adjacent values).
fn midpoint(lo: f64, hi: f64) -> f64 {
    let mean = lo + (hi - lo) / 2.0;
    if mean > lo && mean < hi { mean } else { from_order_key(order_key(lo) + (order_key(hi) - order_key(lo)) / 2) }
}

fn positive_zero(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
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
    fn order_statistics_hold_with_zeros_and_many_ties() {
        let x: Vec<f64> = (0..300).map(|i| f64::from(i % 3)).collect();
        let y: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let (mut x, mut y) = (x, y);
        x.sort_by(f64::total_cmp);
        y.sort_by(f64::total_cmp);
        let all = all_differences(&x, &y);
        let d = Differences { x: &x, y: &y };
        for k in [1, 2, 100, 20_000, 29_999, 30_000, 30_001, 59_999, 60_000] {
            assert_eq!(d.order_statistic(k), all[k - 1], "k = {k}");
        }
        let x = [0.0, 1.0];
        let y = [0.0, 1.0];
        let d = Differences { x: &x, y: &y };
        assert_eq!((1..=4).map(|k| d.order_statistic(k)).collect::<Vec<_>>(), [-1.0, 0.0, 0.0, 1.0]);
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
