//! A client of the API (`upshift --server URL ...`): the calls the CLI makes when it talks to an
//! `upshift serve` instead of the store, answering the same typed views ([`Summary`], [`Detail`],
//! [`JournalEntry`]) the server built with the library, so the CLI prints them as it prints its own.
//! Blocking (ureq); every answer read with a size limit.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::rollout::view::{Detail, Summary};
use crate::store::JournalEntry;

/// How long one request may take, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a page of history is the largest).
pub const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// What may be asked of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Approve,
    Pause,
    Resume,
    Abort,
}

impl Control {
    pub fn name(self) -> &'static str {
        match self {
            Control::Approve => "approve",
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Abort => "abort",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--server {0:?} is not a server address: give its URL, e.g. http://127.0.0.1:8700")]
    BadUrl(String),
    /// The server refused the request; `message` is the line the CLI prints for the same refusal.
    #[error("{message}")]
    Api { status: u16, code: String, message: String, problems: Vec<String>, id: Option<String> },
    #[error(
        "cannot reach the upshift server at {url}: {message}; check --server (UPSHIFT_SERVER) and that `upshift serve` runs there"
    )]
    Unreachable { url: String, message: String },
    #[error(
        "the server at {url} answered {status} with something that is not upshift's API ({message}); check --server (UPSHIFT_SERVER)"
    )]
    NotTheApi { url: String, status: u16, message: String },
}

impl ClientError {
    /// The server refused the request as the caller's mistake (a 4xx answer).
    pub fn refused(&self) -> bool {
        matches!(self, ClientError::Api { status: 400..=499, .. })
    }

    /// Every problem of a refused spec (the preflight's), one per line; `None` for other errors.
    pub fn problems(&self) -> Option<&[String]> {
        match self {
            ClientError::Api { problems, .. } if !problems.is_empty() => Some(problems),
            _ => None,
        }
    }
}

/// What `POST /v1/rollouts` did with a spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// A new rollout: its id, versions and stage names; its creation journaled every entry up to
    /// `created_through`.
    Created { id: String, from: String, to: String, stages: Vec<String>, created_through: i64, warnings: Vec<String> },
    /// A rollout of the same name has not ended; the server drives it.
    Continuing { id: String },
    /// A window, freeze or gate holds the spec back; nothing was created.
    Held { line: String },
    /// The version policy chose nothing to roll out.
    NothingChosen { line: String },
}

#[derive(Deserialize)]
struct CreatedBody {
    id: String,
    from: String,
    to: String,
    stages: Vec<String>,
    created_through: Option<i64>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(alias = "rollouts", alias = "entries")]
    items: Vec<T>,
    next: Option<Value>,
}

