//! The webhook queue's rules, on a real store: per-rollout order, the cursor, attempts journaled.

use std::path::Path;

use super::*;
use crate::store::NewRollout;
use crate::store::backends_tests::{Backend, Fresh, on_both};

on_both!(
    only_the_oldest_pending_event_of_each_rollout_is_due,
    two_events_of_one_entry_go_out_in_the_order_they_were_queued,
    an_event_is_queued_once_and_the_cursor_never_moves_back,
    every_attempt_is_a_note_in_the_rollouts_journal,
);

fn open(backend: Backend) -> (Fresh, Store) {
    let fresh = Fresh::new(backend);
    let mut store = fresh.open();
    for id in ["a-1", "b-1"] {
        let new = NewRollout {
            id,
            name: &id[..1],
            spec_path: Path::new("/r.toml"),
            spec: "{}",
            plan: "{}",
            state: "{}",
            phase: "pending",
            at: 1,
            leased: false,
        };
        store.create(new, vec![], vec![]).unwrap();
    }
    (fresh, store)
}

fn queued(rollout: &str, seq: i64) -> NewDelivery {
    NewDelivery {
        id: format!("{rollout}-{seq}"),
        rollout_id: rollout.into(),
        seq,
        event: "stage-applied".into(),
        body: "{}".into(),
    }
}

fn ids(ds: &[Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.id.as_str()).collect()
}

fn only_the_oldest_pending_event_of_each_rollout_is_due(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.enqueue_deliveries("ops", 30, &[queued("a-1", 10), queued("a-1", 20), queued("b-1", 30)], 100).unwrap();
    assert_eq!(s.webhook_cursor("ops").unwrap(), Some(30));
    assert_eq!(ids(&s.due_deliveries("ops", 100, &[], 10).unwrap()), ["a-1-10", "b-1-30"]);
    assert_eq!(ids(&s.due_deliveries("ops", 100, &["a-1".into()], 10).unwrap()), ["b-1-30"], "busy rollouts wait");

    let head = s.due_deliveries("ops", 100, &[], 10).unwrap().remove(0);
    let retry = AttemptOutcome::Retry { error: "HTTP 500".into(), retry_at: 500 };
    s.record_attempt(&Attempt { delivery: &head, number: 1, duration_ms: 3, outcome: retry, at: 110 }).unwrap();
    assert_eq!(ids(&s.due_deliveries("ops", 200, &[], 10).unwrap()), ["b-1-30"], "a-1 waits for its retry");
    assert_eq!(ids(&s.due_deliveries("ops", 500, &[], 10).unwrap()), ["b-1-30", "a-1-10"], "longest due first");

    let head = s.due_deliveries("ops", 500, &["b-1".into()], 10).unwrap().remove(0);
    let ok = AttemptOutcome::Delivered { status: 204 };
    s.record_attempt(&Attempt { delivery: &head, number: 2, duration_ms: 3, outcome: ok, at: 510 }).unwrap();
    assert_eq!(ids(&s.due_deliveries("ops", 510, &[], 10).unwrap()), ["a-1-20", "b-1-30"], "then the next one");
    assert_eq!(s.pending_deliveries("ops").unwrap(), 2);
}

fn two_events_of_one_entry_go_out_in_the_order_they_were_queued(backend: Backend) {
    let (_d, mut s) = open(backend);
    let failed = NewDelivery { id: "failed".into(), event: "verification-failed".into(), ..queued("a-1", 10) };
    let paused = NewDelivery { id: "paused".into(), event: "paused".into(), ..queued("a-1", 10) };
    s.enqueue_deliveries("ops", 10, &[failed, paused], 1).unwrap();
    assert_eq!(ids(&s.due_deliveries("ops", 1, &[], 10).unwrap()), ["failed"]);
}

fn an_event_is_queued_once_and_the_cursor_never_moves_back(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.enqueue_deliveries("ops", 10, &[queued("a-1", 10)], 1).unwrap();
    let again = NewDelivery { id: "another-id".into(), ..queued("a-1", 10) };
    s.enqueue_deliveries("ops", 5, &[again], 2).unwrap();
    assert_eq!(ids(&s.deliveries("ops").unwrap()), ["a-1-10"]);
    assert_eq!(s.webhook_cursor("ops").unwrap(), Some(10));
    assert_eq!(s.webhook_cursor("other").unwrap(), None);
}

fn every_attempt_is_a_note_in_the_rollouts_journal(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.enqueue_deliveries("ops", 10, &[queued("a-1", 10)], 1).unwrap();
    let d = s.due_deliveries("ops", 1, &[], 1).unwrap().remove(0);
    let gave_up = AttemptOutcome::GivenUp { error: "connection refused".into() };
    s.record_attempt(&Attempt { delivery: &d, number: 8, duration_ms: 1, outcome: gave_up, at: 2 }).unwrap();
    let stored = s.deliveries("ops").unwrap().remove(0);
    assert_eq!((stored.status, stored.attempts), (DeliveryStatus::GivenUp, 8));
    assert_eq!(stored.last_error.as_deref(), Some("connection refused"));
    let note = s.history("a-1").unwrap().pop().unwrap();
    assert_eq!(note.actor, "webhook ops");
    assert_eq!(
        note.message,
        "webhook ops: stage-applied (delivery a-1-10) attempt 8: failed: connection refused; given up"
    );
    let detail = note.detail.unwrap();
    assert_eq!((detail["outcome"].as_str(), detail["attempt"].as_u64()), (Some("given-up"), Some(8)));
    assert!(s.due_deliveries("ops", 1_000, &[], 1).unwrap().is_empty(), "given up is not retried");
}
