//! The HTTP API under `/v1` (JSON), and `/healthz`, `/readyz`. Handlers are thin: authenticate,
//! authorize, call one library function on the blocking pool (the store and plugins are
//! synchronous), map its typed error to a status (`error.rs`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection, StringRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::App;
use super::auth::{self, Caller, Role};
use super::error::ApiError;
use super::submit::{self, DEFAULT_SPEC_PATH};
use crate::engine::{Event, OPERATOR_PAUSE, Phase};
use crate::rollout::start::Started;
use crate::rollout::view::{self, Detail, Summary};
use crate::store::Store;

/// The largest request body (a spec, a reason) the API reads.
pub const MAX_BODY_BYTES: usize = 256 << 10;
/// Rollouts per page of `GET /v1/rollouts` by default, and at most.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;
/// Journal entries per page of `GET /v1/rollouts/{id}/history` by default, and at most.
pub const DEFAULT_HISTORY_PAGE: usize = 200;
pub const MAX_HISTORY_PAGE: usize = 2000;

/// The OpenAPI 3.1 document of these routes, written by hand (`tests/serve_openapi.rs` checks it
/// against the server). It holds no data, so `GET /v1/openapi.json` needs no token.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API's routes. `extra` is merged in (the place where `/metrics` mounts).
pub fn router(app: Arc<App>, extra: Router) -> Router {
    let v1 = Router::new()
        .route("/v1/rollouts", get(list).post(create))
        .route("/v1/rollouts/{id}", get(show))
        .route("/v1/rollouts/{id}/history", get(history))
        .route("/v1/rollouts/{id}/{action}", post(control))
        .with_state(app.clone());
    Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(ready))
        .route("/v1/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/metrics", get(metrics))
        .with_state(app)
        .merge(v1)
        .merge(extra)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; the API is under /v1") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(super::dashboard::session::same_origin))
}

/// `GET /metrics` (viewer): the Prometheus text, its counters caught up with the journal first.
async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let text = blocking(app, &headers, Role::Viewer, |app, store, _| {
        app.metrics.catch_up(store)?;
        Ok(app.metrics.render())
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], text).into_response())
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.controller.ready() {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "not ready: starting or shutting down")
            .into_response()
    }
}

/// Authenticates the request, checks that its caller may do what needs `needs`, and runs `work`
/// with the store on the blocking pool.
async fn blocking<T: Send + 'static>(
    app: Arc<App>,
    headers: &HeaderMap,
    needs: Role,
    work: impl FnOnce(&App, &mut Store, Caller) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    authorized(app, header, needs, work).await
}

/// [`blocking`] for a request whose credential is `header` (an `Authorization` value, `Bearer
/// <token>`): the API's header, or the dashboard's session cookie presented the same way.
pub(super) async fn authorized<T: Send + 'static>(
    app: Arc<App>,
    header: Option<String>,
    needs: Role,
    work: impl FnOnce(&App, &mut Store, Caller) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&app.state_path)?;
        let open = app.open(&store)?;
        let caller = auth::authenticate(header.as_deref(), open, &app.configured_tokens, &store)??;
        auth::authorize(&caller, needs)?;
        work(&app, &mut store, caller)
    })
    .await
    .map_err(ApiError::internal)?
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    name: Option<String>,
    limit: Option<usize>,
    /// The id of the last rollout of the previous page.
    after: Option<String>,
}

