//! Kayenta's classification rules, one test each, named after the rule; then the distribution test.

use super::*;
use crate::config::EffectSize;

fn rules() -> Rules {
    Rules {
        direction: Direction::Either,
        nan: NanStrategy::Remove,
        outlier_factor: None,
        critical: false,
        must_have_data: false,
        effect: EffectSize::default().gate(),
        distribution: DistributionTest::Off,
        alpha: 0.02,
        min_distance: 0.0,
        confidence: 0.98,
        tolerance: 0.25,
        min_samples: 1,
    }
}

fn base() -> Vec<f64> {
    (0..20).map(|i| 10.0 + f64::from(i) * 0.5).collect()
}

fn plus(values: &[f64], d: f64) -> Vec<f64> {
    values.iter().map(|v| v + d).collect()
}

/// spinnaker/spinnaker#6278: 7 of 10 canary values jump from 1 to 100.
fn tail() -> (Vec<f64>, Vec<f64>) {
    let canary = [vec![100.0; 7], vec![1.0; 3]].concat();
    (vec![1.0; 10], canary)
}

#[test]
fn no_data_is_nodata_when_nan_is_removed() {
    let c = classify(&base(), &[], &rules());
    assert_eq!((c.label, c.critical, c.rule), (Label::Nodata, false, Rule::NoData));
    let c = classify(&[], &base(), &rules());
    assert_eq!(c.label, Label::Nodata, "a missing baseline is no data too");
}

#[test]
fn no_data_of_a_critical_metric_is_a_critical_nodata() {
    let c = classify(&base(), &[], &Rules { critical: true, ..rules() });
    assert_eq!((c.label, c.critical), (Label::Nodata, true));
}

#[test]
fn no_data_of_a_must_have_data_metric_is_nodata_fail() {
    let c = classify(&base(), &[], &Rules { must_have_data: true, ..rules() });
    assert_eq!((c.label, c.critical), (Label::NodataFail, false));
}

#[test]
fn no_data_of_a_critical_must_have_data_metric_is_a_critical_nodata() {
    let c = classify(&base(), &[], &Rules { must_have_data: true, critical: true, ..rules() });
    assert_eq!((c.label, c.critical), (Label::Nodata, true));
}

#[test]
fn no_data_passes_when_nan_means_zero() {
    let c = classify(&base(), &[], &Rules { nan: NanStrategy::Replace, ..rules() });
    assert_eq!((c.label, c.critical), (Label::Pass, false));
}

#[test]
fn a_series_of_nan_is_no_data() {
    let c = classify(&base(), &[f64::NAN, f64::NAN], &rules());
    assert_eq!(c.label, Label::Nodata);
}

#[test]
fn fewer_than_min_samples_counts_as_no_data() {
    let few = Rules { min_samples: 5, ..rules() };
    let c = classify(&base(), &[30.0, 31.0, 32.0, 33.0], &few);
    assert_eq!((c.label, c.rule), (Label::Nodata, Rule::TooFewSamples));
    assert!(c.reason.contains("4 canary"), "{}", c.reason);
    let c = classify(&base(), &[30.0, 31.0, 32.0, 33.0], &Rules { must_have_data: true, ..few });
    assert_eq!(c.label, Label::NodataFail);
    let c = classify(&base(), &[30.0, 31.0, 32.0, 33.0, 34.0], &few);
    assert_eq!(c.label, Label::High, "5 samples are enough");
}

#[test]
fn identical_series_pass() {
    let mut shuffled = base();
    shuffled.reverse();
    let c = classify(&base(), &shuffled, &rules());
    assert_eq!((c.label, c.rule), (Label::Pass, Rule::Identical));
}

#[test]
fn one_value_throughout_passes() {
    let c = classify(&[2.0, 2.0, 2.0], &[2.0, 2.0], &rules());
    assert_eq!((c.label, c.rule), (Label::Pass, Rule::SingleValue));
}

#[test]
fn each_series_constant_is_compared_by_its_two_values() {
    let c = classify(&[1.0; 6], &[2.0; 5], &rules());
    assert_eq!((c.label, c.rule), (Label::High, Rule::MannWhitney));
    assert_eq!(c.shift, Some(Shift { estimate: 1.0, lower: 1.0, upper: 1.0 }));
    let c = classify(&[2.0; 6], &[1.0; 5], &rules());
    assert_eq!(c.label, Label::Low);
}

#[test]
fn one_sample_each_is_an_error() {
    let c = classify(&[1.0], &[2.0], &rules());
    assert_eq!((c.label, c.rule), (Label::Error, Rule::Error));
    assert!(c.reason.contains("all observations are tied"), "{}", c.reason);
}

