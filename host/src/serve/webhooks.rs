//! Webhooks: the configuration of an endpoint that wants to hear about rollout events, and the
//! notifier that tells it. Events come from the journal (so a rollout driven by any process is
//! seen, and a restart resumes where it stopped); each is delivered as a signed JSON POST, retried
//! with exponential backoff and jitter, every attempt recorded in the store and the rollout's
//! journal, on the notifier's own threads so no rollout ever waits for an endpoint.
//!
//! - `events.rs`: which journal entries are which events, and the JSON body of each.
//! - `sign.rs`: the `X-Upshift-Signature` HMAC-SHA256.
//! - `notifier.rs`: the threads that queue, deliver, retry and record.

mod events;
mod notifier;
mod sign;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use events::{body, events_of};
pub use notifier::{
    DELIVERY_WORKERS, ENQUEUE_BATCH, MAX_ERROR_BYTES, Notifier, NotifierError, NotifierHandle, POLL_INTERVAL,
};
pub use sign::{SIGNATURE_PREFIX, hmac_sha256, signature, verify_signature};

/// Header carrying `sha256=<hex HMAC-SHA256 of the body, keyed with the webhook's secret>`.
pub const SIGNATURE_HEADER: &str = "X-Upshift-Signature";
/// Header carrying the delivery id: the same on every attempt of one delivery (deduplicate on it).
pub const DELIVERY_HEADER: &str = "X-Upshift-Delivery";
/// Header carrying the event's name (`stage-applied`...), also in the body.
pub const EVENT_HEADER: &str = "X-Upshift-Event";

/// Attempts per delivery before giving up, unless the webhook says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// The most attempts a webhook may ask for.
pub const MAX_MAX_ATTEMPTS: u32 = 100;
/// The backoff before the second attempt, unless the webhook says otherwise; doubled per failure.
pub const DEFAULT_INITIAL_BACKOFF_MS: u64 = 1_000;
/// The longest backoff between two attempts, unless the webhook says otherwise.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 300_000;
/// The longest backoff a webhook may ask for: one day.
pub const MAX_BACKOFF_LIMIT_MS: u64 = 86_400_000;
/// How long one attempt may take (connect, send, answer), unless the webhook says otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// The longest attempt a webhook may ask for.
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// The longest webhook name: it is a metric label and a journal actor.
pub const MAX_NAME_BYTES: usize = 64;

/// A rollout event a webhook can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A stage's apply succeeded (and was read back).
    StageApplied,
    /// A verification round failed.
    VerificationFailed,
    /// The rollout holds for `upshift approve`.
    AwaitingApproval,
    /// The rollout was paused (by an operator, the failure policy or the upgrade policy).
    Paused,
    RolledBack,
    Succeeded,
    /// A rollback itself failed: a human must act.
    Failed,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::StageApplied,
        EventKind::VerificationFailed,
        EventKind::AwaitingApproval,
        EventKind::Paused,
        EventKind::RolledBack,
        EventKind::Succeeded,
        EventKind::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::StageApplied => "stage-applied",
            EventKind::VerificationFailed => "verification-failed",
            EventKind::AwaitingApproval => "awaiting-approval",
            EventKind::Paused => "paused",
            EventKind::RolledBack => "rolled-back",
            EventKind::Succeeded => "succeeded",
            EventKind::Failed => "failed",
        }
    }
}

/// One webhook, as written in the server config (`[[webhooks]]`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook in the journal, the store and the metrics: letters, digits, `-`, `_`.
    pub name: String,
    /// `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// The events wanted; at least one.
    pub events: Vec<EventKind>,
    /// Key of the HMAC-SHA256 signature; never logged or journaled.
    pub secret: String,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}
fn default_initial_backoff_ms() -> u64 {
    DEFAULT_INITIAL_BACKOFF_MS
}
fn default_max_backoff_ms() -> u64 {
    DEFAULT_MAX_BACKOFF_MS
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// The secret stays out of logs and panics.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff_ms", &self.initial_backoff_ms)
            .field("max_backoff_ms", &self.max_backoff_ms)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Why a webhook's config was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    #[error(
        "webhook {name:?}: the name must be 1 to {MAX_NAME_BYTES} letters, digits, `-` or `_` (it names the webhook in the journal and the metrics)"
    )]
    Name { name: String },
    #[error("webhook {name:?}: two webhooks are named {name:?}; give each its own name")]
    Duplicate { name: String },
    #[error("webhook {name:?}: url {url:?} {why}; give an http:// or https:// URL with a host")]
    Url { name: String, url: String, why: String },
    #[error("webhook {name:?}: `secret` is empty; the events are signed with it (HMAC-SHA256)")]
    Secret { name: String },
    #[error("webhook {name:?}: `events` is empty; list at least one of: {}", EventKind::ALL.map(EventKind::name).join(", "))]
    Events { name: String },
    #[error("webhook {name:?}: `{key}` is {value}, outside {min} to {max}")]
    Range { name: String, key: &'static str, value: u64, min: u64, max: u64 },
}

impl WebhookConfig {
    /// Checks one webhook: its name, URL, secret, events and retry settings.
    pub fn validate(&self) -> Result<(), WebhookConfigError> {
        let name = self.name.clone();
        let valid_name = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_BYTES
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(WebhookConfigError::Name { name });
        }
        let url_err =
            |why: &str| WebhookConfigError::Url { name: name.clone(), url: self.url.clone(), why: why.into() };
        let uri: http::Uri = self.url.parse().map_err(|_| url_err("is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(url_err("is not http:// or https://"));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(url_err("has no host"));
        }
        if self.secret.is_empty() {
            return Err(WebhookConfigError::Secret { name });
        }
        if self.events.is_empty() {
            return Err(WebhookConfigError::Events { name });
        }
        let range = |key, value: u64, min, max| match (min..=max).contains(&value) {
            true => Ok(()),
            false => Err(WebhookConfigError::Range { name: name.clone(), key, value, min, max }),
        };
        range("max_attempts", u64::from(self.max_attempts), 1, u64::from(MAX_MAX_ATTEMPTS))?;
        range("timeout_ms", self.timeout_ms, 1, MAX_TIMEOUT_MS)?;
        range("max_backoff_ms", self.max_backoff_ms, 1, MAX_BACKOFF_LIMIT_MS)?;
        range("initial_backoff_ms", self.initial_backoff_ms, 1, self.max_backoff_ms)?;
        Ok(())
    }

    /// Checks every webhook, and that no two share a name.
    pub fn validate_all(webhooks: &[WebhookConfig]) -> Result<(), WebhookConfigError> {
        for (i, w) in webhooks.iter().enumerate() {
            w.validate()?;
            if webhooks[..i].iter().any(|o| o.name == w.name) {
                return Err(WebhookConfigError::Duplicate { name: w.name.clone() });
            }
        }
        Ok(())
    }

    /// Whether the webhook asked for `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// The wait after failed attempt number `attempt` (1 for the first): the initial backoff
    /// doubled per earlier failure, capped at `max_backoff_ms`, of which the upper half is scaled
    /// by `jitter` (in `[0, 1)`): "equal jitter", so endpoints recovering from an outage are not hit
    /// by every notifier at the same instant, and a wait is never below half its base.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        let base = self.initial_backoff_ms.saturating_mul(1u64 << doublings).min(self.max_backoff_ms);
        let half = base / 2;
        let spread = (half as f64 * jitter.clamp(0.0, 1.0)) as u64;
        Duration::from_millis(base - half + spread)
    }
}

#[cfg(test)]
mod tests;
