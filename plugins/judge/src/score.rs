//! The score, as Kayenta's WeightedSumScorer computes it from the metrics' classifications: each
//! group scores the share of its judged metrics that passed; the score is the groups' weighted sum,
//! rounded to two decimals; a critical failure, or half the metrics or more without data, forces it
//! to 0.

use crate::classify::{Classification, Label};

/// Kayenta's NODATA_THRESHOLD: this percentage of metrics without data, or more, scores 0.
pub const NODATA_THRESHOLD_PERCENT: f64 = 50.0;

/// One classified metric and the group it is scored in.
#[derive(Debug, Clone, Copy)]
pub struct Scored<'a> {
    pub name: &'a str,
    pub group: &'a str,
    pub class: &'a Classification,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    pub name: String,
    /// Percent of the group's judged metrics (Pass, High, Low, NodataFail) that passed.
    pub score: f64,
    /// No metric of the group was judged: it counts as 100 in the sum.
    pub no_data: bool,
    /// Its weight in the sum, in percent.
    pub weight: f64,
    pub metrics: usize,
}

/// Why the score is 0 whatever the groups say.
#[derive(Debug, Clone, PartialEq)]
pub enum Forced {
    /// A critical metric did not pass (the first one, with its reason).
    CriticalFailure { metric: String, label: Label, reason: String },
    /// At least half the metrics had no data.
    TooMuchMissingData { nodata: usize, of: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub value: f64,
    pub groups: Vec<GroupScore>,
    pub forced: Option<Forced>,
}

/// Scores the metrics; `weights` gives each group's weight where the config gives one.
pub fn score(results: &[Scored<'_>], weights: &[(String, Option<f64>)]) -> Score {
    let mut groups: Vec<GroupScore> = Vec::new();
    for r in results {
        if !groups.iter().any(|g| g.name == r.group) {
            groups.push(group_score(r.group, results));
        }
    }
    let given: f64 = weights.iter().filter_map(|(_, w)| *w).sum();
    let weight_of = |name: &str| weights.iter().find(|(g, _)| g == name).and_then(|(_, w)| *w);
    let unweighted = groups.iter().filter(|g| weight_of(&g.name).is_none()).count();
    let shared = if unweighted > 0 { (100.0 - given) / unweighted as f64 } else { 0.0 };
    for g in &mut groups {
        g.weight = weight_of(&g.name).unwrap_or(shared);
    }
    let forced = critical_failure(results).or_else(|| too_much_missing_data(results));
    let value = if forced.is_some() {
        0.0
    } else {
        let sum: f64 = groups.iter().map(|g| if g.no_data { 100.0 } else { g.score } * (g.weight / 100.0)).sum();
        round_half_up_2(sum)
    };
    Score { value, groups, forced }
}

fn group_score(name: &str, results: &[Scored<'_>]) -> GroupScore {
    let members: Vec<&Scored<'_>> = results.iter().filter(|r| r.group == name).collect();
    let count = |label: Label| members.iter().filter(|r| r.class.label == label).count();
    let pass = count(Label::Pass);
    let judged = pass + count(Label::High) + count(Label::Low) + count(Label::NodataFail);
    let no_data = judged == 0;
    let score = if no_data { 0.0 } else { pass as f64 / judged as f64 * 100.0 };
    GroupScore { name: name.to_string(), score, no_data, weight: 0.0, metrics: members.len() }
}

fn critical_failure(results: &[Scored<'_>]) -> Option<Forced> {
    results.iter().find(|r| r.class.critical && r.class.label != Label::Pass).map(|r| Forced::CriticalFailure {
        metric: r.name.to_string(),
        label: r.class.label,
        reason: r.class.reason.clone(),
    })
}

fn too_much_missing_data(results: &[Scored<'_>]) -> Option<Forced> {
    let nodata = results.iter().filter(|r| r.class.label == Label::Nodata).count();
    let percent = nodata as f64 / results.len() as f64 * 100.0;
    (!results.is_empty() && percent >= NODATA_THRESHOLD_PERCENT)
        .then_some(Forced::TooMuchMissingData { nodata, of: results.len() })
}

/// Rounds to two decimals, half away from zero, on the number's shortest decimal form (as Apache
/// Commons Math's `Precision.round` does through `BigDecimal`): 72.125 → 72.13.
pub fn round_half_up_2(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let text = format!("{}", x.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if fraction.len() <= 2 {
        return x;
    }
    let digits = fraction.as_bytes();
    let Ok(whole) = whole.parse::<u64>() else { return x };
    let mut cents = whole * 100 + u64::from(digits[0] - b'0') * 10 + u64::from(digits[1] - b'0');
    if digits[2] >= b'5' {
        cents += 1;
    }
    let rounded = cents as f64 / 100.0;
    if x < 0.0 { -rounded } else { rounded }
}

#[cfg(test)]
#[path = "score_tests.rs"]
mod tests;
