//! The store's schema and its migrations, one list per dialect with the same numbering: schema N is
//! the same tables on SQLite (versioned by its `user_version`) and on PostgreSQL (versioned in the
//! `upshift_schema` table). Migrations run in one write transaction, under the store's write lock,
//! so two processes opening a new store at once migrate it once.
//!
//! PostgreSQL's tables carry a `rowid` column (`BIGSERIAL`) standing for SQLite's implicit one, so
//! the queries that order by insertion are the same on both.

use super::db::{Db, DbError, Dialect};

/// Each entry migrates a SQLite store from schema version `index` to `index + 1`.
const SQLITE: &[&str] = &[
    r#"
CREATE TABLE rollouts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    spec_path   TEXT NOT NULL,
    spec        TEXT NOT NULL,
    plan        TEXT NOT NULL,
    state       TEXT NOT NULL,
    phase       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    runner_pid  INTEGER,
    timer_issued INTEGER,
    timer_due   INTEGER
);
CREATE INDEX rollouts_by_name ON rollouts (name);
CREATE TABLE journal (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    event       TEXT,
    from_phase  TEXT,
    to_phase    TEXT,
    stage       INTEGER,
    message     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX journal_by_rollout ON journal (rollout_id, seq);
CREATE TABLE plugin_state (
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    plugin      TEXT NOT NULL,
    entries     TEXT NOT NULL,
    PRIMARY KEY (rollout_id, plugin)
);
"#,
    // 1 -> 2: the webhook queue (`deliveries.rs`).
    super::deliveries::SQLITE_MIGRATION,
    // 2 -> 3: API tokens, by the sha256 of their value (`tokens.rs`).
    r#"
CREATE TABLE tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
"#,
    // 3 -> 4: runner leases with a fencing epoch and an expiry (`lease.rs`); `runner_pid` is no
    // longer read.
    r#"
ALTER TABLE rollouts ADD COLUMN lease_holder TEXT;
ALTER TABLE rollouts ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollouts ADD COLUMN lease_expires INTEGER;
"#,
    // 4 -> 5: the controller's scan of the rollouts that have not ended (`Store::unended`) reads this
    // small index alone, not every rollout's row with its spec and plan (a 4 KiB page each).
    SQLITE_UNENDED_INDEX,
    // 5 -> 6: a rollout's spec and plan (written once, about 3 KB) move to a table of their own, so
    // that a transition's update rewrites a small row, not the documents with it.
    ROLLOUT_DOCS,
];

/// Schema 6: spec and plan out of the rollout's row (the same SQL on both dialects).
const ROLLOUT_DOCS: &str = "
CREATE TABLE rollout_docs (
    id    TEXT PRIMARY KEY REFERENCES rollouts (id),
    spec  TEXT NOT NULL,
    plan  TEXT NOT NULL
);
INSERT INTO rollout_docs (id, spec, plan) SELECT id, spec, plan FROM rollouts;
ALTER TABLE rollouts DROP COLUMN spec;
ALTER TABLE rollouts DROP COLUMN plan;
";

/// Schema 5's index of the rollouts under way (SQLite; `rowid` is implied at the end).
pub(super) const SQLITE_UNENDED_INDEX: &str = "
CREATE INDEX rollouts_unended ON rollouts (created_at, id, phase, version, lease_holder, lease_epoch, lease_expires)
    WHERE phase NOT IN ('succeeded', 'rolled-back', 'failed');
";

