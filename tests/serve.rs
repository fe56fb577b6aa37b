//! `upshift serve` end to end, against the real binary on a free port: quickstart-style rollouts
//! (each with its own shard folder under the server's spec_root) submitted through the API all
//! succeed and a broken one rolls back by itself; kill -9 mid-way and a restart finish every
//! rollout with each migration applied exactly once (from the shards' own logs); SIGTERM exits 0,
//! gives the leases back, and a restart continues; a rollout a CLI `run` drives is not driven by the
//! server too; and access control, route by route and role by role.

mod common;

use std::time::{Duration, Instant};

use common::serve::{Fleet, SHARDS, Server, ups};
use common::{stderr, stdout};
use serde_json::Value;

/// How many good rollouts the concurrent test submits (UPSHIFT_SERVE_ROLLOUTS overrides).
fn concurrent_rollouts() -> usize {
    std::env::var("UPSHIFT_SERVE_ROLLOUTS").ok().and_then(|n| n.parse().ok()).unwrap_or(20)
}

#[test]
fn rollouts_submitted_at_once_all_succeed_and_a_broken_one_rolls_back_by_itself() {
    let n = concurrent_rollouts();
    submitted_at_once(Fleet::new(n + 1), n);
}

/// The same with the store on PostgreSQL (fewer rollouts: the point is the backend, not the load).
#[test]
fn on_postgres_rollouts_submitted_at_once_all_succeed_and_a_broken_one_rolls_back_by_itself() {
    let n = concurrent_rollouts().min(6);
    submitted_at_once(Fleet::on_postgres(n + 1), n);
}

fn submitted_at_once(fleet: Fleet, n: usize) {
    let server = Server::start(&fleet, None);
    let started = Instant::now();
    let mut ids: Vec<String> = (1..=n).map(|i| server.submit(&fleet, i, "rollout.toml", &format!("qs-{i}"))).collect();
    ids.push(server.submit(&fleet, n + 1, "broken.toml", "qs-broken"));
    let phases = server.wait_ended(&ids, Duration::from_secs(150));
    eprintln!("{n} rollouts and a broken one ended in {:?}", started.elapsed());
    assert!(phases[..n].iter().all(|p| p == "succeeded"), "{phases:?}\n{}", server.stderr());
    assert_eq!(phases[n], "rolled-back");
    for i in 1..=n {
        for s in 1..=SHARDS {
            assert_eq!(fleet.log(i, s), ups(), "r{i} shard {s}: each migration applied once");
        }
    }
    // The broken one: its canary shard went up and came back down; the others were never touched.
    assert!(fleet.log(n + 1, 1).iter().any(|(d, _)| d == "down"), "{:?}", fleet.log(n + 1, 1));
    assert_eq!(fleet.version(n + 1, 1), 1);
    assert_eq!(fleet.log(n + 1, 2), vec![("up".to_string(), 1)]);
    let (status, history) = server.get(&format!("/v1/rollouts/{}/history?limit=5", ids[0]));
    assert_eq!(status, 200);
    assert_eq!(history["entries"].as_array().unwrap().len(), 5);
    let next = history["next"].as_i64().expect("a next page");
    let (_, rest) = server.get(&format!("/v1/rollouts/{}/history?after={next}&limit=1000", ids[0]));
    let cli = fleet.upshift(&["history", &ids[0], "--json"]);
    let all: Vec<Value> = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(all.len(), 5 + rest["entries"].as_array().unwrap().len(), "the pages are `history --json`");
    assert_eq!(all[5], rest["entries"][0]);

    // `/metrics` after the concurrent run: promtool accepts it, and its counters are the journal's.
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200, "{text}");
    let text = text.as_str().expect("the Prometheus text").to_string();
    common::promtool_check(&text);
    let sum = |metric: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{metric}{{")))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    };
    let journal: Vec<Value> = ids
        .iter()
        .flat_map(|id| serde_json::from_slice::<Vec<Value>>(&fleet.upshift(&["history", id, "--json"]).stdout).unwrap())
        .collect();
    let transitions = journal.iter().filter(|e| e["kind"] == "transition").count();
    assert!(transitions > 0);
    assert_eq!(sum("upshift_transitions_total"), transitions as f64, "{text}");
    assert!(text.contains(&format!("upshift_rollouts{{phase=\"succeeded\"}} {n}\n")), "{text}");
    assert!(text.contains("upshift_rollouts{phase=\"rolled-back\"} 1\n"), "{text}");
    assert!(sum("upshift_plugin_call_duration_seconds_count") > 0.0, "{text}");
    for id in &ids {
        assert!(!text.contains(id.as_str()), "no rollout id in a label: {id}");
    }
}

/// Starts the server again on `fleet`: every one of `ids` (the rollouts of folders r1..rn) ends
/// `succeeded`, and every shard's log shows each migration applied exactly once.
fn restart_and_finish(fleet: &Fleet, ids: &[String], n: usize) {
    let server = Server::start(fleet, None);
    let phases = server.wait_ended(ids, Duration::from_secs(120));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}", server.stderr());
    for i in 1..=n {
        for s in 1..=SHARDS {
            assert_eq!(fleet.log(i, s), ups(), "r{i} shard {s}: each migration applied exactly once");
        }
    }
}

