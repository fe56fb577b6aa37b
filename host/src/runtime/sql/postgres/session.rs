//! A plugin's session on one PostgreSQL database: a thread of its own owns the connection (a small
//! tokio runtime drives it), and the plugin's thread hands it work and waits for the answer no longer
//! than the call's deadline. Work still running at the deadline is cancelled on the server and the
//! session closed; so is work whose result goes past the plugin's row or byte limit. Every piece of
//! work runs inside a transaction: the plugin's own (opened by `begin`), or one the host opens
//! around it and ends with it, always rolled back on a read-only grant.

use std::cell::Cell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::Client;

use super::connect::{self, OpenError, Opened, Settings};
use super::values::{self, Param, Raw};
use crate::runtime::bindings::target::upshift::plugin::sql::{Rows, Value};
use crate::runtime::grants::PostgresServer;
use crate::runtime::sql::budget::{ResultBudget, VALUE_OVERHEAD_BYTES};

/// Longest the host waits for the server to acknowledge a cancel request before it closes the session.
pub const POSTGRES_CANCEL_WAIT: Duration = Duration::from_secs(2);
/// How much later than the deadline the plugin's thread gives up on an answer from the session's
/// thread. That thread stops waiting at the deadline itself and cancels the statement on the server;
/// the plugin's call does not wait for the server to acknowledge it (the session is closed anyway).
const ANSWER_GRACE: Duration = Duration::from_millis(250);

/// How a piece of work is wrapped in a transaction of the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// It runs inside the transaction the plugin began.
    None,
    /// The host begins a transaction and commits it if the work succeeded (a target).
    ReadWrite,
    /// The host begins a read-only transaction, takes its snapshot (after which PostgreSQL refuses
    /// to make it read-write), and rolls it back: nothing of it is ever committed.
    ReadOnly,
}

/// What the session's thread is asked to do.
#[derive(Debug)]
pub enum Work {
    Execute {
        statement: String,
        params: Vec<Value>,
        wrap: Wrap,
    },
    Query {
        statement: String,
        params: Vec<Value>,
        wrap: Wrap,
        rows: usize,
        bytes: usize,
    },
    /// Statements of a script, each sent on its own.
    Batch {
        statements: Vec<String>,
        wrap: Wrap,
    },
    /// The host's own transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`), as written here.
    Control(&'static str),
}

#[derive(Debug)]
pub enum Done {
    Count(u64),
    Rows(Rows),
    Nothing,
}

/// Why work failed. `at` is the statement of a batch it failed in (0 otherwise).
#[derive(Debug)]
pub enum Failure {
    /// The server refused or failed the statement.
    Db {
        at: usize,
        code: String,
        message: String,
    },
    /// Still running at the deadline: cancelled, the session closed.
    TimeUp {
        at: usize,
    },
    /// Past the plugin's row limit: the session closed.
    TooManyRows,
    /// Past the plugin's byte limit (counted at the socket or value by value): the session closed.
    TooManyBytes {
        at: usize,
    },
    /// A column of a type the host does not hand over; nothing ran.
    Unsupported(String),
    /// The connection failed; the session closed.
    Lost(String),
    Open(OpenError),
    /// The host closed this session earlier in the call, with a plugin transaction open.
    Closed(String),
}

impl Failure {
    /// Whether the session is gone after it.
    fn closes(&self) -> bool {
        matches!(self, Failure::TimeUp { .. } | Failure::TooManyRows | Failure::TooManyBytes { .. } | Failure::Lost(_))
    }
}

type Answer = Result<Done, Failure>;

struct Job {
    work: Work,
    deadline: Instant,
    /// Bytes the server may send for it.
    intake: usize,
}

/// A live session (or one the host closed in this call).
pub struct Session {
    jobs: Option<mpsc::Sender<Job>>,
    answers: mpsc::Receiver<Answer>,
    /// The plugin began a transaction that is still open.
    pub in_transaction: bool,
    /// Why the host closed it, if it did.
    pub closed: Option<String>,
}

impl Session {
    /// Opens a session on `database` of `server` in a thread of its own, by `deadline`.
    pub fn open(
        server: &PostgresServer,
        database: &str,
        settings: Settings,
        deadline: Instant,
    ) -> Result<Session, Failure> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, answers) = mpsc::channel::<Answer>();
        let (server, database) = (server.clone(), database.to_string());
        std::thread::Builder::new()
            .name("upshift-postgres".into())
            .spawn(move || serve(server, database, settings, deadline, inbox, outbox))
            .map_err(|e| Failure::Lost(format!("cannot start the session's thread: {e}")))?;
        let session = Session { jobs: Some(jobs), answers, in_transaction: false, closed: None };
        match session.answers.recv_timeout(deadline.saturating_duration_since(Instant::now()) + ANSWER_GRACE) {
            Ok(Ok(_)) => Ok(session),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Failure::TimeUp { at: 0 }),
        }
    }

    /// Runs `work` by `deadline`, the server sending at most `intake` bytes for it.
    pub fn run(&mut self, work: Work, deadline: Instant, intake: usize) -> Answer {
        if let Some(why) = &self.closed {
            return Err(Failure::Closed(why.clone()));
        }
        let Some(jobs) = &self.jobs else {
            return Err(Failure::Closed("it was closed".into()));
        };
        if jobs.send(Job { work, deadline, intake }).is_err() {
            return self.close(Failure::Lost("the session's thread ended".into()));
        }
        let wait = deadline.saturating_duration_since(Instant::now()) + ANSWER_GRACE;
        match self.answers.recv_timeout(wait) {
            Ok(Err(e)) if e.closes() => self.close(e),
            Ok(answer) => answer,
            // The thread cancels at the deadline; it did not answer even then.
            Err(_) => self.close(Failure::TimeUp { at: 0 }),
        }
    }

    fn close(&mut self, failure: Failure) -> Answer {
        self.jobs = None;
        self.closed = Some(match &failure {
            Failure::TimeUp { .. } => "a statement ran past the plugin's time limit".into(),
            Failure::TooManyRows | Failure::TooManyBytes { .. } => "a result went past the plugin's limits".into(),
            Failure::Lost(why) => format!("its connection failed ({why})"),
            _ => "an error".into(),
        });
        Err(failure)
    }
}