/// One server, one token.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the server at `url` (`http://host:port`, a trailing `/` or `/v1` is fine).
    pub fn new(url: &str, token: Option<String>) -> Result<Client, ClientError> {
        let trimmed = url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let parsed: Result<http::Uri, _> = base.parse();
        let ok = parsed.is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if !ok {
            return Err(ClientError::BadUrl(url.to_string()));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("upshift/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { base: base.to_string(), token: token.filter(|t| !t.is_empty()), agent })
    }

    /// The server's address, as shown to a human.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Every rollout, newest first (all pages).
    pub fn list(&self) -> Result<Vec<Summary>, ClientError> {
        let mut all = vec![];
        let mut after: Option<String> = None;
        loop {
            let query = after.as_ref().map_or(String::new(), |a| format!("&after={}", encode(a)));
            let page: Page<Summary> = self.get(&format!("/v1/rollouts?limit=500{query}"))?;
            all.extend(page.items);
            match page.next.and_then(|v| v.as_str().map(str::to_string)) {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub fn detail(&self, id: &str) -> Result<Detail, ClientError> {
        self.get(&format!("/v1/rollouts/{}", encode(id)))
    }

    /// The journal entries of rollout `id` after entry `after` (all pages).
    pub fn history_after(&self, id: &str, after: i64) -> Result<Vec<JournalEntry>, ClientError> {
        let mut all = vec![];
        let mut after = after;
        loop {
            let page: Page<JournalEntry> =
                self.get(&format!("/v1/rollouts/{}/history?after={after}&limit=2000", encode(id)))?;
            all.extend(page.items);
            match page.next.and_then(|v| v.as_i64()) {
                Some(next) => after = next,
                None => return Ok(all),
            }
        }
    }

    /// Sends `control` (with `reason`, for pause and abort) and answers where the rollout stands.
    pub fn control(&self, id: &str, control: Control, reason: Option<&str>) -> Result<Detail, ClientError> {
        let body = reason.map(|r| serde_json::json!({ "reason": r }).to_string()).unwrap_or_default();
        let path = format!("/v1/rollouts/{}/{}", encode(id), control.name());
        self.send(&path, "application/json", &body).and_then(|(status, v)| self.parse(&path, status, v))
    }

    /// Submits a spec's text, placed at `path` under the server's spec root.
    pub fn submit(&self, path: &str, spec: &str) -> Result<Submitted, ClientError> {
        let route = format!("/v1/rollouts?path={}", encode(path));
        let (status, body) = self.send(&route, "application/toml", spec)?;
        match self.parse::<CreatedBody>(&route, status, body) {
            Ok(c) => Ok(Submitted::Created {
                id: c.id,
                from: c.from,
                to: c.to,
                stages: c.stages,
                created_through: c.created_through.unwrap_or(0),
                warnings: c.warnings,
            }),
            Err(ClientError::Api { status: 409, code, message, id, .. }) => match (code.as_str(), id) {
                ("active", Some(id)) => Ok(Submitted::Continuing { id }),
                ("held", _) => Ok(Submitted::Held { line: message }),
                ("nothing_to_roll_out", _) => Ok(Submitted::NothingChosen { line: message }),
                (_, id) => Err(ClientError::Api { status: 409, code, message, problems: vec![], id }),
            },
            Err(e) => Err(e),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let request = self.with_token(self.agent.get(format!("{}{path}", self.base)));
        let answer = self.read(path, request.call())?;
        self.parse(path, answer.0, answer.1)
    }

    fn send(&self, path: &str, content_type: &str, body: &str) -> Result<(u16, String), ClientError> {
        let request = self.with_token(self.agent.post(format!("{}{path}", self.base))).content_type(content_type);
        self.read(path, request.send(body.as_bytes()))
    }

    fn with_token<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => request.header("authorization", format!("Bearer {t}")),
            None => request,
        }
    }

    fn read(
        &self,
        path: &str,
        answer: Result<http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, String), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut response =
            answer.map_err(|e| ClientError::Unreachable { url: self.base.clone(), message: e.to_string() })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| ClientError::NotTheApi { url, status, message: e.to_string() })?;
        Ok((status, text))
    }

    /// A success's body as `T`, or the API's error as [`ClientError::Api`].
    fn parse<T: DeserializeOwned>(&self, path: &str, status: u16, body: String) -> Result<T, ClientError> {
        let not_api = |message: String| ClientError::NotTheApi { url: format!("{}{path}", self.base), status, message };
        if (200..300).contains(&status) {
            return serde_json::from_str(&body).map_err(|e| not_api(e.to_string()));
        }
        let v: Value = serde_json::from_str(&body).map_err(|_| not_api(crate::text::cut(&body, 200).to_string()))?;
        let (Some(message), Some(code)) = (v["error"].as_str(), v["code"].as_str()) else {
            return Err(not_api(crate::text::cut(&body, 200).to_string()));
        };
        let mut message = message.to_string();
        if status == 401 && self.token.is_none() {
            // The server's words are for any HTTP client; this one takes its token from the CLI.
            message = message.split(':').next().unwrap_or_default().to_string() + ": set UPSHIFT_TOKEN or give --token";
        }
        let problems = v["problems"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_string));
        Err(ClientError::Api {
            status,
            code: code.to_string(),
            message,
            problems: problems.collect(),
            id: v["id"].as_str().map(str::to_string),
        })
    }
}

/// `s` percent-encoded for a URL's path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            // Dots too: an id of ".." must not climb a level in the URL.
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_address_must_be_an_http_url() {
        assert_eq!(Client::new("http://127.0.0.1:8700/", None).unwrap().url(), "http://127.0.0.1:8700");
        assert_eq!(Client::new("https://upshift.example/v1", None).unwrap().url(), "https://upshift.example");
        for bad in ["127.0.0.1:8700", "ftp://x", "", "http://"] {
            assert!(matches!(Client::new(bad, None), Err(ClientError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn ids_and_paths_are_encoded_as_one_segment() {
        assert_eq!(encode("quickstart-1"), "quickstart-1");
        assert_eq!(encode("../x y/z?&#"), "%2E%2E%2Fx%20y%2Fz%3F%26%23");
    }
}
