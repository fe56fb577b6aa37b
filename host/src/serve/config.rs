//! The server's configuration file (`upshift serve --config serve.toml`): where submitted specs
//! live, extra tokens, how many rollouts are driven at once, and the webhooks to notify
//! (`[[webhooks]]`, README "Webhooks"). Unknown keys are errors.
//!
//! ```toml
//! spec_root = "/srv/upshift/specs"   # specs posted to the API resolve their files here
//! max_parallel = 8                   # rollout steps carried out at once (threads)
//! env_allowed = ["DEPLOY_ENV"]       # host variables a submitted spec may grant (none by default)
//! lease_ttl_ms = 15000               # a replica's runner leases expire this long after a renewal
//! lease_renew_ms = 5000              # how often it renews them (at most a third of the TTL)
//! store_pool = 16                    # idle PostgreSQL sessions kept (a postgres:// store only)
//! cache = "/var/cache/upshift"       # compiled plugins (unless --cache or --no-cache is given)
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
/// The most threads a server may give to rollout steps: a step may hold up to 4 plugin instances
/// (target, its read-back, strategy, a verifier) of the runtime's pool
/// ([`crate::runtime::POOL_INSTANCE_SLOTS`]), and submissions need some too. A baking rollout holds
/// none, so this bounds the steps carried out at the same moment, not the rollouts in flight.
pub const MAX_PARALLEL: usize = crate::runtime::POOL_INSTANCE_SLOTS as usize / 5;
/// The shortest lease TTL a config may set: a renewal must have time to happen.
pub const MIN_LEASE_TTL_MS: u64 = 1_000;

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
    /// How long a runner lease lasts unless renewed, in ms (`store::LEASE_TTL`).
    pub lease_ttl_ms: Option<u64>,
    /// How often this server renews its leases, in ms (`store::LEASE_RENEW_EVERY`).
    pub lease_renew_ms: Option<u64>,
    /// Idle PostgreSQL sessions kept for the store (`store::DEFAULT_POOL_IDLE`).
    pub store_pool: Option<usize>,
    /// The compiled-plugin cache folder (`runtime::cache`), relative to this file; `--cache` and
    /// `--no-cache` win over it.
    pub cache: Option<PathBuf>,
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
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        config.cache = config.cache.map(|c| base.join(c));
        if let Some(root) = &config.spec_root {
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
        let ttl = config.lease_ttl_ms.unwrap_or(crate::store::LEASE_TTL.as_millis() as u64);
        let renew = config.lease_renew_ms.unwrap_or(crate::store::LEASE_RENEW_EVERY.as_millis() as u64);
        if ttl < MIN_LEASE_TTL_MS {
            return Err(invalid(format!("lease_ttl_ms = {ttl}: give at least {MIN_LEASE_TTL_MS}")));
        }
        if renew == 0 || renew.saturating_mul(3) > ttl {
            return Err(invalid(format!(
                "lease_renew_ms = {renew} with lease_ttl_ms = {ttl}: renew at least three times per TTL (1 to {})",
                ttl / 3
            )));
        }
        if config.store_pool == Some(0) {
            return Err(invalid("store_pool = 0: give 1 or more".into()));
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

    /// Applies the lease timing and the store's pool size to this process.
    pub fn apply_store_settings(&self) {
        let ttl = self.lease_ttl_ms.map_or(crate::store::LEASE_TTL, std::time::Duration::from_millis);
        let renew = self.lease_renew_ms.map_or(crate::store::LEASE_RENEW_EVERY, std::time::Duration::from_millis);
        crate::store::set_lease_timing(ttl, renew);
        if let Some(n) = self.store_pool {
            crate::store::set_pool_idle(n);
        }
    }
}

/// A toml error's text on one line.
fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServeConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, text).unwrap();
        ServeConfig::load(&path)
    }

    #[test]
    fn lease_timing_is_checked_with_the_fix_in_the_message() {
        assert!(load("lease_ttl_ms = 6000\nlease_renew_ms = 2000\nstore_pool = 4\n").is_ok());
        let short = load("lease_ttl_ms = 500\n").unwrap_err().to_string();
        assert!(short.contains("lease_ttl_ms = 500: give at least 1000"), "{short}");
        let slow = load("lease_ttl_ms = 6000\nlease_renew_ms = 3000\n").unwrap_err().to_string();
        assert!(slow.contains("renew at least three times per TTL (1 to 2000)"), "{slow}");
        let slow_default = load("lease_ttl_ms = 9000\n").unwrap_err().to_string();
        assert!(slow_default.contains("lease_renew_ms = 5000"), "the default renewal is named: {slow_default}");
        assert!(load("store_pool = 0\n").unwrap_err().to_string().contains("store_pool = 0"));
    }
}
