//! Kayenta's scoring rules (WeightedSumScorer), one test each, named after the rule.

use super::*;
use crate::classify::Rule;

fn class(label: Label) -> Classification {
    Classification {
        label,
        critical: false,
        rule: Rule::MannWhitney,
        reason: format!("{} for a reason", label.name()),
        samples: (10, 10),
        shift: None,
        p: None,
        effect: None,
        distribution: None,
    }
}

fn critical(label: Label) -> Classification {
    Classification { critical: true, ..class(label) }
}

/// Scores `(name, group, classification)` with each group's weight.
fn scored(metrics: &[(&str, &str, Classification)], weights: &[(&str, Option<f64>)]) -> Score {
    let results: Vec<Scored<'_>> = metrics.iter().map(|(n, g, c)| Scored { name: n, group: g, class: c }).collect();
    let weights: Vec<(String, Option<f64>)> = weights.iter().map(|(g, w)| (g.to_string(), *w)).collect();
    score(&results, &weights)
}

#[test]
fn a_group_scores_the_share_of_its_judged_metrics_that_passed() {
    let s = scored(
        &[
            ("a", "g", class(Label::Pass)),
            ("b", "g", class(Label::High)),
            ("c", "g", class(Label::Pass)),
            ("d", "g", class(Label::Low)),
        ],
        &[("g", None)],
    );
    assert_eq!((s.groups[0].score, s.value), (50.0, 50.0));
}

#[test]
fn nodata_and_error_are_left_out_of_a_group_score() {
    let s = scored(
        &[("a", "g", class(Label::Pass)), ("b", "g", class(Label::Nodata)), ("c", "g", class(Label::Error))],
        &[("g", None)],
    );
    assert_eq!(s.groups[0].score, 100.0);
    assert_eq!(s.forced, None, "one of three without data is under half");
}

#[test]
fn nodata_fail_counts_as_a_failed_metric() {
    let s = scored(&[("a", "g", class(Label::Pass)), ("b", "g", class(Label::NodataFail))], &[("g", None)]);
    assert_eq!(s.value, 50.0);
}

#[test]
fn a_group_without_judged_metrics_counts_as_full_marks() {
    let s = scored(
        &[("a", "judged", class(Label::High)), ("b", "empty", class(Label::Error))],
        &[("judged", Some(50.0)), ("empty", Some(50.0))],
    );
    assert!(s.groups[1].no_data);
    assert_eq!(s.value, 50.0, "0 × 50 % + 100 × 50 %");
}

#[test]
fn groups_without_a_weight_share_what_is_left_of_100() {
    let s = scored(
        &[("a", "a", class(Label::High)), ("b", "b", class(Label::Pass)), ("c", "c", class(Label::Pass))],
        &[("a", Some(50.0)), ("b", None), ("c", None)],
    );
    assert_eq!(s.groups.iter().map(|g| g.weight).collect::<Vec<_>>(), [50.0, 25.0, 25.0]);
    assert_eq!(s.value, 50.0);
}

#[test]
fn a_critical_failure_forces_the_score_to_zero() {
    let s = scored(
        &[("a", "a", class(Label::Pass)), ("b", "b", critical(Label::High)), ("c", "c", class(Label::Pass))],
        &[("a", None), ("b", None), ("c", None)],
    );
    assert_eq!(s.value, 0.0);
    assert!(matches!(&s.forced, Some(Forced::CriticalFailure { metric, label: Label::High, .. }) if metric == "b"));
}

#[test]
fn a_critical_metric_without_data_is_a_critical_failure() {
    let s = scored(
        &[("a", "a", class(Label::Pass)), ("b", "b", critical(Label::Nodata)), ("c", "c", class(Label::Pass))],
        &[],
    );
    assert!(matches!(s.forced, Some(Forced::CriticalFailure { label: Label::Nodata, .. })));
}

#[test]
fn half_the_metrics_or_more_without_data_forces_the_score_to_zero() {
    let s = scored(&[("a", "a", class(Label::Pass)), ("b", "b", class(Label::Nodata))], &[]);
    assert_eq!((s.value, s.forced), (0.0, Some(Forced::TooMuchMissingData { nodata: 1, of: 2 })));
    let s = scored(
        &[("a", "a", class(Label::Pass)), ("b", "b", class(Label::Nodata)), ("c", "c", class(Label::NodataFail))],
        &[],
    );
    assert_eq!(s.forced, None, "NodataFail is a failure, not missing data");
}

#[test]
fn the_score_is_rounded_to_two_decimals_half_up() {
    let s = scored(
        &[("a", "g", class(Label::Pass)), ("b", "g", class(Label::Pass)), ("c", "g", class(Label::High))],
        &[("g", None)],
    );
    assert_eq!(s.value, 66.67);
    assert_eq!(round_half_up_2(72.125), 72.13);
    assert_eq!(round_half_up_2(72.124), 72.12);
    assert_eq!(round_half_up_2(100.0), 100.0);
    assert_eq!(round_half_up_2(-0.005), -0.01);
}
