//! The host side of the `sql` import: the databases of the connections granted to a plugin. A
//! SQLite database is opened on first use through [`guard`] (SQLite's own switches and the [`policy`]
//! authorizer: a grant is exactly its databases, read-only for verifiers and strategies); a
//! PostgreSQL one is a session of [`postgres`], confined by the server's own privileges and the
//! host's transactions. Every statement runs under the plugin call's deadline and every result under
//! a byte [`budget`]. Anything not granted is refused with `denied`; a transaction left open at the
//! end of a call is rolled back.

mod budget;
mod error;
mod guard;
mod policy;
mod postgres;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Batch, Connection, ErrorCode};

use super::bindings::WitPluginError;
use super::bindings::target::upshift::plugin::sql::{Dialect, Rows, Value};
use super::grants::{SqlConnection, SqlSource};
use budget::{Deadline, ResultBudget, VALUE_OVERHEAD_BYTES};
use guard::Guarded;

pub use budget::{MAX_SQL_RESULT_BYTES, MAX_SQL_STATEMENT_BYTES, SQL_PROGRESS_OPS};
use error::{Quoted, SqlError};
use policy::Access;
pub(crate) use postgres::tls as postgres_tls;
pub use postgres::{POSTGRES_CANCEL_WAIT, ServerUrl, check_url as check_postgres_url};

/// Longest a statement waits for a locked database before failing with a retryable error, and never
/// past the call's deadline. Short: the engine retries with backoff.
pub const SQL_BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Most rows one query may return to a plugin.
pub const MAX_SQL_ROWS: usize = 10_000;
/// Most databases a plugin keeps open at once, SQLite files and PostgreSQL sessions each; past it
/// the host closes those not in a transaction (each open SQLite database holds a page cache of up to
/// about 2 MiB of the host's memory, each PostgreSQL session a thread and a server backend).
pub const MAX_OPEN_SQL_DATABASES: usize = 16;

/// One plugin's view of its granted databases.
pub struct SqlHost {
    plugin: Arc<str>,
    connections: Arc<Vec<SqlConnection>>,
    open: HashMap<String, Guarded>,
    /// Sessions on PostgreSQL databases, for the call in progress.
    pg: postgres::Sessions,
    /// The deadline of the call in progress, shared with every connection's progress handler.
    deadline: Deadline,
    /// The plugin's time limit per call.
    timeout: Duration,
    /// Most bytes of one result, and of one value: [`MAX_SQL_RESULT_BYTES`] or the plugin's memory.
    result_limit: usize,
}

impl SqlHost {
    /// `timeout` is the plugin's time limit per call, `memory_bytes` its memory limit.
    pub fn new(plugin: Arc<str>, connections: Arc<Vec<SqlConnection>>, timeout: Duration, memory_bytes: usize) -> Self {
        SqlHost {
            plugin,
            connections,
            open: HashMap::new(),
            pg: postgres::Sessions::default(),
            deadline: Deadline::new(timeout),
            timeout,
            result_limit: MAX_SQL_RESULT_BYTES.min(memory_bytes),
        }
    }

    /// A call begins: SQL work may run until its deadline.
    pub fn begin_call(&mut self) {
        self.deadline.start(self.timeout);
    }

    /// Rolls back any transaction the plugin left open; returns the databases it did so for. A
    /// database that cannot be rolled back is closed, which releases its locks.
    pub fn end_call(&mut self) -> Vec<String> {
        // The host's clean-up is not the plugin's work: it is not cut short by the plugin's deadline.
        self.deadline.lift();
        let mut rolled = Vec::new();
        let mut stuck = Vec::new();
        for (name, g) in &self.open {
            if !g.conn.is_autocommit() {
                if g.conn.execute_batch("ROLLBACK").is_err() || !g.conn.is_autocommit() {
                    stuck.push(name.clone());
                }
                rolled.push(name.clone());
            }
        }
        for name in stuck {
            self.open.remove(&name);
        }
        rolled.extend(self.pg.end_call());
        rolled
    }

    fn connection(&self, name: &str) -> Result<&SqlConnection, SqlError> {
        connection(&self.connections, &self.plugin, name)
    }

    pub fn databases(&self, connection: &str) -> Result<Vec<String>, WitPluginError> {
        let c = self.connection(connection)?;
        Ok(c.names().into_iter().map(|db| format!("{}/{db}", c.name)).collect())
    }

    /// The dialect `database` speaks (its engine's SQL and parameter syntax).
    pub fn dialect(&self, database: &str) -> Result<Dialect, WitPluginError> {
        let (c, _) = self.find(database)?;
        Ok(match c.source {
            SqlSource::Sqlite(_) => Dialect::Sqlite,
            SqlSource::Postgres { .. } => Dialect::Postgres,
        })
    }