#[test]
fn an_infinite_sample_is_an_error() {
    let c = classify(&base(), &[1.0, f64::INFINITY, 2.0], &rules());
    assert_eq!(c.label, Label::Error);
}

#[test]
fn high_when_the_interval_clears_the_tolerance_band() {
    let c = classify(&base(), &plus(&base(), 5.0), &rules());
    assert_eq!((c.label, c.rule), (Label::High, Rule::MannWhitney));
    let shift = c.shift.unwrap();
    assert_eq!(shift.estimate, 5.0);
    assert!(shift.lower > 0.25 * 5.0, "{shift:?}");
    assert!(c.p.unwrap() < 0.02);
}

#[test]
fn low_when_the_interval_clears_the_band_below() {
    let c = classify(&base(), &plus(&base(), -5.0), &rules());
    assert_eq!(c.label, Label::Low);
}

#[test]
fn pass_when_the_interval_reaches_into_the_tolerance_band() {
    // spinnaker/spinnaker#6278: the estimate is 99, the interval [0, 99]: 0 is inside ±24.75.
    let (baseline, canary) = tail();
    let c = classify(&baseline, &canary, &rules());
    assert_eq!(c.label, Label::Pass);
    assert_eq!(c.shift, Some(Shift { estimate: 99.0, lower: 0.0, upper: 99.0 }));
    assert!(c.p.unwrap() < 0.01, "the test itself rejects; the band lets it through");
}

#[test]
fn direction_increase_ignores_a_decrease() {
    let c = classify(&base(), &plus(&base(), -5.0), &Rules { direction: Direction::Increase, ..rules() });
    assert_eq!(c.label, Label::Pass);
}

#[test]
fn direction_decrease_ignores_an_increase() {
    let c = classify(&base(), &plus(&base(), 5.0), &Rules { direction: Direction::Decrease, ..rules() });
    assert_eq!(c.label, Label::Pass);
}

#[test]
fn the_effect_size_gate_holds_back_a_small_increase() {
    let gated = Rules { effect: EffectSize { allowed_increase: Some(1.5), ..Default::default() }.gate(), ..rules() };
    let c = classify(&base(), &plus(&base(), 5.0), &gated);
    assert_eq!(c.label, Label::Pass, "mean ratio {:?} < 1.5", c.effect);
    let c = classify(&base(), &plus(&base(), 10.0), &gated);
    assert_eq!(c.label, Label::High, "mean ratio {:?} ≥ 1.5", c.effect);
}

#[test]
fn an_undefined_effect_size_does_not_gate() {
    let around_zero: Vec<f64> = (-10..=10).map(f64::from).collect();
    let gated = Rules { effect: EffectSize { allowed_increase: Some(100.0), ..Default::default() }.gate(), ..rules() };
    let c = classify(&around_zero, &plus(&around_zero, 30.0), &gated);
    assert!(c.effect.unwrap().is_nan());
    assert_eq!(c.label, Label::High);
}

#[test]
fn the_cles_gate_needs_that_share_of_pairs() {
    let cles = |allowed| Rules {
        effect: EffectSize { measure: EffectMeasure::Cles, allowed_increase: Some(allowed), ..Default::default() }
            .gate(),
        ..rules()
    };
    let canary = plus(&base(), 5.0);
    let c = classify(&base(), &canary, &cles(0.85));
    assert_eq!(c.label, Label::High, "CLES {:?}", c.effect);
    let c = classify(&base(), &canary, &cles(0.9));
    assert_eq!(c.label, Label::Pass, "CLES {:?}", c.effect);
}

#[test]
fn a_critical_high_past_its_critical_effect_is_a_critical_failure() {
    let critical = Rules {
        critical: true,
        effect: EffectSize { critical_increase: Some(1.2), ..Default::default() }.gate(),
        ..rules()
    };
    let c = classify(&base(), &plus(&base(), 10.0), &critical);
    assert_eq!((c.label, c.critical), (Label::High, true));
}

#[test]
fn a_critical_high_short_of_its_critical_effect_is_an_ordinary_high() {
    let critical = Rules {
        critical: true,
        effect: EffectSize { critical_increase: Some(3.0), ..Default::default() }.gate(),
        ..rules()
    };
    let c = classify(&base(), &plus(&base(), 10.0), &critical);
    assert_eq!((c.label, c.critical), (Label::High, false));
}

