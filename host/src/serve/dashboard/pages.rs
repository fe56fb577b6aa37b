//! The dashboard's handlers: full pages, the fragments a page re-fetches when the live feed says
//! its rollout moved, sign-in and sign-out, and actions. Each authenticates through the API's path
//! (`api::authorized`) with the session's credential, reads through `model`, and renders a template.
//! Actions call `api::apply_control`, the API's own control path.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::audit::{self, AuditKind, AuditView};
use super::model::{self, Filter, ListView, RolloutView, RowView};
use super::session::{self, CSRF_HEADER};
use crate::engine::Phase;
use crate::serve::api;
use crate::serve::auth::{Caller, OPEN_CALLER, Role};
use crate::serve::{ApiError, App};
use crate::store::Store;

/// Who is looking, as a page needs it.
pub struct Who {
    pub name: String,
    pub role: &'static str,
    pub can_operate: bool,
    pub csrf: String,
    /// A loopback server without tokens: nobody signs in or out.
    pub open: bool,
}

impl Who {
    fn of(caller: &Caller, credential: Option<&str>, secret: &str) -> Who {
        let open = caller.name == OPEN_CALLER;
        Who {
            name: caller.name.clone(),
            role: caller.role.name(),
            can_operate: caller.role >= Role::Operator,
            csrf: session::csrf(if open { None } else { credential }, secret),
            open,
        }
    }
}

/// How a refused or failed dashboard request is answered.
pub enum DashError {
    /// A full page: an unauthenticated visitor is sent to sign in; other errors are an HTML page.
    Page(ApiError),
    /// A fragment or an action sent by the page's script: the status and the one-line message.
    Fragment(ApiError),
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        match self {
            DashError::Page(e) if e.status == StatusCode::UNAUTHORIZED => see_other("/login", None),
            DashError::Page(e) => {
                let title = e.status.canonical_reason().unwrap_or("Error").to_string();
                let message = crate::text::terminal(&e.message, crate::text::MAX_LINE).into_owned();
                render(e.status, &ErrorPage { title, message })
            }
            DashError::Fragment(e) => {
                let message = crate::text::terminal(&e.message, crate::text::MAX_LINE).into_owned();
                (e.status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
            }
        }
    }
}

fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("the dashboard failed to render a page: {e}")).into_response()
        }
    }
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// `id` as a path segment.
fn segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Authenticates the request with its cookie (or header), and renders what `work` builds with the
/// store on the blocking pool.
async fn viewed<T: Send + 'static>(
    app: Arc<App>,
    headers: &HeaderMap,
    needs: Role,
    work: impl FnOnce(&App, &mut Store, Who) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let credential = session::credential(headers);
    let held = credential.clone();
    api::authorized(app, credential, needs, move |app, store, caller| {
        let who = Who::of(&caller, held.as_deref(), &app.csrf_secret);
        work(app, store, who)
    })
    .await
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
}

/// A row with its link.
pub struct Row {
    row: RowView,
    href: String,
}

/// A page of the table, as `rows.html` shows it.
struct Table {
    /// The filters as a query string.
    query: String,
    list: ListView,
    rows: Vec<Row>,
    /// The link to the next page.
    next: Option<String>,
}

impl Table {
    fn read(store: &Store, filter: &Filter) -> Result<Table, ApiError> {
        let list = model::list(store, filter, now())?;
        let query = filter.query();
        let rows =
            list.rows.iter().map(|r| Row { row: r.clone(), href: format!("/rollouts/{}", segment(&r.id)) }).collect();
        let next = list.next.as_ref().map(|n| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!("/?{query}{sep}after={}", segment(n))
        });
        Ok(Table { query, list, rows, next })
    }
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    who: Who,
    filter: Filter,
    phases: Vec<(&'static str, bool)>,
    t: Table,
}

#[derive(Template)]
#[template(path = "rows.html")]
struct RowsFragment {
    t: Table,
}

#[derive(Template)]
#[template(path = "rollout.html")]
struct RolloutPage {
    who: Who,
    v: RolloutView,
    a: AuditView,
    kinds: Vec<(&'static str, bool)>,
    page_href: String,
    ui_href: String,
}

#[derive(Template)]
#[template(path = "live.html")]
struct LiveFragment {
    who: Who,
    v: RolloutView,
    ui_href: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditFragment {
    a: AuditView,
    kinds: Vec<(&'static str, bool)>,
    page_href: String,
}

fn now() -> i64 {
    crate::rollout::now_ms()
}

fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text())
}

fn kinds(selected: AuditKind) -> Vec<(&'static str, bool)> {
    AuditKind::ALL.iter().map(|k| (k.name(), *k == selected)).collect()
}

/// `GET /`: the rollouts table.
pub async fn list_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Response, DashError> {
    let Query(filter) = q.map_err(|e| DashError::Page(bad_query(e)))?;
    viewed(app, &headers, Role::Viewer, move |_, store, who| {
        let t = Table::read(store, &filter)?;
        let phases = Phase::ALL.iter().map(|p| (p.name(), p.name() == filter.phase)).collect();
        Ok(render(StatusCode::OK, &ListPage { who, filter, phases, t }))
    })
    .await
    .map_err(DashError::Page)
}

/// `GET /ui/rollouts`: the table's body, for a live update.
pub async fn rows_fragment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Response, DashError> {
    let Query(filter) = q.map_err(|e| DashError::Fragment(bad_query(e)))?;
    viewed(app, &headers, Role::Viewer, move |_, store, _| {
        Ok(render(StatusCode::OK, &RowsFragment { t: Table::read(store, &filter)? }))
    })
    .await
    .map_err(DashError::Fragment)
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: Option<usize>,
}

impl AuditQuery {
    fn kind(&self) -> Result<AuditKind, ApiError> {
        match self.kind.as_str() {
            "" => Ok(AuditKind::All),
            k => AuditKind::parse(k).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("unknown audit filter {k:?}: use all, transitions, calls, controls or notes"),
                )
            }),
        }
    }
}

