//! The `sql` host as a plugin meets it, on real SQLite files: what a grant reaches, what a read-only
//! grant may do, and the time and byte limits. One behaviour per test.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::*;
use crate::runtime::bindings::ErrorKind;
use crate::runtime::grants::SqlSource;

const SECOND: Duration = Duration::from_secs(1);
const MIB: usize = 1 << 20;

/// A host for plugin `p` granted `shards` = a.db and b.db in `dir`.
fn host_with(dir: &Path, read_only: bool, timeout: Duration, memory: usize) -> SqlHost {
    let conn = SqlConnection {
        name: "shards".into(),
        source: SqlSource::Sqlite(vec![("a".into(), dir.join("a.db")), ("b".into(), dir.join("b.db"))]),
        read_only,
    };
    let mut h = SqlHost::new(Arc::from("p"), Arc::new(vec![conn]), timeout, memory);
    h.begin_call();
    h
}

fn host(dir: &Path) -> SqlHost {
    host_with(dir, false, 5 * SECOND, 64 * MIB)
}

/// A host with a read-only grant on a.db, which holds table t (indexed) with rows 1 and 2.
fn reader(dir: &Path) -> SqlHost {
    let mut w = host(dir);
    w.execute_batch("shards/a", "CREATE TABLE t (x); CREATE INDEX t_x ON t (x); INSERT INTO t VALUES (1), (2);")
        .unwrap();
    host_with(dir, true, 5 * SECOND, 64 * MIB)
}

fn count(h: &mut SqlHost, db: &str, sql: &str) -> i64 {
    match h.query(db, sql, vec![]).unwrap().rows[0][0] {
        Value::Integer(n) => n,
        ref other => panic!("not a count: {other:?}"),
    }
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, WitPluginError>, needle: &str) -> String {
    let err = result.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Denied, "{}", err.message);
    assert!(err.message.contains(needle), "no {needle:?} in: {}", err.message);
    err.message
}

#[test]
fn granted_databases_are_listed_and_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    assert_eq!(h.databases("shards").unwrap(), vec!["shards/a", "shards/b"]);
    h.execute_batch("shards/a", "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);").unwrap();
    let n = h.execute("shards/a", "INSERT INTO t VALUES (?1)", vec![Value::Integer(3)]).unwrap();
    assert_eq!(n, 1);
    let rows = h.query("shards/a", "SELECT SUM(x) AS s FROM t", vec![]).unwrap();
    assert_eq!(rows.columns, vec!["s"]);
    assert!(matches!(rows.rows[0][0], Value::Integer(6)));
}

#[test]
fn an_ungranted_connection_is_denied_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    refused(h.query("billing/main", "SELECT 1", vec![]), "grants.sql = [\"billing\"]");
    assert!(h.databases("billing").is_err());
    // `dialect-of` answers only for a granted connection: it says nothing of the others.
    refused(h.dialect("billing/main"), "grants.sql = [\"billing\"]");
    assert!(matches!(h.dialect("shards/a"), Ok(Dialect::Sqlite)));
}

#[test]
fn an_open_transaction_is_rolled_back_at_the_end_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    h.execute_batch("shards/a", "CREATE TABLE t (x)").unwrap();
    h.begin("shards/a").unwrap();
    h.execute("shards/a", "INSERT INTO t VALUES (1)", vec![]).unwrap();
    assert_eq!(h.end_call(), vec!["shards/a".to_string()]);
    h.begin_call();
    assert_eq!(count(&mut h, "shards/a", "SELECT COUNT(*) FROM t"), 0);
}

#[test]
fn a_corrupt_database_is_a_conflict_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.db"), vec![7u8; 4096]).unwrap();
    let mut h = host(dir.path());
    let err = h.query("shards/b", "SELECT 1 FROM sqlite_master", vec![]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{}", err.message);
    assert!(err.message.contains("shards/b"), "{}", err.message);
}

