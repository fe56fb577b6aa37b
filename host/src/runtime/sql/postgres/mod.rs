//! The `sql` capability on PostgreSQL: a plugin's sessions on the databases of its granted
//! `postgres` connections, held for one call and closed at its end.
//!
//! # How a plugin is confined to its databases
//!
//! SQLite is confined by the engine inside the host (an authorizer sees every action). A PostgreSQL
//! server has no such hook for a client, and its SQL reaches much further: files and programs of the
//! server (`COPY ... PROGRAM`, `pg_read_file`, `lo_export`), its configuration (`ALTER SYSTEM`), other
//! roles (`SET ROLE`), other databases (`dblink`, `postgres_fdw` after `CREATE EXTENSION`), other
//! sessions (`NOTIFY`, `pg_terminate_backend`). Reading the SQL text cannot close those: a view, a
//! trigger, a function or `DO` with `EXECUTE` builds statements the host never sees. So the
//! confinement is PostgreSQL's own, in layers:
//!
//! 1. **An unprivileged role the operator grants** (the URL's user). The host checks it at every
//!    session ([`role`]) and refuses to serve a database whose role is a superuser, may create roles
//!    or databases, replicate or bypass row security, belongs to a predefined role (those read the
//!    server's files, run its programs, signal other sessions) or to a privileged one (`SET ROLE`
//!    would take its powers), owns the database or may `CREATE` in it (extensions, schemas), may run
//!    a file or server-control function granted to it, or may set a superuser parameter; or whose
//!    database has `dblink`, `postgres_fdw`, `file_fdw`, `adminpack` or `pg_cron`. PostgreSQL then
//!    refuses every way to those doors, whatever builds the statement.
//! 2. **Transactions are the host's** ([`session`]). Every statement runs inside a transaction:
//!    the one the plugin began through the interface, or one the host opens around the call's work.
//!    A read-only grant's transaction is `READ ONLY` with its snapshot taken before the plugin's first
//!    statement (PostgreSQL then refuses to make it read-write) and is always rolled back, never
//!    committed: what PostgreSQL allows in a read-only transaction (`NOTIFY`, `LISTEN`, large
//!    objects) never takes effect. A statement that would end the host's transaction is refused, and
//!    a procedure or `DO` block cannot commit inside one ("invalid transaction termination").
//! 3. **Nothing outlives a call.** Sessions open on a call's first statement and close at its end,
//!    so a session-level advisory lock, a `LISTEN`, a temporary table, a prepared statement or a
//!    setting is gone with the call.
//! 4. **One statement per message.** `execute` and `query` send their statement in one Parse message,
//!    which PostgreSQL refuses to hold more than one statement; `execute-batch` is split by the host
//!    ([`script`]) and each statement sent the same way. No second statement can ride along unseen.
//! 5. **The host's checks** ([`statements`]): statements that would end its transaction, change the
//!    session it set up (`SET ROLE`, `SET SESSION AUTHORIZATION`, its time limits), reach past the
//!    database (`COPY`, `LISTEN`/`NOTIFY`, `ALTER SYSTEM`, `CREATE EXTENSION`, roles, databases,
//!    tablespaces, foreign servers) are refused by their first words with the reason, so the direct
//!    attempt fails with a message and not only with the server's "permission denied".
//! 6. **Limits** ([`session`], [`socket`]): every statement runs under the call's deadline (the
//!    session's `statement_timeout` is the server's own backstop; at the deadline the host sends a
//!    cancel request and closes the session), lock waits are cut to `SQL_BUSY_TIMEOUT` and fail as
//!    retryable, and the bytes the server sends are counted at the socket against the plugin's
//!    result limit, so a huge result is refused before the driver buffers it.
//!
//! What this leaves, because PostgreSQL allows it to every role and no text check can follow
//! dynamic SQL: a target may `NOTIFY` in its own database and change its own role's password or
//! session defaults (`ALTER ROLE CURRENT_USER`), and any plugin may cancel or terminate other
//! sessions of the same role. Hence the README's rule: a role of its own for each connection, used
//! by nothing else.

mod connect;
mod role;
mod script;
mod session;
mod socket;
mod statements;
mod url;
mod values;

