//! What `upshift serve` answers at, against the real binary on 127.0.0.1 (a free port), with a
//! viewer and an admin token made by `upshift token create`, stopped with SIGTERM at the end:
//!
//! - `GET /v1/rollouts/{id}`: requests/s and p50/p99 latency of [`REQUESTS`] requests from
//!   [`CLIENTS`] client threads (each with its own keep-alive connection, after a warm-up), the ids
//!   picked pseudo-randomly across the store's [`SEEDED`] rollouts. They are seeded before the
//!   server starts, through the library (`rollout::start::load` and `start`, then
//!   `rollout::control`), from the quickstart spec (sql-migrator, batches, sql-check) with
//!   [`SHARDS`] shards, each under its own name: all but [`PAUSED`] of them were aborted while
//!   `pending` and are `rolled-back` with nothing applied (their journal: the created note and one
//!   transition); the last [`PAUSED`] were paused while `pending`, so the server takes their lease
//!   and parks them until a control, never driving them.
//! - `POST /v1/rollouts` to the first apply: [`SUBMITTED`] quickstart specs, each in a shard folder
//!   of its own under the spec root, submitted one at a time (the next once the previous one has
//!   ended), each timed from just before its POST to the `at` of its journal's first entry of the
//!   target's `apply` call (`rollout/mutate.rs`: committed together with the read-back after it and
//!   the transition it caused). The POST's own latency (parse, plugins, preflight, plan, record) is
//!   reported too.
//!
//! Prints a table; writes target/upshift-bench/serve.json.
//!
//! Run: `cargo bench -p upshift --bench serve`.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/server.rs"]
mod server;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use server::{Server, agent, get_json, renamed};
use upshift::engine::{Event, Phase};
use upshift::rollout::start::{self, Started};
use upshift::runtime::Runtime;
use upshift::spec::RolloutSpec;
use upshift::store::Store;
use upshift::trust::TrustPolicy;

/// Rollouts in the store while `GET /v1/rollouts/{id}` is measured.
const SEEDED: usize = 1000;
/// How many of them are paused rather than ended.
const PAUSED: usize = 10;
/// Shards per quickstart folder (the quickstart has 8; 4 as in tests/serve.rs: a canary, one batch).
const SHARDS: u32 = 4;
/// Client threads sending `GET /v1/rollouts/{id}`, and the requests they send in all.
const CLIENTS: usize = 4;
const REQUESTS: usize = 20_000;
/// Requests each client sends before the measurement starts.
const WARM_UP: usize = 100;
/// Specs submitted one at a time for the time to the first apply.
const SUBMITTED: usize = 10;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().canonicalize().expect("canonical temp folder").join("root");
    let state = dir.path().join("state.db");
    let seed = dir.path().join("seed");
    server::provision(&fixtures::root().join("examples"), &seed, SHARDS);
    server::copy_dir(&seed, &root.join("seeded"));
    for i in 1..=SUBMITTED {
        server::copy_dir(&seed, &root.join(format!("s{i}")));
    }
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, format!("spec_root = {:?}\n", root.display().to_string())).expect("write serve.toml");

    let started = Instant::now();
    let ids = seed_rollouts(&state, &root.join("seeded/rollout.toml"));
    let seeding = started.elapsed();
    eprintln!("seeded {SEEDED} rollouts in {seeding:.1?}");

    let viewer = server::token(&state, "viewer", "bench-viewer");
    let admin = server::token(&state, "admin", "bench-admin");
    let serve = Server::start(&state, &config, dir.path().join("serve.stderr"));

    let reads = read_load(&serve.base, &viewer, Arc::new(ids));
    let submissions: Vec<Submission> = (1..=SUBMITTED).map(|i| submit(&serve, &root, &admin, i)).collect();
    serve.stop();

    let post: Vec<f64> = submissions.iter().map(|s| s.post_ms).collect();
    let apply: Vec<f64> = submissions.iter().map(|s| s.first_apply_ms).collect();
    let (post_median, post_max) = (percentile(&post, 0.5), percentile(&post, 1.0));
    let (apply_median, apply_max) = (percentile(&apply, 0.5), percentile(&apply, 1.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    println!();
    println!(
        "upshift serve, {SEEDED} rollouts in the store ({} rolled-back, {PAUSED} paused), {cores} cores",
        SEEDED - PAUSED
    );
    println!("  GET /v1/rollouts/{{id}}, {REQUESTS} requests from {CLIENTS} client threads");
    println!("    requests/s                        {:>10.0}", reads.per_second);
    println!("    latency p50 (ms)                  {:>10.2}", reads.p50_ms);
    println!("    latency p99 (ms)                  {:>10.2}", reads.p99_ms);
    println!("  POST /v1/rollouts, {SUBMITTED} quickstart specs ({SHARDS} shards) one at a time");
    println!("    POST latency median / max (ms)    {post_median:>10.1} / {post_max:.1}");
    println!("    POST to first apply median / max  {apply_median:>10.1} / {apply_max:.1}   (ms)");

    let out_dir = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&out_dir).expect("create target/upshift-bench");
    let json = serde_json::json!({
        "rollouts_in_store": SEEDED,
        "paused_in_store": PAUSED,
        "cores": cores,
        "seeding_s": seeding.as_secs_f64(),
        "get_rollout": {
            "clients": CLIENTS,
            "requests": REQUESTS,
            "requests_per_s": reads.per_second,
            "p50_ms": reads.p50_ms,
            "p99_ms": reads.p99_ms,
        },
        "submit": {
            "specs": SUBMITTED,
            "shards": SHARDS,
            "post_median_ms": post_median,
            "post_max_ms": post_max,
            "first_apply_median_ms": apply_median,
            "first_apply_max_ms": apply_max,
            "post_ms": post,
            "first_apply_ms": apply,
        },
    });
    let path = out_dir.join("serve.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write serve.json");
    println!("wrote {}", path.display());
}