#[test]
fn a_lock_wait_is_retryable_and_cut_to_the_call_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host_with(dir.path(), false, Duration::from_millis(300), 64 * MIB);
    h.execute_batch("shards/a", "CREATE TABLE t (x)").unwrap();
    let other = Connection::open(dir.path().join("a.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let err = h.execute("shards/a", "INSERT INTO t VALUES (1)", vec![]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{}", err.message);
    assert!(err.retryable);
    assert!(started.elapsed() < SECOND, "waited {:?}, past the 300 ms call", started.elapsed());
}

#[test]
fn attaching_any_database_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    Connection::open(dir.path().join("state.db")).unwrap().execute_batch("CREATE TABLE rollouts (x)").unwrap();
    let victim = std::fs::read(dir.path().join("state.db")).unwrap();
    let mut h = host(&shards);
    for (i, statement) in [
        "ATTACH DATABASE '../state.db' AS s",
        "ATTACH '{dir}/state.db' AS s",
        "/* hi */ aTTach\n\t'{dir}/state.db'   As s",
        "ATTACH 'new.db' AS n",
        "ATTACH 'file:../state.db?mode=rw' AS s",
        "ATTACH 'file:stolen.db?mode=rwc&vfs=unix-none' AS s",
        "ATTACH ':memory:' AS m",
        "ATTACH '' AS scratch",
    ]
    .into_iter()
    .enumerate()
    {
        let statement = statement.replace("{dir}", &dir.path().display().to_string());
        let why = match i % 3 {
            0 => refused(h.execute("shards/a", &statement, vec![]), "attach"),
            1 => refused(h.execute_batch("shards/a", &format!("SELECT 1; {statement}; SELECT 2")), "attach"),
            _ => refused(h.query("shards/a", &statement, vec![]), "attach"),
        };
        assert!(why.starts_with("plugin p: SQL statement \"") && why.contains("refused on shards/a"), "{why}");
    }
    assert_eq!(std::fs::read(dir.path().join("state.db")).unwrap(), victim);
    for new in ["new.db", "stolen.db", "file:stolen.db"] {
        assert!(!shards.join(new).exists(), "{new} was created");
    }
}

#[test]
fn a_batch_names_the_statement_that_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    let why = refused(
        h.execute_batch("shards/a", "CREATE TABLE t (x);\n-- and then\nATTACH 'x.db' AS x; SELECT 1"),
        "attaching another database (\"x.db\")",
    );
    assert!(why.contains("SQL statement \"-- and then ATTACH 'x.db' AS x; SELECT 1\""), "{why}");
}

#[test]
fn vacuum_into_is_refused_and_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    for read_only in [false, true] {
        let mut h = if read_only { reader(dir.path()) } else { host(dir.path()) };
        let copy = dir.path().join("copy.db");
        let into = format!("VACUUM INTO '{}'", copy.display());
        refused(h.execute_batch("shards/a", &into), "VACUUM INTO writes a new one");
        refused(h.execute("shards/a", "VACUUM main INTO 'file:copy2.db?mode=rwc'", vec![]), "attaching");
        assert!(!copy.exists());
        // Plain VACUUM attaches a scratch database too: refused, with the reason.
        refused(h.execute_batch("shards/a", "VACUUM"), "VACUUM and ATTACH need another database file");
    }
}

#[test]
fn load_extension_and_fts3_tokenizer_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    refused(
        h.query("shards/a", "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", vec![]),
        "load_extension()",
    );
    refused(h.query("shards/a", "SELECT Load_Extension('x', 'y')", vec![]), "load_extension()");
    refused(h.query("shards/a", "SELECT hex(fts3_tokenizer('simple'))", vec![]), "fts3_tokenizer()");
}