pub(crate) use connect::tls;

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use session::POSTGRES_CANCEL_WAIT;
pub use url::{ServerUrl, check as check_url};

use super::budget::Deadline;
use super::error::{Quoted, SqlError};
use super::policy::{Access, READ_ONLY};
use crate::runtime::bindings::target::upshift::plugin::sql::{Rows, Value};
use crate::runtime::grants::PostgresServer;
use connect::{OpenError, Settings};
use session::{Done, Failure, Session, Work, Wrap};

/// Bytes the server may send beyond a result's own limit: the protocol's framing of at most
/// `MAX_SQL_ROWS` rows, and the messages around them.
const INTAKE_SLACK_BYTES: usize = 1 << 20;
/// Longest the host's own clean-up (rolling back what a call left open) may take on one database.
const CLEANUP_LIMIT: Duration = Duration::from_secs(5);

/// One granted database of a `postgres` connection.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// As the plugin names it: `connection/database`.
    pub database: &'a str,
    pub server: &'a PostgresServer,
    /// Its name on the server.
    pub name: &'a str,
    pub access: Access,
}

/// What the call in progress allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    pub plugin: &'a str,
    pub deadline: &'a Deadline,
    /// The plugin's time limit per call.
    pub timeout: Duration,
    /// Most bytes of one result.
    pub result_limit: usize,
    pub rows: usize,
    /// Longest a statement waits for a lock.
    pub lock_wait: Duration,
    /// Most sessions open at once.
    pub max_open: usize,
}

/// A plugin's open sessions, by `connection/database`.
#[derive(Default)]
pub struct Sessions {
    open: HashMap<String, Session>,
}

impl Sessions {
    /// Closes every session that is not in a transaction.
    pub fn close_idle(&mut self) {
        self.open.retain(|_, s| s.in_transaction && s.closed.is_none());
    }

    /// Ends the call: rolls back what the plugin left open and closes every session. Returns the
    /// databases rolled back.
    pub fn end_call(&mut self) -> Vec<String> {
        let mut rolled = Vec::new();
        for (name, mut session) in self.open.drain() {
            if session.in_transaction {
                if session.closed.is_none() {
                    let _ = session.run(Work::Control("ROLLBACK"), Instant::now() + CLEANUP_LIMIT, INTAKE_SLACK_BYTES);
                }
                rolled.push(name);
            }
        }
        rolled.sort();
        rolled
    }

    pub fn execute(&mut self, l: &Limits, t: Target, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        let statement = one(l, t, statement)?;
        let wrap = self.wrap(t);
        match self.run(l, t, &[statement], Work::Execute { statement: statement.into(), params, wrap })? {
            Done::Count(n) => Ok(n),
            _ => Ok(0),
        }
    }

    pub fn query(&mut self, l: &Limits, t: Target, statement: &str, params: Vec<Value>) -> Result<Rows, SqlError> {
        let statement = one(l, t, statement)?;
        let wrap = self.wrap(t);
        let work = Work::Query { statement: statement.into(), params, wrap, rows: l.rows, bytes: l.result_limit };
        match self.run(l, t, &[statement], work)? {
            Done::Rows(rows) => Ok(rows),
            _ => Ok(Rows { columns: vec![], rows: vec![] }),
        }
    }

    /// Runs each statement of `script` in order, in one transaction (the plugin's, or the host's).
    pub fn execute_batch(&mut self, l: &Limits, t: Target, script: &str) -> Result<(), SqlError> {
        let statements = checked(l, t, script)?;
        if statements.is_empty() {
            return Ok(());
        }
        let wrap = self.wrap(t);
        let work = Work::Batch { statements: statements.iter().map(|s| s.to_string()).collect(), wrap };
        self.run(l, t, &statements, work).map(|_| ())
    }

    /// Begins the plugin's transaction: `READ ONLY` (its snapshot taken at once) through a read-only grant.
    pub fn begin(&mut self, l: &Limits, t: Target) -> Result<(), SqlError> {
        if self.open.get(t.database).is_some_and(|s| s.in_transaction) {
            return Err(transaction_state(l, t, "BEGIN", "a transaction is already open on it"));
        }
        let text = match t.access {
            Access::ReadWrite => "BEGIN",
            Access::ReadOnly => "BEGIN READ ONLY; SELECT 1",
        };
        self.run(l, t, &[text], Work::Control(text))?;
        if let Some(s) = self.open.get_mut(t.database) {
            s.in_transaction = true;
        }
        Ok(())
    }