/// The session's thread: opens the connection, then runs each job until the plugin's side hangs up
/// or a job closes the session.
fn serve(
    server: PostgresServer,
    database: String,
    settings: Settings,
    deadline: Instant,
    inbox: mpsc::Receiver<Job>,
    outbox: mpsc::Sender<Answer>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = outbox.send(Err(Failure::Lost(format!("cannot start the session's runtime: {e}"))));
            return;
        }
    };
    let limit = deadline.saturating_duration_since(Instant::now());
    let opened = match runtime.block_on(connect::open(&server, &database, settings, limit)) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = outbox.send(Err(Failure::Open(e)));
            return;
        }
    };
    if outbox.send(Ok(Done::Nothing)).is_err() {
        return;
    }
    while let Ok(job) = inbox.recv() {
        opened.intake.reset(job.intake);
        let answer = runtime.block_on(run(&opened, job));
        let closes = matches!(&answer, Err(e) if e.closes());
        if outbox.send(answer).is_err() || closes {
            break;
        }
    }
    // Hang up properly (the server ends the session, rolling back anything still open), briefly.
    let Opened { client, connection, .. } = opened;
    drop(client);
    let _ = runtime.block_on(tokio::time::timeout(Duration::from_secs(1), connection));
}

/// Runs one job, cancelling it at its deadline.
async fn run(opened: &Opened, job: Job) -> Answer {
    let at = Cell::new(0usize);
    let work = perform(&opened.client, job.work, &at);
    let answer = match tokio::time::timeout_at(job.deadline.into(), work).await {
        Ok(answer) => answer,
        Err(_) => {
            opened.cancel(POSTGRES_CANCEL_WAIT).await;
            return Err(Failure::TimeUp { at: at.get() });
        }
    };
    match answer {
        // The socket refused to read past the limit: whatever failed, that is why.
        Err(_) if opened.intake.over() => Err(Failure::TooManyBytes { at: at.get() }),
        Err(e @ (Failure::TooManyRows | Failure::TooManyBytes { .. })) => {
            // The server may still be sending the rest: stop it before the session closes.
            opened.cancel(POSTGRES_CANCEL_WAIT).await;
            Err(e)
        }
        other => other,
    }
}

