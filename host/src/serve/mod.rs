//! `upshift serve`: the controller as a long-running service. It drives every rollout in the store
//! that has not ended ([`controller`]) and answers the HTTP API ([`api`]) with bearer tokens
//! ([`auth`]); specs posted to it are confined to the config's `spec_root` ([`submit`]) and started
//! on the same path as the CLI's `run` (`rollout::start`). [`metrics`] is `/metrics`, counted from the
//! journal; [`webhooks`] notifies the configured endpoints of rollout events, from the journal.
//! [`dashboard`] is the web dashboard under `/`, live through Server-Sent Events.
//! [`observe`] is the seam through which an observer sees what the server journals;
//! [`ServeOptions::routes`] where extra routes mount.

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod controller;
pub mod dashboard;
mod error;
pub mod metrics;
pub mod observe;
pub mod schedule;
pub mod submit;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use config::ServeConfig;
pub use controller::Controller;
pub use error::ApiError;
pub use observe::{JournalObserver, Observers};

use crate::runtime::{LoadError, Runtime};
use crate::store::{Store, StoreError};
use crate::trust::TrustPolicy;
use auth::Role;

/// The address `upshift serve` listens on by default: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";

/// What a server is started with.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub state: PathBuf,
    pub config: ServeConfig,
    pub trust: TrustPolicy,
    /// Told of every journal commit the server makes (metrics, webhooks).
    pub observers: Observers,
    /// More routes, merged into the API's router (e.g. `/metrics`).
    pub routes: axum::Router,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "refusing to listen on {addr} without any API token: anyone who can reach it could start and abort rollouts; \
         create one with `upshift token create --role admin --name NAME` (or add [[tokens]] to serve.toml), or listen on 127.0.0.1"
    )]
    NoTokens { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Runtime(#[from] LoadError),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Webhooks(#[from] webhooks::NotifierError),
}

/// What every handler shares.
pub struct App {
    pub state_path: PathBuf,
    pub config: ServeConfig,
    pub runtime: Arc<Runtime>,
    pub trust: TrustPolicy,
    pub controller: Arc<Controller>,
    /// A loopback server with no token at all is open (see [`auth::OPEN_CALLER`]); decided per
    /// request, so the first token created closes it at once.
    pub loopback: bool,
    /// The config's tokens: name, role, sha256.
    pub configured_tokens: Vec<(String, Role, String)>,
    /// What `/metrics` shows: counted from the journal, plugin calls and commits measured here.
    pub metrics: Arc<metrics::Metrics>,
    /// The journal as followed for the dashboard's live pages.
    pub feed: Arc<dashboard::Feed>,
    /// The CSRF secret of an open server's dashboard (drawn at start; see `dashboard::session`).
    pub csrf_secret: String,
}

impl App {
    /// Whether requests need no token: loopback, and no token in the config or the store.
    pub fn open(&self, store: &Store) -> Result<bool, StoreError> {
        Ok(self.loopback && self.configured_tokens.is_empty() && store.token_count()? == 0)
    }
}

/// Runs the server until SIGTERM or SIGINT: then it stops taking requests and work, lets in-flight
/// plugin calls finish (or reach their deadline) and commit, gives back every runner lease and
/// returns. `on_listening` is called once the socket is bound, with its address and whether the
/// server is open (no token, loopback).
pub fn serve(opts: ServeOptions, on_listening: impl FnOnce(SocketAddr, bool)) -> Result<(), ServeError> {
    let max_parallel = opts.config.max_parallel();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Rollout steps take at most `max_parallel` threads (the controller's semaphore); requests
        // (store reads, plugin loading of a submission) take the rest.
        .max_blocking_threads(max_parallel + 32)
        .build()?;
    rt.block_on(run(opts, on_listening))
}

async fn run(opts: ServeOptions, on_listening: impl FnOnce(SocketAddr, bool)) -> Result<(), ServeError> {
    let ServeOptions { listen, state, config, trust, mut observers, routes } = opts;
    config.apply_store_settings();
    let configured_tokens: Vec<_> =
        config.tokens.iter().map(|t| (t.name.clone(), t.role, t.sha256.to_ascii_lowercase())).collect();
    let loopback = listen.ip().is_loopback();
    // The store is blocking I/O (and a PostgreSQL store's client runs a runtime of its own): off
    // the async threads, here and everywhere in the server.
    let stored_tokens = tokio::task::block_in_place(|| Store::open(&state)?.token_count())?;
    let no_tokens = configured_tokens.is_empty() && stored_tokens == 0;
    if no_tokens && !loopback {
        return Err(ServeError::NoTokens { addr: listen });
    }
    let runtime = Arc::new(Runtime::new()?);
    let metrics = Arc::new(metrics::Metrics::new());
    runtime.set_call_observer(Some(metrics.clone()));
    crate::store::set_commit_observer(Some(metrics.clone()));
    // Started before any rollout is driven: every event committed from here on is delivered.
    let notifier = match config.webhooks.is_empty() {
        true => None,
        false => Some(tokio::task::block_in_place(|| {
            webhooks::Notifier::start(&state, config.webhooks.clone(), metrics.clone())
        })?),
    };
    let feed = dashboard::Feed::new();
    observers.add(feed.clone());
    let controller =
        Arc::new(Controller::new(state.clone(), runtime.clone(), trust.clone(), observers, config.max_parallel()));
    let app = Arc::new(App {
        state_path: state,
        config,
        runtime,
        trust,
        controller: controller.clone(),
        loopback,
        configured_tokens,
        metrics,
        feed: feed.clone(),
        csrf_secret: dashboard::session::new_secret()
            .map_err(|e| std::io::Error::other(format!("no randomness for the dashboard's CSRF secret: {e}")))?,
    });
    feed.start(app.state_path.clone());
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|source| ServeError::Bind { addr: listen, source })?;
    on_listening(listener.local_addr()?, no_tokens);
    let driving = tokio::spawn(controller.clone().run());
    let stopping = controller.clone();
    let routes = routes.merge(dashboard::router(app.clone()));
    axum::serve(listener, api::router(app, routes))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight steps, then giving back every lease");
            stopping.stop();
            feed.close();
        })
        .await?;
    let _ = driving.await;
    // After the rollouts stopped: attempts in flight finish; pending deliveries wait in the store.
    if let Some(notifier) = notifier {
        tokio::task::spawn_blocking(move || notifier.shutdown())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