    /// Commits the plugin's transaction; through a read-only grant it is rolled back (it changed nothing).
    pub fn commit(&mut self, l: &Limits, t: Target) -> Result<(), SqlError> {
        let text = if t.access == Access::ReadOnly { "ROLLBACK" } else { "COMMIT" };
        self.end(l, t, "COMMIT", text)
    }

    pub fn rollback(&mut self, l: &Limits, t: Target) -> Result<(), SqlError> {
        self.end(l, t, "ROLLBACK", "ROLLBACK")
    }

    fn end(&mut self, l: &Limits, t: Target, shown: &str, text: &'static str) -> Result<(), SqlError> {
        if !self.open.get(t.database).is_some_and(|s| s.in_transaction) {
            return Err(transaction_state(l, t, shown, "no transaction is open on it"));
        }
        let result = self.run(l, t, &[shown], Work::Control(text)).map(|_| ());
        // Whether it committed or failed, PostgreSQL has ended the transaction.
        if let Some(s) = self.open.get_mut(t.database) {
            s.in_transaction = false;
        }
        result
    }

    fn wrap(&self, t: Target) -> Wrap {
        match (self.open.get(t.database).is_some_and(|s| s.in_transaction), t.access) {
            (true, _) => Wrap::None,
            (false, Access::ReadWrite) => Wrap::ReadWrite,
            (false, Access::ReadOnly) => Wrap::ReadOnly,
        }
    }

    /// Runs `work` on `t`'s session (opened if needed) under the call's limits; `statements` are the
    /// texts errors quote.
    fn run(&mut self, l: &Limits, t: Target, statements: &[&str], work: Work) -> Result<Done, SqlError> {
        let remaining = l.deadline.remaining();
        let shown = |at: usize| statements.get(at).or(statements.first()).copied().unwrap_or("");
        if remaining.is_zero() {
            return Err(explain(l, t, shown(0), Failure::TimeUp { at: 0 }));
        }
        let deadline = Instant::now() + remaining;
        let session = self.session(l, t, deadline, shown(0))?;
        session.run(work, deadline, l.result_limit + INTAKE_SLACK_BYTES).map_err(|f| {
            let at = match &f {
                Failure::Db { at, .. } | Failure::TimeUp { at } | Failure::TooManyBytes { at } => *at,
                _ => 0,
            };
            explain(l, t, shown(at), f)
        })
    }

    fn session(&mut self, l: &Limits, t: Target, deadline: Instant, shown: &str) -> Result<&mut Session, SqlError> {
        // A session the host closed is opened again, unless it took the plugin's transaction with it:
        // then the rest of the call fails on it rather than run outside that transaction.
        if self.open.get(t.database).is_some_and(|s| s.closed.is_some() && !s.in_transaction) {
            self.open.remove(t.database);
        }
        if !self.open.contains_key(t.database) {
            if self.open.len() >= l.max_open {
                self.close_idle();
            }
            if self.open.len() >= l.max_open {
                return Err(SqlError::TooManyOpen {
                    plugin: l.plugin.to_string(),
                    database: t.database.to_string(),
                    limit: l.max_open,
                });
            }
            let settings = Settings { statement_timeout: l.timeout, lock_timeout: l.lock_wait.min(l.timeout) };
            let session = Session::open(t.server, t.name, settings, deadline).map_err(|f| explain(l, t, shown, f))?;
            self.open.insert(t.database.to_string(), session);
        }
        self.open.get_mut(t.database).ok_or_else(|| SqlError::Server {
            database: t.database.to_string(),
            message: "the session vanished".into(),
        })
    }
}

