//! The host side of the `sql` import: databases of the connections granted to a plugin, opened on
//! first use with rusqlite. Anything not granted is refused with `denied`; a transaction left open
//! at the end of a call is rolled back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::bindings::target::upshift::plugin::sql::{Rows, Value};
use super::bindings::{ErrorKind, WitPluginError};
use super::grants::SqlConnection;

/// How long a statement waits for a locked database before failing with a retryable error. Short:
/// the engine retries with backoff, and a plugin call has its own deadline.
pub const SQL_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Most rows one query may return to a plugin.
pub const MAX_SQL_ROWS: usize = 10_000;

/// One plugin's view of its granted databases.
pub struct SqlHost {
    plugin: Arc<str>,
    connections: Arc<Vec<SqlConnection>>,
    open: HashMap<String, Connection>,
}

fn error(kind: ErrorKind, message: String, retryable: bool) -> WitPluginError {
    WitPluginError { kind, message, retryable }
}

impl SqlHost {
    pub fn new(plugin: Arc<str>, connections: Arc<Vec<SqlConnection>>) -> Self {
        SqlHost { plugin, connections, open: HashMap::new() }
    }

    fn connection(&self, name: &str) -> Result<&SqlConnection, WitPluginError> {
        self.connections.iter().find(|c| c.name == name).ok_or_else(|| {
            error(
                ErrorKind::Denied,
                format!(
                    "connection {name:?} is not granted to plugin {}; grant it in the spec with `grants.sql = [\"{name}\"]`",
                    self.plugin
                ),
                false,
            )
        })
    }

    pub fn databases(&self, connection: &str) -> Result<Vec<String>, WitPluginError> {
        let c = self.connection(connection)?;
        Ok(c.databases.iter().map(|(db, _)| format!("{}/{db}", c.name)).collect())
    }

    /// The open connection to `database` (`connection/database`), opening it on first use.
    fn db(&mut self, database: &str) -> Result<&mut Connection, WitPluginError> {
        if !self.open.contains_key(database) {
            let (group, name) = database.split_once('/').ok_or_else(|| {
                error(
                    ErrorKind::InvalidConfig,
                    format!("database {database:?} is not of the form connection/database"),
                    false,
                )
            })?;
            let c = self.connection(group)?;
            let path = c.databases.iter().find(|(db, _)| db == name).map(|(_, p)| p.clone()).ok_or_else(|| {
                error(ErrorKind::InvalidConfig, format!("connection {group:?} has no database {name:?}"), false)
            })?;
            // The spec declares where its databases live; their folder may not exist yet.
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    error(ErrorKind::Unavailable, format!("cannot create the folder of {database}: {e}"), false)
                })?;
            }
            let conn = Connection::open(&path).map_err(|e| classify(database, e))?;
            conn.busy_timeout(SQL_BUSY_TIMEOUT).map_err(|e| classify(database, e))?;
            self.open.insert(database.to_string(), conn);
        }
        self.open
            .get_mut(database)
            .ok_or_else(|| error(ErrorKind::Internal, format!("database {database} vanished"), false))
    }

    pub fn execute(&mut self, database: &str, statement: &str, params: Vec<Value>) -> Result<u64, WitPluginError> {
        let params: Vec<SqlValue> = params.into_iter().map(to_sql).collect();
        let db = self.db(database)?;
        db.execute(statement, rusqlite::params_from_iter(params)).map(|n| n as u64).map_err(|e| classify(database, e))
    }

    pub fn execute_batch(&mut self, database: &str, script: &str) -> Result<(), WitPluginError> {
        self.db(database)?.execute_batch(script).map_err(|e| classify(database, e))
    }

    pub fn query(&mut self, database: &str, statement: &str, params: Vec<Value>) -> Result<Rows, WitPluginError> {
        let params: Vec<SqlValue> = params.into_iter().map(to_sql).collect();
        let db = self.db(database)?;
        let mut stmt = db.prepare(statement).map_err(|e| classify(database, e))?;
        let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
        let width = columns.len();
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(|e| classify(database, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| classify(database, e))? {
            if out.len() == MAX_SQL_ROWS {
                return Err(error(
                    ErrorKind::Denied,
                    format!("query on {database} returned more than {MAX_SQL_ROWS} rows; add a LIMIT or aggregate"),
                    false,
                ));
            }
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                let v: SqlValue = row.get(i).map_err(|e| classify(database, e))?;
                values.push(from_sql(v));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    pub fn begin(&mut self, database: &str) -> Result<(), WitPluginError> {
        self.execute_batch(database, "BEGIN IMMEDIATE")
    }

    pub fn commit(&mut self, database: &str) -> Result<(), WitPluginError> {
        self.execute_batch(database, "COMMIT")
    }

    pub fn rollback(&mut self, database: &str) -> Result<(), WitPluginError> {
        self.execute_batch(database, "ROLLBACK")
    }

    /// Rolls back any transaction the plugin left open; returns the databases it did so for.
    pub fn end_call(&mut self) -> Vec<String> {
        let mut rolled = Vec::new();
        for (name, conn) in &self.open {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
                rolled.push(name.clone());
            }
        }
        rolled
    }
}

fn to_sql(v: Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
    }
}

fn from_sql(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Blob(b) => Value::Blob(b),
    }
}

/// A database error as the plugin sees it: a locked database is retryable, a corrupt one is not.
fn classify(database: &str, e: rusqlite::Error) -> WitPluginError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => error(
            ErrorKind::Unavailable,
            format!("database {database} is locked (waited {}s): {e}", SQL_BUSY_TIMEOUT.as_secs()),
            true,
        ),
        Some(C::NotADatabase | C::DatabaseCorrupt) => {
            error(ErrorKind::Conflict, format!("database {database} is corrupt or not a database: {e}"), false)
        }
        Some(C::CannotOpen) => error(ErrorKind::Unavailable, format!("cannot open database {database}: {e}"), false),
        _ => error(ErrorKind::Internal, format!("{database}: {e}"), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::grants::SqlDriver;

    fn host(dir: &std::path::Path) -> SqlHost {
        let conn = SqlConnection {
            name: "shards".into(),
            driver: SqlDriver::Sqlite,
            databases: vec![("a".into(), dir.join("a.db")), ("b".into(), dir.join("b.db"))],
        };
        SqlHost::new(Arc::from("p"), Arc::new(vec![conn]))
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
        let err = h.query("billing/main", "SELECT 1", vec![]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied);
        assert!(err.message.contains("grants.sql = [\"billing\"]"), "{}", err.message);
        assert!(h.databases("billing").is_err());
    }

    #[test]
    fn an_open_transaction_is_rolled_back_at_the_end_of_the_call() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = host(dir.path());
        h.execute_batch("shards/a", "CREATE TABLE t (x)").unwrap();
        h.begin("shards/a").unwrap();
        h.execute("shards/a", "INSERT INTO t VALUES (1)", vec![]).unwrap();
        assert_eq!(h.end_call(), vec!["shards/a".to_string()]);
        let rows = h.query("shards/a", "SELECT COUNT(*) FROM t", vec![]).unwrap();
        assert!(matches!(rows.rows[0][0], Value::Integer(0)));
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
    fn a_locked_database_is_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = host(dir.path());
        h.execute_batch("shards/a", "CREATE TABLE t (x)").unwrap();
        let other = Connection::open(dir.path().join("a.db")).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let err = h.execute("shards/a", "INSERT INTO t VALUES (1)", vec![]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable, "{}", err.message);
        assert!(err.retryable);
    }
}