fn rollout_view(store: &Store, id: &str) -> Result<RolloutView, ApiError> {
    model::rollout(store, id, now()).map_err(|e| match e {
        model::RolloutViewError::Store(s) => s.into(),
        model::RolloutViewError::Corrupt(c) => ApiError::internal(c),
    })
}

/// `GET /rollouts/{id}`: one rollout.
pub async fn rollout_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, DashError> {
    let Query(q) = q.map_err(|e| DashError::Page(bad_query(e)))?;
    viewed(app, &headers, Role::Viewer, move |_, store, who| {
        let kind = q.kind()?;
        let v = rollout_view(store, &id)?;
        let a = audit::audit(store, &id, kind, q.page.unwrap_or(1))?;
        let page_href = format!("/rollouts/{}", segment(&id));
        let ui_href = format!("/ui/rollouts/{}", segment(&id));
        Ok(render(StatusCode::OK, &RolloutPage { who, v, a, kinds: kinds(kind), page_href, ui_href }))
    })
    .await
    .map_err(DashError::Page)
}

/// `GET /ui/rollouts/{id}/live`: everything of a rollout's page but its audit trail.
pub async fn live_fragment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    viewed(app, &headers, Role::Viewer, move |_, store, who| {
        let v = rollout_view(store, &id)?;
        let ui_href = format!("/ui/rollouts/{}", segment(&id));
        Ok(render(StatusCode::OK, &LiveFragment { who, v, ui_href }))
    })
    .await
    .map_err(DashError::Fragment)
}

/// `GET /ui/rollouts/{id}/audit`: one page of the audit trail.
pub async fn audit_fragment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, DashError> {
    let Query(q) = q.map_err(|e| DashError::Fragment(bad_query(e)))?;
    viewed(app, &headers, Role::Viewer, move |_, store, _| {
        let kind = q.kind()?;
        let a = audit::audit(store, &id, kind, q.page.unwrap_or(1))?;
        let page_href = format!("/rollouts/{}", segment(&id));
        Ok(render(StatusCode::OK, &AuditFragment { a, kinds: kinds(kind), page_href }))
    })
    .await
    .map_err(DashError::Fragment)
}

#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// Sent by the page's script: answer 204 rather than sending the browser back to the page.
    #[serde(default)]
    js: Option<String>,
}

/// `POST /ui/rollouts/{id}/{action}`: approve, pause, resume or abort, as the signed-in operator.
pub async fn act(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let scripted = headers.contains_key(CSRF_HEADER);
    let fail = |e: ApiError| if scripted { DashError::Fragment(e) } else { DashError::Page(e) }.into_response();
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return fail(ApiError::new(e.status(), "bad_body", e.body_text())),
    };
    let scripted = scripted || form.js.is_some();
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string).or(form.csrf);
    let credential = session::credential(&headers);
    let held = credential.clone();
    let controller = app.controller.clone();
    let target = id.clone();
    let done = api::authorized(app, credential, Role::Operator, move |app, store, caller| {
        let held = if caller.name == OPEN_CALLER { None } else { held };
        if !session::csrf_ok(sent.as_deref(), held.as_deref(), &app.csrf_secret) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "this action did not come from this dashboard's page (its form token is missing or stale): reload the page and try again",
            ));
        }
        let reason = form.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        api::apply_control(app, store, &caller, "dashboard", &target, &action, reason)
    })
    .await;
    controller.wake();
    match done {
        Ok(()) if scripted => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => see_other(&format!("/rollouts/{}", segment(&id)), None),
        Err(e) if scripted => DashError::Fragment(e).into_response(),
        Err(e) => DashError::Page(e).into_response(),
    }
}

/// `GET /login`.
pub async fn login_page(State(app): State<Arc<App>>) -> Response {
    let open = tokio::task::spawn_blocking(move || Store::open(&app.state_path).and_then(|s| app.open(&s)))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false);
    if open {
        return see_other("/", None);
    }
    render(StatusCode::OK, &LoginPage { error: None })
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: checks the token like any API request and keeps it in the session cookie.
pub async fn login(State(app): State<Arc<App>>, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    let again = |status: StatusCode, error: String| render(status, &LoginPage { error: Some(error) });
    let token = match form {
        Ok(Form(f)) => f.token.trim().to_string(),
        Err(e) => return again(e.status(), format!("the sign-in form was not readable: {}", e.body_text())),
    };
    if !session::cookie_safe(&token) {
        return again(
            StatusCode::BAD_REQUEST,
            "that is not a token this dashboard can keep: paste a token made by `upshift token create`".into(),
        );
    }
    let credential = Some(format!("Bearer {token}"));
    match api::authorized(app, credential, Role::Viewer, |_, _, caller| Ok(caller)).await {
        // An open server needs no session: nothing is kept.
        Ok(caller) if caller.name == OPEN_CALLER => see_other("/", None),
        Ok(caller) => {
            tracing::info!("dashboard: {} signed in", caller.name);
            see_other("/", Some(session::sign_in(&token)))
        }
        Err(e) => again(e.status, crate::text::terminal(&e.message, crate::text::MAX_LINE).into_owned()),
    }
}

/// `POST /logout`.
pub async fn logout() -> Response {
    see_other("/login", Some(session::sign_out()))
}
