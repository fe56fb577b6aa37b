//! examples/postgres end to end, with the real binary against a real PostgreSQL cluster
//! (tests/common/postgres.rs): the README's setup (setup.sql through psql), the provisioning, the
//! broken upgrade that rolls back by itself and the good one that succeeds canary first, each
//! checked in the databases' own state; and the sql-migrator's guarantees on PostgreSQL:
//! transactional DDL (a migration failing half-way leaves the database at its old version), a
//! database locked by another migration waits its turn, two rollouts at once migrate each database
//! once, idempotent re-apply, approval before an irreversible migration. The role's password lives
//! in the environment only: never in the spec, the state store, the output or the log.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::postgres::{Cluster, cluster, exclusive};
use common::{stderr, stdout};

/// The example's role password, given to `upshift` in SHOP_PG_PASSWORD only.
const PASSWORD: &str = "correct-horse-9f2c7e51";
const DATABASES: [&str; 4] = ["shop_1", "shop_2", "shop_3", "shop_4"];
/// sql-migrator's advisory lock key ("upshift\0").
const MIGRATION_LOCK_KEY: i64 = 0x7570_7368_6966_7400;

/// A private copy of examples/postgres pointed at the test cluster, with its own state store, on
/// freshly made databases (the tests of this binary take turns: the example's names are fixed).
struct Shop {
    dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Shop {
    fn new() -> Shop {
        let turn = exclusive();
        let c = cluster();
        let mut admin = c.admin("postgres");
        for db in DATABASES {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).unwrap();
        }
        admin.batch_execute("DROP ROLE IF EXISTS upshift_shop").unwrap();
        let dir = tempfile::tempdir().unwrap();
        common::copy_example("postgres", dir.path());
        for spec in ["provision.toml", "rollout.toml", "broken.toml"] {
            let path = dir.path().join(spec);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("127.0.0.1:5432"), "{spec} names the default port");
            std::fs::write(&path, text.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", c.port))).unwrap();
        }
        // The README's setup step, as written there.
        let setup = dir.path().join("setup.sql");
        c.psql("postgres", &["-v", &format!("password={PASSWORD}"), "-f", setup.to_str().unwrap()]);
        Shop { dir, _turn: turn }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = common::upshift_in(self.dir.path());
        cmd.env("SHOP_PG_PASSWORD", PASSWORD).args(args);
        cmd
    }

