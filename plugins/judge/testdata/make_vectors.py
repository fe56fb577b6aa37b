#!/usr/bin/env python3
"""Test vectors for the judge's statistics, from references independent of the plugin's code.

Run (from the repository root) with the pinned versions:

    python3 -m venv /tmp/judge-venv
    /tmp/judge-venv/bin/pip install scipy==1.14.1 numpy==2.1.3
    /tmp/judge-venv/bin/python plugins/judge/testdata/make_vectors.py > plugins/judge/testdata/vectors.json

For each pair of samples (baseline, canary) it records:

- the samples as the judge prepares them: NaN (written as null) removed or replaced by 0, then
  outliers outside Kayenta's fences removed (numpy percentiles) when the case asks for it;
- Mann-Whitney: `scipy.stats.mannwhitneyu(canary, baseline, alternative="two-sided",
  method="asymptotic", use_continuity=True)`: U of the canary and the p-value;
- the Hodges-Lehmann estimate (numpy median of every pairwise difference canary - baseline) and its
  confidence interval at each confidence level, computed here from its definition: the shifts d at
  which the two-sided test of (canary - d, baseline), with tie and continuity correction, does not
  reject, found the way R's wilcox.test(conf.int=TRUE) does (its `wdiff`, evaluated literally with
  scipy's rankdata, and the ends of the step function located exactly instead of by uniroot);
- Kolmogorov-Smirnov: `scipy.stats.ks_2samp(baseline, canary, alternative, method="exact")` for
  two-sided, greater (the canary runs higher) and less, each p-value checked against an exact count of
  lattice paths with Python integers (where scipy's own exact method gives up for unequal sizes, the
  count is the reference);
- the effect sizes: mean ratio (numpy means) and the common-language effect size (pairs counted).

Undefined results (an empty sample, every observation tied) are null, with the reason.
"""

import json
import math
import sys
import warnings
from fractions import Fraction

import numpy as np
import scipy
from scipy import stats

CONFIDENCES = [0.98, 0.95]
KS_ALTERNATIVES = ["two-sided", "greater", "less"]
# The exact lattice count in Python integers costs n1*n2 big-integer additions; above this it is
# skipped (scipy's exact method is then the only reference, and it must not have fallen back).
MAX_COUNTED_CELLS = 400_000
# Where scipy gives up (one-sided, unequal sizes above a few hundred: its binomials overflow) the count
# is the only reference, made up to this size.
MAX_FALLBACK_CELLS = 1_100_000


