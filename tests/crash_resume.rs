//! Crash safety end to end: the real `upshift` process is killed with SIGKILL in the middle of an
//! apply, a bake and a verification of the quickstart's SQL migration, then continued with
//! `upshift resume` (or a second `upshift run`). The target's own records, read straight from the
//! shard databases, must show every migration applied exactly once per shard, by the operation id of
//! the stage that holds the shard; the rollout must end `succeeded`, and its journal must hold an
//! unbroken chain of transitions.
//!
//! The kill points do not depend on timing luck: migration 0003 and one verifier check are made
//! slow on purpose (a recursive CTE), every stage bakes a few seconds, and the test polls
//! `upshift status --json` (and, for the apply, the shard databases themselves) until the rollout is
//! where the kill should land.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout};
use serde_json::Value;

/// The name of the rollout under test; its first rollout's id is `crash-1`.
const NAME: &str = "crash";
const ID: &str = "crash-1";
/// How long any wait may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);
/// Rows counted by migration 0003's slow statement: about 0.5 to 1 s per shard.
const SLOW_APPLY_ROWS: u32 = 2_500_000;
/// Rows counted by the verifier's slow check, per upgraded shard: about 0.15 s each.
const SLOW_CHECK_ROWS: u32 = 600_000;

/// A copy of the quickstart, provisioned to v1, with a state store of its own and a slow v1 → v3
/// rollout spec.
struct Lab {
    dir: tempfile::TempDir,
    spec: PathBuf,
    /// `--state`: a file in `dir`, or a PostgreSQL database.
    state: String,
}

impl Lab {
    fn new(store: Store) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = match store {
            Store::Sqlite => dir.path().join("state.db").display().to_string(),
            Store::Postgres => common::postgres::store_url("crash"),
        };
        let quickstart = common::root().join("examples/quickstart");
        std::fs::copy(quickstart.join("provision.toml"), dir.path().join("provision.toml")).unwrap();
        let migrations = dir.path().join("migrations");
        let slow = dir.path().join("slow-migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::create_dir(&slow).unwrap();
        for entry in std::fs::read_dir(quickstart.join("migrations")).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_owned();
            std::fs::copy(&path, migrations.join(&file)).unwrap();
            let name = file.to_string_lossy();
            if name.starts_with("0001_") || name.starts_with("0002_") {
                std::fs::copy(&path, slow.join(&file)).unwrap();
            }
        }
        // v3: the quickstart's own change, plus slow work so an apply can be caught mid-flight.
        let up = std::fs::read_to_string(migrations.join("0003_order_status.up.sql")).unwrap();
        let down = std::fs::read_to_string(migrations.join("0003_order_status.down.sql")).unwrap();
        std::fs::write(
            slow.join("0003_order_status.up.sql"),
            format!(
                "{up}CREATE TABLE slow AS WITH RECURSIVE n(i) AS \
                 (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SLOW_APPLY_ROWS}) SELECT COUNT(*) AS c FROM n;\n"
            ),
        )
        .unwrap();
        std::fs::write(slow.join("0003_order_status.down.sql"), format!("DROP TABLE slow;\n{down}")).unwrap();

        let spec = dir.path().join("crash.toml");
        std::fs::write(
            &spec,
            format!(
                r#"name = "{NAME}"
from = "1"
to = "3"

[connections.shards]
pattern = "shards/shard-{{n}}.db"
count = 8

[target]
plugin = "sql-migrator"
grants.sql = ["shards"]
grants.files = ["slow-migrations"]
config = {{ connection = "shards", migrations = "/slow-migrations" }}
timeout_seconds = 60

[strategy]
plugin = "batches"
config = {{ canary = 1, batch_size = 3, bake_seconds = 3 }}

[[verifiers]]
name = "shard-checks"
plugin = "sql-check"
grants.sql = ["shards"]
timeout_seconds = 60
config = {{ connection = "shards", checks = [
    {{ name = "integrity", query = "PRAGMA integrity_check", expect = "ok" }},
    {{ name = "orders-kept", query = "SELECT COUNT(*) FROM orders", expect = "1000" }},
    {{ name = "emails-backfilled", query = "SELECT COUNT(*) FROM customers WHERE email IS NULL", expect = "0" }},
    {{ name = "slow", query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SLOW_CHECK_ROWS}) SELECT COUNT(*) FROM n" }},
] }}

[failure_policy]
on_fail = "rollback"
"#
            ),
        )
        .unwrap();