    fn upshift(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn run(&self, spec: &str) -> Output {
        self.upshift(&["run", "--no-wait", spec])
    }

    fn provision(&self) {
        let out = self.run("provision.toml");
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    }

    fn db(&self, n: usize) -> postgres::Client {
        cluster().admin(DATABASES[n - 1])
    }

    fn version(&self, n: usize) -> i32 {
        self.db(n).query_one("SELECT COALESCE(MAX(version), 0) FROM upshift_migrations", &[]).unwrap().get(0)
    }

    fn versions(&self) -> Vec<i32> {
        (1..=4).map(|n| self.version(n)).collect()
    }

    /// `(direction, version)` rows of database `n`'s migration log, oldest first.
    fn log(&self, n: usize) -> Vec<(String, i32)> {
        self.db(n)
            .query("SELECT direction, version FROM upshift_migration_log ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    /// Whether database `n` has relation or type `name`.
    fn has(&self, n: usize, name: &str) -> bool {
        let q = "SELECT to_regclass($1) IS NOT NULL OR to_regtype($1) IS NOT NULL";
        self.db(n).query_one(q, &[&name]).unwrap().get(0)
    }

    fn orders(&self, n: usize) -> i64 {
        self.db(n).query_one("SELECT count(*) FROM orders", &[]).unwrap().get(0)
    }

    fn status(&self, id: &str) -> serde_json::Value {
        serde_json::from_slice(&self.upshift(&["status", id, "--json"]).stdout).unwrap()
    }

    fn history(&self, id: &str) -> String {
        stdout(&self.upshift(&["history", id]))
    }

    /// Writes a variant of rollout.toml named `name`: `edit` gets its text.
    fn spec(&self, name: &str, edit: impl FnOnce(String) -> String) -> String {
        let text = std::fs::read_to_string(self.path("rollout.toml")).unwrap();
        let text = edit(text.replace("name = \"shop\"", &format!("name = \"{name}\"")));
        let file = format!("{name}.toml");
        std::fs::write(self.path(&file), text).unwrap();
        file
    }
}

#[test]
fn the_example_rolls_back_the_broken_upgrade_and_upgrades_four_databases_canary_first() {
    let shop = Shop::new();
    shop.provision();
    assert_eq!(shop.versions(), vec![1; 4]);

    let out = shop.run("broken.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim_end().ends_with("rolled-back"), "{}", stdout(&out));
    let history = shop.history("shop-broken-1");
    assert!(history.contains("orders-kept on shop_1: got 903, expected 1000"), "{history}");
    assert!(history.contains("rolling-back → rolled-back"), "{history}");
    // Only the canary was touched, and its rollback put every archived order back.
    assert_eq!(shop.versions(), vec![1; 4], "every database back at v1");
    for n in 1..=4 {
        assert_eq!(shop.orders(n), 1000, "shop_{n}");
        assert!(!shop.has(n, "orders_archive"), "shop_{n} still has the archive");
    }
    assert_eq!(
        shop.log(1),
        vec![("up".into(), 1), ("up".into(), 2), ("up".into(), 3), ("down".into(), 3), ("down".into(), 2)]
    );
    assert_eq!(shop.log(2), vec![("up".to_string(), 1)], "shop_2 was never in a stage");

    let out = shop.run("rollout.toml");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("rollout shop-1: succeeded"), "{text}");
    assert_eq!(text.matches("verify shop-checks: pass").count(), 2, "the canary's stage, then the other three: {text}");
    let canary = text.find("applied stage canary: 1 of 1 databases migrated to 3").expect("the canary stage");
    let rest = text.find("applied stage batch-1: 3 of 3 databases migrated to 3").expect("the other three");
    assert!(canary < rest, "the canary first: {text}");
    // The databases' own record: shop_1 moved to v3 by the first stage's operation, the others by the second's.
    let applied_by = |n: usize| -> String {
        shop.db(n).query_one("SELECT operation FROM upshift_migrations WHERE version = 3", &[]).unwrap().get(0)
    };
    assert_eq!(applied_by(1), "shop-1/apply/0");
    for n in 2..=4 {
        assert_eq!(applied_by(n), "shop-1/apply/1", "shop_{n}");
    }
    assert_eq!(shop.versions(), vec![3; 4]);
    for n in 1..=4 {
        assert!(shop.has(n, "order_status") && shop.has(n, "orders_by_customer"), "shop_{n} has v3's schema");
        let nulls: i64 =
            shop.db(n).query_one("SELECT count(*) FROM customers WHERE email IS NULL", &[]).unwrap().get(0);
        assert_eq!(nulls, 0);
        let owner: String = shop
            .db(n)
            .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'orders'", &[])
            .unwrap()
            .get(0);
        assert_eq!(owner, "upshift_shop", "the tables are the role's, made by the migrator");
    }
}

#[test]
fn a_migration_failing_half_way_leaves_the_database_at_its_old_version() {
    let shop = Shop::new();
    shop.provision();
    // v2's second statement fails: its first (a new table) must not stay.
    std::fs::write(
        shop.path("migrations/0002_customer_email.up.sql"),
        "CREATE TABLE half_done (x int);\nALTER TABLE customers ADD COLUMN email text NOT NULL;\n",
    )
    .unwrap();
    let out = shop.run("rollout.toml");
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = shop.history("shop-1");
    assert!(history.contains("migration 0002_customer_email on shop/shop_1"), "{history}");
    assert!(history.contains("contains null values"), "the server's reason: {history}");
    assert_eq!(shop.versions(), vec![1; 4]);
    for n in 1..=4 {
        assert!(!shop.has(n, "half_done"), "shop_{n} kept half a migration");
    }
    assert_eq!(shop.log(1), vec![("up".to_string(), 1)], "nothing of the failed transaction was logged");
}

#[test]
fn re_applying_a_migrated_database_is_a_no_op() {
    let shop = Shop::new();
    shop.provision();
    assert!(shop.run("rollout.toml").status.success());
    let before: Vec<_> = (1..=4).map(|n| shop.log(n)).collect();
    let out = shop.run("rollout.toml");
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 of 1 databases migrated to 3"), "{}", stdout(&out));
    let after: Vec<_> = (1..=4).map(|n| shop.log(n)).collect();
    assert_eq!(before, after, "nothing was applied twice");
    assert_eq!(shop.log(2), vec![("up".to_string(), 1), ("up".to_string(), 2), ("up".to_string(), 3)]);
}

#[test]
fn an_irreversible_migration_waits_for_approval() {
    let shop = Shop::new();
    shop.provision();
    std::fs::remove_file(shop.path("migrations/0003_order_status.down.sql")).unwrap();
    let out = shop.upshift(&["plan", "rollout.toml"]);
    assert!(
        stdout(&out).contains(
            "needs approval: stage canary makes irreversible changes: migration 0003_order_status has no down script"
        ),
        "{}",
        stdout(&out)
    );
    let out = shop.run("rollout.toml");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert_eq!(shop.versions(), vec![1; 4], "nothing applied before the approval");
    assert!(shop.upshift(&["approve", "shop-1"]).status.success());
    let out = shop.upshift(&["resume", "shop-1"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(shop.versions(), vec![3; 4]);
}

#[test]
fn a_database_another_migration_holds_waits_and_resume_finishes_it() {
    let shop = Shop::new();
    shop.provision();
    let spec = shop.spec("held", |t| t.replace("on_fail = \"rollback\"", "on_fail = \"pause\""));
    // Another migration holds shop_3's lock (the key sql-migrator takes in every migrating transaction).
    let mut holder = shop.db(3);
    holder.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY]).unwrap();
    let out = shop.run(&spec);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let status = shop.status("held-1");
    assert_eq!(status["state"], "paused", "{status}");
    assert!(status["note"].as_str().unwrap().contains("shop/shop_3 is locked"), "{status}");
    assert_eq!(shop.version(1), 3, "the canary was done");
    assert_eq!(shop.version(3), 1, "shop_3 was left alone");
    holder.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]).unwrap();
    let out = shop.upshift(&["resume", "held-1"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(shop.versions(), vec![3; 4]);
}

#[test]
fn two_rollouts_at_once_migrate_each_database_once() {
    let shop = Shop::new();
    shop.provision();
    let at_once = |t: String| {
        t.replace(
            "plugin = \"batches\"\nconfig = { canary = 1, canary_bake_seconds = 2, batch_size = 3, bake_seconds = 1 }",
            "plugin = \"all-at-once\"",
        )
    };
    let specs = [shop.spec("first", at_once), shop.spec("second", at_once)];
    // Another migration holds every database until both rollouts wait for it, so they overlap.
    let mut holders: Vec<postgres::Client> = (1..=4).map(|n| shop.db(n)).collect();
    for h in &mut holders {
        h.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY]).unwrap();
    }
    // Two processes with their own state stores: nothing but the databases' lock keeps them apart.
    let children: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut cmd = shop.cmd(&["run", "--no-wait", spec]);
            cmd.arg("--state").arg(shop.path(&format!("state-{i}.db")));
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut admin = cluster().admin("postgres");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let q = "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
        let waiting: i64 = admin.query_one(q, &[]).unwrap().get(0);
        if waiting >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < until, "the two rollouts never waited for the lock together");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(holders);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    }
    assert_eq!(shop.versions(), vec![3; 4]);
    for n in 1..=4 {
        assert_eq!(
            shop.log(n),
            vec![("up".into(), 1), ("up".into(), 2), ("up".into(), 3)],
            "shop_{n}: each version once"
        );
    }
}

