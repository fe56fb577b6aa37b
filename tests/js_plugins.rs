//! Plugins written in JavaScript (componentize-js and `sdk/js/upshift-plugin.js`), built from source
//! as `examples/js-verifier/build.sh` builds them, against the same WIT worlds as Rust plugins: a
//! JavaScript verifier judging real rollouts of a first-party target, one that succeeds and one its
//! verdict rolls back; `plugin inspect` and `validate` on it; and the sandbox holding a hostile
//! JavaScript plugin exactly as it holds a Rust one (no way out, no ungranted database, a loop ended
//! by the deadline, memory stopped at the limit, logs kept to the per-call budget).

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::{js, stderr, stdout};
use rusqlite::Connection;
use serde_json::Value;
use upshift::runtime::{CallError, Limits, MAX_LOG_RECORDS_PER_CALL, Runtime};

/// A copy of the example's folder with its built verifier and the specs pinned to it.
struct Example {
    dir: tempfile::TempDir,
}

const SPECS: [&str; 2] = ["rollout.toml", "bad-release.toml"];

impl Example {
    fn new() -> Self {
        let built = js::example();
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(built, dir.path());
        std::fs::create_dir_all(dir.path().join("shards")).unwrap();
        let digest =
            upshift::runtime::Digest::of(&std::fs::read(dir.path().join("ledger-guard.wasm")).unwrap()).to_hex();
        for spec in SPECS {
            let text = std::fs::read_to_string(dir.path().join(spec)).unwrap();
            let text = text.replace("<the sha256 build.sh printed for ledger-guard.wasm>", &digest);
            assert!(!text.contains("<the sha256"), "{text}");
            std::fs::write(dir.path().join(spec), text).unwrap();
        }
        let ex = Example { dir };
        let out = ex.upshift(&["run", "provision.toml"]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        ex
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn upshift(&self, args: &[&str]) -> Output {
        common::upshift_in(self.dir.path()).arg("--allow-unsigned").args(args).output().unwrap()
    }

    /// A shard's migration version, entries and cents.
    fn shard(&self, n: u32) -> (i64, i64, i64) {
        let db = Connection::open(self.path(&format!("shards/shard-{n}.db"))).unwrap();
        let version =
            db.query_row("SELECT COALESCE(MAX(version), 0) FROM upshift_migrations", [], |r| r.get(0)).unwrap();
        let (entries, cents) =
            db.query_row("SELECT COUNT(*), SUM(amount_cents) FROM ledger", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        (version, entries, cents)
    }
}

#[test]
fn a_javascript_verifier_passes_a_rollout_and_its_verdict_rolls_the_next_one_back() {
    let ex = Example::new();
    let (_, entries, cents) = ex.shard(1);
    assert_eq!(entries, 500, "provisioned");

    let out = ex.upshift(&["run", "rollout.toml"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("rollout ledger-1: succeeded"), "{}", stdout(&out));
    // The last stage has no shard left on 1: the verifier compared with the baseline it kept in state.
    assert!(stdout(&out).contains("the baseline (1 shard on 1)"), "{}", stdout(&out));
    for n in 1..=4 {
        assert_eq!(ex.shard(n), (2, 500, cents), "shard-{n}");
    }
    // The verifier's measurements and its log record are in the journal.
    let history: Value = serde_json::from_slice(&ex.upshift(&["history", "ledger-1", "--json"]).stdout).unwrap();
    let verifies: Vec<&Value> =
        history.as_array().unwrap().iter().filter(|e| e["detail"]["call"] == "verify").collect();
    assert_eq!(verifies.len(), 3, "one verification per stage");
    for verify in &verifies {
        assert_eq!(verify["detail"]["outcome"], "pass", "{verify}");
        assert_eq!(verify["detail"]["measurements"][0]["name"], "kept_ratio", "{verify}");
        assert_eq!(verify["detail"]["measurements"][0]["value"], 1.0, "{verify}");
        let record = &verify["detail"]["logs"]["records"][0];
        assert_eq!(record["message"], "ledgers compared", "{verify}");
    }

    // The next release loses money on the canary: the JavaScript verdict rolls it back.
    let out = ex.upshift(&["run", "bad-release.toml"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("shard-1 holds 397 entries, 11447.02 EUR; the baseline (3 shards on 2) 500 entries"),
        "{text}"
    );
    assert!(text.contains("4.5 % of the money is missing, max_loss 0"), "{text}");
    assert!(text.contains("rollout ledger-bad-1: rolled-back"), "{text}");
    // Every shard is whole again at 2: the canary by its down migration, the others never touched.
    for n in 1..=4 {
        assert_eq!(ex.shard(n), (2, 500, cents), "shard-{n}");
    }
}

#[test]
fn a_javascript_plugin_describes_itself_and_its_config_is_checked_before_anything_changes() {
    let ex = Example::new();
    let out = ex.upshift(&["plugin", "inspect", "ledger-guard.wasm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind:     verifier (world upshift:plugin/verifier-plugin@0.2.0)"), "{text}");
    assert!(text.contains("asks for: sql"), "{text}");
    assert!(
        text.contains("max_loss (number, default 0)"),
        "the config's fields, from the JavaScript description: {text}"
    );
    assert!(text.contains("connection (string, required)"), "{text}");

    // Configs the plugin refuses: exit 2 naming the problem, nothing migrated.
    for (bad, says) in [
        ("max_loss = 2.0", "max_loss = 2: give at most 1"),
        ("max_losses = 0.1", "unknown field 'max_losses': this plugin takes connection, table, max_loss"),
        ("table = \"ledger; DROP TABLE ledger\"", "give a plain table name"),
        ("max_loss = \"none\"", "max_loss = \"none\": give a number"),
    ] {
        let spec = std::fs::read_to_string(ex.path("rollout.toml")).unwrap().replace("max_loss = 0.0", bad);
        std::fs::write(ex.path("bad-config.toml"), spec).unwrap();
        let out = ex.upshift(&["validate", "bad-config.toml"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}\n{}", stdout(&out), stderr(&out));
        assert!(stderr(&out).contains(says), "{bad}: {}", stderr(&out));
        let out = ex.upshift(&["run", "bad-config.toml"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}\n{}", stdout(&out), stderr(&out));
        assert!((1..=4).all(|n| ex.shard(n).0 == 1), "nothing changed");
    }
}

/// One call of the hostile JavaScript verifier with `attack`, under `limits`: the verdict's reason
/// or the error, the call's duration and how many log records it kept and dropped.
fn attack(runtime: &Runtime, attack: &str, limits: Limits) -> (Result<String, CallError>, Duration, (usize, usize)) {
    common::hostile_verifier::call(runtime, js::hostile(), attack, limits)
}

#[test]
fn the_sandbox_holds_a_hostile_javascript_plugin_as_it_holds_a_rust_one() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache(upshift::runtime::CompiledCache::open(cache.path()).ok());
    let limits = Limits { call_timeout: Duration::from_secs(3), ..Limits::default() };

    let (ok, _, _) = attack(&runtime, "none", limits);
    assert_eq!(ok.unwrap(), "no attack", "the component works when it does not attack");

    // Built without fetch's WASI HTTP: calling it ends the call (StarlingMonkey's stub traps), and
    // nothing of /etc/passwd comes back.
    let (passwd, _, _) = attack(&runtime, "read-passwd", limits);
    assert!(matches!(passwd, Err(CallError::Trap { .. })), "{passwd:?}");
    assert!(!passwd.unwrap_err().to_string().contains("root:"));

    // A connection the spec never granted: both calls are denied by the host.
    let (sql, _, _) = attack(&runtime, "sql", limits);
    let reason = sql.expect("the plugin reports what the host answered");
    let answers: Vec<&str> = reason.split(" | ").collect();
    assert_eq!(answers.len(), 2, "{reason}");
    assert!(answers.iter().all(|a| a.starts_with("denied: ")), "{reason}");

    let (looped, took, _) = attack(&runtime, "loop", limits);
    assert!(matches!(looped, Err(CallError::Timeout { .. })), "{looped:?}");
    assert!(took < Duration::from_secs(10), "stopped by its 3 s deadline, not later: {took:?}");

    let (hoarded, _, _) = attack(&runtime, "alloc", limits);
    match hoarded {
        Err(CallError::MemoryLimit { limit_bytes, .. }) => assert_eq!(limit_bytes, Limits::default().memory_bytes),
        other => panic!("not stopped at the memory limit: {other:?}"),
    }

    let flood_limits = Limits { call_timeout: Duration::from_secs(20), ..Limits::default() };
    let (flood, _, (kept, dropped)) = attack(&runtime, "log-flood", flood_limits);
    assert_eq!(flood.unwrap(), "flooded");
    assert_eq!((kept, dropped), (MAX_LOG_RECORDS_PER_CALL, 20_000 - MAX_LOG_RECORDS_PER_CALL));

    println!("loop stopped after {took:?}; cache: {:?}", runtime.cache_stats());
    // After each attack, a fresh instance of the same plugin still works.
    assert_eq!(attack(&runtime, "none", limits).0.unwrap(), "no attack");
    assert!(cache.path().read_dir().unwrap().count() >= 1, "the compiled component was cached");
}
