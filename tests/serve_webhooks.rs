//! Webhooks (issue 13) against a real local HTTP receiver: the signed events of real rollouts arrive
//! in order; a receiver answering 500 for a while gets each event once its retries succeed; a
//! rollout whose events fail holds only its own, and a dead endpoint only its own webhook; a rollout
//! ends while its endpoint has not answered yet; a restarted notifier delivers what was journaled while it was down, and nothing twice.

mod common;

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use upshift::engine::Phase;
use upshift::serve::metrics::Metrics;
use upshift::serve::webhooks::{EventKind, Notifier, NotifierHandle, WebhookConfig, verify_signature};
use upshift::store::{DeliveryStatus, Store};

use common::lab::Lab;
use common::receiver::{Received, Receiver};

const SECRET: &str = "test-secret";
/// The longest any wait below may take: far above what it needs, so only a real failure reaches it.
const DEADLINE: Duration = Duration::from_secs(60);
/// The events of one of the lab's good rollouts (two stages: canary and promote).
const GOOD: [&str; 3] = ["stage-applied", "stage-applied", "succeeded"];

fn webhook(name: &str, url: &str) -> WebhookConfig {
    WebhookConfig {
        name: name.into(),
        url: url.into(),
        events: EventKind::ALL.to_vec(),
        secret: SECRET.into(),
        max_attempts: 100,
        initial_backoff_ms: 20,
        max_backoff_ms: 100,
        timeout_ms: 2_000,
    }
}

fn start(lab: &Lab, hooks: Vec<WebhookConfig>) -> NotifierHandle {
    Notifier::start(&lab.path("state.db"), hooks, Arc::new(Metrics::new())).unwrap()
}

fn good_spec(lab: &Lab) -> String {
    lab.spec(&format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", lab.plugin("threshold")), None)
}

/// Waits until `done` holds, failing the test at [`DEADLINE`] with `what`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < until, "not within {DEADLINE:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The events `requests` carried for `rollout`, in the order they arrived.
fn events_of(requests: &[Received], rollout: &str) -> Vec<String> {
    requests.iter().filter(|r| r.rollout() == rollout).map(Received::event).collect()
}

fn deliveries(lab: &Lab, webhook: &str) -> Vec<upshift::store::Delivery> {
    Store::open_existing(lab.path("state.db")).unwrap().deliveries(webhook).unwrap()
}

#[test]
fn a_receiver_gets_the_signed_events_of_each_rollout_in_order() {
    let mut lab = Lab::new();
    let receiver = Receiver::start(|_, _| 200);
    let notifier = start(&lab, vec![webhook("ops", &receiver.url())]);
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    let failing = lab.spec(&format!("{}\nconfig = {{ value = 0.5, max = 0.01 }}", lab.plugin("threshold")), None);
    assert_eq!(lab.run(&failing).unwrap().phase, Phase::RolledBack);
    wait_until("six events delivered", || receiver.accepted().len() >= 6);
    notifier.shutdown();

    let got = receiver.requests();
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_eq!(events_of(&got, "lab-1"), GOOD);
    assert_eq!(events_of(&got, "lab-2"), ["stage-applied", "verification-failed", "rolled-back"]);
    let mut ids = HashSet::new();
    for r in &got {
        let signature = r.header("X-Upshift-Signature");
        assert!(verify_signature(SECRET.as_bytes(), r.body.as_bytes(), signature), "bad signature: {r:?}");
        assert!(!verify_signature(b"another secret", r.body.as_bytes(), signature));
        assert_eq!(r.header("X-Upshift-Delivery"), r.json()["delivery"], "{r:?}");
        assert_eq!(r.header("X-Upshift-Event"), r.event());
        assert_eq!(r.header("Content-Type"), "application/json");
        assert!(ids.insert(r.header("X-Upshift-Delivery").to_string()), "a delivery id twice: {r:?}");
    }
    for rollout in ["lab-1", "lab-2"] {
        let seqs: Vec<i64> =
            got.iter().filter(|r| r.rollout() == rollout).map(|r| r.json()["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{rollout} out of journal order: {seqs:?}");
    }
    let stored = deliveries(&lab, "ops");
    assert!(stored.iter().all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 1), "{stored:#?}");
    let notes: Vec<String> = ["lab-1", "lab-2"]
        .iter()
        .flat_map(|id| lab.store.history(id).unwrap())
        .filter(|e| e.actor == "webhook ops")
        .map(|e| e.message)
        .collect();
    assert_eq!(notes.len(), 6, "{notes:#?}");
    assert!(notes.iter().all(|m| m.contains("attempt 1: delivered (HTTP 200)")), "{notes:#?}");
    assert!(!notes.iter().any(|m| m.contains(SECRET)), "the secret is never journaled");
}

#[test]
fn a_receiver_failing_for_a_while_gets_each_event_once_its_retries_succeed() {
    const FAILURES: usize = 4;
    let mut lab = Lab::new();
    let receiver = Receiver::start(|_, n| if n < FAILURES { 500 } else { 200 });
    let metrics = Arc::new(Metrics::new());
    let notifier =
        Notifier::start(&lab.path("state.db"), vec![webhook("flaky", &receiver.url())], metrics.clone()).unwrap();
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    wait_until("three events accepted", || receiver.accepted().len() >= GOOD.len());
    notifier.shutdown();

    let accepted = receiver.accepted();
    assert_eq!(events_of(&accepted, "lab-1"), GOOD, "each event once, in order");
    let accepted_ids: HashSet<String> = accepted.iter().map(|r| r.header("X-Upshift-Delivery").to_string()).collect();
    assert_eq!(accepted_ids.len(), GOOD.len());
    let failed: Vec<Received> = receiver.requests().into_iter().filter(|r| r.answered == 500).collect();
    assert_eq!(failed.len(), FAILURES);
    assert!(
        failed.iter().all(|r| accepted_ids.contains(r.header("X-Upshift-Delivery"))),
        "a retry keeps its delivery id"
    );
    assert!(failed.iter().all(|r| r.event() == "stage-applied"), "later events waited for the first");
    let stored = deliveries(&lab, "flaky");
    assert!(stored.iter().all(|d| d.status == DeliveryStatus::Delivered), "{stored:#?}");
    assert_eq!(stored.iter().map(|d| d.attempts as usize).sum::<usize>(), GOOD.len() + FAILURES);

    metrics.catch_up(&lab.store).unwrap();
    let text = metrics.render();
    assert!(text.contains("upshift_webhook_deliveries_total{webhook=\"flaky\",outcome=\"failed\"} 4\n"), "{text}");
    assert!(text.contains("upshift_webhook_deliveries_total{webhook=\"flaky\",outcome=\"delivered\"} 3\n"), "{text}");
    assert!(text.contains("upshift_webhook_pending{webhook=\"flaky\"} 0\n"), "{text}");
}

#[test]
fn a_failing_rollout_holds_only_its_own_events_and_a_dead_endpoint_only_its_own_webhook() {
    let mut lab = Lab::new();
    // lab-1's events are refused for as long as the test runs; lab-2's are accepted.
    let receiver = Receiver::start(|r, _| if r.rollout() == "lab-1" { 500 } else { 200 });
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hooks", l.local_addr().unwrap())
    };
    let notifier = start(&lab, vec![webhook("dead", &dead), webhook("live", &receiver.url())]);
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    wait_until("lab-2's events delivered", || events_of(&receiver.accepted(), "lab-2").len() >= GOOD.len());
    wait_until("lab-1's first event retried", || {
        receiver.requests().iter().filter(|r| r.rollout() == "lab-1").count() >= 2
    });
    // Each webhook reads the journal on its own: the dead one may still be queueing lab-2's events.
    wait_until("the dead webhook queued both rollouts' events", || deliveries(&lab, "dead").len() >= 2 * GOOD.len());
    wait_until("the dead endpoint tried", || deliveries(&lab, "dead").iter().any(|d| d.attempts > 0));
    notifier.shutdown();

    assert_eq!(events_of(&receiver.accepted(), "lab-2"), GOOD);
    let lab1: Vec<Received> = receiver.requests().into_iter().filter(|r| r.rollout() == "lab-1").collect();
    let first = lab1[0].header("X-Upshift-Delivery").to_string();
    assert!(lab1.iter().all(|r| r.header("X-Upshift-Delivery") == first), "only lab-1's first event was tried");
    let live = deliveries(&lab, "live");
    let held: Vec<_> = live.iter().filter(|d| d.rollout_id == "lab-1").collect();
    assert_eq!(held.len(), GOOD.len());
    assert!(held.iter().all(|d| d.status == DeliveryStatus::Pending), "{held:#?}");
    assert!(held[0].attempts >= 2 && held[1..].iter().all(|d| d.attempts == 0), "{held:#?}");
    let dead = deliveries(&lab, "dead");
    assert_eq!(dead.len(), 2 * GOOD.len());
    assert!(dead.iter().all(|d| d.status == DeliveryStatus::Pending), "{dead:#?}");
    assert!(dead.iter().any(|d| d.attempts > 0), "the dead endpoint was tried: {dead:#?}");
    let refused = dead.iter().find(|d| d.attempts > 0).and_then(|d| d.last_error.clone()).unwrap_or_default();
    assert!(!refused.is_empty(), "the attempt's error is kept");
}

