//! Which journal entries are webhook events, and the JSON body each is delivered with.
//!
//! Only transitions are events (notes and call outcomes are not): the machine's own record of where
//! a rollout went, whichever process drove it. One transition can be two events (a failed
//! verification that pauses the rollout is `verification-failed` and `paused`), in that order.

use serde_json::json;

use super::EventKind;
use crate::store::{EntryKind, TailEntry};

/// The events journal entry `t` stands for, in the order they are delivered.
pub fn events_of(t: &TailEntry) -> Vec<EventKind> {
    let e = &t.entry;
    if e.kind != EntryKind::Transition {
        return vec![];
    }
    let (from, to) = (e.from.as_deref(), e.to.as_deref());
    let entered = |phase: &str| to == Some(phase) && from != Some(phase);
    let mut events = Vec::new();
    match e.event.as_deref() {
        Some("apply-ok") => events.push(EventKind::StageApplied),
        Some("verdict-fail") => events.push(EventKind::VerificationFailed),
        _ => {}
    }
    let by_phase = [
        ("awaiting-approval", EventKind::AwaitingApproval),
        ("paused", EventKind::Paused),
        ("rolled-back", EventKind::RolledBack),
        ("succeeded", EventKind::Succeeded),
        ("failed", EventKind::Failed),
    ];
    events.extend(by_phase.into_iter().filter(|(phase, _)| entered(phase)).map(|(_, kind)| kind));
    events
}

/// The JSON body of event `kind` from entry `t`, as delivery `delivery` sends it. The `message`
/// and `detail` may hold a plugin's text (a verdict's reason): a receiver must treat them as
/// untrusted, like any input.
pub fn body(delivery: &str, kind: EventKind, t: &TailEntry) -> String {
    let e = &t.entry;
    let at = jiff::Timestamp::from_millisecond(e.at).map(|ts| ts.to_string()).ok();
    json!({
        "delivery": delivery,
        "event": kind.name(),
        "rollout": { "id": t.rollout_id, "name": t.rollout_name },
        "seq": e.seq,
        "at": at,
        "at_ms": e.at,
        "from_phase": e.from,
        "phase": e.to,
        "stage": e.stage,
        "actor": e.actor,
        "message": e.message,
        "detail": e.detail,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JournalEntry;

    fn transition(event: &str, from: &str, to: &str) -> TailEntry {
        TailEntry {
            rollout_id: "web-1".into(),
            rollout_name: "web".into(),
            entry: JournalEntry {
                seq: 7,
                at: 1_764_600_000_000,
                actor: "serve".into(),
                kind: EntryKind::Transition,
                event: Some(event.into()),
                from: Some(from.into()),
                to: Some(to.into()),
                stage: Some(0),
                message: "m".into(),
                detail: None,
            },
        }
    }

    #[test]
    fn each_event_comes_from_its_transition() {
        let cases = [
            (transition("apply-ok", "applying", "baking"), vec![EventKind::StageApplied]),
            (transition("verdict-fail", "verifying", "rolling-back"), vec![EventKind::VerificationFailed]),
            (transition("verdict-fail", "verifying", "paused"), vec![EventKind::VerificationFailed, EventKind::Paused]),
            (transition("decided", "verifying", "awaiting-approval"), vec![EventKind::AwaitingApproval]),
            (transition("pause", "baking", "paused"), vec![EventKind::Paused]),
            (transition("rollback-ok", "rolling-back", "rolled-back"), vec![EventKind::RolledBack]),
            (transition("finalize-ok", "finalizing", "succeeded"), vec![EventKind::Succeeded]),
            (transition("rollback-error", "rolling-back", "failed"), vec![EventKind::Failed]),
            (transition("timer-elapsed", "baking", "verifying"), vec![]),
        ];
        for (t, expected) in cases {
            assert_eq!(events_of(&t), expected, "{:?}", t.entry.event);
        }
    }

    #[test]
    fn staying_paused_is_not_a_new_pause_and_a_note_is_no_event() {
        assert_eq!(events_of(&transition("pause", "paused", "paused")), vec![]);
        let mut note = transition("apply-ok", "applying", "baking");
        note.entry.kind = EntryKind::Note;
        assert_eq!(events_of(&note), vec![]);
    }

    #[test]
    fn the_body_names_the_event_the_rollout_and_the_entry() {
        let b: serde_json::Value =
            serde_json::from_str(&body("d-1", EventKind::StageApplied, &transition("apply-ok", "applying", "baking")))
                .unwrap();
        assert_eq!(b["delivery"], "d-1");
        assert_eq!(b["event"], "stage-applied");
        assert_eq!(b["rollout"]["id"], "web-1");
        assert_eq!(b["rollout"]["name"], "web");
        assert_eq!(b["seq"], 7);
        assert_eq!(b["phase"], "baking");
        assert_eq!(b["at"], "2025-12-01T14:40:00Z");
    }
}