#[test]
fn a_view_or_trigger_cannot_carry_a_denied_function_into_later_statements() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    h.execute_batch(
        "shards/a",
        "CREATE TABLE t (x);
         CREATE VIEW v AS SELECT load_extension('/tmp/evil.so') AS x;
         CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT load_extension('/tmp/evil.so'); END;",
    )
    .unwrap_or_else(|e| panic!("creating them may be refused too, but here they are only text: {}", e.message));
    // A view's body is checked by SQLite's untrusted-schema rule (the authorizer does not see it).
    let why = refused(h.query("shards/a", "SELECT * FROM v", vec![]), "unsafe use of load_extension()");
    assert!(why.contains("trusted_schema is OFF"), "{why}");
    let why = refused(h.execute("shards/a", "INSERT INTO t VALUES (1)", vec![]), "load_extension()");
    assert!(why.contains("inside trigger or view \"tr\""), "{why}");
    // In a verifier's context (read-only) too.
    let mut r = host_with(dir.path(), true, 5 * SECOND, 64 * MIB);
    refused(r.query("shards/a", "SELECT * FROM v", vec![]), "load_extension()");
}

#[test]
fn a_read_only_grant_cannot_change_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path());
    let before = std::fs::read(dir.path().join("a.db")).unwrap();
    for statement in [
        "INSERT INTO t VALUES (3)",
        "/**/iNsErT/**/INTO t VALUES (3)",
        "REPLACE INTO t VALUES (3)",
        "UPDATE t SET x = 0",
        "DELETE FROM t",
        "DROP TABLE t",
        "CREATE TABLE u (y)",
        "CREATE TEMP TABLE u (y)",
        "CREATE INDEX i ON t (x)",
        "ALTER TABLE t ADD COLUMN y",
        "PRAGMA query_only = OFF",
        "PRAGMA user_version = 9",
        "PRAGMA journal_mode = WAL",
        "PRAGMA wal_checkpoint(TRUNCATE)",
        "PRAGMA optimize",
        "ANALYZE",
        "REINDEX",
    ] {
        refused(h.execute("shards/a", statement, vec![]), "read-only");
        refused(h.execute_batch("shards/a", &format!("SELECT 1;\n{statement};")), "read-only");
    }
    assert_eq!(count(&mut h, "shards/a", "SELECT COUNT(*) FROM t"), 2);
    assert_eq!(std::fs::read(dir.path().join("a.db")).unwrap(), before);
}

#[test]
fn a_read_only_grant_reads_reports_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path());
    let ok = h.query("shards/a", "PRAGMA integrity_check", vec![]).unwrap();
    assert!(matches!(&ok.rows[0][0], Value::Text(t) if t == "ok"));
    assert_eq!(count(&mut h, "shards/a", "SELECT COUNT(*) FROM pragma_table_info('t')"), 1);
    assert_eq!(count(&mut h, "shards/a", "PRAGMA user_version"), 0);
    h.query("shards/a", "PRAGMA journal_mode", vec![]).unwrap();
    h.query("shards/a", "PRAGMA foreign_key_check", vec![]).unwrap();
    // A database that does not exist is not created for a reader.
    let err = h.query("shards/b", "SELECT 1", vec![]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{}", err.message);
    assert!(err.message.contains("read-only: it must already exist"), "{}", err.message);
    assert!(!dir.path().join("b.db").exists());
}

#[test]
fn a_read_only_grant_reads_a_wal_database_a_target_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = host(dir.path());
    w.execute_batch("shards/a", "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
    let mut r = host_with(dir.path(), true, 5 * SECOND, 64 * MIB);
    assert_eq!(count(&mut r, "shards/a", "SELECT COUNT(*) FROM t"), 1);
    w.execute("shards/a", "INSERT INTO t VALUES (2)", vec![]).unwrap();
    assert_eq!(count(&mut r, "shards/a", "SELECT COUNT(*) FROM t"), 2);
    refused(r.execute("shards/a", "PRAGMA wal_checkpoint", vec![]), "read-only");
}

