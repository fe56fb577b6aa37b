//! The server's configuration file (`upshift serve --config serve.toml`): where submitted specs
//! live, extra tokens, how many rollouts are driven at once, and the webhooks to notify
//! (`[[webhooks]]`, README "Webhooks"). Unknown keys are errors.
//!
//! ```toml
//! spec_root = "/srv/upshift/specs"   # specs posted to the API resolve their files here
//! max_parallel = 8                   # rollout steps carried out at once (threads)
//! env_allowed = ["DEPLOY_ENV"]       # host variables a submitted spec may grant (none by default)
//!
//! [[tokens]]                         # tokens besides those in the store (`upshift token create`)
//! name = "ci"
//! role = "admin"                     # viewer, operator or admin
//! sha256 = "<64 hex: sha256 of the token>"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::auth::Role;
use super::webhooks::WebhookConfig;

/// Rollout steps carried out at once by default: each holds a thread of the blocking pool while a
/// plugin call runs; a stuck plugin holds one until its deadline, never the others.
pub const DEFAULT_MAX_PARALLEL: usize = 8;
/// The most threads a server may give to rollout steps.
pub const MAX_PARALLEL: usize = 256;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// The folder a spec submitted through the API is placed in: its plugin files, databases and
    /// granted folders must lie under it. Without it, `POST /v1/rollouts` is refused.
    pub spec_root: Option<PathBuf>,
    /// Rollout steps carried out at once ([`DEFAULT_MAX_PARALLEL`]).
    pub max_parallel: Option<usize>,
    /// Host environment variables a submitted spec may grant to its plugins (`grants.env`).
    #[serde(default)]
    pub env_allowed: Vec<String>,
    /// Tokens configured here rather than in the store, by the sha256 of their value.
    #[serde(default)]
    pub tokens: Vec<ConfiguredToken>,
    /// Endpoints notified of rollout events (`[[webhooks]]`, see `webhooks.rs`).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredToken {
    pub name: String,
    pub role: Role,
    /// sha256 of the token's value, 64 hex digits.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("server config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("server config {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl ServeConfig {
    /// Reads and checks the config at `path`; the spec root is made absolute and must be a folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let invalid = |message: String| ConfigError::Invalid { path: path.into(), message };
        let mut config: ServeConfig = toml::from_str(&text).map_err(|e| invalid(one_line(&e.to_string())))?;
        if let Some(root) = &config.spec_root {
            let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let root = base.join(root);
            let root = root.canonicalize().map_err(|e| {
                invalid(format!("spec_root {} is not a folder this server can read ({e})", root.display()))
            })?;
            if !root.is_dir() {
                return Err(invalid(format!("spec_root {} is not a folder", root.display())));
            }
            config.spec_root = Some(root);
        }
        match config.max_parallel {
            Some(n) if n == 0 || n > MAX_PARALLEL => {
                return Err(invalid(format!("max_parallel = {n}: give 1 to {MAX_PARALLEL}")));
            }
            _ => {}
        }
        WebhookConfig::validate_all(&config.webhooks).map_err(|e| invalid(e.to_string()))?;
        for t in &config.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!("token {:?}: sha256 must be 64 hex digits (sha256 of the token)", t.name)));
            }
        }
        Ok(config)
    }

    pub fn max_parallel(&self) -> usize {
        self.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL)
    }
}

/// A toml error's text on one line.
fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