def prepare(values, nan_strategy, outlier_factor):
    """NaN handling then Kayenta's IQR fences with reduced sensitivity."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if nan_strategy == "replace":
                out.append(0.0)
        else:
            out.append(float(v))
    if outlier_factor is not None and out:
        a = np.asarray(out)
        q1, q3 = np.percentile(a, 25), np.percentile(a, 75)
        iqr = q3 - q1
        low = min(np.percentile(a, 1), q1 - outlier_factor * iqr)
        high = max(np.percentile(a, 99), q3 + outlier_factor * iqr)
        out = [v for v in out if not (v > high or v < low)]
    return out


def mann_whitney(baseline, canary):
    if not baseline or not canary:
        return None
    r = stats.mannwhitneyu(canary, baseline, alternative="two-sided", method="asymptotic", use_continuity=True)
    return {"u": float(r.statistic), "p": float(r.pvalue)}


def wdiff(x, y, d, zq):
    """R's wdiff(d, zq) for two samples with correct = TRUE: the corrected, standardized rank sum of
    x - d among (x - d, y), minus zq."""
    n, m = len(x), len(y)
    dr = stats.rankdata(np.concatenate([np.asarray(x) - d, np.asarray(y)]))
    _, nties = np.unique(dr, return_counts=True)
    dz = dr[:n].sum() - n * (n + 1) / 2 - n * m / 2
    correction = np.sign(dz) * 0.5
    sigma = math.sqrt((n * m / 12) * ((n + m + 1) - (nties**3 - nties).sum() / ((n + m) * (n + m - 1))))
    if sigma == 0:
        raise ZeroDivisionError("all observations tied")
    return (dz - correction) / sigma - zq


def root(x, y, zq, diffs):
    """Where wdiff(., zq) changes sign, as R's root() finds it: the ends first, then the jump of the
    step function (it moves only at pairwise differences, so the root is the difference at the jump;
    uniroot stops within 1e-4 of it)."""
    lo, hi = diffs[0], diffs[-1]
    if wdiff(x, y, lo, zq) <= 0:
        return lo
    if wdiff(x, y, hi, zq) >= 0:
        return hi
    # Between adjacent distinct differences the function is constant: evaluate at midpoints (and
    # right of the largest) and find the first stretch where it is <= 0; the root is where it starts.
    distinct = np.unique(diffs)
    points = np.append((distinct[:-1] + distinct[1:]) / 2, distinct[-1] + 1.0)

    def stretch_nonpositive(i):
        return wdiff(x, y, points[i], zq) <= 0

    a, b = 0, len(points) - 1  # stretch b (right of the largest) is negative: wdiff there has dz < 0
    while a < b:
        mid = (a + b) // 2
        if stretch_nonpositive(mid):
            b = mid
        else:
            a = mid + 1
    return float(distinct[a])


def hodges_lehmann(baseline, canary):
    if not baseline or not canary:
        return None, "empty"
    x, y = np.asarray(canary), np.asarray(baseline)
    if np.all(x == x[0]) and np.all(y == y[0]):
        return None, "all-tied"
    diffs = np.sort((x[:, None] - y[None, :]).ravel())
    out = {"estimate": float(np.median(diffs)), "intervals": {}}
    for conf in CONFIDENCES:
        z = stats.norm.ppf(1 - (1 - conf) / 2)
        out["intervals"][str(conf)] = {"lower": root(x, y, z, diffs), "upper": root(x, y, -z, diffs)}
    return out, None


def ks_gap_units(baseline, canary):
    """(max(F_b - F_c), max(F_c - F_b)) in units of 1/lcm, with the exact integers."""
    n1, n2 = len(baseline), len(canary)
    g = math.gcd(n1, n2)
    a, b = n1 // g, n2 // g
    b_sorted, c_sorted = sorted(baseline), sorted(canary)
    higher = lower = 0
    for v in sorted(set(baseline) | set(canary)):
        c1 = sum(1 for t in b_sorted if t <= v)
        c2 = sum(1 for t in c_sorted if t <= v)
        gap = c1 * b - c2 * a
        higher, lower = max(higher, gap), max(lower, -gap)
    return higher, lower, a, b


def counted_p(n1, n2, a, b, h, two_sided):
    """P(path touches the region) by counting lattice paths that stay inside, in Python integers."""
    if h == 0:
        return 1.0

    def inside(i, j):
        gap = i * b - j * a
        return abs(gap) < h if two_sided else gap < h

    row = [0] * (n2 + 1)
    for i in range(n1 + 1):
        for j in range(n2 + 1):
            if not inside(i, j):
                row[j] = 0
            elif i == 0 and j == 0:
                row[j] = 1
            else:
                row[j] = (row[j] if i > 0 else 0) + (row[j - 1] if j > 0 else 0)
    total = math.comb(n1 + n2, n1)
    return float(Fraction(total - row[n2], total))


def ks(baseline, canary):
    if not baseline or not canary:
        return None
    n1, n2 = len(baseline), len(canary)
    higher, lower, a, b = ks_gap_units(baseline, canary)
    out = {}
    for alternative in KS_ALTERNATIVES:
        h = {"two-sided": max(higher, lower), "greater": higher, "less": lower}[alternative]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = stats.ks_2samp(baseline, canary, alternative=alternative, method="exact")
        fell_back = any("Exact" in str(w.message) or "exact" in str(w.message) for w in caught)
        count = n1 * n2 <= MAX_COUNTED_CELLS or (fell_back and n1 * n2 <= MAX_FALLBACK_CELLS)
        counted = counted_p(n1, n2, a, b, h, alternative == "two-sided") if count else None
        lcm = a * b * math.gcd(n1, n2)
        assert abs(float(r.statistic) - h / lcm) < 1e-12, (alternative, r.statistic, h, lcm)
        if fell_back:
            if counted is None:
                sys.exit(f"ks_2samp fell back to asymp for {n1}x{n2} {alternative} and no count was made")
            p, reference = counted, "lattice count"
        else:
            p, reference = float(r.pvalue), "scipy exact"
            if counted is not None:
                assert abs(p - counted) < 1e-11, (alternative, n1, n2, p, counted)
        out[alternative] = {"statistic": float(r.statistic), "p": p, "reference": reference}
    return out


def effect_sizes(baseline, canary):
    if not baseline or not canary:
        return {"mean_ratio": None, "cles": None}
    mb, mc = float(np.mean(baseline)), float(np.mean(canary))
    ratio = None if mb == 0.0 or mc == 0.0 else mc / mb
    c, b = np.asarray(canary)[:, None], np.asarray(baseline)[None, :]
    wins = int((c > b).sum()) + 0.5 * int((c == b).sum())
    return {"mean_ratio": ratio, "cles": wins / (len(canary) * len(baseline))}


def case(name, baseline, canary, nan_strategy="remove", outlier_factor=None, why=""):
    b = prepare(baseline, nan_strategy, outlier_factor)
    c = prepare(canary, nan_strategy, outlier_factor)
    hl, hl_error = hodges_lehmann(b, c)
    return {
        "name": name,
        "why": why,
        "baseline": baseline,
        "canary": canary,
        "nan_strategy": nan_strategy,
        "outlier_factor": outlier_factor,
        "prepared": {"baseline": b, "canary": c},
        "mann_whitney": mann_whitney(b, c),
        "hodges_lehmann": hl,
        "hodges_lehmann_error": hl_error,
        "ks": ks(b, c),
        **effect_sizes(b, c),
    }


def rounded(a, digits):
    return [round(float(v), digits) for v in a]


def main():
    rng = np.random.default_rng(20260516)
    cases = [
        case("distinct-small", [1.2, 3.4, 2.2, 5.1, 0.7], [2.9, 6.3, 4.4, 3.8, 7.0, 5.5], why="no ties, unequal sizes"),
        case("ties", [1, 2, 2, 3, 3, 3, 4, 5], [2, 3, 3, 4, 4, 5, 5, 5, 6], why="ties within and across samples"),
        case("canary-of-one", [1.0, 2.0, 3.0, 4.0, 5.0], [4.5], why="n = 1"),
        case("two-and-two", [1.0, 2.0], [2.5, 3.5], why="n = 2 each"),
        case("one-and-one", [1.0], [2.0], why="n = 1 each: both samples constant, no interval"),
        case("two-and-three-tied", [1.0, 1.0], [1.0, 2.0, 2.0], why="n < 3 with ties"),
        case("all-equal", [3.0] * 6, [3.0] * 5, why="every value equal"),
        case("each-constant", [1.0] * 6, [2.0] * 5, why="each sample constant, different values"),
        case(
            "nan-removed",
            [1.0, None, 2.0, 2.5, None, 3.0, 1.5],
            [2.0, 2.5, None, 3.5, 4.0],
            why="NaN removed",
        ),
        case(
            "nan-replaced",
            [1.0, None, 2.0, 2.5, None, 3.0, 1.5],
            [2.0, 2.5, None, 3.5, 4.0],
            nan_strategy="replace",
            why="NaN replaced by 0",
        ),
        case("zero-baseline", [0.0] * 8, [0.0, 0.0, 0.01, 0.0, 0.02, 0.0, 0.0], why="a baseline of zeros"),
        case("zero-both-means", [0.0, 0.0, 0.0], [-1.0, 1.0, 0.0], why="mean ratio undefined on both sides"),
        case("empty-canary", [1.0, 2.0, 3.0], [], why="an empty series"),
        case("empty-after-nan", [1.0, 2.0, 3.0], [None, None], why="every canary value NaN, removed"),
        case(
            "spinnaker-6278",
            [1.0] * 10,
            [100.0] * 7 + [1.0] * 3,
            why="spinnaker/spinnaker#6278: Kayenta passes it; the distribution test does not",
        ),
        case(
            "kayenta-780-variability",
            [1.0, 100.0, 4.0, 101.0, 5.0, 102.0, 6.0, 103.0, 7.0, 104.0, 8.0, 105.0, 9.0, 106.0, 17.0],
            [10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 17.0, 17.1, 17.2, 17.3, 17.4, 17.5, 17.6, 17.7],
            why="spinnaker/kayenta#780 case 1: the spread changes, the location barely",
        ),
        case(
            "tail-only",
            rounded(rng.normal(50, 2, 60), 3),
            rounded(np.concatenate([rng.normal(50, 2, 42), rng.normal(250, 20, 18)]), 3),
            why="same median, 30 % of the canary far above",
        ),
        case(
            "shifted-normal",
            rounded(rng.normal(10, 1, 50), 6),
            rounded(rng.normal(10.8, 1, 50), 6),
            why="a location shift, continuous",
        ),
        case(
            "heavy-ties-unequal",
            rounded(rng.normal(5, 1, 60), 0),
            rounded(rng.normal(5.4, 1, 45), 0),
            why="integers: many ties, unequal sizes",
        ),
        case(
            "error-rate-like",
            [0.0] * 40 + rounded(rng.uniform(0, 0.01, 10), 4),
            [0.0] * 30 + rounded(rng.uniform(0, 0.03, 20), 4),
            why="mostly zeros",
        ),
        case(
            "negative-and-positive",
            rounded(rng.normal(0, 3, 25), 4),
            rounded(rng.normal(-1, 3, 31), 4),
            why="values of both signs",
        ),
        case(
            "identical-shuffled",
            [3.0, 1.0, 2.0, 2.0, 5.0],
            [2.0, 5.0, 1.0, 3.0, 2.0],
            why="the same values in another order",
        ),
        case(
            "outliers-removed",
            rounded(np.concatenate([rng.normal(100, 5, 40), [900.0, 1200.0]]), 2),
            rounded(np.concatenate([rng.normal(103, 5, 40), [-700.0]]), 2),
            outlier_factor=3.0,
            why="spikes outside the fences removed before the tests",
        ),
        case(
            "unequal-medium",
            rounded(rng.gamma(2.0, 10.0, 300), 2),
            rounded(rng.gamma(2.2, 10.0, 251), 2),
            why="unequal sizes, skewed, some ties",
        ),
        case(
            "bench-size",
            rng.normal(100, 10, 1000).tolist(),
            rng.normal(100.5, 10, 1000).tolist(),
            why="1,000 samples each, as in the bench",
        ),
        case(
            "bench-size-unequal",
            rounded(rng.lognormal(3, 0.5, 1000), 1),
            rounded(rng.lognormal(3.02, 0.5, 997), 1),
            why="about 1,000 each, unequal, ties",
        ),
    ]
    doc = {
        "generator": "plugins/judge/testdata/make_vectors.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "confidences": CONFIDENCES,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