    /// The granted connection of `database` (`connection/database`) and the database's name in it.
    fn find<'d>(&self, database: &'d str) -> Result<(&SqlConnection, &'d str), SqlError> {
        find(&self.connections, &self.plugin, database)
    }

    /// Where SQLite database `database` (`connection/database`) lives and how the plugin may use it.
    fn locate(&self, database: &str) -> Result<(PathBuf, Access), SqlError> {
        let (c, name) = self.find(database)?;
        let access = if c.read_only { Access::ReadOnly } else { Access::ReadWrite };
        match &c.source {
            SqlSource::Sqlite(files) => files
                .iter()
                .find(|(db, _)| db == name)
                .map(|(_, p)| (p.clone(), access))
                .ok_or_else(|| SqlError::NoSuchDatabase { connection: c.name.clone(), name: name.to_string() }),
            SqlSource::Postgres { .. } => {
                Err(SqlError::Sqlite { database: database.to_string(), message: "not a SQLite database".into() })
            }
        }
    }

    /// Runs `f` on `database`'s PostgreSQL session when it is a PostgreSQL database (`None` when it
    /// is a SQLite one).
    fn on_postgres<T>(
        &mut self,
        database: &str,
        f: impl FnOnce(&mut postgres::Sessions, &postgres::Limits, postgres::Target) -> Result<T, SqlError>,
    ) -> Option<Result<T, WitPluginError>> {
        let connections = self.connections.clone();
        let (c, name) = match find(&connections, &self.plugin, database) {
            Ok(found) => found,
            Err(e) => return Some(Err(e.into())),
        };
        let SqlSource::Postgres { server, .. } = &c.source else {
            return None;
        };
        let access = if c.read_only { Access::ReadOnly } else { Access::ReadWrite };
        let target = postgres::Target { database, server, name, access };
        let limits = postgres::Limits {
            plugin: &self.plugin,
            deadline: &self.deadline,
            timeout: self.timeout,
            result_limit: self.result_limit,
            rows: MAX_SQL_ROWS,
            lock_wait: SQL_BUSY_TIMEOUT,
            max_open: MAX_OPEN_SQL_DATABASES,
        };
        Some(f(&mut self.pg, &limits, target).map_err(Into::into))
    }

    /// The open connection to `database`, opening it on first use.
    fn db(&mut self, database: &str) -> Result<&Guarded, SqlError> {
        if !self.open.contains_key(database) {
            let (path, access) = self.locate(database)?;
            if access == Access::ReadWrite
                && let Some(dir) = path.parent()
            {
                // The spec declares where its databases live; their folder may not exist yet.
                std::fs::create_dir_all(dir)
                    .map_err(|e| SqlError::Folder { database: database.to_string(), message: e.to_string() })?;
            }
            self.make_room(database)?;
            let g = guard::open(&path, access, self.result_limit, &self.deadline).map_err(|e| {
                let hint = if access == Access::ReadOnly { " (read-only: it must already exist)" } else { "" };
                match e.sqlite_error_code() {
                    Some(ErrorCode::CannotOpen) => {
                        SqlError::CannotOpen { database: database.to_string(), hint, message: e.to_string() }
                    }
                    _ => self.explain(database, "", &e, None, Duration::ZERO),
                }
            })?;
            self.open.insert(database.to_string(), g);
        }
        self.open.get(database).ok_or_else(|| SqlError::Sqlite {
            database: database.to_string(),
            message: "the connection vanished".into(),
        })
    }

    /// Keeps the open databases under [`MAX_OPEN_SQL_DATABASES`] by closing those not in a transaction.
    fn make_room(&mut self, database: &str) -> Result<(), SqlError> {
        if self.open.len() >= MAX_OPEN_SQL_DATABASES {
            self.open.retain(|_, g| !g.conn.is_autocommit());
        }
        if self.open.len() >= MAX_OPEN_SQL_DATABASES {
            return Err(SqlError::TooManyOpen {
                plugin: self.plugin.to_string(),
                database: database.to_string(),
                limit: MAX_OPEN_SQL_DATABASES,
            });
        }
        Ok(())
    }

    /// Opens `database` and readies it for `statement`: its length checked, the lock wait cut to
    /// the call's deadline, stale refusals forgotten. Returns the connection and the lock wait.
    fn ready(&mut self, database: &str, statement: &str) -> Result<(&Guarded, Duration), SqlError> {
        if statement.len() > MAX_SQL_STATEMENT_BYTES {
            return Err(SqlError::StatementTooLong {
                plugin: self.plugin.to_string(),
                database: database.to_string(),
                statement: Quoted::new(statement),
                bytes: statement.len(),
                limit: MAX_SQL_STATEMENT_BYTES,
            });
        }
        let wait = SQL_BUSY_TIMEOUT.min(self.deadline.remaining());
        let g = self.db(database)?;
        g.refusals.take();
        g.conn
            .busy_timeout(wait)
            .map_err(|e| SqlError::Sqlite { database: database.into(), message: e.to_string() })?;
        Ok((g, wait))
    }

    /// Runs `f` on `database` for `statement`, explaining a failure.
    fn run<T>(
        &mut self,
        database: &str,
        statement: &str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, WitPluginError> {
        let (g, wait) = self.ready(database, statement)?;
        let result = f(&g.conn);
        let refused = g.refusals.take();
        result.map_err(|e| self.explain(database, statement, &e, refused, wait).into())
    }

    /// A SQLite failure as the plugin sees it: a refusal with the authorizer's reason, the time
    /// limit, a size limit, a lock (retryable), a corrupt database (conflict).
    fn explain(
        &self,
        database: &str,
        statement: &str,
        e: &rusqlite::Error,
        refused: Option<String>,
        waited: Duration,
    ) -> SqlError {
        let plugin = self.plugin.to_string();
        let database = database.to_string();
        let statement = Quoted::new(statement);
        let message = e.to_string();
        // SQLite reports some refusals (a function's) as plain errors: the authorizer's record decides.
        if let Some(reason) = refused {
            return SqlError::Refused { plugin, database, statement, reason };
        }
        // The untrusted-schema rule: a view or trigger called a function with side effects.
        if message.contains("unsafe use of ") {
            let reason = format!(
                "{message}: a view or trigger in the database may only call side-effect-free functions (trusted_schema is OFF)"
            );
            return SqlError::Refused { plugin, database, statement, reason };
        }
        match e.sqlite_error_code() {
            Some(ErrorCode::AuthorizationForStatementDenied) => {
                SqlError::Refused { plugin, database, statement, reason: "not authorized".into() }
            }
            Some(ErrorCode::ReadOnly) => {
                SqlError::Refused { plugin, database, statement, reason: format!("{message}: {}", policy::READ_ONLY) }
            }
            Some(ErrorCode::OperationInterrupted) if self.deadline.passed() => {
                SqlError::TimeLimit { plugin, database, statement, limit: self.deadline.limit() }
            }
            Some(ErrorCode::TooBig) => SqlError::ValueTooBig { plugin, database, statement, limit: self.result_limit },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => SqlError::Locked { database, waited, message },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => SqlError::Corrupt { database, message },
            _ => SqlError::Sqlite { database, message },
        }
    }

    pub fn execute(&mut self, database: &str, statement: &str, params: Vec<Value>) -> Result<u64, WitPluginError> {
        let mut params = Some(params);
        if let Some(done) =
            self.on_postgres(database, |pg, l, t| pg.execute(l, t, statement, params.take().unwrap_or_default()))
        {
            return done;
        }
        let params: Vec<Value> = params.unwrap_or_default();
        let params: Vec<SqlValue> = params.into_iter().map(to_sql).collect();
        self.run(database, statement, |c| {
            c.execute(statement, rusqlite::params_from_iter(params)).map(|n| u64::try_from(n).unwrap_or(u64::MAX))
        })
    }

    /// Runs each statement of `script` to completion; a failure names the statement that failed.
    pub fn execute_batch(&mut self, database: &str, script: &str) -> Result<(), WitPluginError> {
        if let Some(done) = self.on_postgres(database, |pg, l, t| pg.execute_batch(l, t, script)) {
            return done;
        }
        let (g, wait) = self.ready(database, script)?;
        let mut batch = Batch::new(&g.conn, script);
        // Where the statement being prepared starts: just after the text of the last one prepared.
        let mut at = 0;
        let failure = loop {
            match batch.next() {
                Ok(None) => return Ok(()),
                Ok(Some(mut stmt)) => {
                    let text = stmt.expanded_sql().unwrap_or_default();
                    if let Some(found) = script.get(at..).and_then(|rest| rest.find(&text)) {
                        at += found + text.len();
                    }
                    let mut rows = stmt.raw_query();
                    let stepped = loop {
                        match rows.next() {
                            Ok(Some(_)) => continue,
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    };
                    if let Err(e) = stepped {
                        break (text, e);
                    }
                }
                Err(e) => {
                    break (
                        script.get(at..).unwrap_or(script).trim_start_matches([';', ' ', '\n', '\t', '\r']).to_string(),
                        e,
                    );
                }
            }
        };
        let (statement, e) = failure;
        let refused = g.refusals.take();
        Err(self.explain(database, &statement, &e, refused, wait).into())
    }

    /// Runs one query, counting its rows against [`MAX_SQL_ROWS`] and its bytes against the result
    /// limit before anything is copied.
    pub fn query(&mut self, database: &str, statement: &str, params: Vec<Value>) -> Result<Rows, WitPluginError> {
        let mut params = Some(params);
        if let Some(done) =
            self.on_postgres(database, |pg, l, t| pg.query(l, t, statement, params.take().unwrap_or_default()))
        {
            return done;
        }
        let params: Vec<Value> = params.unwrap_or_default();
        let params: Vec<SqlValue> = params.into_iter().map(to_sql).collect();
        let (plugin, limit) = (self.plugin.clone(), self.result_limit);
        let mut over: Option<SqlError> = None;
        let rows = self.run(database, statement, |c| {
            let mut budget = ResultBudget::new(limit);
            let mut stmt = c.prepare(statement)?;
            let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
            let too_big = || SqlError::TooManyBytes {
                plugin: plugin.to_string(),
                database: database.to_string(),
                statement: Quoted::new(statement),
                limit,
            };
            let mut out = Vec::new();
            if budget.take(columns.iter().map(|c| c.len() + VALUE_OVERHEAD_BYTES).sum()).is_err() {
                over = Some(too_big());
                return Ok(Rows { columns, rows: out });
            }
            let width = columns.len();
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(row) = rows.next()? {
                if out.len() == MAX_SQL_ROWS {
                    over = Some(SqlError::TooManyRows {
                        plugin: plugin.to_string(),
                        database: database.to_string(),
                        statement: Quoted::new(statement),
                        limit: MAX_SQL_ROWS,
                    });
                    break;
                }
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    let value = row.get_ref(i)?;
                    // Sized before it is copied: a huge value is refused, never held.
                    if budget.take(size_of(&value) + VALUE_OVERHEAD_BYTES).is_err() {
                        over = Some(too_big());
                        return Ok(Rows { columns, rows: Vec::new() });
                    }
                    values.push(from_sql(value));
                }
                out.push(values);
            }
            Ok(Rows { columns, rows: out })
        })?;
        match over {
            Some(e) => Err(e.into()),
            None => Ok(rows),
        }
    }

    /// Starts a transaction: a write transaction (`BEGIN IMMEDIATE`) through a read-write grant, a
    /// read snapshot (`BEGIN DEFERRED`) through a read-only one. Either ends with the call.
    pub fn begin(&mut self, database: &str) -> Result<(), WitPluginError> {
        if let Some(done) = self.on_postgres(database, |pg, l, t| pg.begin(l, t)) {
            return done;
        }
        let (_, access) = self.locate(database)?;
        let statement = if access == Access::ReadOnly { "BEGIN DEFERRED" } else { "BEGIN IMMEDIATE" };
        self.execute_batch(database, statement)
    }

    pub fn commit(&mut self, database: &str) -> Result<(), WitPluginError> {
        if let Some(done) = self.on_postgres(database, |pg, l, t| pg.commit(l, t)) {
            return done;
        }
        self.execute_batch(database, "COMMIT")
    }

    pub fn rollback(&mut self, database: &str) -> Result<(), WitPluginError> {
        if let Some(done) = self.on_postgres(database, |pg, l, t| pg.rollback(l, t)) {
            return done;
        }
        self.execute_batch(database, "ROLLBACK")
    }
}

/// Granted connection `name` of `plugin`.
fn connection<'c>(connections: &'c [SqlConnection], plugin: &str, name: &str) -> Result<&'c SqlConnection, SqlError> {
    connections
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| SqlError::NotGranted { plugin: plugin.to_string(), connection: name.to_string() })
}

/// The granted connection of `database` (`connection/database`) and the database's name in it.
fn find<'c, 'd>(
    connections: &'c [SqlConnection],
    plugin: &str,
    database: &'d str,
) -> Result<(&'c SqlConnection, &'d str), SqlError> {
    let (group, name) = database.split_once('/').ok_or_else(|| SqlError::BadName { database: database.to_string() })?;
    let c = connection(connections, plugin, group)?;
    if !c.names().contains(&name) {
        return Err(SqlError::NoSuchDatabase { connection: group.to_string(), name: name.to_string() });
    }
    Ok((c, name))
}

/// Bytes a value takes, read without copying it.
fn size_of(v: &ValueRef<'_>) -> usize {
    match v {
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => 8,
        ValueRef::Text(b) | ValueRef::Blob(b) => b.len(),
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

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}
