//! The embedded quickstart end to end: provision 8 SQLite shards, the broken upgrade that rolls
//! back by itself, the good one that succeeds; and the sql-migrator's guarantees: idempotent
//! re-apply, approval before an irreversible migration, refusal of an ungranted connection, and a
//! locked or corrupt shard failing its stage safely.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use rusqlite::Connection;

/// A private copy of examples/quickstart with its own state store.
struct Playground {
    dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "shards" {
                copy_dir(&entry.path(), &target);
            }
        } else if !entry.file_name().to_string_lossy().ends_with(".db") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Playground {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&common::root().join("examples").join("quickstart"), dir.path());
        Playground { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn upshift(&self, args: &[&str]) -> Output {
        common::upshift_in(self.dir.path()).args(args).output().unwrap()
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
    let pg = Playground::new();
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

#[test]
fn a_plugin_without_the_sql_grant_is_refused_access() {
    let pg = Playground::new();
    pg.provision();
    // The verifier loses its grant: its queries must be refused, and a refusal is no pass.
    let spec = pg.spec("ungranted", |t| {
        let i = t.find("[[verifiers]]").unwrap();
        let (head, tail) = t.split_at(i);
        format!("{head}{}", tail.replacen("grants.sql = [\"shards\"]\n", "", 1))
    });
    let out = pg.run(&spec);
    assert_eq!(out.status.code(), Some(3), "paused, not passed: {}", stdout(&out));
    let status = pg.status("ungranted-1");
    assert_eq!(status["state"], "paused");
    let note = status["note"].as_str().unwrap();
    assert!(note.contains("connection \"shards\" is not granted") && note.contains("grants.sql"), "{note}");
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