/// The one statement of `text` (for `execute` and `query`), checked.
fn one<'a>(l: &Limits, t: Target, text: &'a str) -> Result<&'a str, SqlError> {
    let statements = checked(l, t, text)?;
    match statements.as_slice() {
        [one] => Ok(one),
        [] => Err(refused(l, t, text, "the statement is empty".into())),
        _ => Err(refused(
            l,
            t,
            text,
            "it holds more than one statement: execute and query run one (execute-batch runs a script)".into(),
        )),
    }
}

/// The statements of `script`, each checked against [`statements::judge`].
fn checked<'a>(l: &Limits, t: Target, script: &'a str) -> Result<Vec<&'a str>, SqlError> {
    if script.len() > super::MAX_SQL_STATEMENT_BYTES {
        return Err(SqlError::StatementTooLong {
            plugin: l.plugin.to_string(),
            database: t.database.to_string(),
            statement: Quoted::new(script),
            bytes: script.len(),
            limit: super::MAX_SQL_STATEMENT_BYTES,
        });
    }
    let mut out = Vec::new();
    for statement in script::split(script) {
        statements::judge(&statement).map_err(|why| refused(l, t, statement.text.trim(), why))?;
        out.push(statement.text);
    }
    Ok(out)
}

fn refused(l: &Limits, t: Target, statement: &str, reason: String) -> SqlError {
    SqlError::Refused {
        plugin: l.plugin.to_string(),
        database: t.database.to_string(),
        statement: Quoted::new(statement),
        reason,
    }
}

fn transaction_state(l: &Limits, t: Target, statement: &str, why: &str) -> SqlError {
    SqlError::Postgres {
        database: t.database.to_string(),
        statement: Quoted::new(statement),
        code: String::new(),
        message: format!("plugin {}: {why}", l.plugin),
    }
}

/// A failure as the plugin sees it, the same kinds as on SQLite: a refusal (the host's, or the
/// server's "permission denied" and read-only errors), the time limit, a size limit, a lock
/// (retryable), an unreachable server (retryable).
fn explain(l: &Limits, t: Target, statement: &str, failure: Failure) -> SqlError {
    let plugin = l.plugin.to_string();
    let database = t.database.to_string();
    let quoted = Quoted::new(statement.trim());
    match failure {
        Failure::Db { code, message, .. } => match code.as_str() {
            "42501" => SqlError::Refused {
                plugin,
                database,
                statement: quoted,
                reason: format!("{message} (the role the host connects as does not have this privilege)"),
            },
            "25006" => {
                SqlError::Refused { plugin, database, statement: quoted, reason: format!("{message}: {READ_ONLY}") }
            }
            // An escape from the host's transaction, which PostgreSQL itself refused.
            "25001" | "2D000" => SqlError::Refused {
                plugin,
                database,
                statement: quoted,
                reason: format!("{message} (every statement of a plugin runs inside a transaction of the host's)"),
            },
            "57014" => SqlError::TimeLimit { plugin, database, statement: quoted, limit: l.deadline.limit() },
            "55P03" | "40P01" | "40001" => {
                SqlError::Locked { database, waited: l.lock_wait, message: format!("{message} (SQLSTATE {code})") }
            }
            c if c.starts_with("08") || c.starts_with("57P") => SqlError::Server { database, message },
            _ => SqlError::Postgres { database, statement: quoted, code, message },
        },
        Failure::TimeUp { .. } => {
            SqlError::TimeLimit { plugin, database, statement: quoted, limit: l.deadline.limit() }
        }
        Failure::TooManyRows => SqlError::TooManyRows { plugin, database, statement: quoted, limit: l.rows },
        Failure::TooManyBytes { .. } => {
            SqlError::TooManyBytes { plugin, database, statement: quoted, limit: l.result_limit }
        }
        Failure::Unsupported(message) => {
            SqlError::Postgres { database, statement: quoted, code: String::new(), message }
        }
        Failure::Lost(message) => SqlError::Server { database, message },
        Failure::Closed(why) => SqlError::Closed { plugin, database, why },
        Failure::Open(e) => match e {
            OpenError::Unconfined(problems) => SqlError::Unconfined { database, problems: problems.join("; ") },
            OpenError::Unreachable(message) => SqlError::Server { database, message },
            other => SqlError::CannotOpen { database, hint: "", message: other.to_string() },
        },
    }
}

/// A driver error in one line, with its causes.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
