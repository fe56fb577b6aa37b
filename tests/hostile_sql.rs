//! The hostile SQL suite (tests/hostile/sql-*): plugins that try to reach past their SQL grant
//! (the state store, a database nobody granted, new files, URI filenames, extensions, triggers and
//! views planted for later), to change what a verifier may only observe (writes, settings, locks
//! that outlive a call), or to make the host work and hold memory without limit (endless queries,
//! huge values). For each: refused or stopped with a message naming the refusal or the limit, the
//! victims unchanged, and a good rollout in the same process afterwards. Each test prints what
//! stopped its attacks.

mod common;

use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use upshift::engine::Phase;

use common::lab::{Ended, Lab, Victims};

/// The connection the attacks are granted: two shards with data. `billing.db` beside them is
/// granted to nobody.
const CONNECTIONS: &str = "[connections.shards]\ndatabases = [\"shards/shard-1.db\", \"shards/shard-2.db\"]";

/// A lab with the shards and the ungranted database in place.
fn lab() -> Lab {
    let lab = Lab::new();
    std::fs::create_dir(lab.path("shards")).unwrap();
    for (file, table) in [("shards/shard-1.db", "orders"), ("shards/shard-2.db", "orders"), ("billing.db", "invoices")]
    {
        Connection::open(lab.path(file))
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE {table} (id INTEGER PRIMARY KEY, amount INTEGER);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                 INSERT INTO {table} (amount) SELECT i * 7 FROM n;"
            ))
            .unwrap();
    }
    lab
}

/// Runs hostile verifier `name` granted the shards, with `config` (a TOML inline table).
fn verifier_attack(lab: &mut Lab, name: &str, config: &str, stopper: &str) -> Ended {
    lab.attack(name, &format!("grants.sql = [\"shards\"]\nconfig = {config}\n\n{CONNECTIONS}"), stopper)
}

/// Runs hostile target `name` granted the shards, judged by `verifier` (a `[[verifiers]]` body; by
/// default the threshold fixture); asserts a rolled-back end whose history names `stopper` and the
/// plugin it stopped (the target, or the verifier named `stopped_in`).
fn target_attack(lab: &mut Lab, name: &str, config: &str, verifier: Option<(&str, &str)>, stopper: &str) -> Ended {
    let target = format!("{}\ngrants.sql = [\"shards\"]\nconfig = {config}", lab.plugin(name));
    let threshold = format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", lab.plugin("threshold"));
    let (verifier, stopped_in) = verifier.unwrap_or((&threshold, name));
    let spec = lab.compose(Some(&target), None, Some(verifier), CONNECTIONS);
    let ended = lab.run(&spec).expect("the hostile plugin loads");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "{text}");
    assert!(!text.contains("ESCAPED"), "the attack succeeded:\n{text}");
    let line = text.lines().find(|l| l.contains(stopper)).unwrap_or_else(|| panic!("no {stopper:?} in:\n{text}"));
    assert!(
        line.contains(&format!("error: plugin {stopped_in}")) || line.contains(&format!("/{stopped_in}.wasm")),
        "the error does not name the plugin: {line}"
    );
    println!("{name}: stopped by: {line}");
    lab.assert_next_rollout_runs();
    ended
}

/// The lab's own state store, which the lab itself writes to: its schema as it was and no rollout
/// lost (each attack adds its own rollout and the good one after it).
struct Store {
    schema: Vec<String>,
    rollouts: i64,
    journal: i64,
}

