//! Target `sql-migrator`: applies versioned migrations to every database (unit) of a granted
//! connection, one transaction per database, recording applied versions in the database itself
//! (`upshift_migrations`, plus an append-only `upshift_migration_log`), so `observe` reports the
//! true live version and a repeated operation is a no-op. A migration without a down script is
//! irreversible: `observe` says so, and the host requires approval before applying it.
//!
//! A rollback undoes only what this rollout did: each version it would revert must have been
//! applied by one of this rollout's own operations (recorded with the version); a database at a
//! version someone else applied, or ahead of `to`, is left as it is and the rollback fails with a
//! conflict naming it.
//!
//! The same on SQLite and PostgreSQL (the host says which, `sql::dialect_of`): DDL is transactional
//! on both, so a migration that fails half-way leaves the database at its old version. On
//! PostgreSQL each migrating transaction first takes a transaction-scoped advisory lock of the
//! database, so two rollouts never migrate one database at once (SQLite's write transaction is
//! exclusive by itself); the second waits, then finds the database already moved.

mod migrations;

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql::{self, Dialect, Value};
use upshift_sdk::{
    Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, clock, log, state,
};

pub use migrations::{Migration, between, from_files, parse_version};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The granted connection whose databases are the units.
    pub connection: String,
    /// The migrations folder as the plugin sees it (a granted folder, e.g. "/migrations").
    pub migrations: String,
}

/// The applied-versions table and the append-only log, on SQLite.
const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS upshift_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL, operation TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upshift_migration_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, direction TEXT NOT NULL,
    version INTEGER NOT NULL, at INTEGER NOT NULL);";

/// The same tables on PostgreSQL.
const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS upshift_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL, operation TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upshift_migration_log (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, operation TEXT NOT NULL, direction TEXT NOT NULL,
    version INTEGER NOT NULL, at BIGINT NOT NULL);";

/// The key of the advisory lock a migrating transaction takes on a PostgreSQL database ("upshift\0"
/// in ASCII). Advisory locks belong to one database, so this locks exactly the one being migrated.
pub const MIGRATION_LOCK_KEY: i64 = 0x7570_7368_6966_7400;

pub struct SqlMigrator;

fn database(config: &Config, unit: &str) -> String {
    format!("{}/{unit}", config.connection)
}

/// A granted database and the SQL it speaks.
struct Db {
    name: String,
    dialect: Dialect,
}

impl Db {
    fn open(name: String) -> Result<Db, PluginError> {
        let dialect = sql::dialect_of(&name)?;
        Ok(Db { name, dialect })
    }

    /// `text` with its `?N` parameters written as this database's (`$N` on PostgreSQL).
    fn speak(&self, text: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => text.to_string(),
            Dialect::Postgres => text.replace('?', "$"),
        }
    }

    fn execute(&self, text: &str, params: &[Value]) -> Result<u64, PluginError> {
        sql::execute(&self.name, &self.speak(text), params)
    }

    fn query_value(&self, text: &str, params: &[Value]) -> Result<Option<Value>, PluginError> {
        sql::query_value(&self.name, &self.speak(text), params)
    }

    /// Starts a migrating transaction's work: on PostgreSQL the database's migration lock, waited
    /// for (a lock wait past the host's limit fails as retryable), then the tables.
    fn prepare(&self) -> Result<(), PluginError> {
        match self.dialect {
            Dialect::Sqlite => sql::execute_batch(&self.name, SQLITE_SCHEMA),
            Dialect::Postgres => {
                sql::execute(&self.name, "SELECT pg_advisory_xact_lock($1)", &[Value::Integer(MIGRATION_LOCK_KEY)])?;
                sql::execute_batch(&self.name, POSTGRES_SCHEMA)
            }
        }
    }
}

/// The version recorded in `db` (0 when nothing was ever applied). Reads only.
fn version_of(db: &Db) -> Result<u32, PluginError> {
    let tracked = match db.dialect {
        Dialect::Sqlite => db.query_value(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'upshift_migrations'",
            &[],
        )?,
        Dialect::Postgres => db.query_value("SELECT to_regclass('upshift_migrations') IS NOT NULL", &[])?,
    };
    if tracked.and_then(|v| v.as_f64()) != Some(1.0) {
        return Ok(0);
    }
    let v = db.query_value("SELECT COALESCE(MAX(version), 0) FROM upshift_migrations", &[])?;
    Ok(v.and_then(|v| v.as_f64()).unwrap_or(0.0) as u32)
}

