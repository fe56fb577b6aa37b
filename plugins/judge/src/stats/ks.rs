//! The two-sample Kolmogorov–Smirnov test with exact p-values (`scipy.stats.ks_2samp(baseline,
//! canary, alternative, method="exact")`): the largest gap between the two empirical CDFs, and the
//! chance that two samples of these sizes from one continuous distribution show a gap at least as
//! large. One-sided for a metric with a direction: for "increase" the gap counted is where the
//! canary has more of its mass above a value than the baseline (a heavier upper tail).
//!
//! The p-value is the probability that a random interleaving of the sorted samples (a lattice path
//! from (0, 0) to (n₁, n₂)) touches the region beyond the gap. Equal sizes have closed forms; other
//! sizes walk the lattice column by column with each point holding the probability that a random
//! path to it has already touched the region, a convex combination of its two predecessors, so
//! nothing overflows or cancels (Hodges 1957; Viehmann 2021).

use super::StatsError;

/// Which gap is tested, baseline CDF minus canary CDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// Either way: max |F_baseline − F_canary|.
    TwoSided,
    /// The canary runs higher somewhere: max (F_baseline − F_canary) (scipy's "greater").
    CanaryHigher,
    /// The canary runs lower somewhere: max (F_canary − F_baseline) (scipy's "less").
    CanaryLower,
}

/// The test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    /// The gap, between 0 and 1.
    pub statistic: f64,
    pub p: f64,
    /// For the two-sided test, whether the larger gap is the canary running higher.
    pub canary_higher: bool,
}

