//! The web dashboard `upshift serve` answers under `/`: the rollouts table, one rollout's page with
//! its stages, charts, plugins and audit trail, and the controls an operator may use, kept live by
//! Server-Sent Events (`/ui/events`).
//!
//! Server-rendered HTML (askama templates in `templates/`, checked at compile time) with one small
//! script and one stylesheet, embedded in the binary (`assets/`): no CDN, no build step, nothing
//! from outside at run time. Charts are SVG drawn here (`chart`). The dashboard uses the API's
//! tokens and roles through one authentication path (`session`), reads the same views as the CLI
//! (`model` over `rollout::view`) and acts through the API's control path (`api::apply_control`).

pub mod audit;
pub mod chart;
pub mod events;
pub mod model;
mod pages;
pub mod session;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::App;
use super::api;
use super::auth::Role;
use super::error::ApiError;
use pages::DashError;

pub use events::Feed;

/// The dashboard's script and stylesheet.
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const ICON: &str = include_str!("assets/icon.svg");

/// The dashboard's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::list_page))
        .route("/rollouts/{id}", get(pages::rollout_page))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/ui/rollouts", get(pages::rows_fragment))
        .route("/ui/rollouts/{id}/live", get(pages::live_fragment))
        .route("/ui/rollouts/{id}/audit", get(pages::audit_fragment))
        .route("/ui/rollouts/{id}/{action}", post(pages::act))
        .route("/ui/events", get(live))
        .route("/assets/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/assets/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
        .route("/assets/icon.svg", get(|| async { asset("image/svg+xml", ICON) }))
        .route("/favicon.ico", get(|| async { asset("image/svg+xml", ICON) }))
        .layer(from_fn(session::security_headers))
        .with_state(app)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// `GET /ui/events`: the ids of rollouts whose journal grew, as they grow (`event: change`, data
/// `{"id": ..., "seq": ...}`); `event: resync` when this page fell behind and should reload what it
/// shows; `event: ready` first.
async fn live(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, DashError> {
    let credential = session::credential(&headers);
    api::authorized(app.clone(), credential, Role::Viewer, |_, _, _| Ok(())).await.map_err(DashError::Fragment)?;
    let Some((rx, slot)) = app.feed.subscribe() else {
        return Err(DashError::Fragment(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!(
                "{} live dashboards are open on this server, the most it serves at once; close one, or reload \
                 this page to see changes (it works without live updates)",
                events::MAX_STREAMS
            ),
        )));
    };
    let closed = app.feed.closed();
    let ready = futures_util::stream::once(async { Ok(Event::default().event("ready").data("ready")) });
    // The slot travels with the stream, and is given back when the page goes away.
    let changes = futures_util::stream::unfold((rx, closed, slot), |(mut rx, mut closed, slot)| async move {
        if *closed.borrow_and_update() {
            return None;
        }
        let event = tokio::select! {
            _ = closed.changed() => return None,
            m = rx.recv() => match m {
                Ok(change) => Event::default().event("change").json_data(&change).unwrap_or_default(),
                Err(RecvError::Lagged(_)) => Event::default().event("resync").data("resync"),
                Err(RecvError::Closed) => return None,
            },
        };
        Some((Ok(event), (rx, closed, slot)))
    });
    use futures_util::StreamExt;
    Ok(Sse::new(ready.chain(changes)).keep_alive(KeepAlive::default()))
}