#[test]
fn kill_9_mid_way_then_a_restart_finishes_every_rollout_applying_each_migration_once() {
    kill_9_mid_way(Fleet::new(6), 6);
}

#[test]
fn on_postgres_kill_9_mid_way_then_a_restart_finishes_every_rollout_applying_each_migration_once() {
    kill_9_mid_way(Fleet::on_postgres(4), 4);
}

fn kill_9_mid_way(fleet: Fleet, n: usize) {
    let server = Server::start(&fleet, None);
    let ids: Vec<String> = (1..=n).map(|i| server.submit(&fleet, i, "rollout.toml", &format!("k-{i}"))).collect();
    // Mid-way: some canary shard has been migrated, and not every rollout has ended.
    let start = Instant::now();
    while !(1..=n).any(|i| fleet.log(i, 1).len() == 3) {
        assert!(start.elapsed() < Duration::from_secs(60), "no canary applied: {}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut server = server;
    server.signal("-KILL");
    let _ = server.child.wait();
    let phases: Vec<String> = ids.iter().map(|id| status(&fleet, id)["state"].as_str().unwrap().to_string()).collect();
    assert!(phases.iter().any(|p| p != "succeeded"), "killed too late to test anything: {phases:?}");
    drop(server);
    restart_and_finish(&fleet, &ids, n);
}

#[test]
fn a_plugin_stuck_to_its_deadline_does_not_delay_the_other_rollouts() {
    const TIMEOUT_MS: i64 = 3000;
    let others = 3;
    let fleet = Fleet::new(others + 1);
    // Rollout 1 has a verifier that spins until its 3 s deadline, every time it is asked.
    let plugins = fleet.path("root/r1/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let sha = common::fixtures::copy_fixture(&plugins, "infinite-loop");
    let stuck = format!(
        "{}\n[[verifiers]]\nname = \"spin\"\nfile = \"plugins/infinite-loop.wasm\"\nsha256 = \"{sha}\"\ntimeout_seconds = {}\n",
        fleet.spec(1, "rollout.toml", "stuck"),
        TIMEOUT_MS / 1000
    );
    let server = Server::start_with(&fleet, None, &["--allow-unsigned"]);
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/rollout.toml", None, Some(&stuck));
    assert_eq!(status, 201, "{body}");
    let ids: Vec<String> =
        (2..=others + 1).map(|i| server.submit(&fleet, i, "rollout.toml", &format!("free-{i}"))).collect();
    let phases = server.wait_ended(&ids, Duration::from_secs(90));
    assert!(phases.iter().all(|p| p == "succeeded"), "{phases:?}\n{}", server.stderr());
    // Wait for the stuck rollout's verifier to have timed out at least twice.
    let start = Instant::now();
    let timeouts = loop {
        let (_, h) = server.get("/v1/rollouts/stuck-1/history?limit=2000");
        let at: Vec<i64> = h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"] == "plugin spin" && e["message"].as_str().unwrap().contains("time limit"))
            .map(|e| e["at"].as_i64().unwrap())
            .collect();
        if at.len() >= 2 || start.elapsed() > Duration::from_secs(60) {
            break at;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(timeouts.len() >= 2, "the spinning verifier timed out: {timeouts:?}");
    // While a spinning call held its thread (the TIMEOUT_MS before each timeout), the others moved.
    let mut inside = 0;
    for id in &ids {
        let (_, h) = server.get(&format!("/v1/rollouts/{id}/history?limit=2000"));
        for e in h["entries"].as_array().unwrap() {
            let at = e["at"].as_i64().unwrap();
            if e["kind"] == "transition" && timeouts.iter().any(|t| at > t - TIMEOUT_MS + 100 && at < t - 100) {
                inside += 1;
            }
        }
    }
    eprintln!("{inside} transitions of other rollouts committed while a verifier spun ({} timeouts)", timeouts.len());
    assert!(inside >= 3, "other rollouts committed {inside} transitions while a verifier spun");
}

fn status(fleet: &Fleet, id: &str) -> Value {
    let out = fleet.upshift(&["status", id, "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)))
}

#[test]
fn sigterm_exits_0_gives_the_leases_back_and_a_restart_continues() {
    let n = 3;
    let fleet = Fleet::new(n);
    let mut server = Server::start(&fleet, None);
    let ids: Vec<String> = (1..=n).map(|i| server.submit(&fleet, i, "rollout.toml", &format!("t-{i}"))).collect();
    let start = Instant::now();
    while !(1..=n).any(|i| fleet.log(i, 1).len() == 3) {
        assert!(start.elapsed() < Duration::from_secs(60), "no canary applied: {}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    server.signal("-TERM");
    let code = server.child.wait().unwrap();
    assert_eq!(code.code(), Some(0), "{}", server.stderr());
    for id in &ids {
        let s = status(&fleet, id);
        assert!(s["runner_pid"].is_null(), "lease given back: {s}");
    }
    let phases: Vec<String> = ids.iter().map(|id| status(&fleet, id)["state"].as_str().unwrap().to_string()).collect();
    assert!(phases.iter().any(|p| p != "succeeded"), "stopped too late to test anything: {phases:?}");
    drop(server);
    restart_and_finish(&fleet, &ids, n);
}

#[test]
fn a_rollout_a_cli_run_drives_is_not_driven_by_the_server_too() {
    let fleet = Fleet::new(1);
    let server = Server::start(&fleet, None);
    let out = common::upshift()
        .arg("--state")
        .arg(fleet.state())
        .current_dir(fleet.path("root/r1"))
        .args(["run", "rollout.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let history = fleet.upshift(&["history", "quickstart-1", "--json"]);
    let entries: Vec<Value> = serde_json::from_slice(&history.stdout).unwrap();
    let actors: Vec<&str> = entries.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(actors.iter().all(|a| !a.contains("serve")), "{actors:?}");
    let runs: std::collections::BTreeSet<&&str> = actors.iter().filter(|a| a.starts_with("upshift run (pid")).collect();
    assert_eq!(runs.len(), 1, "one process drove it: {actors:?}");
    for s in 1..=SHARDS {
        assert_eq!(fleet.log(1, s), ups());
    }
    // The server sees it, ended, and leaves it so.
    let (_, body) = server.get("/v1/rollouts/quickstart-1");
    assert_eq!(body["state"], "succeeded");
}

#[test]
fn a_rollout_a_cli_run_left_is_picked_up_by_the_server() {
    let fleet = Fleet::new(1);
    // `run --no-wait` of a spec that needs approval leaves the rollout waiting, and lets it go.
    std::fs::remove_file(fleet.path("root/r1/migrations/0003_order_status.down.sql")).unwrap();
    let out = common::upshift()
        .arg("--state")
        .arg(fleet.state())
        .current_dir(fleet.path("root/r1"))
        .args(["run", "--no-wait", "rollout.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let server = Server::start(&fleet, None);
    let (status, body) = server.call("POST", "/v1/rollouts/quickstart-1/approve", None, None);
    assert_eq!(status, 200, "{body}");
    let phases = server.wait_ended(&["quickstart-1".to_string()], Duration::from_secs(60));
    assert_eq!(phases, vec!["succeeded"]);
}

#[test]
fn submissions_that_are_malformed_or_leave_the_spec_root_are_refused_with_the_cli_s_line() {
    let fleet = Fleet::new(1);
    let server = Server::start(&fleet, None);
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/x.toml", None, Some("name = "));
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_spec")), "{body}");
    let (status, body) = server.call("POST", "/v1/rollouts?path=../x.toml", None, Some("name = 'x'"));
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_path")), "{body}");
    let escape = fleet.spec(1, "rollout.toml", "esc").replace("shards/shard-{n}.db", "../../shard-{n}.db");
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/rollout.toml", None, Some(&escape));
    assert_eq!((status, body["code"].as_str()), (422, Some("outside_spec_root")), "{body}");
    let unknown = fleet.spec(1, "rollout.toml", "unk").replace("plugin = \"batches\"", "plugin = \"nope\"");
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/rollout.toml", None, Some(&unknown));
    assert_eq!(status, 422, "{body}");
    // The same one line the CLI prints after `error: `.
    std::fs::write(fleet.path("root/r1/unknown.toml"), &unknown).unwrap();
    let cli = common::upshift().current_dir(fleet.path("root/r1")).args(["validate", "unknown.toml"]).output().unwrap();
    assert_eq!(stderr(&cli).trim_end().strip_prefix("error: "), body["error"].as_str(), "{}", stderr(&cli));
    let (status, body) = server.call("GET", "/v1/rollouts/none-1", None, None);
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let huge = format!("name = \"big\"\n#{}\n", "x".repeat(300 << 10));
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/big.toml", None, Some(&huge));
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")), "{body}");
}

#[test]
fn every_route_answers_by_role_and_no_token_is_stored_or_logged() {
    let fleet = Fleet::new(2);
    let viewer = fleet.token("viewer", "viewer-1");
    let operator = fleet.token("operator", "op-1");
    let admin = fleet.token("admin", "admin-1");
    let server = Server::start(&fleet, Some(&admin));
    let id = server.submit(&fleet, 1, "rollout.toml", "acl");
    let spec = fleet.spec(2, "rollout.toml", "acl-2");
    let roles: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("bad", Some("upshift_0000")),
        ("viewer", Some(&viewer)),
        ("operator", Some(&operator)),
        ("admin", Some(&admin)),
    ];
    // (method, path, body, the least role that may)
    let routes: Vec<(&str, String, Option<&str>, usize)> = vec![
        ("GET", "/v1/rollouts".into(), None, 2),
        ("GET", format!("/v1/rollouts/{id}"), None, 2),
        ("GET", format!("/v1/rollouts/{id}/history"), None, 2),
        ("GET", "/metrics".into(), None, 2),
        ("POST", format!("/v1/rollouts/{id}/pause"), Some(r#"{"reason": "acl test"}"#), 3),
        ("POST", format!("/v1/rollouts/{id}/resume"), None, 3),
        ("POST", format!("/v1/rollouts/{id}/approve"), None, 3),
        ("POST", format!("/v1/rollouts/{id}/abort"), None, 3),
        ("POST", "/v1/rollouts?path=r2/rollout.toml".into(), Some(&spec), 4),
    ];
    for (method, path, body, least) in &routes {
        for (rank, (role, token)) in roles.iter().enumerate() {
            let (status, reply) = server.call(method, path, *token, *body);
            let expected = match rank {
                0 | 1 => "401",
                r if r < *least => "403",
                _ => "allowed",
            };
            match expected {
                "allowed" => assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{method} {path} as {role}: {status} {reply}"
                ),
                code => assert_eq!(status.to_string(), code, "{method} {path} as {role}: {reply}"),
            }
            if status == 401 || status == 403 {
                assert!(reply["error"].is_string() && reply["code"].is_string(), "{reply}");
            }
        }
    }
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    // The journal names the token's name as the actor of its controls.
    let (_, history) = server.get(&format!("/v1/rollouts/{id}/history?limit=1000"));
    let actors: Vec<&str> =
        history["entries"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(actors.contains(&"op-1 (api pause)"), "{actors:?}");
    drop(server);
    let mut files = vec![fleet.path("state.db"), fleet.path("state.db-wal")];
    files.extend(
        std::fs::read_dir(fleet.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "stderr")),
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for token in [&viewer, &operator, &admin] {
            assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "token in {}", file.display());
        }
    }
}

#[test]
fn listening_beyond_loopback_without_a_token_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::upshift()
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    common::assert_one_line_error(&out, "refusing to listen on 0.0.0.0:0 without any API token");
}

#[test]
fn the_server_sends_each_event_of_its_rollouts_signed_and_in_order_retrying_a_failing_receiver() {
    const SECRET: &str = "serve-test-secret";
    let fleet = Fleet::new(1);
    // The receiver answers 500 to its first two requests, then 200.
    let receiver = common::receiver::Receiver::start(|_, n| if n < 2 { 500 } else { 200 });
    let config = std::fs::read_to_string(fleet.path("serve.toml")).unwrap()
        + &format!(
            "\n[[webhooks]]\nname = \"ops\"\nurl = \"{}\"\nevents = [\"stage-applied\", \"succeeded\", \"rolled-back\"]\n\
             secret = \"{SECRET}\"\ninitial_backoff_ms = 50\nmax_backoff_ms = 200\n",
            receiver.url()
        );
    std::fs::write(fleet.path("serve.toml"), config).unwrap();
    let server = Server::start(&fleet, None);
    let id = server.submit(&fleet, 1, "rollout.toml", "hooked");
    assert_eq!(server.wait_ended(std::slice::from_ref(&id), Duration::from_secs(90)), ["succeeded"]);
    let start = Instant::now();
    let accepted = loop {
        let accepted = receiver.accepted();
        if accepted.last().is_some_and(|r| r.event() == "succeeded") {
            break accepted;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{:?}\n{}", receiver.requests(), server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    };
    let events: Vec<String> = accepted.iter().map(|r| r.event()).collect();
    let stages = events.len() - 1;
    assert!(stages >= 2 && events[..stages].iter().all(|e| e == "stage-applied"), "{events:?}");
    let mut ids: Vec<&str> = accepted.iter().map(|r| r.header("x-upshift-delivery")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), accepted.len(), "each event accepted once");
    for r in &accepted {
        let signature = r.header("x-upshift-signature");
        assert!(upshift::serve::webhooks::verify_signature(SECRET.as_bytes(), r.body.as_bytes(), signature), "{r:?}");
        assert_eq!(r.rollout(), id);
    }
    assert_eq!(receiver.requests().iter().filter(|r| r.answered == 500).count(), 2, "the first two were retried");
    // `/metrics` counts the delivery attempts the journal records (the last outcome is journaled
    // just after the receiver answered: wait for it).
    let delivered =
        format!("upshift_webhook_deliveries_total{{webhook=\"ops\",outcome=\"delivered\"}} {}\n", accepted.len());
    let start = Instant::now();
    let text = loop {
        let (_, text) = server.get("/metrics");
        let text = text.as_str().unwrap().to_string();
        if text.contains(&delivered) {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("upshift_webhook_deliveries_total{webhook=\"ops\",outcome=\"failed\"} 2\n"), "{text}");
    assert!(text.contains("upshift_webhook_pending{webhook=\"ops\"} 0\n"), "{text}");
}
