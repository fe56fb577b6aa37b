//! Ranks of two samples pooled together, with ties given their mean rank (midranks).

/// Runs of equal values in a sorted slice, as (value, count).
pub fn groups(sorted: &[f64]) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = Vec::new();
    for &v in sorted {
        match out.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

/// Σ (t³ − t) over the tie groups of a sorted slice: the tie correction of a rank variance.
pub fn tie_term(sorted: &[f64]) -> f64 {
    groups(sorted).iter().map(|&(_, t)| cube_less(t)).sum()
}

/// t³ − t as a float (exact for any realistic t).
pub fn cube_less(t: usize) -> f64 {
    let t = t as f64;
    t * t * t - t
}

/// The pooled ranking of two sorted samples: the midrank sum of `a` and the tie term of the pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooled {
    pub rank_sum_a: f64,
    pub tie_term: f64,
}

/// Ranks `a ∪ b` (both sorted) in one merge: each distinct value takes the mean of the ranks its
/// copies occupy.
pub fn pool(a: &[f64], b: &[f64]) -> Pooled {
    let (mut i, mut j, mut below) = (0usize, 0usize, 0usize);
    let (mut rank_sum_a, mut tie_term) = (0.0, 0.0);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let from_a = a[i..].iter().take_while(|&&x| x == v).count();
        let from_b = b[j..].iter().take_while(|&&y| y == v).count();
        let t = from_a + from_b;
        // Ranks below+1 ..= below+t; their mean:
        let midrank = below as f64 + (t as f64 + 1.0) / 2.0;
        rank_sum_a += from_a as f64 * midrank;
        tie_term += cube_less(t);
        below += t;
        i += from_a;
        j += from_b;
    }
    Pooled { rank_sum_a, tie_term }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        // Pool 1 2 2 3 | 2 4: ranks 1, 3, 3, 5 | 3, 6 (the three 2s take ranks 2, 3, 4).
        let p = pool(&[1.0, 2.0, 2.0, 3.0], &[2.0, 4.0]);
        assert_eq!(p.rank_sum_a, 1.0 + 3.0 + 3.0 + 5.0);
        assert_eq!(p.tie_term, 24.0);
    }

    #[test]
    fn groups_count_runs() {
        assert_eq!(groups(&[1.0, 1.0, 2.0]), vec![(1.0, 2), (2.0, 1)]);
        assert_eq!(tie_term(&[5.0, 5.0, 5.0]), 24.0);
        assert!(groups(&[]).is_empty());
    }
}
