//! Target `haproxy-split`: moves traffic between the `stable` and `canary` servers of one HAProxy
//! backend by setting their weights through HAProxy's runtime API (the admin socket, on a TCP
//! address the spec grants). Two routes may come with the weights, each set through a file HAProxy
//! loaded at start and changed at run time:
//! - `preview`: requests carrying a header value reach the canary whatever its weight (blue-green's
//!   preview stage is weight 0 with this route), from the first apply until finalize or rollback;
//! - `cohort`: a share of users chosen by a hash of a cookie or header (sticky: the same user stays
//!   on the same side) instead of by request; the share is the stage's weight, kept in a map.
//!
//! Every change is read back and an apply whose routing did not take effect fails. Finalize puts
//! everything on the canary and removes the preview route. Each change sets absolute values (or
//! adds an entry only when it is missing), so a re-sent operation changes nothing twice.
//!
//! A rollback sets back only what this rollout changed: the routing found before its first apply is
//! kept in the plugin's state, and restored only while the backend still routes as this rollout
//! last set; if someone else changed it since, the rollback leaves it and fails with a conflict. A
//! rollout that never changed anything rolls back nothing.

mod admin;
mod routing;

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, state};

pub use admin::{MAX_ANSWER_BYTES, parse_acl, parse_map, parse_weight};
pub use routing::{Routing, canary_percent, weights};

/// Plugin-state key: the routing found before this rollout's first apply.
const BEFORE: &str = "before";
/// Plugin-state key: the routing this rollout last set.
const SET: &str = "set";
/// The cohort map's key when the config names none.
pub const DEFAULT_COHORT_KEY: &str = "percent";

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The admin socket, `ip:port` (HAProxy `stats socket ipv4@ip:port level admin`); grant it in
    /// `grants.network.tcp`.
    pub admin: String,
    /// The backend holding both servers.
    pub backend: String,
    /// The server running the old version.
    #[serde(default = "default_stable")]
    pub stable: String,
    /// The server running the new version.
    #[serde(default = "default_canary")]
    pub canary: String,
    /// A preview route to the canary for requests carrying a header value, at any weight.
    #[serde(default)]
    pub preview: Option<Preview>,
    /// A sticky split: users chosen by a hash of a cookie or header, the share in a map.
    #[serde(default)]
    pub cohort: Option<Cohort>,
}

/// The preview route: haproxy.cfg matches the header against the ACL file `acl`
/// (`use-server canary if { req.hdr(x-preview) -m str -f preview.acl }`); this target adds `value`
/// to it.
#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Preview {
    /// The ACL file, exactly as haproxy.cfg names it.
    pub acl: String,
    /// The header value that reaches the canary.
    pub value: String,
}

/// The sticky cohort: haproxy.cfg hashes a cookie or header into 0..99 and sends a user to the
/// canary when the hash is below the map's value for `key`; this target sets that value.
#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Cohort {
    /// The map file, exactly as haproxy.cfg names it.
    pub map: String,
    /// The key whose value is the cohort's share in percent.
    #[serde(default = "default_cohort_key")]
    pub key: String,
}

fn default_stable() -> String {
    "stable".into()
}

fn default_canary() -> String {
    "canary".into()
}

fn default_cohort_key() -> String {
    DEFAULT_COHORT_KEY.into()
}

/// Names that go into runtime API commands: one word of letters, digits and `._:/@+=-`, so that no
/// value can end a command (`;`), start another, or split into more arguments.
fn check_word(field: &str, value: &str) -> Result<(), PluginError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._:/@+=-".contains(c);
    if value.is_empty() || value.len() > 255 || !value.chars().all(allowed) {
        return Err(PluginError::invalid_config(format!(
            "haproxy-split: `{field}` = {value:?} must be one word of letters, digits and ._:/@+=- (1 to 255 characters)"
        )));
    }
    Ok(())
}

fn check(config: &Config) -> Result<(), PluginError> {
    check_word("admin", &config.admin)?;
    check_word("backend", &config.backend)?;
    check_word("stable", &config.stable)?;
    check_word("canary", &config.canary)?;
    if let Some(p) = &config.preview {
        check_word("preview.acl", &p.acl)?;
        check_word("preview.value", &p.value)?;
    }
    if let Some(c) = &config.cohort {
        check_word("cohort.map", &c.map)?;
        check_word("cohort.key", &c.key)?;
    }
    Ok(())
}

