//! The store's schema and its migrations, versioned by SQLite's `user_version`.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Each entry migrates from schema version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
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
    super::deliveries::MIGRATION,
    // 2 -> 3: API tokens, by the sha256 of their value (`tokens.rs`).
    r#"
CREATE TABLE tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
"#,
];

pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    // A store already at this schema is left untouched: read-only commands (`status`, `list`) must
    // never write, or they would contend with the runner for the write lock.
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    if current == MIGRATIONS.len() as i64 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::NewerSchema { path: path.to_path_buf(), found: version, known });
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql).map_err(err)?;
    }
    tx.pragma_update(None, "user_version", known).map_err(err)?;
    tx.commit().map_err(err)
}