#[test]
fn the_password_stays_in_the_environment() {
    let shop = Shop::new();
    // Everything the host and its PostgreSQL driver log, at their most talkative.
    let log = "info,upshift=trace,tokio_postgres=trace,postgres_protocol=trace,rustls=trace";
    let out = shop.cmd(&["-v", "run", "--no-wait", "provision.toml"]).env("RUST_LOG", log).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!said.contains(PASSWORD), "the output holds the password");
    for file in ["state.db", "state.db-wal"] {
        if let Ok(bytes) = std::fs::read(shop.path(file)) {
            assert!(!String::from_utf8_lossy(&bytes).contains(PASSWORD), "{file} holds the password");
        }
    }
    // A wrong password is refused by the server, and the error does not quote it.
    let spec = shop.spec("wrong", |t| t);
    let out = shop.cmd(&["run", "--no-wait", &spec]).env("SHOP_PG_PASSWORD", "not-the-password-4d1e").output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let history = shop.history("wrong-1");
    assert!(history.contains("password authentication failed for user \"upshift_shop\""), "{history}");
    assert!(!history.contains("not-the-password-4d1e") && !history.contains(PASSWORD), "{history}");
    // An unset variable is named, with the fix.
    let spec = shop.spec("unset", |t| t);
    let out = shop.cmd(&["run", "--no-wait", &spec]).env_remove("SHOP_PG_PASSWORD").output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let history = shop.history("unset-1");
    assert!(history.contains("environment variable SHOP_PG_PASSWORD (password_env) is not set"), "{history}");
    // A password written into the spec's url is refused before anything runs, without quoting it.
    let spec = shop.spec("inline", |t| t.replace("upshift_shop@", "upshift_shop:hunter2-inline@"));
    let out = shop.upshift(&["validate", &spec]);
    common::assert_one_line_error(&out, "password_env");
    assert!(!stderr(&out).contains("hunter2-inline"), "{}", stderr(&out));
}

