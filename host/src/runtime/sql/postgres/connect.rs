//! Opening a plugin's session on one database of a PostgreSQL server: the socket (TCP or
//! Unix-domain, counted), TLS when the URL's `sslmode` asks for it (rustls, the Mozilla roots), the
//! password from the environment variable the spec names, the host's own settings for the session
//! (its time limits) and the [`role`](super::role) check before anything else runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::role;
use super::socket::{Counted, Intake, Link};
use super::url;
use crate::runtime::grants::PostgresServer;

/// What the server may send while a session opens (authentication and its parameters), in bytes.
const OPEN_INTAKE_BYTES: usize = 1 << 20;

/// The host's settings for a session, sent in the startup packet so no role default overrides them.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The longest one statement may run: the plugin's time limit per call (the host also cancels
    /// at the call's deadline; this is the server's own backstop).
    pub statement_timeout: Duration,
    /// The longest one statement waits for a lock before failing with a retryable error.
    pub lock_timeout: Duration,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Config(String),
    #[error(
        "environment variable {0} (password_env) is not set in the host's environment; set it to the role's password"
    )]
    NoPassword(String),
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
    #[error("the host refuses to serve this database, its role reaches outside it: {}", .0.join("; "))]
    Unconfined(Vec<String>),
}

/// Where a session's socket went, so a cancel request can follow it.
#[derive(Debug, Clone)]
enum Peer {
    Tcp(std::net::SocketAddr),
    Unix(PathBuf),
}

/// An open session.
pub struct Opened {
    pub client: Client,
    /// The task that drives the connection; it ends once the client is dropped (after telling the
    /// server, so the session ends cleanly).
    pub connection: tokio::task::JoinHandle<()>,
    pub intake: Intake,
    cancel: CancelToken,
    peer: Peer,
    tls: MakeRustlsConnect,
    /// The server's name for TLS.
    host_name: String,
}

impl Opened {
    /// Asks the server to stop the statement in progress (through a new connection, as PostgreSQL's
    /// cancel protocol works), waiting at most `limit`.
    pub async fn cancel(&self, limit: Duration) {
        let mut make = self.tls.clone();
        let sent = async {
            match &self.peer {
                Peer::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                    let tls = MakeTlsConnect::<TcpStream>::make_tls_connect(&mut make, &self.host_name)
                        .unwrap_or_else(|never| match never {});
                    self.cancel.cancel_query_raw(stream, tls).await.map_err(|e| e.to_string())
                }
                Peer::Unix(path) => {
                    let stream = UnixStream::connect(path).await.map_err(|e| e.to_string())?;
                    let tls = MakeTlsConnect::<UnixStream>::make_tls_connect(&mut make, &self.host_name)
                        .unwrap_or_else(|never| match never {});
                    self.cancel.cancel_query_raw(stream, tls).await.map_err(|e| e.to_string())
                }
            }
        };
        match tokio::time::timeout(limit, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cancelling a plugin's PostgreSQL statement: {e}"),
            Err(_) => tracing::warn!("cancelling a plugin's PostgreSQL statement: no answer in {limit:?}"),
        }
    }
}

/// The TLS client: rustls with ring, verifying against the Mozilla roots built into the host. The
/// store's PostgreSQL connections use it too.
pub(crate) fn tls() -> MakeRustlsConnect {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(config) => MakeRustlsConnect::new(config),
        // ring supports the default versions; only a broken build gets here.
        Err(e) => unreachable!("rustls with ring refuses its default protocol versions: {e}"),
    }
}

