//! Several `upshift serve` replicas on one PostgreSQL store (a real cluster this test binary
//! starts): they share the rollouts; the busiest of three killed mid-stage is taken over within
//! 20 s; one frozen past its lease is taken over and, resumed, has every attempt refused (fencing);
//! one stopped cleanly hands its rollouts over within a renew interval; a control sent to any
//! replica acts on the rollout wherever it runs. Every migration is applied exactly once per shard,
//! whoever drove it, and every journal is one unbroken chain of transitions.

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
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_parallel = 8", &format!("max_parallel = {max_parallel}"));
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

/// Waits until `ready` holds for the detail of every one of `ids`; returns how long that took.
fn wait_all(server: &Server, ids: &[String], ready: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    while !ids.iter().all(|id| ready(&detail(server, id))) {
        assert!(start.elapsed() < Duration::from_secs(60), "not all ready:\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
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

/// Ms since the Unix epoch, as the journal's `at`.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The journal's transitions form one unbroken chain from `pending`: each starts where the last
/// ended, whichever replica made it.
fn assert_gap_free(server: &Server, id: &str) {
    let mut at = "pending".to_string();
    for e in history(server, id).iter().filter(|e| e["kind"] == "transition") {
        assert_eq!(e["from"].as_str(), Some(at.as_str()), "{id}: a transition does not follow the last: {e}");
        at = e["to"].as_str().unwrap().to_string();
    }
}

/// Ids of the unended rollouts among `ids` whose lease `server` holds.
fn held_by(observer: &Server, server: &Server, ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| {
            let d = detail(observer, id);
            d["runner_pid"] == server.child.id() && d["state"] != "succeeded"
        })
        .cloned()
        .collect()
}

#[test]
fn three_replicas_lose_the_busiest_mid_stage_and_the_others_take_each_rollout_over_within_20_s() {
    let n = 10;
    let fleet = fleet(n, 4, LEASES);
    let replicas: Vec<Server> = (0..3).map(|_| Server::start(&fleet, None)).collect();
    let ids: Vec<String> =
        (1..=n).map(|i| submit_text(&replicas[i % 3], i, &slow_spec(&fleet, i, &format!("fo-{i}"), 4))).collect();
    // In flight: every rollout past its canary's apply.
    let start = Instant::now();
    while !ids.iter().all(|id| detail(&replicas[0], id)["state"] != "pending") {
        assert!(start.elapsed() < Duration::from_secs(60), "not all started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let owned: Vec<Vec<String>> = replicas.iter().map(|r| held_by(&replicas[0], r, &ids)).collect();
    let busiest = (0..3).max_by_key(|&i| owned[i].len()).unwrap();
    eprintln!("owned before the kill: {:?}", owned.iter().map(Vec::len).collect::<Vec<_>>());
    let mut replicas = replicas;
    let mut victim = replicas.remove(busiest);
    let victim_actor = actor(&victim);
    let killed_at = now_ms();
    victim.signal("-KILL");
    let _ = victim.child.wait();
    let survivors = replicas;
    let phases = survivors[0].wait_ended(&ids, Duration::from_secs(180));
    assert!(
        phases.iter().all(|p| p == "succeeded"),
        "{phases:?}
{}",
        survivors[0].stderr()
    );
    assert_each_migration_once(&fleet, n);
    let mut slowest = 0;
    for id in &ids {
        assert_gap_free(&survivors[0], id);
        let entries = history(&survivors[0], id);
        assert!(
            entries.iter().all(|e| e["actor"] != victim_actor || e["at"].as_i64().unwrap() <= killed_at),
            "{id}: the killed replica journaled after its death"
        );
        if owned[busiest].contains(id) {
            let next = entries
                .iter()
                .filter(|e| e["at"].as_i64().unwrap() >= killed_at && e["actor"] != victim_actor)
                .map(|e| e["at"].as_i64().unwrap() - killed_at)
                .next();
            // A rollout that had already ended between the census and the kill has nothing to take over.
            if let Some(ms) = next {
                assert!(ms <= 20_000, "{id}: taken over {ms} ms after the kill");
                slowest = slowest.max(ms);
            }
        }
    }
    eprintln!("each of the killed replica's {} rollouts taken over within {slowest} ms", owned[busiest].len());
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
    let driven_by_a =
        wait_for(&b, &ids, "driven by replica a", |d| d["runner_pid"] == a.child.id() && d["state"] == "baking");
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
fn a_replica_frozen_past_its_lease_is_taken_over_and_its_attempts_are_refused_and_logged() {
    let n = 2;
    let fleet = fleet(n, 4, LEASES);
    let a = Server::start(&fleet, None);
    // Replica a holds the lease of each rollout it drives, parked at a bake or mid-step.
    let ids: Vec<String> = (1..=n)
        .map(|i| {
            let text = fleet
                .spec(i, "rollout.toml", &format!("f-{i}"))
                .replace("canary_bake_seconds = 2", "canary_bake_seconds = 1");
            submit_text(&a, i, &text)
        })
        .collect();
    let frozen = wait_for(&a, &ids, "a stage applied", |d| d["state"] == "baking" && d["runner_pid"] == a.child.id());
    let b = Server::start(&fleet, None);
    // Frozen: its process still exists (so this host cannot tell it is gone); only its lease's
    // expiry lets replica b take over.
    a.signal("-STOP");
    let frozen_at = Instant::now();
    wait_for(&b, std::slice::from_ref(&frozen), "taken over by replica b", |d| d["runner_pid"] == b.child.id());
    let took = frozen_at.elapsed();
    // ... and advanced: replica b journaled a transition of it.
    let start = Instant::now();
    while !history(&b, &frozen).iter().any(|e| e["actor"] == actor(&b) && e["kind"] == "transition") {
        assert!(start.elapsed() < Duration::from_secs(60), "replica b never advanced {frozen}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("replica b took {frozen} over {took:?} after replica a froze (lease 3 s)");
    // Renewed every second with a 3 s TTL, the lease runs out 2 to 3 s after the freeze.
    assert!(took >= Duration::from_millis(1_900), "taken over before the lease could expire: {took:?}");
    a.signal("-CONT");
    let phases = b.wait_ended(&ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}\n{}", a.stderr(), b.stderr());
    assert_each_migration_once(&fleet, n);
    for id in &ids {
        assert_gap_free(&b, id);
        let entries = history(&b, id);
        let Some(first_b) = entries.iter().position(|e| e["actor"] == actor(&b)) else { continue };
        let late: Vec<&Value> = entries[first_b..].iter().filter(|e| e["actor"] == actor(&a)).collect();
        assert!(late.is_empty(), "{id}: replica a committed after the takeover: {late:?}");
    }
    // Resumed, replica a tried to go on with the rollout it was driving (its commit fenced, or its
    // lease found taken when the bake's timer came due), and let go of it, saying so.
    let start = Instant::now();
    let refused = format!("rollout {frozen}: this process's runner lease");
    while !a.stderr().contains(&refused) {
        assert!(start.elapsed() < Duration::from_secs(30), "replica a logged no refusal:\n{}", a.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = a.stderr().lines().find(|l| l.contains(&refused)).unwrap().to_string();
    assert!(line.contains(&format!("taken over by pid {}", b.child.id())), "{line}");
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
    let theirs = held_by(&b, &a, &ids);
    assert!(!theirs.is_empty(), "replica a holds no rollout to hand over");
    let mut a = a;
    a.signal("-TERM");
    assert_eq!(a.child.wait().unwrap().code(), Some(0), "{}", a.stderr());
    let stopped_at = Instant::now();
    // Given back, not left to expire: no unended rollout names replica a as its driver ...
    for id in &ids {
        let d = detail(&b, id);
        assert_ne!(d["runner_pid"], a.child.id(), "{id} still leased to the stopped replica: {d}");
    }
    // ... and replica b holds each of them within one renew interval (5 s; the TTL is 15 s).
    let moved = wait_all(&b, &theirs, |d| d["runner_pid"] == b.child.id() || d["state"] == "succeeded");
    eprintln!("replica a's {} rollouts moved to replica b in {moved:?}", theirs.len());
    assert!(moved <= Duration::from_secs(5), "moved after {moved:?}\n--- a:\n{}\n--- b:\n{}", a.stderr(), b.stderr());
    let unfinished: Vec<String> = ids.iter().filter(|id| !detail(&b, id)["state"].eq("succeeded")).cloned().collect();
    let phases = b.wait_ended(&ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}", b.stderr());
    if !unfinished.is_empty() {
        eprintln!("replica b finished {unfinished:?} {:?} after replica a stopped", stopped_at.elapsed());
    }
    assert_each_migration_once(&fleet, n);
}
