//! The embedded quickstart end to end: provision 8 SQLite shards, the broken upgrade that rolls
//! back by itself, the good one that succeeds; and the sql-migrator's guarantees: idempotent
//! re-apply, approval before an irreversible migration, a capability/grant mismatch refused before
//! anything changes, and a locked or corrupt shard failing its stage safely.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{stderr, stdout};
use rusqlite::Connection;

/// A private copy of examples/quickstart with its own state store.
struct Playground {
    dir: tempfile::TempDir,
    /// `--state`: a file in `dir`, or a PostgreSQL database.
    state: String,
}

impl Playground {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        common::copy_example("quickstart", dir.path());
        let state = dir.path().join("state.db").display().to_string();
        Playground { dir, state }
    }

    /// The same with the store in a new database on this binary's PostgreSQL cluster.
    fn on_postgres() -> Self {
        Playground { state: common::postgres::store_url("quickstart"), ..Playground::new() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn upshift(&self, args: &[&str]) -> Output {
        let mut cmd = common::upshift();
        cmd.arg("--state").arg(&self.state).current_dir(self.dir.path());
        cmd.args(args).output().unwrap()
    }

    fn run(&self, spec: &str) -> Output {
        self.upshift(&["run", "--no-wait", spec])
    }

    fn provision(&self) {
        let out = self.run("provision.toml");
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    }

    fn shard(&self, n: u32) -> Connection {
        Connection::open(self.path(&format!("shards/shard-{n}.db"))).unwrap()
    }

    fn version(&self, n: u32) -> i64 {
        self.shard(n).query_row("SELECT COALESCE(MAX(version), 0) FROM upshift_migrations", [], |r| r.get(0)).unwrap()
    }

    fn versions(&self) -> Vec<i64> {
        (1..=8).map(|n| self.version(n)).collect()
    }

    /// `(direction, version)` rows of a shard's migration log, oldest first.
    fn log(&self, n: u32) -> Vec<(String, i64)> {
        let conn = self.shard(n);
        let mut stmt = conn.prepare("SELECT direction, version FROM upshift_migration_log ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    fn status(&self, id: &str) -> serde_json::Value {
        serde_json::from_slice(&self.upshift(&["status", id, "--json"]).stdout).unwrap()
    }

    fn history(&self, id: &str) -> String {
        stdout(&self.upshift(&["history", id]))
    }

    /// Writes a variant of rollout.toml: `edit` gets its text.
    fn spec(&self, name: &str, edit: impl FnOnce(String) -> String) -> String {
        let text = std::fs::read_to_string(self.path("rollout.toml")).unwrap();
        let text = edit(text.replace("name = \"quickstart\"", &format!("name = \"{name}\"")));
        let file = format!("{name}.toml");
        std::fs::write(self.path(&file), text).unwrap();
        file
    }
}

#[test]
fn provision_then_broken_rolls_back_then_rollout_succeeds() {
    provision_then_broken_then_rollout(Playground::new());
}

/// The same quickstart with its store on PostgreSQL (`--state postgres://...`): run, status,
/// history and list read and write the same records there.
#[test]
fn on_postgres_provision_then_broken_rolls_back_then_rollout_succeeds() {
    let pg = Playground::on_postgres();
    let database = pg.state.rsplit('/').next().unwrap().to_string();
    let pg = provision_then_broken_then_rollout(pg);
    assert!(!pg.path("state.db").exists(), "no SQLite store was made beside the spec");
    let mut db = common::postgres::cluster().admin(&database);
    let phases: Vec<(String, String)> = db
        .query("SELECT id, phase FROM rollouts ORDER BY rowid", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [
        ("quickstart-provision-1", "succeeded"),
        ("quickstart-broken-1", "rolled-back"),
        ("quickstart-1", "succeeded"),
    ];
    assert_eq!(phases, expected.map(|(a, b)| (a.to_string(), b.to_string())), "the records are in PostgreSQL");
    let list: serde_json::Value = serde_json::from_slice(&pg.upshift(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
}

fn provision_then_broken_then_rollout(pg: Playground) -> Playground {
    pg.provision();
    assert_eq!(pg.versions(), vec![1; 8]);

    let out = pg.run("broken.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim_end().ends_with("rolled-back"), "{}", stdout(&out));
    assert_eq!(pg.versions(), vec![1; 8], "every shard back at v1");
    let history = pg.history("quickstart-broken-1");
    assert!(history.contains("orders-kept on shard-1: got 903, expected 1000"), "{history}");
    assert!(history.contains("rolling-back → rolled-back"), "{history}");
    // The broken v3 archived orders; its rollback put every one of them back.
    let orders: i64 = pg.shard(1).query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0)).unwrap();
    assert_eq!(orders, 1000);

    let out = pg.run("rollout.toml");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("rollout quickstart-1: succeeded"), "{text}");
    assert_eq!(text.matches("verify shard-checks: pass").count(), 4, "one verification per stage: {text}");
    assert_eq!(pg.versions(), vec![3; 8]);
    pg
}

#[test]
fn re_applying_a_migrated_shard_is_a_no_op() {
    let pg = Playground::new();
    pg.provision();
    assert!(pg.run("rollout.toml").status.success());
    let before: Vec<_> = (1..=8).map(|n| pg.log(n)).collect();
    // A second rollout of the same versions finds every shard already at v3.
    let out = pg.run("rollout.toml");
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 of 1 databases migrated to 3"), "{}", stdout(&out));
    let after: Vec<_> = (1..=8).map(|n| pg.log(n)).collect();
    assert_eq!(before, after, "nothing was applied twice");
    assert_eq!(pg.log(2), vec![("up".to_string(), 1), ("up".to_string(), 2), ("up".to_string(), 3)]);
}

#[test]
fn an_irreversible_migration_requires_approval_and_says_why() {
    let pg = Playground::new();
    pg.provision();
    std::fs::remove_file(pg.path("migrations/0003_order_status.down.sql")).unwrap();
    let out = pg.upshift(&["plan", "rollout.toml"]);
    assert!(
        stdout(&out).contains(
            "needs approval: stage canary makes irreversible changes: migration 0003_order_status has no down script"
        ),
        "{}",
        stdout(&out)
    );
    let out = pg.run("rollout.toml");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("awaiting-approval: stage canary makes irreversible changes"), "{}", stdout(&out));
    assert_eq!(pg.versions(), vec![1; 8], "nothing applied before the approval");
    assert!(pg.upshift(&["approve", "quickstart-1"]).status.success());
    let out = pg.upshift(&["resume", "quickstart-1"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(pg.versions(), vec![3; 8]);
}

/// The 1-based line of `spec` (a file in the playground) that holds `needle`, at or after line `after`.
fn line_of(pg: &Playground, spec: &str, needle: &str, after: usize) -> usize {
    let text = std::fs::read_to_string(pg.path(spec)).unwrap();
    text.lines().enumerate().skip(after).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).unwrap()
}

/// `validate`, `plan` and `run` of `spec` each exit 2 with exactly the `expected` stderr lines and
/// nothing on stdout; no shard changed and no rollout of the spec was recorded.
fn assert_refused_changing_nothing(pg: &Playground, spec: &str, expected: &[String]) {
    let shards = |pg: &Playground| -> Vec<Vec<u8>> {
        (1..=8).map(|n| std::fs::read(pg.path(&format!("shards/shard-{n}.db"))).unwrap()).collect()
    };
    let before = shards(pg);
    for args in [vec!["validate", spec], vec!["plan", spec], vec!["run", "--no-wait", spec]] {
        let out = pg.upshift(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}\n{}", stdout(&out), stderr(&out));
        assert_eq!(stderr(&out).lines().collect::<Vec<_>>(), expected, "{args:?}: every problem, one line each");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    assert!(shards(pg) == before, "a shard changed although the spec was refused");
    let list: serde_json::Value = serde_json::from_slice(&pg.upshift(&["list", "--json"]).stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["quickstart-provision"], "no rollout of the refused spec");
}

#[test]
fn a_capability_grant_mismatch_is_refused_by_validate_plan_and_run_before_anything_changes() {
    let pg = Playground::new();
    pg.provision();
    // The verifier loses its SQL grant (sql-check declares sql); the target loses its folder
    // (sql-migrator declares files) and is granted a variable it does not declare.
    let spec = pg.spec("ungranted", |t| {
        let i = t.find("[[verifiers]]").unwrap();
        let (head, tail) = t.split_at(i);
        let head = head.replacen("grants.files = [\"migrations\"]", "grants.env = [\"HOME\"]", 1);
        format!("{head}{}", tail.replacen("grants.sql = [\"shards\"]\n", "", 1))
    });
    let target_grants = line_of(&pg, &spec, "grants.sql", 0);
    let env = line_of(&pg, &spec, "grants.env", 0);
    let verifier = line_of(&pg, &spec, "[[verifiers]]", 0);
    let expected = [
        format!(
            "error: {spec}:{target_grants}: target sql-migrator declares files but the spec grants none: add \
             grants.files = [...] to [target], or remove capabilities!(files) from the plugin"
        ),
        format!(
            "error: {spec}:{env}: the spec grants target sql-migrator environment variable \"HOME\" but the plugin \
             does not declare it: remove \"HOME\" from grants.env in [target], or the plugin must declare \
             capabilities!(env = [\"HOME\"])"
        ),
        format!(
            "error: {spec}:{verifier}: verifier shard-checks declares sql but the spec grants none: add grants.sql = \
             [...] to [[verifiers]] #1, or remove capabilities!(sql) from the plugin"
        ),
    ];
    assert_refused_changing_nothing(&pg, &spec, &expected);
}

#[test]
fn a_config_typo_is_refused_by_validate_plan_and_run_on_its_spec_line_before_anything_changes() {
    let pg = Playground::new();
    pg.provision();
    // A typo in the strategy's config and one in the target's: each plugin checks its own config
    // (`validate-config`) before the first stage, and both are reported at once.
    let spec = pg.spec("typo", |t| {
        t.replacen("canary_bake_seconds = 2", "canary_bake_second = 2", 1).replacen(
            "migrations = \"/migrations\" }",
            "migrations = \"/migrations\", dry_run = true }",
            1,
        )
    });
    let target = line_of(&pg, &spec, "config = { connection = \"shards\", migrations", 0);
    let strategy = line_of(&pg, &spec, "canary_bake_second", 0);
    let expected = [
        format!(
            "error: {spec}:{target}: target sql-migrator refuses its config: unknown field `dry_run`, expected \
             `connection` or `migrations`; fix `config` in [target]; `upshift plugin inspect sql-migrator` lists the \
             fields it accepts"
        ),
        format!(
            "error: {spec}:{strategy}: strategy batches refuses its config: unknown field `canary_bake_second`, \
             expected one of `batch_size`, `canary`, `max_unavailable`, `bake_seconds`, `canary_bake_seconds`; fix \
             `config` in [strategy]; `upshift plugin inspect batches` lists the fields it accepts"
        ),
    ];
    assert_refused_changing_nothing(&pg, &spec, &expected);
}

#[test]
fn a_locked_shard_pauses_its_stage_and_resume_finishes_once_it_is_free() {
    let pg = Playground::new();
    pg.provision();
    let spec = pg.spec("locked", |t| t.replace("on_fail = \"rollback\"", "on_fail = \"pause\""));
    let holder = pg.shard(5);
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = pg.run(&spec);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let status = pg.status("locked-1");
    assert_eq!(status["state"], "paused");
    assert!(status["note"].as_str().unwrap().contains("shards/shard-5 is locked"), "{status}");
    // Shard 5 is still locked here; the others can be read.
    let done: Vec<i64> = (1..=4).map(|n| pg.version(n)).collect();
    assert_eq!(done, vec![3, 3, 3, 3], "canary and batch-1 were done");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let out = pg.upshift(&["resume", "locked-1"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(pg.versions(), vec![3; 8]);
}

#[test]
fn a_corrupt_shard_fails_its_stage_and_the_rollout_rolls_back() {
    let pg = Playground::new();
    pg.provision();
    std::fs::write(pg.path("shards/shard-6.db"), vec![0x5a; 8192]).unwrap();
    let out = pg.run("rollout.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = pg.history("quickstart-1");
    assert!(history.contains("shards/shard-6 is corrupt or not a database"), "{history}");
    assert!(history.contains("rolling-back → rolled-back"), "{history}");
    for n in [1, 2, 3, 4, 5, 7, 8] {
        assert_eq!(pg.version(n), 1, "shard-{n} back at v1");
    }
}

impl Playground {
    /// Every row of every table of shard `n`, as text: to prove a shard was left exactly as it was.
    fn dump(&self, n: u32) -> Vec<String> {
        let conn = self.shard(n);
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        tables.retain(|t| t != "sqlite_sequence");
        let mut rows = vec![];
        for t in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY rowid")).unwrap();
            let width = stmt.column_count();
            let mut q = stmt.query([]).unwrap();
            while let Some(r) = q.next().unwrap() {
                let cells: Vec<String> =
                    (0..width).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
                rows.push(format!("{t}: {}", cells.join(" | ")));
            }
        }
        rows
    }

    fn dumps(&self) -> Vec<Vec<String>> {
        (1..=8).map(|n| self.dump(n)).collect()
    }

    /// Moves shard `n` up to `version` as another rollout (`elsewhere-1`) would: its up scripts and
    /// its rows in the shard's migration tables.
    fn migrate_elsewhere(&self, n: u32, version: i64) {
        let conn = self.shard(n);
        let current = self.version(n);
        for v in current + 1..=version {
            let up = std::fs::read_dir(self.path("migrations"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.to_string_lossy().ends_with(".up.sql")
                        && p.file_name().unwrap().to_string_lossy().starts_with(&format!("{v:04}_"))
                })
                .unwrap();
            conn.execute_batch(&std::fs::read_to_string(up).unwrap()).unwrap();
            conn.execute(
                "INSERT INTO upshift_migrations (version, name, applied_at, operation) VALUES (?1, 'elsewhere', 0, 'elsewhere-1/apply/0')",
                [v],
            )
            .unwrap();
        }
    }
}

#[test]
fn provisioning_again_over_upgraded_shards_is_refused_as_drift_and_destroys_nothing() {
    let pg = Playground::new();
    pg.provision();
    assert!(pg.run("rollout.toml").status.success());
    assert_eq!(pg.versions(), vec![3; 8]);
    let before = pg.dumps();
    // The provisioning spec (0 → 1) again: every shard is at 3, not 0.
    let out = pg.run("provision.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = pg.history("quickstart-provision-2");
    assert!(history.contains("is at version 3, expected 0 (or 1): it drifted"), "the conflict is named: {history}");
    assert!(history.contains("nothing to roll back"), "{history}");
    assert_eq!(pg.versions(), vec![3; 8]);
    assert_eq!(pg.dumps(), before, "every shard's rows are as they were");
    println!("drifted shards: {}", history.lines().find(|l| l.contains("drifted")).unwrap_or_default());
}

#[test]
fn a_shard_ahead_of_the_target_version_is_left_alone_by_the_rollback() {
    let pg = Playground::new();
    pg.provision();
    pg.migrate_elsewhere(5, 3);
    let ahead = pg.dump(5);
    let spec = pg.spec("ahead", |t| t.replace("to = \"3\"", "to = \"2\""));
    let out = pg.run(&spec);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = pg.history("ahead-1");
    assert!(history.contains("shards/shard-5 is at version 3, expected 1 (or 2): it drifted"), "{history}");
    // The canary (shard-1) and batch 1 (shards 2-4) were upgraded by this rollout and are undone;
    // shard 5 was never changed by it and keeps version 3 and every row.
    assert_eq!(pg.versions(), vec![1, 1, 1, 1, 3, 1, 1, 1]);
    assert_eq!(pg.dump(5), ahead);
    assert!(history.contains("rolled back 4 units"), "{history}");
}

#[test]
fn a_shard_another_rollout_moved_part_way_is_left_alone_by_the_rollback() {
    let pg = Playground::new();
    pg.provision();
    pg.migrate_elsewhere(3, 2);
    let between = pg.dump(3);
    let out = pg.run("rollout.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = pg.history("quickstart-1");
    assert!(history.contains("shards/shard-3 is at version 2, expected 1 (or 3): it drifted"), "{history}");
    // Batch 1 is shards 2-4: shard 2 was upgraded before shard 3 refused, so it is undone too.
    assert_eq!(pg.versions(), vec![1, 1, 2, 1, 1, 1, 1, 1]);
    assert_eq!(pg.dump(3), between);
    assert!(history.contains("rolled back 2 units"), "{history}");
}

#[test]
fn sql_migrator_refuses_to_roll_back_a_version_this_rollout_did_not_apply() {
    let pg = Playground::new();
    pg.provision();
    // The canary stage fails its verification and pauses, so the shard can be handed to someone
    // else before the rollback.
    let spec = pg.spec("handed", |t| {
        t.replace("on_fail = \"rollback\"", "on_fail = \"pause\"").replace("expect = \"1000\"", "expect = \"999\"")
    });
    let out = pg.run(&spec);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(pg.version(1), 3, "the canary was upgraded");
    // Another rollout now claims shard 1's versions 2 and 3.
    pg.shard(1)
        .execute("UPDATE upshift_migrations SET operation = 'elsewhere-1/apply/0' WHERE version > 1", [])
        .unwrap();
    let handed = pg.dump(1);
    // The abort drives the rollback itself.
    let out = pg.upshift(&["abort", "handed-1", "--reason", "test"]);
    let status = pg.status("handed-1");
    assert_eq!(status["state"], "failed", "{}\n{}\n{status}", stdout(&out), stderr(&out));
    let history = pg.history("handed-1");
    assert!(
        history.contains(
            "migration 0002_customer_email was applied by elsewhere-1/apply/0, not by this rollout (handed-1)"
        ),
        "{history}"
    );
    assert_eq!(pg.dump(1), handed, "shard 1 left exactly as it was");
}