/// Records [`SEEDED`] rollouts of the spec at `spec_path` (each under a name of its own) on the
/// library's path (`start::load`, `start::start`), then ends or pauses each with a control and
/// gives its runner lease back; returns their ids.
fn seed_rollouts(state: &std::path::Path, spec_path: &std::path::Path) -> Vec<String> {
    let runtime = Runtime::new().expect("runtime");
    let trust = TrustPolicy::default();
    let mut store = Store::open(state).expect("open the store");
    let text = std::fs::read_to_string(spec_path).expect("read the quickstart spec");
    let actor = "bench (seed)";
    (0..SEEDED)
        .map(|i| {
            let spec = RolloutSpec::parse(spec_path, &renamed(&text, &format!("svc-{i:04}"))).expect("parse");
            let loaded = start::load(&runtime, spec_path, spec, &trust, false, &mut |_| {}).expect("load plugins");
            let id = match start::start(&mut store, loaded, spec_path, actor, jiff::Timestamp::now()).expect("start") {
                Started::Created { id, .. } => id,
                _ => panic!("rollout svc-{i:04} was not created"),
            };
            let (event, phase) = if i < SEEDED - PAUSED {
                (Event::Abort { reason: "seeded for the serve benchmark".into() }, Phase::RolledBack)
            } else {
                (Event::Pause { reason: None }, Phase::Paused)
            };
            let state = upshift::rollout::control(&mut store, &id, event, actor).expect("control");
            assert_eq!(state.phase, phase, "{id}");
            store.release_lease(&id).expect("give the lease back");
            id
        })
        .collect()
}

struct Reads {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// [`REQUESTS`] `GET /v1/rollouts/{id}` from [`CLIENTS`] threads at once, each id drawn from `ids`.
fn read_load(base: &str, token: &str, ids: Arc<Vec<String>>) -> Reads {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (ids, barrier) = (ids.clone(), barrier.clone());
            let (base, token) = (base.to_string(), token.to_string());
            std::thread::spawn(move || {
                let agent = agent();
                // xorshift64, seeded per client: the same spread of ids on every run.
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
                let mut next_id = || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ids[(x % ids.len() as u64) as usize].clone()
                };
                let get = |id: &str| {
                    let (status, body) = get_json(&agent, &format!("{base}/v1/rollouts/{id}"), &token);
                    assert!(status == 200 && body["id"] == id, "GET /v1/rollouts/{id}: {status} {body}");
                };
                for _ in 0..WARM_UP {
                    get(&next_id());
                }
                barrier.wait();
                (0..REQUESTS / CLIENTS)
                    .map(|_| {
                        let id = next_id();
                        let start = Instant::now();
                        get(&id);
                        start.elapsed()
                    })
                    .collect::<Vec<Duration>>()
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let latencies: Vec<f64> =
        clients.into_iter().flat_map(|c| c.join().expect("a client thread")).map(|d| d.as_secs_f64() * 1e3).collect();
    let wall = start.elapsed();
    Reads {
        per_second: latencies.len() as f64 / wall.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

struct Submission {
    post_ms: f64,
    first_apply_ms: f64,
}

/// Submits the quickstart spec of folder `s{i}`, times it to its first apply, and waits for it to end.
fn submit(serve: &Server, root: &std::path::Path, admin: &str, i: usize) -> Submission {
    let text = std::fs::read_to_string(root.join(format!("s{i}/rollout.toml"))).expect("read the spec");
    let spec = renamed(&text, &format!("submitted-{i}"));
    let agent = agent();
    let before_ms = epoch_ms();
    let start = Instant::now();
    let mut response = agent
        .post(format!("{}/v1/rollouts?path=s{i}/rollout.toml", serve.base))
        .header("Authorization", &format!("Bearer {admin}"))
        .send(&spec)
        .expect("POST /v1/rollouts");
    let post_ms = start.elapsed().as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("JSON");
    assert_eq!(status, 201, "POST /v1/rollouts: {body}\n{}", serve.stderr());
    let id = body["id"].as_str().expect("the new rollout's id").to_string();

    let deadline = Instant::now() + Duration::from_secs(120);
    let applied_at = loop {
        let (status, history) = get_json(&agent, &format!("{}/v1/rollouts/{id}/history", serve.base), admin);
        assert_eq!(status, 200, "{history}");
        let entries = history["entries"].as_array().expect("entries");
        if let Some(e) = entries.iter().find(|e| e["kind"] == "call" && e["detail"]["call"] == "apply") {
            assert!(e["detail"]["error"].is_null(), "the first apply failed: {e}");
            break e["at"].as_i64().expect("at") as f64;
        }
        assert!(Instant::now() < deadline, "{id} never applied: {history}\n{}", serve.stderr());
        std::thread::sleep(Duration::from_millis(25));
    };
    loop {
        let (_, detail) = get_json(&agent, &format!("{}/v1/rollouts/{id}", serve.base), admin);
        match detail["state"].as_str() {
            Some("succeeded") => break,
            Some("rolled-back" | "failed") => panic!("{id} ended {detail}\n{}", serve.stderr()),
            _ => assert!(Instant::now() < deadline, "{id} never ended: {detail}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Submission { post_ms, first_apply_ms: applied_at - before_ms }
}

/// Now, in milliseconds since the Unix epoch (the clock the journal's `at` is read from).
fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64() * 1e3
}

/// The `q` quantile (0 to 1) of `values`: the value at rank `q * (n - 1)`, rounded.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