        let lab = Lab { dir, spec, state };
        let out = lab.run(&["run", "provision.toml"]);
        assert!(out.status.success(), "provisioning failed:\n{}\n{}", stdout(&out), stderr(&out));
        for n in 1..=8 {
            assert_eq!(lab.shard_version(&format!("shard-{n}")), 1, "shard-{n} after provisioning");
        }
        lab
    }

    fn spec(&self) -> &str {
        self.spec.to_str().unwrap()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = common::upshift();
        cmd.arg("--state").arg(&self.state).args(args).current_dir(self.dir.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Running {
        let child = self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        Running { child: Some(child), what: args.join(" ") }
    }

    fn status(&self) -> Value {
        let out = self.run(&["status", ID, "--json"]);
        assert!(out.status.success(), "status: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn history(&self) -> Vec<Value> {
        let out = self.run(&["history", ID, "--json"]);
        assert!(out.status.success(), "history: {}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }

    /// The units of each stage, as the journal recorded them when the rollout was created.
    fn stages(&self) -> Vec<Vec<String>> {
        let history = self.history();
        let created = history
            .iter()
            .find(|e| e["kind"] == "note" && e["detail"]["stages"].is_array())
            .expect("the journal records the planned stages");
        created["detail"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["units"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect())
            .collect()
    }

    fn shard(&self, unit: &str) -> rusqlite::Connection {
        let path: PathBuf = self.dir.path().join("shards").join(format!("{unit}.db"));
        assert!(path.exists(), "{} is missing", path.display());
        // Read-write on purpose: after a SIGKILL mid-transaction the next opener rolls back the hot journal.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// The schema version the shard's own records say it is at.
    fn shard_version(&self, unit: &str) -> u32 {
        self.shard(unit).query_row("SELECT MAX(version) FROM upshift_migrations", [], |r| r.get(0)).unwrap()
    }

    /// Polls `status` until `ready` holds, failing if the driver exits or the wait runs too long.
    fn wait_for(&self, driver: &mut Running, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let out = self.run(&["status", ID, "--json"]);
            if out.status.success() {
                let status: Value = serde_json::from_slice(&out.stdout).unwrap();
                if ready(&status) {
                    return status;
                }
                let phase = status["state"].as_str().unwrap_or_default();
                assert!(!matches!(phase, "succeeded" | "rolled-back" | "failed"), "ended {phase} before {what}");
            }
            driver.assert_running(what);
            assert!(Instant::now() < deadline, "rollout {ID} never reached {what}");
            std::thread::sleep(POLL);
        }
    }
}

/// An `upshift` child process; killed if the test fails while it runs.
struct Running {
    child: Option<Child>,
    what: String,
}

impl Running {
    fn assert_running(&mut self, waiting_for: &str) {
        let child = self.child.as_mut().unwrap();
        if child.try_wait().unwrap().is_some() {
            let out = self.child.take().unwrap().wait_with_output().unwrap();
            panic!(
                "`upshift {}` exited ({}) before {waiting_for}:\n{}\n{}",
                self.what,
                out.status,
                stdout(&out),
                stderr(&out)
            );
        }
    }

    /// SIGKILL, then reap (so its pid is gone and the runner lease is free); returns what it printed.
    fn kill9(mut self) -> String {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.signal(),
            Some(9),
            "`upshift {}` had exited ({}) before the kill:\n{}\n{}",
            self.what,
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stage_index(status: &Value) -> u64 {
    status["stage"]["index"].as_u64().unwrap()
}

fn describe(status: &Value) -> String {
    format!(
        "state={} stage={}/{} ({}) outstanding={}",
        status["state"],
        stage_index(status) + 1,
        status["stage"]["count"],
        status["stage"]["name"].as_str().unwrap_or("-"),
        status["outstanding"]
    )
}

/// Checks the status read right after a kill: non-terminal, and still where the kill was aimed.
fn assert_killed_in(status: &Value, phase: &str, stage: u64) {
    assert_eq!(status["state"], phase, "the kill missed its point: {status}");
    assert_eq!(stage_index(status), stage, "the kill missed its stage: {status}");
    assert_eq!(status["runner_pid"], Value::Null, "a killed runner still holds the lease: {status}");
}

/// What must hold once the rollout has been carried to its end across the crashes.
fn assert_done_exactly_once(lab: &Lab) {
    let status = lab.status();
    assert_eq!(status["state"], "succeeded", "{status}");

    // The target's own records: every shard moved 1 → 2 → 3 once, by its stage's operation.
    let stages = lab.stages();
    assert_eq!(stages.iter().map(Vec::len).sum::<usize>(), 8, "{stages:?}");
    for (index, units) in stages.iter().enumerate() {
        let operation = format!("{ID}/apply/{index}");
        for unit in units {
            let conn = lab.shard(unit);
            let mut query = conn
                .prepare("SELECT operation, direction, version FROM upshift_migration_log WHERE version > 1 OR direction <> 'up' ORDER BY seq")
                .unwrap();
            let log: Vec<(String, String, u32)> =
                query.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
            let expected = vec![(operation.clone(), "up".to_string(), 2), (operation.clone(), "up".to_string(), 3)];
            assert_eq!(log, expected, "{unit} (stage {index}): upshift_migration_log is not exactly-once");
            assert_eq!(lab.shard_version(unit), 3, "{unit}: MAX(version) of upshift_migrations");
        }
    }

    // The journal: one committed apply per stage, and no lost transition.
    let history = lab.history();
    for index in 0..stages.len() {
        let applies = history
            .iter()
            .filter(|e| e["kind"] == "call" && e["detail"]["call"] == "apply" && e["stage"] == index)
            .count();
        assert_eq!(applies, 1, "stage {index}: {applies} apply calls journaled");
    }
    let transitions: Vec<&Value> =
        history.iter().filter(|e| e["kind"] == "transition" && e["from"].is_string() && e["to"].is_string()).collect();
    assert_eq!(transitions.first().unwrap()["from"], "pending");
    assert_eq!(transitions.last().unwrap()["to"], "succeeded");
    for pair in transitions.windows(2) {
        assert_eq!(
            pair[1]["from"], pair[0]["to"],
            "a transition was lost between journal entries {} and {}",
            pair[0]["seq"], pair[1]["seq"]
        );
    }
}

/// The journaled message of stage `index`'s (single) committed apply call.
fn apply_message(lab: &Lab, index: u64) -> String {
    let history = lab.history();
    let entry = history
        .iter()
        .find(|e| e["kind"] == "call" && e["detail"]["call"] == "apply" && e["stage"] == index)
        .unwrap_or_else(|| panic!("no apply call journaled for stage {index}"));
    entry["message"].as_str().unwrap().to_string()
}

#[test]
fn killed_during_an_apply_a_bake_and_a_verification_resume_applies_each_stage_exactly_once() {
    killed_during_an_apply_a_bake_and_a_verification(Store::Sqlite);
}

/// The same kills with the store on PostgreSQL: a killed runner's transaction dies with its
/// connection, and the next process carries on from what was committed.
#[test]
fn on_postgres_killed_during_an_apply_a_bake_and_a_verification_resume_applies_each_stage_exactly_once() {
    killed_during_an_apply_a_bake_and_a_verification(Store::Postgres);
}

#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlite,
    Postgres,
}

fn killed_during_an_apply_a_bake_and_a_verification(store: Store) {
    let started = Instant::now();
    let lab = Lab::new(store);

    // Kill 1: during the apply of a later stage (a batch of 3 shards), after one of its shards
    // committed and while the next one is still migrating.
    let mut driver = lab.spawn(&["run", lab.spec()]);
    let status = lab.wait_for(&mut driver, "applying a stage after the canary", |s| {
        s["state"] == "applying" && stage_index(s) >= 1
    });
    let stage = stage_index(&status);
    let stages = lab.stages();
    let units = &stages[stage as usize];
    assert!(units.len() > 1, "stage {stage} has {units:?}");
    let deadline = Instant::now() + PATIENCE;
    while units.iter().all(|u| lab.shard_version(u) < 3) {
        driver.assert_running("a shard of the batch committed");
        assert!(Instant::now() < deadline, "no shard of stage {stage} ever reached v3");
        std::thread::sleep(Duration::from_millis(10));
    }
    let said = driver.kill9();
    let status = lab.status();
    let done: Vec<&String> = units.iter().filter(|u| lab.shard_version(u) == 3).collect();
    println!(
        "kill 1: during the apply of stage {} ({}) with {} of {} shards migrated ({done:?}); status: {}",
        stage + 1,
        status["stage"]["name"],
        done.len(),
        units.len(),
        describe(&status)
    );
    assert_killed_in(&status, "applying", stage);
    assert!(!done.is_empty() && done.len() < units.len(), "not mid-apply: {done:?} of {units:?}\n{said}");
    assert!(!said.contains(&format!("applied stage {}", status["stage"]["name"].as_str().unwrap())), "{said}");

    // Kill 2: during the bake that follows the re-sent apply.
    let mut driver = lab.spawn(&["resume", ID]);
    let status = lab.wait_for(&mut driver, "baking", |s| s["state"] == "baking" && stage_index(s) >= stage);
    let bake_stage = stage_index(&status);
    std::thread::sleep(Duration::from_millis(500));
    driver.kill9();
    let status = lab.status();
    println!("kill 2: during the bake of stage {}; status: {}", bake_stage + 1, describe(&status));
    assert_killed_in(&status, "baking", bake_stage);
    let message = apply_message(&lab, stage);
    println!("  the re-sent apply of stage {} was journaled as: {message}", stage + 1);
    let migrated = units.len() - done.len();
    assert!(message.contains(&format!("{migrated} of {} databases migrated", units.len())), "{message}");

    // Kill 3: during a verification round.
    let mut driver = lab.spawn(&["resume", ID]);
    let status = lab.wait_for(&mut driver, "verifying", |s| {
        s["state"] == "verifying" && s["outstanding"]["command"] == "verify" && stage_index(s) >= bake_stage
    });
    let verify_stage = stage_index(&status);
    std::thread::sleep(Duration::from_millis(200));
    driver.kill9();
    let status = lab.status();
    println!("kill 3: during the verification of stage {}; status: {}", verify_stage + 1, describe(&status));
    assert_killed_in(&status, "verifying", verify_stage);
    assert_eq!(status["outstanding"]["command"], "verify", "{status}");

    // Then to the end.
    let out = lab.run(&["resume", ID]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("resuming rollout {ID}")), "{text}");
    assert!(text.trim_end().ends_with(&format!("rollout {ID}: succeeded")), "{text}");

    assert_done_exactly_once(&lab);
    println!("killed 3 times and resumed to succeeded in {:.1?}", started.elapsed());
}

#[test]
fn killed_during_the_canary_apply_a_second_run_continues_and_applies_exactly_once() {
    let started = Instant::now();
    let lab = Lab::new(Store::Sqlite);

    let mut driver = lab.spawn(&["run", lab.spec()]);
    lab.wait_for(&mut driver, "applying the canary", |s| s["state"] == "applying" && stage_index(s) == 0);
    std::thread::sleep(Duration::from_millis(200));
    driver.kill9();
    let status = lab.status();
    let canary = &lab.stages()[0];
    let versions: Vec<u32> = canary.iter().map(|u| lab.shard_version(u)).collect();
    println!("kill: during the canary apply ({canary:?} at versions {versions:?}); status: {}", describe(&status));
    assert_killed_in(&status, "applying", 0);

    let out = lab.run(&["run", lab.spec()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("continuing rollout {ID}")), "{text}");
    assert!(text.trim_end().ends_with(&format!("rollout {ID}: succeeded")), "{text}");
    let list: Value = serde_json::from_slice(&lab.run(&["list", "--json"]).stdout).unwrap();
    let ours: Vec<&Value> = list.as_array().unwrap().iter().filter(|r| r["name"] == NAME).collect();
    assert_eq!(ours.len(), 1, "a second rollout was created: {list}");

    assert_done_exactly_once(&lab);
    println!("killed once and run again to succeeded in {:.1?}", started.elapsed());
}
