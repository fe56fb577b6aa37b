//! The API's errors: JSON `{ "error": "<one line>", "code": "<name>" }` with the status that says
//! whose fault it is. The line is the one the CLI prints for the same refusal (without `error: `).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::Denied;
use super::submit::SubmitError;
use crate::rollout::ControlError;
use crate::rollout::start::{Fault, StartError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// More fields for the body (every preflight problem, the id of an active rollout).
    pub extra: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), extra: None }
    }

    pub fn with(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": crate::text::cut(&self.message, crate::text::MAX_LINE), "code": self.code });
        if let (Some(Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.extend(extra);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Unauthenticated(why) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", why),
            Denied::Forbidden { name, role, needs } => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("token {name:?} has the role {}; this needs {} or above", role.name(), needs.name()),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::UnknownRollout { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Conflict { .. } | StoreError::Refused { .. } => (StatusCode::CONFLICT, "conflict"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Store(s) => s.into(),
            e @ ControlError::NotAllowed { .. } => ApiError::new(StatusCode::CONFLICT, "not_allowed", e.to_string()),
            e => ApiError::internal(e),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        let status = match (&e, e.fault()) {
            (StartError::Spec(_), _) => StatusCode::BAD_REQUEST,
            (_, Fault::Input) => StatusCode::UNPROCESSABLE_ENTITY,
            (_, Fault::Conflict) => StatusCode::CONFLICT,
            (_, Fault::Internal) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let problems = e.problems().map(|p| json!({ "problems": p.lines().collect::<Vec<_>>() }));
        let err = ApiError::new(status, e.code(), e.to_string());
        match problems {
            Some(p) => err.with(p),
            None => err,
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let (status, code) = match &e {
            SubmitError::Start(_) => match e {
                SubmitError::Start(s) => return s.into(),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            SubmitError::NoRoot => (StatusCode::UNPROCESSABLE_ENTITY, "no_spec_root"),
            SubmitError::BadPath(_) => (StatusCode::BAD_REQUEST, "bad_path"),
            SubmitError::Outside { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "outside_spec_root"),
            SubmitError::Env { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "env_not_allowed"),
        };
        ApiError::new(status, code, e.to_string())
    }
}