/// The operation recorded as having applied `version` to `db`, if any.
fn applied_by(db: &Db, version: u32) -> Result<Option<String>, PluginError> {
    let v = db.query_value(
        "SELECT operation FROM upshift_migrations WHERE version = ?1",
        &[Value::Integer(version.into())],
    )?;
    Ok(v.and_then(|v| match v {
        Value::Text(t) => Some(t),
        _ => None,
    }))
}

fn moved_key(unit: &str) -> String {
    format!("moved/{unit}")
}

fn record(db: &Db, op: &Operation, direction: &str, m: &Migration) -> Result<(), PluginError> {
    let now = Value::Integer(clock::now_millis() as i64);
    db.execute(
        "INSERT INTO upshift_migration_log (operation, direction, version, at) VALUES (?1, ?2, ?3, ?4)",
        &[Value::Text(op.id.clone()), Value::Text(direction.into()), Value::Integer(m.version.into()), now],
    )?;
    Ok(())
}

/// Moves one database from `from` to `to` (up) in one transaction; a no-op when it is already there.
fn migrate_up(op: &Operation, db: &Db, all: &[Migration], from: u32, to: u32) -> Result<bool, PluginError> {
    sql::transaction(&db.name, || {
        db.prepare()?;
        let current = version_of(db)?;
        if current == to {
            return Ok(false);
        }
        if current != from {
            return Err(PluginError::conflict(format!(
                "{} is at version {current}, expected {from} (or {to}): it drifted; repair it or change `from`",
                db.name
            )));
        }
        for m in between(all, from, to) {
            sql::execute_batch(&db.name, &m.up).map_err(|e| PluginError {
                message: format!("migration {:04}_{} on {}: {}", m.version, m.name, db.name, e.message),
                ..e
            })?;
            db.execute(
                "INSERT INTO upshift_migrations (version, name, applied_at, operation) VALUES (?1, ?2, ?3, ?4)",
                &[
                    Value::Integer(m.version.into()),
                    Value::Text(m.name.clone()),
                    Value::Integer(clock::now_millis() as i64),
                    Value::Text(op.id.clone()),
                ],
            )?;
            record(db, op, "up", m)?;
        }
        Ok(true)
    })
}

/// Moves one database from `to` back to `from` in one transaction; a no-op when it is at `from`.
fn migrate_down(op: &Operation, db: &Db, all: &[Migration], from: u32, to: u32) -> Result<bool, PluginError> {
    sql::transaction(&db.name, || {
        db.prepare()?;
        let current = version_of(db)?;
        if current == from {
            return Ok(false);
        }
        if current > to {
            return Err(PluginError::conflict(format!(
                "{} is at version {current}, ahead of {to}: this rollout did not put it there; left as is",
                db.name
            )));
        }
        let undo = between(all, from, current);
        for m in &undo {
            let by = applied_by(db, m.version)?;
            if !by.as_deref().is_some_and(|by| by.starts_with(&format!("{}/", op.rollout_id))) {
                return Err(PluginError::conflict(format!(
                    "{}: migration {:04}_{} was applied by {}, not by this rollout ({}); left at version {current}",
                    db.name,
                    m.version,
                    m.name,
                    by.as_deref().unwrap_or("an unknown operation"),
                    op.rollout_id
                )));
            }
        }
        for m in undo.into_iter().rev() {
            let Some(down) = &m.down else {
                return Err(PluginError::conflict(format!(
                    "migration {:04}_{} has no down script (irreversible): {} stays at version {current}",
                    m.version, m.name, db.name
                )));
            };
            sql::execute_batch(&db.name, down).map_err(|e| PluginError {
                message: format!("undoing {:04}_{} on {}: {}", m.version, m.name, db.name, e.message),
                ..e
            })?;
            db.execute("DELETE FROM upshift_migrations WHERE version = ?1", &[Value::Integer(m.version.into())])?;
            record(db, op, "down", m)?;
        }
        Ok(true)
    })
}

fn versions(op: &Operation) -> Result<(u32, u32), PluginError> {
    Ok((parse_version(&op.from_version)?, parse_version(&op.to_version)?))
}