/// Each entry migrates a PostgreSQL store from schema version `index` to `index + 1`.
const POSTGRES: &[&str] = &[
    r#"
CREATE TABLE rollouts (
    rowid       BIGSERIAL UNIQUE,
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    spec_path   TEXT NOT NULL,
    spec        TEXT NOT NULL,
    plan        TEXT NOT NULL,
    state       TEXT NOT NULL,
    phase       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    runner_pid  BIGINT,
    timer_issued BIGINT,
    timer_due   BIGINT
);
CREATE INDEX rollouts_by_name ON rollouts (name);
CREATE TABLE journal (
    seq         BIGSERIAL PRIMARY KEY,
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    event       TEXT,
    from_phase  TEXT,
    to_phase    TEXT,
    stage       BIGINT,
    message     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX journal_by_rollout ON journal (rollout_id, seq);
CREATE TABLE plugin_state (
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    plugin      TEXT NOT NULL,
    entries     TEXT NOT NULL,
    PRIMARY KEY (rollout_id, plugin)
);
"#,
    super::deliveries::POSTGRES_MIGRATION,
    r#"
CREATE TABLE tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
"#,
    r#"
ALTER TABLE rollouts ADD COLUMN lease_holder TEXT, ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN lease_expires BIGINT;
"#,
    r#"
CREATE INDEX rollouts_unended ON rollouts (created_at, rowid, id, phase, version, lease_holder, lease_epoch, lease_expires)
    WHERE phase NOT IN ('succeeded', 'rolled-back', 'failed');
"#,
    ROLLOUT_DOCS,
];

/// Why a store's schema cannot be used.
#[derive(Debug)]
pub enum SchemaError {
    Db(DbError),
    /// Written by a newer upshift.
    Newer {
        found: i64,
        known: i64,
    },
}

impl From<DbError> for SchemaError {
    fn from(e: DbError) -> Self {
        SchemaError::Db(e)
    }
}

fn migrations(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }
}

/// The store's schema version (0: no schema yet).
pub fn version(db: &mut Db) -> Result<i64, DbError> {
    match db.dialect() {
        Dialect::Sqlite => db.query_opt("PRAGMA user_version", &[])?.map_or(Ok(0), |r| r.int(0)),
        Dialect::Postgres => {
            let exists = db.query_opt("SELECT to_regclass('upshift_schema')::text", &[])?;
            if exists.map(|r| r.opt_text(0)).transpose()?.flatten().is_none() {
                return Ok(0);
            }
            db.query_opt("SELECT version FROM upshift_schema", &[])?.map_or(Ok(0), |r| r.int(0))
        }
    }
}

/// Brings the store's schema up to this upshift's. A store already there is left untouched:
/// read-only commands (`status`, `list`) must never write, or they would contend with the runner for
/// the write lock.
pub fn migrate(db: &mut Db) -> Result<(), SchemaError> {
    let list = migrations(db.dialect());
    let known = list.len() as i64;
    if version(db)? == known {
        return Ok(());
    }
    let dialect = db.dialect();
    let mut tx = db.write()?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let found = match dialect {
        Dialect::Sqlite => tx.query_opt("PRAGMA user_version", &[])?.map_or(Ok(0), |r| r.int(0))?,
        Dialect::Postgres => {
            tx.batch("CREATE TABLE IF NOT EXISTS upshift_schema (version BIGINT NOT NULL)")?;
            tx.query_opt("SELECT version FROM upshift_schema", &[])?.map_or(Ok(0), |r| r.int(0))?
        }
    };
    if found > known {
        return Err(SchemaError::Newer { found, known });
    }
    for sql in &list[found as usize..] {
        tx.batch(sql)?;
    }
    match dialect {
        Dialect::Sqlite => tx.batch(&format!("PRAGMA user_version = {known}"))?,
        Dialect::Postgres => {
            tx.batch("DELETE FROM upshift_schema")?;
            tx.batch(&format!("INSERT INTO upshift_schema (version) VALUES ({known})"))?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_schema_versions() {
        assert_eq!(SQLITE.len(), POSTGRES.len());
    }

    #[test]
    fn a_schema_5_store_keeps_its_rollouts_specs_and_plans_through_the_move_to_rollout_docs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            for sql in &SQLITE[..5] {
                db.execute_batch(sql).unwrap();
            }
            db.execute_batch(
                "PRAGMA user_version = 5;
                 INSERT INTO rollouts (id, name, spec_path, spec, plan, state, phase, version, created_at, updated_at)
                 VALUES ('r-1', 'r', '/r.toml', '{\"spec\":1}', '{\"plan\":1}', '{}', 'baking', 3, 1, 2);",
            )
            .unwrap();
        }
        let store = super::super::Store::open(path.as_path()).unwrap();
        let r = store.rollout("r-1").unwrap();
        assert_eq!(
            (r.spec.as_str(), r.plan.as_str(), r.version, r.phase.as_str()),
            ("{\"spec\":1}", "{\"plan\":1}", 3, "baking")
        );
        assert_eq!(store.list().unwrap().len(), 1);
        let columns: Vec<String> = rusqlite::Connection::open(&path)
            .unwrap()
            .prepare("SELECT name FROM pragma_table_info('rollouts')")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!columns.iter().any(|c| c == "spec" || c == "plan"), "{columns:?}");
    }
}