#[test]
fn a_pragma_function_cannot_set_what_the_pragma_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path());
    for q in ["SELECT * FROM pragma_user_version(9)", "SELECT * FROM pragma_query_only(0)"] {
        // Refused by the authorizer, or not a function SQLite offers: either way nothing changes.
        assert!(h.query("shards/a", q, vec![]).is_err(), "{q}");
    }
    assert_eq!(count(&mut h, "shards/a", "PRAGMA query_only"), 1);
    refused(h.execute("shards/a", "INSERT INTO t VALUES (3)", vec![]), "read-only");
}

#[test]
fn a_read_snapshot_ends_with_the_call_and_blocks_no_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = reader(dir.path());
    h.begin("shards/a").unwrap();
    assert_eq!(count(&mut h, "shards/a", "SELECT COUNT(*) FROM t"), 2);
    refused(h.execute("shards/a", "PRAGMA locking_mode = EXCLUSIVE", vec![]), "read-only");
    assert_eq!(h.end_call(), vec!["shards/a".to_string()]);
    let writer = Connection::open(dir.path().join("a.db")).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (3); COMMIT").expect("no lock outlived the call");
}

#[test]
fn a_target_cannot_weaken_durability_or_lock_past_its_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    h.execute_batch("shards/a", "CREATE TABLE t (x)").unwrap();
    for statement in [
        "PRAGMA journal_mode = OFF",
        "PRAGMA main.journal_mode = 'memory'",
        "PRAGMA synchronous = 0",
        "pragma SYNCHRONOUS=off",
        "PRAGMA writable_schema = ON",
        "PRAGMA writable_schema = 1",
        "PRAGMA locking_mode = EXCLUSIVE",
        "PRAGMA schema_version = 99",
        "PRAGMA cache_size = -100000000",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA busy_timeout = 600000",
        "PRAGMA temp_store_directory = '/tmp'",
    ] {
        refused(h.execute_batch("shards/a", statement), "PRAGMA");
    }
    // The pragma's table-valued form takes a schema name, not a value.
    assert!(h.query("shards/a", "SELECT * FROM pragma_journal_mode('off')", vec![]).is_err());
    assert!(
        h.execute("shards/a", "UPDATE sqlite_master SET sql = 'x'", vec![]).is_err(),
        "the schema table is not data"
    );
    let mode = h.query("shards/a", "PRAGMA journal_mode", vec![]).unwrap();
    assert!(matches!(&mode.rows[0][0], Value::Text(m) if m == "delete"), "{mode:?}");
    h.execute_batch("shards/a", "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF")
        .unwrap();
}

#[test]
fn a_migration_still_runs_under_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    h.begin("shards/a").unwrap();
    h.execute_batch(
        "shards/a",
        "CREATE TABLE c (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
         INSERT INTO c (id, name) SELECT i, 'c' || i FROM n;
         ALTER TABLE c ADD COLUMN email TEXT;
         UPDATE c SET email = 'c' || id || '@example.com';
         CREATE INDEX c_by_email ON c (email);
         CREATE VIEW named AS SELECT name FROM c;
         CREATE TRIGGER keep AFTER DELETE ON c BEGIN SELECT 1; END;
         DROP INDEX c_by_email;
         ALTER TABLE c DROP COLUMN email;",
    )
    .unwrap();
    h.commit("shards/a").unwrap();
    assert_eq!(count(&mut h, "shards/a", "SELECT COUNT(*) FROM named"), 200);
}

