use serde_json::json;

use super::*;

fn entry(kind: EntryKind, actor: &str, from_to: Option<(&str, &str)>, detail: serde_json::Value) -> JournalEntry {
    JournalEntry {
        seq: 1,
        at: 0,
        actor: actor.into(),
        kind,
        event: None,
        from: from_to.map(|(f, _)| f.to_string()),
        to: from_to.map(|(_, t)| t.to_string()),
        stage: Some(0),
        message: String::new(),
        detail: Some(detail),
    }
}

#[test]
fn transitions_verifications_and_deliveries_are_counted_from_entries() {
    let m = Metrics::new();
    m.observe(&entry(EntryKind::Transition, "run", Some(("applying", "baking")), json!(null)));
    m.observe(&entry(EntryKind::Transition, "run", Some(("applying", "baking")), json!(null)));
    m.observe(&entry(EntryKind::Transition, "run", Some(("applying", "nowhere")), json!(null)));
    m.observe(&entry(EntryKind::Call, "plugin v", None, json!({ "plugin": "v", "call": "verify", "outcome": "fail" })));
    let budget = json!({ "plugin": "v", "call": "verify", "purpose": "error-budget" });
    m.observe(&entry(EntryKind::Call, "plugin v", None, budget));
    let attempt = json!({ "webhook": "ops", "outcome": "delivered" });
    m.observe(&entry(EntryKind::Note, "webhook ops", None, attempt));
    let text = m.render();
    assert!(text.contains("upshift_transitions_total{from=\"applying\",to=\"baking\"} 2\n"), "{text}");
    assert!(text.contains("upshift_transitions_total{from=\"applying\",to=\"other\"} 1\n"), "{text}");
    assert!(text.contains("upshift_verifications_total{verifier=\"v\",outcome=\"fail\"} 1\n"), "{text}");
    assert!(!text.contains("outcome=\"other\""), "the error-budget check is not a verification: {text}");
    assert!(text.contains("upshift_webhook_deliveries_total{webhook=\"ops\",outcome=\"delivered\"} 1\n"), "{text}");
}

#[test]
fn every_phase_has_a_rollouts_gauge_even_at_zero() {
    let m = Metrics::new();
    m.set_phases(&[("baking".into(), 3)]);
    let text = m.render();
    assert!(text.contains("upshift_rollouts{phase=\"baking\"} 3\n"), "{text}");
    assert!(text.contains("upshift_rollouts{phase=\"rolled-back\"} 0\n"), "{text}");
}

#[test]
fn call_durations_and_limit_hits_come_from_the_runtime_observer() {
    let m = Metrics::new();
    m.call_finished("canary", "plan", Duration::from_millis(3));
    m.limit_hit("canary", "plan", "time");
    m.journal_committed(2, Duration::from_micros(300));
    let text = m.render();
    assert!(text.contains("upshift_plugin_call_duration_seconds_count{plugin=\"canary\",call=\"plan\"} 1\n"), "{text}");
    assert!(
        text.contains("upshift_plugin_limit_hits_total{plugin=\"canary\",call=\"plan\",limit=\"time\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("upshift_journal_commit_duration_seconds_count 1\n"), "{text}");
}
