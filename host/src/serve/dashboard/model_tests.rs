//! The dashboard's reading of rollouts: rows, filters, charts, failures, controls.

use super::*;

#[test]
fn ages_read_as_people_say_them() {
    assert_eq!(age(-5), "0s");
    assert_eq!(age(59_000), "59s");
    assert_eq!(age(61_000), "1m");
    assert_eq!(age(7_200_000), "2h");
    assert_eq!(age(3 * 86_400_000), "3d");
}

#[test]
fn a_filter_matches_phase_exactly_and_name_or_id_in_part() {
    let f = Filter { phase: "baking".into(), name: "Quick".into(), after: String::new() };
    assert_eq!(f.query(), "phase=baking&name=Quick");
    assert_eq!(Filter::default().query(), "");
    let filter = |phase: &str, name: &str| Filter { phase: phase.into(), name: name.into(), after: String::new() };
    assert!(filter("", "").admits(&record()));
    assert!(filter("baking", " R-1 ").admits(&record()), "any case, trimmed, the id too");
    assert!(!filter("paused", "").admits(&record()));
    assert!(!filter("", "other").admits(&record()));
}

fn plan(traffic_split: bool) -> Plan {
    let stage = |name: &str, weight: Option<u8>, units: &[&str]| crate::rollout::PlannedStage {
        name: name.into(),
        weight,
        units: units.iter().map(|u| u.to_string()).collect(),
        bake_seconds: 5,
        verify: true,
        approval: false,
        approval_reason: None,
    };
    serde_json::from_value(serde_json::json!({
        "stages": [stage("canary", traffic_split.then_some(10), &["a"]), stage("all", traffic_split.then_some(100), &["b"])],
        "context": { "stages": [], "policy": crate::engine::FailurePolicy::default(), "rounds": 1, "round_interval_seconds": 0 },
        "traffic_split": traffic_split,
        "units": ["a", "b"],
        "irreversible": [],
        "observed_weight": if traffic_split { Some(0) } else { None },
    }))
    .unwrap()
}

fn entry(seq: i64, kind: EntryKind, event: Option<&str>, stage: usize, detail: serde_json::Value) -> JournalEntry {
    JournalEntry {
        seq,
        at: seq * 1000,
        actor: "t".into(),
        kind,
        event: event.map(str::to_string),
        from: None,
        to: None,
        stage: Some(stage),
        message: String::new(),
        detail: Some(detail),
    }
}

fn record() -> RolloutRecord {
    RolloutRecord {
        id: "r-1".into(),
        name: "r".into(),
        spec_path: "s.toml".into(),
        spec: String::new(),
        plan: String::new(),
        state: String::new(),
        phase: "baking".into(),
        version: 1,
        created_at: 0,
        updated_at: 0,
        lease: None,
    }
}

#[test]
fn the_progress_chart_follows_the_read_back_weight_or_units() {
    let observe = |seq, weight: Option<u8>, b: &str| {
        let units = serde_json::json!([{ "unit": "a", "version": "2" }, { "unit": "b", "version": b }]);
        entry(
            seq,
            EntryKind::Call,
            None,
            0,
            serde_json::json!({ "call": "observe", "observed": { "units": units, "weight": weight } }),
        )
    };
    let history = vec![observe(2, Some(10), "1"), observe(3, Some(100), "2")];
    let weights = progress(&record(), &plan(true), "2", &history, 4000);
    assert_eq!((weights.series.as_str(), weights.last.as_str()), ("weight", "100"));
    assert_eq!(weights.svg.matches("<circle").count(), 3, "the observed 0 % and two read-backs");
    let units = progress(&record(), &plan(false), "2", &history, 4000);
    assert_eq!((units.series.as_str(), units.last.as_str()), ("units", "2"));
    assert!(units.title.contains("of 2"), "{}", units.title);
}

#[test]
fn measurements_are_charted_per_name_and_the_last_failure_is_kept() {
    let verify = |seq, outcome: &str, ratio: f64| {
        let ms = serde_json::json!([{ "name": "error_ratio", "value": ratio, "unit": "ratio" }, { "name": "requests", "value": 100.0 }]);
        entry(
            seq,
            EntryKind::Call,
            None,
            0,
            serde_json::json!({ "call": "verify", "plugin": "budget", "outcome": outcome, "measurements": ms }),
        )
    };
    let history = vec![verify(1, "pass", 0.001), verify(2, "fail", 0.08)];
    let (charts, omitted) = measurement_charts(&history, 3000);
    assert_eq!(omitted, 0);
    let names: Vec<&str> = charts.iter().map(|c| c.series.as_str()).collect();
    assert_eq!(names, ["error_ratio", "requests"]);
    assert_eq!(charts[0].svg.matches("point failed").count(), 1);
    let failure = failure(&history, &plan(false)).expect("the failed verdict");
    assert_eq!((failure.verifier.as_str(), failure.measurements[0].value.as_str()), ("budget", "0.08"));
    assert_eq!(failure.stage, "1/2 canary");
}

#[test]
fn controls_are_offered_by_phase() {
    let offered = |p| actions(Some(p)).into_iter().filter(|a| a.available).map(|a| a.action).collect::<Vec<_>>();
    assert_eq!(offered(Phase::AwaitingApproval), ["approve", "pause", "abort"]);
    assert_eq!(offered(Phase::Paused), ["resume", "abort"]);
    assert_eq!(offered(Phase::Baking), ["pause", "abort"]);
    assert!(offered(Phase::Succeeded).is_empty());
}

#[test]
fn a_verifier_flooding_measurement_names_gets_a_bounded_page() {
    // 64 names (the host's limit per verdict), each 1 KiB long: charts stop at MAX_CHARTS, the rest
    // are counted, and every name shown is capped.
    let long = "m".repeat(1024);
    let ms: Vec<serde_json::Value> =
        (0..64).map(|i| serde_json::json!({ "name": format!("{i:02}{long}"), "value": i as f64 })).collect();
    let history = vec![entry(
        1,
        EntryKind::Call,
        None,
        0,
        serde_json::json!({ "call": "verify", "plugin": "flood", "outcome": "pass", "measurements": ms }),
    )];
    let (charts, omitted) = measurement_charts(&history, 2000);
    assert_eq!((charts.len(), omitted), (MAX_CHARTS, 64 - MAX_CHARTS));
    assert!(charts.iter().all(|c| c.series.len() <= text::MAX_NAME && c.title.len() < 3 * text::MAX_NAME));
}
