//! The judge's statistics against `testdata/vectors.json`, written by `testdata/make_vectors.py`
//! from scipy 1.14.1 and from the definitions (see the script). p-values and statistics must agree
//! to 1e-9, interval ends to 1e-6. CI needs no scipy: the JSON is committed.

use judge::prepare::{NanStrategy, prepare};
use judge::stats::{StatsError, effect, hodges_lehmann, ks, mann_whitney, sorted_finite};
use upshift_sdk::serde_json::{self, Value};

const STATISTIC_TOLERANCE: f64 = 1e-9;
const INTERVAL_TOLERANCE: f64 = 1e-6;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

/// null is NaN, as in the judge's sample files.
fn samples(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    let scale = want.abs().max(1.0);
    assert!((got - want).abs() <= tolerance * scale, "{what}: got {got:?}, want {want:?} (tolerance {tolerance:e})");
}

/// Every case, prepared as the judge prepares a series, then each statistic.
fn each_case(mut check: impl FnMut(&str, &Value, &[f64], &[f64])) -> usize {
    let doc = vectors();
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let nan = if case["nan_strategy"] == "replace" { NanStrategy::Replace } else { NanStrategy::Remove };
        let factor = case["outlier_factor"].as_f64();
        let baseline = prepare(&samples(&case["baseline"]), nan, factor);
        let canary = prepare(&samples(&case["canary"]), nan, factor);
        assert_eq!(baseline, samples(&case["prepared"]["baseline"]), "{name}: prepared baseline");
        assert_eq!(canary, samples(&case["prepared"]["canary"]), "{name}: prepared canary");
        let (b, c) = (sorted_finite(&baseline).expect("finite"), sorted_finite(&canary).expect("finite"));
        check(name, case, &b, &c);
    }
    cases.len()
}

#[test]
fn mann_whitney_matches_scipy() {
    each_case(|name, case, b, c| match (&case["mann_whitney"], mann_whitney::test(c, b)) {
        (Value::Null, Err(StatsError::Empty)) => {}
        (want, Ok(got)) if !want.is_null() => {
            close(&format!("{name}: U"), got.u, want["u"].as_f64().unwrap(), STATISTIC_TOLERANCE);
            close(&format!("{name}: p"), got.p, want["p"].as_f64().unwrap(), STATISTIC_TOLERANCE);
        }
        (want, got) => panic!("{name}: want {want}, got {got:?}"),
    });
}

#[test]
fn hodges_lehmann_matches_its_definition() {
    let confidences: Vec<f64> = vectors()["confidences"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    each_case(|name, case, b, c| {
        for &confidence in &confidences {
            match (&case["hodges_lehmann"], hodges_lehmann::shift(c, b, confidence)) {
                (Value::Null, Err(e)) => {
                    let want = case["hodges_lehmann_error"].as_str().unwrap();
                    let got = match e {
                        StatsError::Empty => "empty",
                        StatsError::AllTied => "all-tied",
                        StatsError::NonFinite => "non-finite",
                    };
                    assert_eq!(got, want, "{name}");
                }
                (want, Ok(got)) if !want.is_null() => {
                    let interval = &want["intervals"][confidence.to_string()];
                    close(&format!("{name}: estimate"), got.estimate, want["estimate"].as_f64().unwrap(), 1e-12);
                    let what = format!("{name} at {confidence}");
                    close(
                        &format!("{what}: lower"),
                        got.lower,
                        interval["lower"].as_f64().unwrap(),
                        INTERVAL_TOLERANCE,
                    );
                    close(
                        &format!("{what}: upper"),
                        got.upper,
                        interval["upper"].as_f64().unwrap(),
                        INTERVAL_TOLERANCE,
                    );
                }
                (want, got) => panic!("{name}: want {want}, got {got:?}"),
            }
        }
    });
}

#[test]
fn kolmogorov_smirnov_matches_scipy_exact() {
    let alternatives = [
        ("two-sided", ks::Alternative::TwoSided),
        ("greater", ks::Alternative::CanaryHigher),
        ("less", ks::Alternative::CanaryLower),
    ];
    each_case(|name, case, b, c| {
        for (key, alternative) in alternatives {
            match (&case["ks"], ks::test(b, c, alternative)) {
                (Value::Null, Err(StatsError::Empty)) => {}
                (want, Ok(got)) if !want.is_null() => {
                    let want = &want[key];
                    let what = format!("{name} {key} ({})", want["reference"]);
                    close(
                        &format!("{what}: D"),
                        got.statistic,
                        want["statistic"].as_f64().unwrap(),
                        STATISTIC_TOLERANCE,
                    );
                    close(&format!("{what}: p"), got.p, want["p"].as_f64().unwrap(), STATISTIC_TOLERANCE);
                }
                (want, got) => panic!("{name} {key}: want {want}, got {got:?}"),
            }
        }
    });
}

#[test]
fn effect_sizes_match_their_definitions() {
    each_case(|name, case, b, c| {
        let ratio = effect::mean_ratio(b, c);
        match case["mean_ratio"].as_f64() {
            Some(want) => close(&format!("{name}: mean ratio"), ratio, want, STATISTIC_TOLERANCE),
            None => assert!(ratio.is_nan(), "{name}: mean ratio {ratio}, want none"),
        }
        let cles = effect::cles(b, c);
        match case["cles"].as_f64() {
            Some(want) => close(&format!("{name}: CLES"), cles, want, STATISTIC_TOLERANCE),
            None => assert!(cles.is_nan(), "{name}: CLES {cles}, want none"),
        }
    });
}
