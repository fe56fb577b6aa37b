//! Opening a store on PostgreSQL: the URL checked (the same rules as a `postgres` connection of the
//! `sql` capability, plus a database to name), the password from `PGPASSWORD`, TLS as its `sslmode`
//! asks (rustls, certificates always verified), and a process-wide pool of idle sessions so that
//! opening a store (every API request, every runner step) does not pay for a new connection.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use super::db::PgSession;

/// The environment variable the store's password is read from (libpq's own name).
pub const PASSWORD_ENV: &str = "PGPASSWORD";
/// How many idle sessions per URL the pool keeps by default; `serve`'s `store_pool` changes it.
pub const DEFAULT_POOL_IDLE: usize = 16;
/// The longest connecting may take when the URL sets no `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one statement of the store may run (`statement_timeout`) and wait for a lock
/// (`lock_timeout`; the write lock queues writers, as SQLite's busy timeout does).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

static IDLE: Mutex<Vec<(String, Box<PgSession>)>> = Mutex::new(Vec::new());
static POOL_IDLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(DEFAULT_POOL_IDLE);

/// Sets how many idle sessions per URL the pool keeps (at least 1).
pub fn set_pool_idle(n: usize) {
    POOL_IDLE.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Why a store on PostgreSQL could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Url(String),
    #[error("{0}")]
    Connect(String),
}

/// A session taken from the pool; dropped, it goes back (unless closed or the pool is full).
pub struct Pooled {
    url: String,
    session: Option<Box<PgSession>>,
}

impl std::ops::Deref for Pooled {
    type Target = PgSession;
    fn deref(&self) -> &PgSession {
        self.session.as_deref().expect("a pooled session is present until dropped")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut PgSession {
        self.session.as_deref_mut().expect("a pooled session is present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            give_back(&self.url, s);
        }
    }
}

/// A session on the store at `url`: an idle one from the pool, else a new one.
pub fn session(url: &str) -> Result<Pooled, OpenError> {
    let pooled = |s| Pooled { url: url.to_string(), session: Some(s) };
    {
        let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(i) = idle.iter().rposition(|(u, _)| u == url) {
            let (_, s) = idle.swap_remove(i);
            if !s.client.is_closed() {
                return Ok(pooled(s));
            }
        }
    }
    connect(url).map(|client| pooled(Box::new(PgSession::new(client))))
}

/// Gives a session back to the pool (dropped if the pool is full or the session is closed).
fn give_back(url: &str, session: Box<PgSession>) {
    if session.client.is_closed() {
        return;
    }
    let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
    let max = POOL_IDLE.load(std::sync::atomic::Ordering::Relaxed);
    if idle.iter().filter(|(u, _)| u == url).count() < max {
        idle.push((url.to_string(), session));
    }
}

/// Checks `url` as the store's: a `postgres://ROLE@HOST:PORT/DATABASE` URL with no password in it.
pub fn check(url: &str) -> Result<postgres::Config, OpenError> {
    let parsed = postgres::Config::from_str(url).map_err(|e| OpenError::Url(format!("not a PostgreSQL URL: {e}")))?;
    if parsed.get_password().is_some() {
        return Err(OpenError::Url(format!(
            "the URL holds a password, and the URL is shown in messages and process lists; remove it and set \
             {PASSWORD_ENV} instead"
        )));
    }
    let checked = crate::runtime::sql::check_postgres_url(url).map_err(OpenError::Url)?;
    let Some(database) = checked.database else {
        return Err(OpenError::Url("name the database: postgres://ROLE@HOST:PORT/DATABASE".into()));
    };
    let mut config = postgres::Config::from(checked.config);
    config.dbname(&database);
    if let Some(password) = std::env::var_os(PASSWORD_ENV) {
        config.password(password.as_encoded_bytes());
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let ms = |d: Duration| d.as_millis();
    config.options(&format!(
        "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
        ms(STATEMENT_TIMEOUT),
        ms(STATEMENT_TIMEOUT),
        ms(STATEMENT_TIMEOUT * 2)
    ));
    if config.get_application_name().is_none() {
        config.application_name("upshift store");
    }
    Ok(config)
}

fn connect(url: &str) -> Result<postgres::Client, OpenError> {
    let config = check(url)?;
    config
        .connect(crate::runtime::sql::postgres_tls())
        .map_err(|e| OpenError::Connect(super::db::DbError::from(e).to_string()))
}