#[test]
fn tls_is_used_when_asked_for_or_refused_clearly() {
    let shop = Shop::new();
    // The test cluster has no TLS yet: a spec that requires it fails to connect, saying why, and
    // is not retried (it would not change).
    let spec = shop.spec("tls", |t| t.replace("sslmode=disable", "sslmode=require"));
    let out = shop.run(&spec);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let history = shop.history("tls-1");
    assert!(history.contains("server does not support TLS"), "{history}");
    assert_eq!(history.matches("applying stage 1/2 canary").count(), 1, "retried: {history}");
    // With TLS on, the host negotiates it and verifies the certificate: a self-signed one is refused,
    // with sslmode=require as with verify-full (libpq's unverified require is not offered).
    cluster().self_signed_tls();
    for (name, mode) in [("tls-required", "require"), ("tls-verified", "verify-full")] {
        let spec = shop.spec(name, |t| t.replace("sslmode=disable", &format!("sslmode={mode}")));
        let out = shop.run(&spec);
        assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
        let history = shop.history(&format!("{name}-1"));
        assert!(history.contains("error performing TLS handshake: invalid peer certificate"), "{history}");
    }
    // Without TLS it still connects: the databases are provisioned.
    shop.provision();
    assert_eq!(shop.versions(), vec![1; 4]);
    // A mode the host cannot honour is refused by validate, plan and run alike.
    let spec = shop.spec("allow", |t| t.replace("sslmode=disable", "sslmode=allow"));
    for command in ["validate", "plan"] {
        common::assert_one_line_error(&shop.upshift(&[command, &spec]), "sslmode=allow is not supported");
    }
    common::assert_one_line_error(&shop.run(&spec), "sslmode=allow is not supported");
}

#[test]
fn a_cluster_a_test_owns_is_stopped_and_removed_when_dropped() {
    let own = Cluster::start();
    let (dir, port) = (own.dir.clone(), own.port);
    own.admin("postgres").batch_execute("SELECT 1").unwrap();
    drop(own);
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the server still listens on {port}");
}