/// Each unit's version, spelled as the spec spells `from` and `to` when it is one of them (the host
/// compares versions as text), else as its number.
fn unit_versions(config: &Config, units: &[String], from: &str, to: &str) -> Vec<UnitVersion> {
    let spelled = |v: u32| {
        [from, to]
            .into_iter()
            .find(|text| parse_version(text).ok() == Some(v))
            .map_or_else(|| v.to_string(), str::to_string)
    };
    units
        .iter()
        .map(|u| UnitVersion {
            unit: u.clone(),
            version: Db::open(database(config, u)).and_then(|db| version_of(&db)).ok().map(spelled),
        })
        .collect()
}

impl Target for SqlMigrator {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "sql-migrator".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "versioned SQL migrations, one transaction per database".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec!["a migration without a down script cannot be rolled back".into()],
            },
        }
    }

    fn observe(config: &Config, from: String, to: String) -> Result<Observation, PluginError> {
        let (from_text, to_text) = (from.clone(), to.clone());
        let all = migrations::read(&config.migrations)?;
        let (from, to) = (parse_version(&from)?, parse_version(&to)?);
        if to > from && !all.iter().any(|m| m.version == to) {
            return Err(PluginError::invalid_config(format!("no migration numbered {to} in {}", config.migrations)));
        }
        let prefix = format!("{}/", config.connection);
        let units: Vec<String> = sql::databases(&config.connection)?
            .into_iter()
            .map(|d| d.trim_start_matches(&prefix).to_string())
            .collect();
        let irreversible = between(&all, from, to)
            .into_iter()
            .filter(|m| m.down.is_none())
            .map(|m| format!("migration {:04}_{} has no down script", m.version, m.name))
            .collect();
        Ok(Observation { units: unit_versions(config, &units, &from_text, &to_text), weight: None, irreversible })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let all = migrations::read(&config.migrations)?;
        let (from, to) = versions(&op)?;
        let mut migrated = 0;
        for unit in &op.units {
            let db = Db::open(database(config, unit))?;
            if migrate_up(&op, &db, &all, from, to)? {
                migrated += 1;
                log::emit(log::Level::Info, &format!("{}: {from} → {to}", db.name), &[("operation", &op.id)]);
            }
            state::set(&moved_key(unit), &op.id)?;
        }
        Ok(Change {
            message: format!("{migrated} of {} databases migrated to {to}", op.units.len()),
            weight: None,
            units: unit_versions(config, &op.units, &op.from_version, &op.to_version),
        })
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let all = migrations::read(&config.migrations)?;
        let (from, to) = versions(&op)?;
        let mut undone = 0;
        // Databases that cannot be rolled back by this rollout; every other one still is.
        let mut refused = Vec::new();
        for unit in &op.units {
            let db = database(config, unit);
            let moved = state::get(&moved_key(unit)).is_some();
            match Db::open(db.clone()).and_then(|db| migrate_down(&op, &db, &all, from, to)) {
                Ok(changed) => undone += usize::from(changed),
                // A database this rollout never moved and cannot even read (corrupt) has nothing to undo.
                Err(e) if !moved && e.kind == upshift_sdk::ErrorKind::Conflict && e.message.contains("corrupt") => {
                    log::emit(log::Level::Warn, &format!("{db}: never migrated and unreadable; left as is"), &[]);
                    continue;
                }
                Err(e) if e.kind == upshift_sdk::ErrorKind::Conflict => {
                    refused.push(e.message);
                    continue;
                }
                Err(e) => return Err(e),
            }
            state::remove(&moved_key(unit));
        }
        if !refused.is_empty() {
            return Err(PluginError::conflict(format!(
                "{undone} of {} databases back at {from}; not rolled back: {}",
                op.units.len(),
                refused.join("; ")
            )));
        }
        Ok(Change {
            message: format!("{undone} of {} databases back at {from}", op.units.len()),
            weight: None,
            units: unit_versions(config, &op.units, &op.from_version, &op.to_version),
        })
    }

    fn finalize(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let (_, to) = versions(&op)?;
        let units = unit_versions(config, &op.units, &op.from_version, &op.to_version);
        let behind: Vec<&str> = units
            .iter()
            .filter(|u| u.version.as_deref() != Some(op.to_version.as_str()))
            .map(|u| u.unit.as_str())
            .collect();
        if !behind.is_empty() {
            return Err(PluginError::conflict(format!("not at version {to}: {}", behind.join(", "))));
        }
        Ok(Change { message: format!("all {} databases at version {to}", units.len()), weight: None, units })
    }
}

upshift_sdk::export_target!(SqlMigrator);
upshift_sdk::capabilities!(sql, files);
