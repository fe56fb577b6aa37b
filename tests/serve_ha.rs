//! Several `upshift serve` replicas on one PostgreSQL store (a real cluster this test binary
//! starts): they share the rollouts, a replica killed or frozen past its lease is taken over and,
//! frozen, is fenced off (it never commits again), a replica that stops cleanly hands its rollouts
//! over at once, and a control sent to any replica acts on the rollout wherever it runs. Every
//! migration is applied exactly once per shard, whoever drove it.

mod common;

use std::time::{Duration, Instant};

use common::serve::{Fleet, SHARDS, Server, ups};
use serde_json::Value;

/// Short leases so a frozen replica is taken over in seconds (the defaults are 15 s and 5 s).
const LEASES: &str = "lease_ttl_ms = 3000\nlease_renew_ms = 1000\n";

/// A fleet of `n` folders on a PostgreSQL store, each replica taking `max_parallel` steps at once.
fn fleet(n: usize, max_parallel: usize, leases: &str) -> Fleet {
    let fleet = Fleet::on_postgres(n);
    let config = fleet.path("serve.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("max_parallel = 8", &format!("max_parallel = {max_parallel}"));
    std::fs::write(&config, format!("{text}{leases}")).unwrap();
    fleet
}

/// The spec of folder `i` with its canary baking `seconds`.
fn slow_spec(fleet: &Fleet, i: usize, name: &str, seconds: u32) -> String {
    let text = fleet.spec(i, "rollout.toml", name);
    text.replace("canary_bake_seconds = 2", &format!("canary_bake_seconds = {seconds}"))
}

fn submit_text(server: &Server, i: usize, text: &str) -> String {
    let (status, body) = server.call("POST", &format!("/v1/rollouts?path=r{i}/rollout.toml"), None, Some(text));
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn detail(server: &Server, id: &str) -> Value {
    let (status, body) = server.get(&format!("/v1/rollouts/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

/// The actor a replica's runner journals under.
fn actor(server: &Server) -> String {
    format!("upshift serve (pid {})", server.child.id())
}

fn history(server: &Server, id: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/v1/rollouts/{id}/history?limit=1000"));
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

fn assert_each_migration_once(fleet: &Fleet, n: usize) {
    for i in 1..=n {
        for s in 1..=SHARDS {
            assert_eq!(fleet.log(i, s), ups(), "r{i} shard {s}: each migration applied exactly once");
        }
    }
}

/// Waits until `ready` holds for the detail of one of `ids`; returns that id.
fn wait_for(server: &Server, ids: &[String], what: &str, ready: impl Fn(&Value) -> bool) -> String {
    let start = Instant::now();
    loop {
        for id in ids {
            if ready(&detail(server, id)) {
                return id.clone();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(90), "never {what}:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_replicas_share_the_rollouts_and_a_control_sent_to_either_acts_where_the_rollout_runs() {
    let n = 8;
    let fleet = fleet(n, 2, LEASES);
    let (a, b) = (Server::start(&fleet, None), Server::start(&fleet, None));
    let ids: Vec<String> = (1..=n)
        .map(|i| {
            let via = if i % 2 == 0 { &a } else { &b };
            submit_text(via, i, &slow_spec(&fleet, i, &format!("ha-{i}"), 4))
        })
        .collect();
    // A rollout one replica drives, paused through the other: it pauses, and resumes likewise.
    let driven_by_a = wait_for(&b, &ids, "driven by replica a", |d| {
        d["runner_pid"] == a.child.id() && d["state"] == "baking"
    });
    let (status, body) = b.call("POST", &format!("/v1/rollouts/{driven_by_a}/pause"), None, Some("{}"));
    assert_eq!(status, 200, "{body}");
    wait_for(&a, std::slice::from_ref(&driven_by_a), "paused", |d| d["state"] == "paused");
    let (status, body) = b.call("POST", &format!("/v1/rollouts/{driven_by_a}/resume"), None, Some("{}"));
    assert_eq!(status, 200, "{body}");

    let phases = a.wait_ended(&ids, Duration::from_secs(180));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}\n{}", a.stderr(), b.stderr());
    assert_each_migration_once(&fleet, n);
    let drove = |server: &Server| {
        ids.iter().filter(|id| history(server, id).iter().any(|e| e["actor"] == actor(server))).count()
    };
    let (by_a, by_b) = (drove(&a), drove(&b));
    eprintln!("replica a drove {by_a} rollouts, replica b {by_b}");
    assert!(by_a > 0 && by_b > 0, "both replicas drove rollouts: a {by_a}, b {by_b}");
}

#[test]
fn a_replica_killed_mid_way_leaves_its_rollouts_to_the_other_which_applies_each_migration_once() {
    let n = 4;
    let fleet = fleet(n, 4, LEASES);
    let a = Server::start(&fleet, None);
    let ids: Vec<String> = (1..=n).map(|i| submit_text(&a, i, &slow_spec(&fleet, i, &format!("k-{i}"), 3))).collect();
    wait_for(&a, &ids, "a canary applied", |d| d["state"] == "baking");
    let b = Server::start(&fleet, None);
    let mut a = a;
    a.signal("-KILL");
    let _ = a.child.wait();
    let phases = b.wait_ended(&ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}", b.stderr());
    assert_each_migration_once(&fleet, n);
    for id in &ids {
        assert!(history(&b, id).iter().any(|e| e["actor"] == actor(&b)), "{id}: taken over by replica b");
    }
}

#[test]
fn a_replica_frozen_past_its_lease_is_taken_over_and_never_commits_again() {
    let n = 3;
    let fleet = fleet(n, 4, LEASES);
    let a = Server::start(&fleet, None);
    let ids: Vec<String> = (1..=n).map(|i| submit_text(&a, i, &slow_spec(&fleet, i, &format!("f-{i}"), 6))).collect();
    wait_for(&a, &ids, "a canary baking", |d| d["state"] == "baking" && d["runner_pid"] == a.child.id());
    let b = Server::start(&fleet, None);
    // Frozen: its process still exists (so the host cannot tell it is gone); only its lease's
    // expiry lets replica b take over.
    a.signal("-STOP");
    let frozen_at = Instant::now();
    let taken = wait_for(&b, &ids, "taken over by replica b", |d| d["runner_pid"] == b.child.id());
    eprintln!("replica b took {taken} over {:?} after replica a froze", frozen_at.elapsed());
    assert!(frozen_at.elapsed() >= Duration::from_millis(2_000), "taken over before the lease could expire");
    a.signal("-CONT");
    let phases = b.wait_ended(&ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}\n{}", a.stderr(), b.stderr());
    assert_each_migration_once(&fleet, n);
    // Fenced: once replica b journaled for a rollout, nothing of replica a's follows.
    for id in &ids {
        let entries = history(&b, id);
        let Some(first_b) = entries.iter().position(|e| e["actor"] == actor(&b)) else { continue };
        let late: Vec<&Value> = entries[first_b..].iter().filter(|e| e["actor"] == actor(&a)).collect();
        assert!(late.is_empty(), "{id}: replica a committed after the takeover: {late:?}");
    }
}

#[test]
fn a_replica_stopped_cleanly_hands_its_rollouts_over_at_once() {
    let n = 3;
    // Default lease timing (15 s): a hand-over that waited for the expiry would show.
    let fleet = fleet(n, 4, "");
    let a = Server::start(&fleet, None);
    let ids: Vec<String> = (1..=n).map(|i| submit_text(&a, i, &slow_spec(&fleet, i, &format!("h-{i}"), 4))).collect();
    wait_for(&a, &ids, "a canary baking", |d| d["state"] == "baking");
    let b = Server::start(&fleet, None);
    let mut a = a;
    a.signal("-TERM");
    assert_eq!(a.child.wait().unwrap().code(), Some(0), "{}", a.stderr());
    // Given back, not left to expire: no unended rollout names replica a as its driver.
    for id in &ids {
        let d = detail(&b, id);
        assert_ne!(d["runner_pid"], a.child.id(), "{id} still leased to the stopped replica: {d}");
    }
    let stopped_at = Instant::now();
    let unfinished: Vec<String> = ids.iter().filter(|id| !detail(&b, id)["state"].eq("succeeded")).cloned().collect();
    let phases = b.wait_ended(&ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}", b.stderr());
    if !unfinished.is_empty() {
        eprintln!("replica b finished {unfinished:?} {:?} after replica a stopped", stopped_at.elapsed());
    }
    assert_each_migration_once(&fleet, n);
}