/// Tests `canary` against `baseline`, both sorted and finite.
pub fn test(baseline: &[f64], canary: &[f64], alternative: Alternative) -> Result<Ks, StatsError> {
    let (n1, n2) = (baseline.len(), canary.len());
    if n1 == 0 || n2 == 0 {
        return Err(StatsError::Empty);
    }
    let g = gcd(n1, n2);
    let (a, b) = ((n1 / g) as i64, (n2 / g) as i64);
    // After all copies of each distinct value: c1·b − c2·a is the gap in units of 1/lcm(n1, n2).
    let (mut i, mut j, mut highest, mut lowest) = (0usize, 0usize, 0i64, 0i64);
    while i < n1 || j < n2 {
        let v = match (baseline.get(i), canary.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < n1 && baseline[i] == v {
            i += 1;
        }
        while j < n2 && canary[j] == v {
            j += 1;
        }
        let gap = i as i64 * b - j as i64 * a;
        highest = highest.max(gap);
        lowest = lowest.min(gap);
    }
    let (higher, lower) = (highest, -lowest);
    let h = match alternative {
        Alternative::TwoSided => higher.max(lower),
        Alternative::CanaryHigher => higher,
        Alternative::CanaryLower => lower,
    };
    let lcm = a * b * g as i64;
    let p = if h == 0 {
        1.0
    } else if n1 == n2 {
        if alternative == Alternative::TwoSided {
            outside_square(n1, h as usize)
        } else {
            one_sided_square(n1, h as usize)
        }
    } else {
        lattice(n1, n2, a, b, h, alternative == Alternative::TwoSided)
    };
    Ok(Ks { statistic: h as f64 / lcm as f64, p: p.clamp(0.0, 1.0), canary_higher: higher >= lower })
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Equal sizes, one side: P(D⁺ ≥ h/n) = C(2n, n−h) / C(2n, n) = Π_{j<h} (n − j)/(n + j + 1).
fn one_sided_square(n: usize, h: usize) -> f64 {
    (0..h).map(|j| (n - j) as f64 / (n + j + 1) as f64).product()
}

/// Equal sizes, both sides: 2·Σ_k (−1)^(k+1) C(2n, n − kh) / C(2n, n), summed from the innermost
/// term outwards so that each ratio stays a product of small fractions (no cancellation of large
/// binomials).
fn outside_square(n: usize, h: usize) -> f64 {
    let mut p = 0.0;
    for k in (0..=n / h).rev() {
        let mut term = 1.0;
        for j in 0..h {
            let kh = k * h;
            term = (n as f64 - kh as f64 - j as f64) * term / (n + kh + j + 1) as f64;
        }
        p = term * (1.0 - p);
    }
    2.0 * p
}

/// Unequal sizes: the probability that a random path from (0, 0) to (n1, n2) reaches a point (i, j)
/// with i·b − j·a ≥ h (one side) or |i·b − j·a| ≥ h (both sides), i counting baseline values and
/// j canary values. Column i holds, for each j, that probability for paths ending at (i, j).
fn lattice(n1: usize, n2: usize, a: i64, b: i64, h: i64, two_sided: bool) -> f64 {
    // Within column i, the points inside the band are j_lo(i) ..= j_hi(i); the rest are beyond it.
    let lo = |i: usize| -> usize {
        let t = i as i64 * b - h; // inside needs j·a > t
        if t < 0 { 0 } else { (t / a + 1) as usize }
    };
    let hi = |i: usize| -> usize {
        if !two_sided {
            return n2;
        }
        let t = i as i64 * b + h; // inside needs j·a < t
        (((t - 1) / a) as usize).min(n2)
    };
    let mut column = vec![1.0f64; n2 + 1];
    for i in 0..=n1 {
        let (from, to) = (lo(i), hi(i));
        for j in from..=to.min(n2) {
            if from > to {
                break;
            }
            let (wi, wj) = (i as f64, j as f64);
            let left = if i == 0 { 0.0 } else { column[j] };
            let down = if j == 0 {
                0.0
            } else if j == from {
                1.0
            } else {
                column[j - 1]
            };
            column[j] = if i == 0 && j == 0 { 0.0 } else { (wi * left + wj * down) / (wi + wj) };
        }
    }
    column[n2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(n1: usize, n2: usize, h: i64, two_sided: bool) -> f64 {
        // Count every interleaving (as bitmasks) of n1 baseline and n2 canary values.
        let g = gcd(n1, n2);
        let (a, b) = ((n1 / g) as i64, (n2 / g) as i64);
        let (mut outside, mut all) = (0u64, 0u64);
        for mask in 0u32..(1 << (n1 + n2)) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            all += 1;
            let (mut i, mut j, mut hit) = (0i64, 0i64, false);
            for step in 0..n1 + n2 {
                if mask >> step & 1 == 1 {
                    i += 1
                } else {
                    j += 1
                }
                let gap = i * b - j * a;
                hit |= if two_sided { gap.abs() >= h } else { gap >= h };
            }
            outside += u64::from(hit);
        }
        outside as f64 / all as f64
    }

    #[test]
    fn the_lattice_walk_counts_every_interleaving() {
        for (n1, n2) in [(3, 5), (5, 3), (4, 6), (2, 7), (6, 6), (1, 4)] {
            let g = gcd(n1, n2);
            let lcm = (n1 / g * n2) as i64;
            for h in 1..=lcm {
                for two_sided in [false, true] {
                    let (a, b) = ((n1 / g) as i64, (n2 / g) as i64);
                    let got = lattice(n1, n2, a, b, h, two_sided);
                    let want = brute_force(n1, n2, h, two_sided);
                    assert!((got - want).abs() < 1e-12, "{n1}×{n2} h={h} two_sided={two_sided}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn closed_forms_agree_with_the_lattice_walk() {
        for n in [1usize, 2, 5, 9] {
            for h in 1..=n {
                let walk = lattice(n, n, 1, 1, h as i64, false);
                assert!((one_sided_square(n, h) - walk).abs() < 1e-13, "n={n} h={h}");
                let walk = lattice(n, n, 1, 1, h as i64, true);
                assert!((outside_square(n, h) - walk).abs() < 1e-13, "n={n} h={h}");
            }
        }
    }

    #[test]
    fn a_heavier_upper_tail_is_the_canary_running_higher() {
        let baseline = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let canary = [1.0, 2.0, 3.0, 4.0, 5.0, 60.0, 70.0, 80.0];
        let up = test(&baseline, &canary, Alternative::CanaryHigher).unwrap();
        let down = test(&baseline, &canary, Alternative::CanaryLower).unwrap();
        assert_eq!((up.statistic, down.statistic), (3.0 / 8.0, 0.0));
        assert!(up.canary_higher && down.p == 1.0);
    }
}