#[test]
fn a_critical_low_past_its_critical_effect_is_a_critical_failure() {
    let critical = Rules {
        critical: true,
        effect: EffectSize { critical_decrease: Some(0.8), ..Default::default() }.gate(),
        ..rules()
    };
    let c = classify(&base(), &plus(&base(), -5.0), &critical);
    assert_eq!((c.label, c.critical), (Label::Low, true));
}

#[test]
fn a_critical_metric_that_passes_is_not_critical() {
    let c = classify(&base(), &plus(&base(), 0.25), &Rules { critical: true, ..rules() });
    assert_eq!((c.label, c.critical), (Label::Pass, false));
}

#[test]
fn nan_is_handled_before_the_test() {
    let mut canary = plus(&base(), 5.0);
    canary.extend([f64::NAN; 5]);
    let c = classify(&base(), &canary, &rules());
    assert_eq!((c.label, c.samples), (Label::High, (20, 20)));
    let c = classify(&base(), &canary, &Rules { nan: NanStrategy::Replace, ..rules() });
    assert_eq!(c.samples, (20, 25), "replaced NaN are samples of 0");
}

#[test]
fn outliers_are_removed_before_the_test() {
    let mut baseline = base();
    baseline.push(10_000.0);
    let c = classify(&baseline, &base(), &Rules { outlier_factor: Some(3.0), ..rules() });
    assert_eq!((c.rule, c.samples), (Rule::Identical, (20, 20)), "{c:?}");
}

#[test]
fn the_distribution_test_catches_what_the_tolerance_band_lets_through() {
    let (baseline, canary) = tail();
    let ks = Rules { distribution: DistributionTest::Ks, direction: Direction::Increase, ..rules() };
    let c = classify(&baseline, &canary, &ks);
    assert_eq!((c.label, c.rule), (Label::High, Rule::Distribution));
    let d = c.distribution.unwrap();
    assert!((d.statistic - 0.7).abs() < 1e-12 && d.p < 0.02, "{d:?}");
    assert!(c.reason.starts_with("distribution: KS D+ 0.7"), "{}", c.reason);
}

#[test]
fn the_distribution_test_is_off_unless_asked() {
    let (baseline, canary) = tail();
    let c = classify(&baseline, &canary, &Rules { direction: Direction::Increase, ..rules() });
    assert_eq!((c.label, c.distribution), (Label::Pass, None));
}

#[test]
fn the_distribution_test_looks_only_at_the_side_of_a_regression() {
    let (baseline, canary) = tail();
    let ks = Rules { distribution: DistributionTest::Ks, direction: Direction::Decrease, ..rules() };
    let c = classify(&baseline, &canary, &ks);
    assert_eq!(c.label, Label::Pass);
    assert_eq!(c.distribution.unwrap().p, 1.0, "the canary never runs lower");
    let c = classify(&canary, &baseline, &ks);
    assert_eq!((c.label, c.rule), (Label::Low, Rule::Distribution));
}

#[test]
fn the_distribution_test_needs_its_minimum_distance() {
    let (baseline, canary) = tail();
    let far = Rules { distribution: DistributionTest::Ks, min_distance: 0.75, ..rules() };
    assert_eq!(classify(&baseline, &canary, &far).label, Label::Pass);
}

#[test]
fn the_distribution_test_passes_the_effect_size_gate_too() {
    // The canary's values a hair higher in 40 % of the samples: significant, negligible.
    let baseline = vec![50.0; 40];
    let canary = [vec![50.0; 24], vec![51.0; 16]].concat();
    let ks = Rules { distribution: DistributionTest::Ks, direction: Direction::Increase, ..rules() };
    assert_eq!(classify(&baseline, &canary, &ks).label, Label::High);
    let gated = Rules { effect: EffectSize { allowed_increase: Some(1.1), ..Default::default() }.gate(), ..ks };
    let c = classify(&baseline, &canary, &gated);
    assert_eq!(c.label, Label::Pass, "mean ratio {:?} < 1.1", c.effect);
    assert!(c.distribution.unwrap().p < 0.02);
}

#[test]
fn the_distribution_test_leaves_a_mann_whitney_high_as_it_is() {
    let ks = Rules { distribution: DistributionTest::Ks, ..rules() };
    let c = classify(&base(), &plus(&base(), 5.0), &ks);
    assert_eq!((c.label, c.rule), (Label::High, Rule::MannWhitney));
    assert!(c.distribution.is_some(), "measured all the same");
}

#[test]
fn numbers_in_reasons_are_short() {
    assert_eq!(short(0.123456), "0.1235");
    assert_eq!(short(99.0), "99");
    assert_eq!(short(1.0e-7), "1.000e-7");
    assert_eq!(short(f64::NAN), "n/a");
    assert_eq!(short(-2.5), "-2.5");
}