#[test]
fn a_rollout_ends_while_the_endpoint_still_holds_its_first_event() {
    let mut lab = Lab::new();
    // The receiver answers nothing until the rollout has ended: a rollout that waited for its
    // webhook would never end, and this test would hang instead of passing.
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let held = gate.clone();
    let receiver = Receiver::start(move |_, _| {
        let (open, opened) = &*held;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        200
    });
    let notifier = start(&lab, vec![WebhookConfig { timeout_ms: 60_000, ..webhook("slow", &receiver.url()) }]);
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    assert!(receiver.requests().is_empty(), "nothing was answered before the rollout ended");
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    wait_until("every event delivered", || receiver.accepted().len() >= GOOD.len());
    notifier.shutdown();
    assert_eq!(events_of(&receiver.requests(), "lab-1"), GOOD);
}

#[test]
fn a_restarted_notifier_delivers_what_was_journaled_while_it_was_down_and_nothing_twice() {
    let mut lab = Lab::new();
    let receiver = Receiver::start(|_, _| 200);
    let hooks = vec![webhook("ops", &receiver.url())];
    let notifier = start(&lab, hooks.clone());
    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    wait_until("lab-1's events delivered", || receiver.accepted().len() >= GOOD.len());
    notifier.shutdown();

    assert_eq!(lab.run(&good_spec(&lab)).unwrap().phase, Phase::Succeeded);
    let notifier = start(&lab, hooks);
    wait_until("every delivery delivered", || {
        let all = deliveries(&lab, "ops");
        all.len() == 2 * GOOD.len() && all.iter().all(|d| d.status == DeliveryStatus::Delivered)
    });
    notifier.shutdown();

    let got = receiver.requests();
    assert_eq!(got.len(), 2 * GOOD.len(), "{got:#?}");
    assert_eq!(events_of(&got, "lab-1"), GOOD);
    assert_eq!(events_of(&got, "lab-2"), GOOD);
}