pub struct HaproxySplit;

impl Target for HaproxySplit {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "haproxy-split".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "traffic split between two servers of an HAProxy backend: weights, a preview header route, a sticky cohort".into(),
            capabilities: Capabilities {
                traffic_split: true,
                unit_batches: false,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn check_config(config: &Config) -> Result<(), PluginError> {
        check(config)
    }

    fn observe(config: &Config, _from: String, _to: String) -> Result<Observation, PluginError> {
        check(config)?;
        let now = routing::read(config)?;
        Ok(Observation { units: vec![], weight: now.percent(), irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        check(config)?;
        let percent = op.weight.ok_or_else(|| {
            PluginError::invalid_config(format!(
                "stage {:?} has no traffic weight; haproxy-split needs one",
                op.stage_name
            ))
        })?;
        let now = routing::read(config)?;
        if state::get(BEFORE).is_none() {
            state::set(BEFORE, &now.encode())?;
        }
        let seen = routing::set(config, &now, &Routing::wanted(config, percent, true), true, SET)?;
        Ok(confirmed(config, &seen))
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        check(config)?;
        let now = routing::read(config)?;
        let Some(set) = state::get(SET).as_deref().and_then(Routing::decode) else {
            return Ok(Change {
                message: format!("backend {}: this rollout changed nothing; left as is", config.backend),
                weight: now.percent(),
                units: vec![],
            });
        };
        if now != set {
            return Err(PluginError::conflict(format!(
                "{}, not the {} this rollout set: someone else changed it; left as is",
                now.describe(config),
                set.routes(config)
            )));
        }
        let before = state::get(BEFORE)
            .as_deref()
            .and_then(Routing::decode)
            .unwrap_or_else(|| Routing::wanted(config, op.weight.unwrap_or(0), false));
        let seen = routing::set(config, &now, &before, false, SET)?;
        state::remove(SET);
        Ok(confirmed(config, &seen))
    }

    fn finalize(_op: Operation, config: &Config) -> Result<Change, PluginError> {
        check(config)?;
        let now = routing::read(config)?;
        let seen = routing::set(config, &now, &Routing::wanted(config, 100, false), true, SET)?;
        Ok(confirmed(config, &seen))
    }
}

fn confirmed(config: &Config, seen: &Routing) -> Change {
    Change { message: format!("{} (confirmed)", seen.describe(config)), weight: seen.percent(), units: vec![] }
}

upshift_sdk::export_target!(HaproxySplit);
upshift_sdk::capabilities!(network);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        upshift_sdk::parse_config(json).unwrap()
    }

    #[test]
    fn names_that_could_end_or_split_a_runtime_api_command_are_refused() {
        let good = config(
            r#"{"admin": "127.0.0.1:9999", "backend": "app", "preview": {"acl": "/etc/haproxy/preview.acl", "value": "green"}, "cohort": {"map": "cohort.map"}}"#,
        );
        assert!(check(&good).is_ok());
        assert_eq!(good.cohort.as_ref().map(|c| c.key.as_str()), Some(DEFAULT_COHORT_KEY));
        for (field, json) in [
            ("backend", r#"{"admin": "127.0.0.1:9999", "backend": "app; shutdown sessions server app/stable"}"#),
            ("canary", r#"{"admin": "127.0.0.1:9999", "backend": "app", "canary": "canary 100"}"#),
            (
                "preview.value",
                r#"{"admin": "127.0.0.1:9999", "backend": "app", "preview": {"acl": "p.acl", "value": "green\nset weight app/stable 0"}}"#,
            ),
            (
                "preview.acl",
                r#"{"admin": "127.0.0.1:9999", "backend": "app", "preview": {"acl": "", "value": "green"}}"#,
            ),
            (
                "cohort.key",
                r#"{"admin": "127.0.0.1:9999", "backend": "app", "cohort": {"map": "c.map", "key": "percent;"}}"#,
            ),
        ] {
            let err = check(&config(json)).unwrap_err();
            assert!(err.message.contains(&format!("`{field}`")), "{field}: {}", err.message);
        }
    }
}