async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    blocking(app, &headers, Role::Viewer, move |_, store, _| {
        let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let rows: Vec<_> = store
            .list()?
            .into_iter()
            .filter(|r| q.state.as_ref().is_none_or(|s| &r.phase == s))
            .filter(|r| q.name.as_ref().is_none_or(|n| &r.name == n))
            .collect();
        let start = match &q.after {
            Some(after) => rows.iter().position(|r| &r.id == after).map_or(rows.len(), |i| i + 1),
            None => 0,
        };
        let page: Vec<_> = rows.iter().skip(start).take(limit).collect();
        let next = (start + page.len() < rows.len()).then(|| page.last().map(|r| r.id.clone())).flatten();
        let items: Vec<Summary> = page.into_iter().map(Summary::of).collect();
        Ok(axum::Json(json!({ "rollouts": items, "next": next })).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateQuery {
    /// Where the spec is placed under the server's `spec_root` (its folder is the spec's folder).
    path: Option<String>,
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<CreateQuery>, QueryRejection>,
    body: Result<String, StringRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let controller = app.controller.clone();
    let response = blocking(app, &headers, Role::Admin, move |app, store, caller| {
        let text = body.map_err(|e| {
            let status = e.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_body" };
            ApiError::new(
                status,
                code,
                format!("the request body must be a TOML spec of at most {MAX_BODY_BYTES} bytes ({e})"),
            )
        })?;
        let rel = q.path.as_deref().unwrap_or(DEFAULT_SPEC_PATH);
        let actor = format!("{} (api)", caller.name);
        let (started, warnings) = submit::submit(&app.config, &app.runtime, &app.trust, store, rel, &text, &actor)?;
        let conflict = |code, message: String, id: Option<String>| {
            Err(ApiError::new(StatusCode::CONFLICT, code, message).with(json!({ "id": id })))
        };
        match started {
            Started::Created { id, spec, plan, .. } => {
                tracing::info!("rollout {id} created by {}", caller.name);
                // The entries its creation journaled: a client following the rollout prints what
                // comes after them (the same lines `upshift run` prints).
                let created_through = store.history(&id)?.iter().filter(|e| e.actor == actor).map(|e| e.seq).max();
                let stages: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
                let body = json!({
                    "id": id, "from": spec.from, "to": spec.to, "stages": stages,
                    "created_through": created_through, "warnings": warnings,
                });
                Ok((StatusCode::CREATED, axum::Json(body)).into_response())
            }
            Started::Continuing { id, phase, .. } => conflict(
                "active",
                format!("rollout {id} of the same name has not ended ({phase}); this server drives it"),
                Some(id),
            ),
            Started::Held { name, reason } => conflict("held", Started::held_line(&name, &reason), None),
            Started::NothingChosen { line } => conflict("nothing_to_roll_out", line, None),
        }
    })
    .await;
    controller.wake();
    response
}

async fn show(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    blocking(app, &headers, Role::Viewer, move |_, store, _| detail(store, &id)).await
}

/// The answer about one rollout: its [`Detail`].
fn detail(store: &Store, id: &str) -> Result<Response, ApiError> {
    let detail = Detail::of(&store.rollout(id)?).map_err(ApiError::internal)?;
    Ok(axum::Json(detail).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// The `seq` of the last entry of the previous page.
    after: Option<i64>,
    limit: Option<usize>,
}

async fn history(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    blocking(app, &headers, Role::Viewer, move |_, store, _| {
        let limit = q.limit.unwrap_or(DEFAULT_HISTORY_PAGE).clamp(1, MAX_HISTORY_PAGE);
        let after = q.after.unwrap_or(0);
        let entries: Vec<_> = store.history(&id)?.into_iter().filter(|e| e.seq > after).collect();
        let page = &entries[..entries.len().min(limit)];
        let next = (page.len() < entries.len()).then(|| page.last().map(|e| e.seq)).flatten();
        Ok(axum::Json(json!({ "entries": page, "next": next })).into_response())
    })
    .await
}

/// A query string that is not one the route takes: the API's JSON error, not axum's text.
fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text())
}

/// The reason in a control's body (empty, or `{"reason": "..."}`).
fn control_reason(body: Result<Bytes, BytesRejection>) -> Result<Option<String>, ApiError> {
    let body = body.map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_body" };
        ApiError::new(e.status(), code, format!("the body must be at most {MAX_BODY_BYTES} bytes ({e})"))
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let body: ControlBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the body must be {{\"reason\": \"...\"}} or empty: {e}"),
        )
    })?;
    Ok(body.reason)
}

/// The engine event of control `action` with its optional reason.
fn control_event(action: &str, reason: Option<String>) -> Result<Event, ApiError> {
    Ok(match action {
        "approve" => Event::Approve,
        "pause" => Event::Pause { reason: reason.map(|r| format!("{OPERATOR_PAUSE}: {r}")) },
        "resume" => Event::Resume,
        "abort" => Event::Abort { reason: reason.unwrap_or_else(|| "aborted by operator".into()) },
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("unknown control {other:?}: use approve, pause, resume or abort"),
            ));
        }
    })
}

/// Applies control `action` (approve, pause, resume, abort) to rollout `id` for `caller`, who came
/// `via` the API or the dashboard (the journal's actor says which), and tells the server's
/// observers. The one path of both; the caller is already authorized as an operator.
pub(super) fn apply_control(
    app: &App,
    store: &mut Store,
    caller: &Caller,
    via: &str,
    id: &str,
    action: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let event = control_event(action, reason)?;
    let actor = format!("{} ({via} {action})", caller.name);
    let rec = store.rollout(id)?;
    // Like `upshift resume`: an ended rollout is said so; one that is not paused is already driven.
    if action == "resume" && rec.phase != Phase::Paused.name() {
        if view::ended(&rec.phase) {
            let message = format!("rollout {id} has ended: {}", rec.phase);
            return Err(ApiError::new(StatusCode::CONFLICT, "ended", message));
        }
        return Ok(());
    }
    let (state, entry) = crate::rollout::control_journaled(store, id, event, &actor)?;
    app.controller.observers().committed(id, std::slice::from_ref(&entry), &state);
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    /// Why, for the audit trail (pause, abort).
    reason: Option<String>,
}

async fn control(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let controller = app.controller.clone();
    let response = blocking(app, &headers, Role::Operator, move |app, store, caller| {
        // Read once the caller is known: a caller without a token learns nothing from a 400.
        let reason = control_reason(body)?;
        apply_control(app, store, &caller, "api", &id, &action, reason)?;
        detail(store, &id)
    })
    .await;
    controller.wake();
    response
}
