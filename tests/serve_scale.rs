//! Many rollouts at once through the real `upshift serve`: 500 synthetic rollouts (the `recorder`
//! test target: 10 units kept in its plugin state, instant apply; the `batches` strategy, 5 stages
//! of 2 units with 1 s bakes; the `threshold` verifier), all submitted through the API before the
//! first ends, all driven to `succeeded` by one server. Not timed: it checks what must hold at any
//! speed, from the store afterwards: every unit of every rollout at the new version, each operation
//! carried out once, and no bake ended before its due time.

mod common;

use std::time::{Duration, Instant};

use common::fixtures::copy_fixture;
use common::serve::Server;
use rusqlite::Connection;

/// How many rollouts (UPSHIFT_SCALE_ROLLOUTS overrides).
fn rollouts() -> usize {
    std::env::var("UPSHIFT_SCALE_ROLLOUTS").ok().and_then(|n| n.parse().ok()).unwrap_or(500)
}

const UNITS: usize = 10;
const BAKE_MS: i64 = 1_000;

#[test]
fn five_hundred_rollouts_submitted_at_once_all_succeed_through_one_server() {
    let n = rollouts();
    let fleet = common::serve::Fleet::empty();
    let root = fleet.path("root");
    std::fs::create_dir_all(&root).unwrap();
    let target = copy_fixture(&root, "recorder");
    let verifier = copy_fixture(&root, "threshold");
    let units: Vec<String> = (1..=UNITS).map(|i| format!("\"u{i}\"")).collect();
    let spec = |name: &str| {
        format!(
            "name = \"{name}\"\nfrom = \"1\"\nto = \"2\"\n\n\
             [target]\nfile = \"recorder.wasm\"\nsha256 = \"{target}\"\nconfig = {{ units = [{}] }}\n\n\
             [strategy]\nplugin = \"batches\"\nconfig = {{ batch_size = 2, bake_seconds = 1 }}\n\n\
             [[verifiers]]\nname = \"cheap\"\nfile = \"threshold.wasm\"\nsha256 = \"{verifier}\"\n\
             config = {{ value = 0.001, max = 0.01 }}\n",
            units.join(", ")
        )
    };
    let server = Server::start_with(&fleet, None, &["--allow-unsigned"]);
    let started = Instant::now();
    let ids: Vec<String> = (1..=n)
        .map(|i| {
            let (status, body) =
                server.call("POST", "/v1/rollouts?path=fleet.toml", None, Some(&spec(&format!("synthetic-{i}"))));
            assert_eq!(status, 201, "rollout {i}: {body}");
            body["id"].as_str().unwrap().to_string()
        })
        .collect();
    let submitted = started.elapsed();
    let phases = server.wait_ended(&ids, Duration::from_secs(900));
    eprintln!("{n} rollouts submitted in {submitted:?}, all ended after {:?}", started.elapsed());
    let failed: Vec<(&String, &String)> = ids.iter().zip(&phases).filter(|(_, p)| *p != "succeeded").collect();
    assert!(
        failed.is_empty(),
        "{} did not succeed: {:?}\n{}",
        failed.len(),
        &failed[..failed.len().min(5)],
        server.stderr()
    );

    let db = Connection::open(fleet.state()).unwrap();
    // Every unit of every rollout is at 2 in its target's state, and each of its 6 operations (5
    // applies, the finalize) was carried out once.
    let mut states = db.prepare("SELECT rollout_id, entries FROM plugin_state WHERE plugin = 'target'").unwrap();
    let states: Vec<(String, String)> =
        states.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(states.len(), n);
    for (id, entries) in &states {
        let entries: serde_json::Map<String, serde_json::Value> = serde_json::from_str(entries).unwrap();
        let at_2 = (1..=UNITS).filter(|u| entries.get(&format!("unit/u{u}")).and_then(|v| v.as_str()) == Some("2"));
        assert_eq!(at_2.count(), UNITS, "{id}: {entries:?}");
        let ops = entries.keys().filter(|k| k.starts_with("op/")).count();
        assert_eq!(ops, 6, "{id}: each operation once: {entries:?}");
    }
    // Each bake (5 per rollout) ended at or after its due time: the transition that began it plus 1 s.
    let mut rows = db
        .prepare("SELECT rollout_id, at, event FROM journal WHERE kind = 'transition' ORDER BY rollout_id, seq")
        .unwrap();
    let transitions: Vec<(String, i64, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default())))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut bakes = 0;
    for pair in transitions.windows(2) {
        let ((a, began, _), (b, ended, event)) = (&pair[0], &pair[1]);
        if a == b && event == "timer-elapsed" {
            bakes += 1;
            assert!(ended - began >= BAKE_MS, "{a}: a bake ended {} ms after it began", ended - began);
        }
    }
    assert_eq!(bakes, 5 * n, "5 bakes per rollout");
    server.signal("-TERM");
}