#[test]
fn a_query_that_runs_forever_is_stopped_at_the_call_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    for via in ["query", "batch", "reader"] {
        let mut h = host_with(dir.path(), via == "reader", Duration::from_millis(200), 64 * MIB);
        if via != "reader" {
            h.execute_batch("shards/a", "SELECT 1").unwrap();
        }
        let started = Instant::now();
        let result = match via {
            "batch" => h.execute_batch("shards/a", forever).map(|_| ()),
            _ => h.query("shards/a", forever, vec![]).map(|_| ()),
        };
        let why = refused(result, "was stopped after the plugin's 0.2s time limit");
        assert!(why.contains("WITH RECURSIVE"), "{why}");
        let took = started.elapsed();
        assert!(took < Duration::from_millis(400), "{via}: stopped only after {took:?}");
        // The next call gets its own time.
        h.end_call();
        h.begin_call();
        assert_eq!(count(&mut h, "shards/a", "SELECT 1"), 1);
    }
}

#[test]
fn a_huge_value_is_refused_by_sqlite_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    for q in ["SELECT zeroblob(400000000)", "SELECT randomblob(400000000)", "SELECT upper(hex(randomblob(300000000)))"]
    {
        refused(h.query("shards/a", q, vec![]), "the limit on one SQL value (SQLITE_LIMIT_LENGTH)");
    }
    refused(
        h.execute("shards/a", "CREATE TABLE big AS SELECT zeroblob(400000000) AS b", vec![]),
        "SQLITE_LIMIT_LENGTH",
    );
    // printf gives up quietly past the limit: nothing large is made either.
    let rows = h.query("shards/a", "SELECT printf('%.*c', 400000000, 'x')", vec![]).unwrap();
    assert!(matches!(rows.rows[0][0], Value::Null), "{rows:?}");
}

#[test]
fn a_result_is_bounded_in_bytes_while_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // Rows of values each under the value limit, together over the result limit.
    let mut h = host(dir.path());
    let many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
                SELECT zeroblob(1000000), randomblob(1000000) FROM n";
    let why = refused(h.query("shards/a", many, vec![]), "more than 16777216 bytes");
    assert!(why.contains("MAX_SQL_RESULT_BYTES"), "{why}");
    // A plugin with less memory gets a smaller limit.
    let mut small = host_with(dir.path(), false, 5 * SECOND, 4 * MIB);
    refused(small.query("shards/a", "SELECT zeroblob(5000000)", vec![]), "SQLITE_LIMIT_LENGTH");
    refused(small.query("shards/a", many, vec![]), "more than 4194304 bytes");
    assert_eq!(small.query("shards/a", "SELECT zeroblob(1000000)", vec![]).unwrap().rows.len(), 1);
}

#[test]
fn a_statement_longer_than_the_limit_is_refused_before_it_is_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = host(dir.path());
    let long = format!("SELECT '{}'", "x".repeat(MAX_SQL_STATEMENT_BYTES));
    refused(h.query("shards/a", &long, vec![]), "MAX_SQL_STATEMENT_BYTES");
    refused(h.execute_batch("shards/a", &long), "MAX_SQL_STATEMENT_BYTES");
}

#[test]
fn idle_databases_are_closed_past_the_open_limit_and_transactions_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let n = MAX_OPEN_SQL_DATABASES + 2;
    let conn = SqlConnection {
        name: "shards".into(),
        source: SqlSource::Sqlite((0..n).map(|i| (format!("s{i}"), dir.path().join(format!("s{i}.db")))).collect()),
        read_only: false,
    };
    let mut h = SqlHost::new(Arc::from("p"), Arc::new(vec![conn]), 5 * SECOND, 64 * MIB);
    h.begin_call();
    for i in 0..n {
        h.execute_batch(&format!("shards/s{i}"), "CREATE TABLE t (x)").unwrap();
    }
    assert!(h.open.len() <= MAX_OPEN_SQL_DATABASES);
    for i in 0..MAX_OPEN_SQL_DATABASES {
        h.begin(&format!("shards/s{i}")).unwrap();
    }
    refused(h.begin(&format!("shards/s{}", n - 1)), "MAX_OPEN_SQL_DATABASES");
    assert_eq!(h.end_call().len(), MAX_OPEN_SQL_DATABASES);
}