/// Opens `database` on `server` for a plugin, within `limit`.
pub async fn open(
    server: &PostgresServer,
    database: &str,
    settings: Settings,
    limit: Duration,
) -> Result<Opened, OpenError> {
    let url = url::check(&server.url).map_err(|e| OpenError::Config(format!("url {:?}: {e}", server.url)))?;
    let mut config = url.config;
    config.dbname(database);
    if let Some(var) = &server.password_env {
        let password = std::env::var_os(var).ok_or_else(|| OpenError::NoPassword(var.clone()))?;
        config.password(password.as_encoded_bytes());
    }
    let ms = |d: Duration| d.as_millis().max(1);
    config.options(format!(
        "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
        ms(settings.statement_timeout),
        ms(settings.lock_timeout),
        // Between two statements the plugin's code runs; never longer than its call.
        ms(settings.statement_timeout + Duration::from_secs(1)),
    ));
    if config.get_application_name().is_none() {
        config.application_name("upshift");
    }
    let connect_limit = config.get_connect_timeout().copied().unwrap_or(limit).min(limit);
    let (link, peer, host_name) = tokio::time::timeout(limit, reach(&config, connect_limit))
        .await
        .map_err(|_| OpenError::Unreachable(format!("no answer within {} ms", limit.as_millis())))??;
    let intake = Intake::default();
    intake.reset(OPEN_INTAKE_BYTES);
    let mut make = tls();
    let tls = MakeTlsConnect::<Counted>::make_tls_connect(&mut make, &host_name).unwrap_or_else(|never| match never {});
    let counted = Counted { link, intake: intake.clone() };
    let (client, connection) = tokio::time::timeout(limit, config.connect_raw(counted, tls))
        .await
        .map_err(|_| OpenError::Unreachable(format!("no answer within {} ms", limit.as_millis())))?
        .map_err(|e| match e.as_db_error() {
            Some(db) => OpenError::Refused(format!("{}: {}", db.severity(), db.message())),
            // TLS the server does not offer, or a certificate that does not verify, stays so: not retried.
            None if super::describe(&e).starts_with("error performing TLS handshake") => {
                OpenError::Refused(super::describe(&e))
            }
            None => OpenError::Unreachable(super::describe(&e)),
        })?;
    let connection = tokio::spawn(drive(connection));
    let cancel = client.cancel_token();
    let problems = tokio::time::timeout(limit, role::problems(&client, database))
        .await
        .map_err(|_| OpenError::Unreachable("the role check got no answer".into()))?
        .map_err(|e| OpenError::Refused(super::describe(&e)))?;
    if !problems.is_empty() {
        return Err(OpenError::Unconfined(problems));
    }
    Ok(Opened { client, connection, intake, cancel, peer, tls: make, host_name })
}

/// Drives a session's connection until it ends. Notices and notifications are dropped here: their
/// text is the plugin's (`RAISE NOTICE`), and the driver would log it as it is (their bytes still
/// counted against the statement's intake).
async fn drive<S, T>(mut connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!("a plugin's PostgreSQL session ended: {}", crate::text::terminal(&e.to_string(), 512));
                break;
            }
            None => break,
        }
    }
}

/// Connects a socket to the first of the URL's hosts that answers.
async fn reach(config: &tokio_postgres::Config, limit: Duration) -> Result<(Link, Peer, String), OpenError> {
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let mut failures = Vec::new();
    let count = hosts.len().max(addrs.len());
    for i in 0..count {
        let name = match (hosts.get(i), addrs.get(i)) {
            (Some(Host::Tcp(h)), _) => h.clone(),
            (None, Some(a)) => a.to_string(),
            (None, None) => continue,
            (Some(Host::Unix(dir)), _) => {
                let path = dir.join(format!(".s.PGSQL.{}", port(i)));
                match tokio::time::timeout(limit, UnixStream::connect(&path)).await {
                    Ok(Ok(s)) => return Ok((Link::Unix(s), Peer::Unix(path), "localhost".into())),
                    Ok(Err(e)) => failures.push(format!("{}: {e}", path.display())),
                    Err(_) => failures.push(format!("{}: timed out", path.display())),
                }
                continue;
            }
        };
        // `hostaddr` gives the address; the host name stays the TLS name.
        let target = match addrs.get(i) {
            Some(a) => std::net::SocketAddr::new(*a, port(i)).to_string(),
            None => format!("{name}:{}", port(i)),
        };
        match tokio::time::timeout(limit, TcpStream::connect(&target)).await {
            Ok(Ok(s)) => {
                let peer = s.peer_addr().map_err(|e| OpenError::Unreachable(e.to_string()))?;
                let _ = s.set_nodelay(true);
                return Ok((Link::Tcp(s), Peer::Tcp(peer), name));
            }
            Ok(Err(e)) => failures.push(format!("{target}: {e}")),
            Err(_) => failures.push(format!("{target}: timed out")),
        }
    }
    Err(OpenError::Unreachable(failures.join("; ")))
}