impl Store {
    fn read(lab: &Lab) -> Self {
        let c = Connection::open_with_flags(lab.path("state.db"), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = c
            .prepare("SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY name")
            .unwrap();
        let schema = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        let count = |table: &str| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        Store { schema, rollouts: count("rollouts"), journal: count("journal") }
    }

    fn assert_untouched_since(&self, lab: &Lab, rollouts_run: i64) {
        let now = Store::read(lab);
        assert_eq!(now.schema, self.schema, "the state store's schema changed");
        assert_eq!(now.rollouts, self.rollouts + rollouts_run, "rollouts were added or removed");
        assert!(now.journal > self.journal, "the journal lost entries");
    }
}

fn victims(lab: &Lab, files: &[&str]) -> Victims {
    let paths: Vec<_> = files.iter().map(|f| lab.path(f)).collect();
    Victims::record(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>())
}

#[test]
fn attaching_the_state_store_is_refused() {
    let mut lab = lab();
    lab.assert_next_rollout_runs();
    let store = Store::read(&lab);
    let state = lab.path("state.db").display().to_string();
    let sideways = lab.path("shards/../state.db").display().to_string();
    verifier_attack(
        &mut lab,
        "sql-attach",
        &format!("{{ database = \"shards/shard-1\", path = '{state}', technique = \"statement\" }}"),
        "attaching another database",
    );
    verifier_attack(
        &mut lab,
        "sql-attach",
        &format!("{{ database = \"shards/shard-1\", path = '{sideways}', technique = \"disguised\" }}"),
        "attaching another database",
    );
    store.assert_untouched_since(&lab, 4);
}

#[test]
fn attaching_a_database_nobody_granted_or_a_new_file_is_refused() {
    let mut lab = lab();
    let kept = victims(&lab, &["billing.db", "shards/shard-1.db", "stolen.db"]);
    let billing = lab.path("billing.db").display().to_string();
    let stolen = lab.path("stolen.db").display().to_string();
    verifier_attack(
        &mut lab,
        "sql-attach",
        &format!("{{ database = \"shards/shard-1\", path = '{billing}', technique = \"parameter\" }}"),
        "attaching another database (named by an expression)",
    );
    verifier_attack(
        &mut lab,
        "sql-attach",
        &format!("{{ database = \"shards/shard-1\", path = '{stolen}', technique = \"expression\" }}"),
        "attaching another database",
    );
    kept.assert_unchanged();
}

#[test]
fn vacuum_into_a_new_file_is_refused() {
    let mut lab = lab();
    let kept = victims(&lab, &["shards/shard-1.db", "copy.db", "copy2.db"]);
    for (file, technique) in [("copy.db", "literal"), ("copy2.db", "parameter")] {
        let path = lab.path(file).display().to_string();
        verifier_attack(
            &mut lab,
            "sql-vacuum-into",
            &format!("{{ database = \"shards/shard-1\", path = '{path}', technique = \"{technique}\" }}"),
            "VACUUM INTO writes a new one",
        );
    }
    kept.assert_unchanged();
}

#[test]
fn uri_filenames_open_nothing() {
    let mut lab = lab();
    let store = Store::read(&lab);
    let kept = victims(&lab, &["stolen.db"]);
    let dir = lab.dir.path().display().to_string();
    for (uri, technique) in [
        (format!("file:{dir}/state.db?mode=ro&immutable=1"), "attach"),
        (format!("file:{dir}/shards/../billing.db?mode=rw&cache=shared"), "attach"),
        (format!("file:{dir}/stolen.db?mode=rwc&vfs=unix-none"), "vacuum"),
    ] {
        verifier_attack(
            &mut lab,
            "sql-uri-filename",
            &format!("{{ database = \"shards/shard-2\", uri = '{uri}', technique = \"{technique}\" }}"),
            "attaching another database",
        );
    }
    kept.assert_unchanged();
    store.assert_untouched_since(&lab, 6);
}

#[test]
fn extensions_and_host_pointers_are_refused() {
    let mut lab = lab();
    for (technique, stopper) in
        [("direct", "load_extension()"), ("disguised", "load_extension()"), ("tokenizer", "fts3_tokenizer()")]
    {
        verifier_attack(
            &mut lab,
            "sql-load-extension",
            &format!("{{ database = \"shards/shard-1\", technique = \"{technique}\" }}"),
            stopper,
        );
    }
}

#[test]
fn a_planted_trigger_or_view_is_refused_where_it_fires() {
    let mut lab = lab();
    // The trigger fires on the target's own insert.
    target_attack(
        &mut lab,
        "sql-trigger-smuggle",
        "{ connection = \"shards\", technique = \"trigger\" }",
        None,
        "inside trigger or view \"smuggle\"",
    );
    // The view is planted by the target and read by a verifier: refused in the verifier's context.
    let check = "plugin = \"sql-check\"\ngrants.sql = [\"shards\"]\n\
                 config = { connection = \"shards\", checks = [{ name = \"summary\", query = \"SELECT n FROM orders_summary\" }] }";
    target_attack(
        &mut lab,
        "sql-trigger-smuggle",
        "{ connection = \"shards\", technique = \"view\" }",
        Some((check, "sql-check")),
        "unsafe use of load_extension()",
    );
    // The rollback took out what was planted.
    for shard in ["shards/shard-1.db", "shards/shard-2.db"] {
        let c = Connection::open(lab.path(shard)).unwrap();
        let planted: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('orders_summary', 'smuggle', 'bait')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(planted, 0, "{shard} still holds what the target planted");
    }
}

#[test]
fn a_verifier_cannot_change_its_database() {
    let mut lab = lab();
    let kept = victims(&lab, &["shards/shard-1.db", "shards/shard-2.db"]);
    for (statement, via) in [
        ("INSERT INTO orders (amount) VALUES (1)", "execute"),
        ("SELECT 1; /* */ DeLeTe\t FROM orders", "batch"),
        ("DROP TABLE orders", "execute"),
        ("UPDATE orders SET amount = 0 RETURNING id", "query"),
        ("PRAGMA query_only = OFF; INSERT INTO orders (amount) VALUES (1)", "batch"),
        ("CREATE TEMP TABLE loot AS SELECT * FROM orders", "execute"),
        ("PRAGMA journal_mode = OFF", "execute"),
        ("PRAGMA writable_schema = ON", "batch"),
        ("PRAGMA user_version = 7", "query"),
    ] {
        verifier_attack(
            &mut lab,
            "sql-verifier-writes",
            &format!("{{ database = \"shards/shard-1\", statement = '{statement}', via = \"{via}\" }}"),
            "read-only",
        );
    }
    kept.assert_unchanged();
}

#[test]
fn a_target_cannot_weaken_its_database() {
    let mut lab = lab();
    let kept = victims(&lab, &["shards/shard-1.db", "shards/shard-2.db"]);
    for statement in [
        "PRAGMA journal_mode = OFF",
        "PRAGMA main.journal_mode = \"memory\"",
        "PRAGMA synchronous = 0",
        "pragma SYNCHRONOUS=off",
        "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = \"x\" WHERE name = \"orders\"",
        "PRAGMA locking_mode = EXCLUSIVE",
    ] {
        target_attack(
            &mut lab,
            "sql-weak-pragma",
            &format!("{{ connection = \"shards\", statement = '{statement}' }}"),
            None,
            "is refused",
        );
    }
    kept.assert_unchanged();
}

/// A spec whose target is `sql-migrator`, moving the shards from 0 to 1 (a new `accounts` table),
/// judged by hostile verifier `verifier` (a `[[verifiers]]` body).
fn migrate(lab: &Lab, verifier: &str) -> String {
    std::fs::create_dir_all(lab.path("migrations")).unwrap();
    std::fs::write(lab.path("migrations/0001_accounts.up.sql"), "CREATE TABLE accounts (id INTEGER PRIMARY KEY);")
        .unwrap();
    std::fs::write(lab.path("migrations/0001_accounts.down.sql"), "DROP TABLE accounts;").unwrap();
    let target = "plugin = \"sql-migrator\"\ngrants.sql = [\"shards\"]\ngrants.files = [\"migrations\"]\n\
                  config = { connection = \"shards\", migrations = \"/migrations\" }";
    lab.compose(Some(target), None, Some(verifier), CONNECTIONS)
        .replace("from = \"1\"\nto = \"2\"", "from = \"0\"\nto = \"1\"")
}

#[test]
fn a_verifier_lock_does_not_outlive_its_call() {
    let mut lab = lab();
    for (mode, stopper) in [
        ("snapshot", "holding a snapshot lock"),
        ("savepoint", "holding a savepoint lock"),
        ("immediate", "read-only"),
        ("exclusive", "PRAGMA locking_mode"),
    ] {
        let verifier = format!(
            "{}\ngrants.sql = [\"shards\"]\nconfig = {{ connection = \"shards\", mode = \"{mode}\" }}",
            lab.plugin("sql-lock-hold")
        );
        let ended = lab.run(&migrate(&lab, &verifier)).expect("loads");
        let text = ended.text();
        // The target's rollback had to write to the database the verifier locked.
        assert_eq!(ended.phase, Phase::RolledBack, "{mode}: {text}");
        let line = text.lines().find(|l| l.contains(stopper)).unwrap_or_else(|| panic!("no {stopper:?} in:\n{text}"));
        println!("sql-lock-hold ({mode}): stopped by: {line}; the target's rollback then wrote");
        for shard in ["shards/shard-1.db", "shards/shard-2.db"] {
            let c = Connection::open(lab.path(shard)).unwrap();
            let accounts: i64 =
                c.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'accounts'", [], |r| r.get(0)).unwrap();
            assert_eq!(accounts, 0, "{mode}: {shard} was not rolled back");
            // And nobody holds a lock now.
            c.execute_batch("BEGIN EXCLUSIVE; COMMIT").unwrap();
        }
        lab.assert_next_rollout_runs();
    }
}

#[test]
fn an_endless_query_is_stopped_at_the_call_deadline() {
    let mut lab = lab();
    for technique in ["recursive", "batch", "cross-join"] {
        let started = Instant::now();
        verifier_attack(
            &mut lab,
            "sql-forever",
            &format!("{{ database = \"shards/shard-1\", technique = \"{technique}\" }}\ntimeout_seconds = 0.5"),
            "time limit",
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{technique}: took {:?}", started.elapsed());
    }
}

/// The most memory this process has held so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn huge_values_are_refused_before_the_host_holds_them() {
    let mut lab = lab();
    let before = peak_rss();
    let rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)";
    for (query, stopper) in [
        ("SELECT zeroblob(400000000)".to_string(), "SQLITE_LIMIT_LENGTH"),
        ("SELECT randomblob(400000000), randomblob(400000000)".to_string(), "SQLITE_LIMIT_LENGTH"),
        ("SELECT upper(hex(randomblob(300000000)))".to_string(), "SQLITE_LIMIT_LENGTH"),
        (format!("{rows} SELECT group_concat(hex(zeroblob(1000000))) FROM n"), "SQLITE_LIMIT_LENGTH"),
        (format!("{rows} SELECT zeroblob(8000000) FROM n"), "MAX_SQL_RESULT_BYTES"),
        (format!("{rows} SELECT i, randomblob(1000000), randomblob(1000000) FROM n"), "MAX_SQL_RESULT_BYTES"),
    ] {
        verifier_attack(
            &mut lab,
            "sql-blob-bomb",
            &format!("{{ database = \"shards/shard-1\", query = \"{query}\" }}"),
            stopper,
        );
    }
    let grew = peak_rss().saturating_sub(before);
    println!("sql-blob-bomb: the host's peak memory grew by {} MiB", grew >> 20);
    assert!(grew < 256 << 20, "the host's peak memory grew by {} MiB", grew >> 20);
}

#[test]
fn a_connection_the_spec_does_not_grant_is_denied_at_run_time_too() {
    // `validate`, `plan` and `run` refuse this spec (sql-check declares sql, nothing grants it:
    // rollout::preflight); a library caller that skips the preflight still gets no database, since
    // the sandbox gives only the intersection of what is declared and granted.
    let mut lab = lab();
    let kept = victims(&lab, &["shards/shard-1.db", "shards/shard-2.db"]);
    let check = "plugin = \"sql-check\"\n\
                 config = { connection = \"shards\", checks = [{ name = \"count\", query = \"SELECT COUNT(*) FROM orders\", expect = \"100\" }] }";
    let spec = lab.compose(None, None, Some(check), CONNECTIONS);
    let ended = lab.run(&spec).expect("the library loads it");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "an ungranted verifier never passes:\n{text}");
    assert!(text.contains("connection \"shards\" is not granted") && text.contains("grants.sql"), "{text}");
    kept.assert_unchanged();
    lab.assert_next_rollout_runs();
}