async fn perform(client: &Client, work: Work, at: &Cell<usize>) -> Answer {
    match work {
        Work::Control(text) => client.batch_execute(text).await.map(|_| Done::Nothing).map_err(|e| failure(0, &e)),
        Work::Execute { statement, params, wrap } => {
            wrapped(client, wrap, async {
                let stmt = client.prepare(&statement).await.map_err(|e| failure(0, &e))?;
                let params: Vec<Param> = params.into_iter().map(Param).collect();
                client.execute_raw(&stmt, params.iter()).await.map(Done::Count).map_err(|e| failure(0, &e))
            })
            .await
        }
        Work::Batch { statements, wrap } => {
            wrapped(client, wrap, async {
                for (i, statement) in statements.iter().enumerate() {
                    at.set(i);
                    client.execute(statement.as_str(), &[]).await.map_err(|e| failure(i, &e))?;
                }
                Ok(Done::Nothing)
            })
            .await
        }
        Work::Query { statement, params, wrap, rows, bytes } => {
            wrapped(client, wrap, query(client, &statement, params, rows, bytes)).await
        }
    }
}

/// Runs `body` as `wrap` says.
async fn wrapped(client: &Client, wrap: Wrap, body: impl Future<Output = Answer>) -> Answer {
    let begin = match wrap {
        Wrap::None => return body.await,
        Wrap::ReadWrite => "BEGIN",
        Wrap::ReadOnly => "BEGIN READ ONLY; SELECT 1",
    };
    client.batch_execute(begin).await.map_err(|e| failure(0, &e))?;
    let answer = body.await;
    let end = if wrap == Wrap::ReadWrite && answer.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match client.batch_execute(end).await {
        // A commit can fail (a deferred constraint): then the work did.
        Err(e) if answer.is_ok() => Err(failure(0, &e)),
        _ => answer,
    }
}

/// Runs one query, counting its rows against `max_rows` and its values against `max_bytes` as they
/// arrive (the socket counts the bytes too, before they are buffered).
async fn query(client: &Client, statement: &str, params: Vec<Value>, max_rows: usize, max_bytes: usize) -> Answer {
    let stmt = client.prepare(statement).await.map_err(|e| failure(0, &e))?;
    let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_string()).collect();
    for c in stmt.columns() {
        values::readable(c.type_()).map_err(|why| Failure::Unsupported(format!("column {:?}: {}", c.name(), why.0)))?;
    }
    let mut budget = ResultBudget::new(max_bytes);
    if budget.take(columns.iter().map(|c| c.len() + VALUE_OVERHEAD_BYTES).sum()).is_err() {
        return Err(Failure::TooManyBytes { at: 0 });
    }
    let params: Vec<Param> = params.into_iter().map(Param).collect();
    let stream = client.query_raw(&stmt, params.iter()).await.map_err(|e| failure(0, &e))?;
    pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(row) = stream.try_next().await.map_err(|e| failure(0, &e))? {
        if out.len() == max_rows {
            return Err(Failure::TooManyRows);
        }
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in stmt.columns().iter().enumerate() {
            let raw: Option<Raw<'_>> = row.try_get(i).map_err(|e| failure(0, &e))?;
            let value = match raw {
                None => Value::Null,
                Some(Raw(bytes)) => {
                    if budget.take(bytes.len() + VALUE_OVERHEAD_BYTES).is_err() {
                        return Err(Failure::TooManyBytes { at: 0 });
                    }
                    values::decode(column.type_(), bytes).map_err(|why| Failure::Unsupported(why.0))?
                }
            };
            values.push(value);
        }
        out.push(values);
    }
    Ok(Done::Rows(Rows { columns, rows: out }))
}

/// A driver error as a [`Failure`] of statement `at`.
fn failure(at: usize, e: &tokio_postgres::Error) -> Failure {
    match e.as_db_error() {
        Some(db) => {
            let mut message = db.message().to_string();
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                message.push_str(&format!("; hint: {hint}"));
            }
            Failure::Db { at, code: db.code().code().to_string(), message }
        }
        None if e.is_closed() => Failure::Lost(super::describe(e)),
        None => match std::error::Error::source(e) {
            // An I/O error is the connection's; a parameter that would not convert is the statement's.
            Some(s) if s.downcast_ref::<std::io::Error>().is_some() => Failure::Lost(super::describe(e)),
            _ => Failure::Db { at, code: String::new(), message: super::describe(e) },
        },
    }
}
