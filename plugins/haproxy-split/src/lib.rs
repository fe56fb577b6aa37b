//! Target `haproxy-split`: moves traffic between the `stable` and `canary` servers of one HAProxy
//! backend by setting their weights through HAProxy's runtime API (the admin socket, on a TCP
//! address the spec grants). Every change is read back and an apply whose weights did not take
//! effect fails. Finalize sets 0/100. Setting a weight is idempotent, so a re-sent operation simply
//! sets it again.
//!
//! A rollback sets back only what this rollout changed: the weights found before its first apply
//! are kept in the plugin's state, and restored only while the backend still has the weights this
//! rollout last set; if someone else changed them since, the rollback leaves them and fails with a
//! conflict. A rollout that never set a weight rolls back nothing.

use std::io::{Read, Write};
use std::net::TcpStream;

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, state};

/// Plugin-state key: the weights `stable canary` found before this rollout's first apply.
const BEFORE: &str = "before";
/// Plugin-state key: the weights `stable canary` this rollout last set.
const SET: &str = "set";

fn pair(text: &str) -> Option<(u32, u32)> {
    let (a, b) = text.split_once(' ')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Longest answer read from the admin socket; `get weight` answers a few bytes.
pub const MAX_ANSWER_BYTES: u64 = 64 << 10;

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
}

fn default_stable() -> String {
    "stable".into()
}

fn default_canary() -> String {
    "canary".into()
}

/// Weights `(stable, canary)` that put `percent` of the traffic on the canary.
pub fn weights(percent: u8) -> (u8, u8) {
    let canary = percent.min(100);
    (100 - canary, canary)
}

/// The canary's share of the traffic, in percent, from the two weights (`None` when both are 0).
pub fn canary_percent(stable: u32, canary: u32) -> Option<u8> {
    let total = stable + canary;
    (total > 0)
        .then(|| u8::try_from((u64::from(canary) * 100 + u64::from(total) / 2) / u64::from(total)).unwrap_or(100))
}

/// The current weight from a `get weight` answer such as `10 (initial 1)`.
pub fn parse_weight(answer: &str) -> Result<u32, String> {
    answer
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("unexpected answer to get weight: {:?}", answer.trim()))
}

/// Sends one command line to the admin socket and returns the whole answer.
fn command(config: &Config, line: &str) -> Result<String, PluginError> {
    let fail = |e: std::io::Error| {
        let message = format!("HAProxy admin socket {}: {e}", config.admin);
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            PluginError::denied(message)
        } else {
            let mut e = PluginError::unavailable(message);
            e.retryable = true;
            e
        }
    };
    let mut stream = TcpStream::connect(&config.admin).map_err(fail)?;
    stream.write_all(format!("{line}\n").as_bytes()).map_err(fail)?;
    let mut answer = String::new();
    stream.take(MAX_ANSWER_BYTES).read_to_string(&mut answer).map_err(fail)?;
    Ok(answer)
}

fn server(config: &Config, name: &str) -> String {
    format!("{}/{}", config.backend, name)
}

/// Reads both weights: `(stable, canary)`.
fn read_weights(config: &Config) -> Result<(u32, u32), PluginError> {
    let read = |name: &str| {
        let answer = command(config, &format!("get weight {}", server(config, name)))?;
        parse_weight(&answer).map_err(|why| PluginError::conflict(format!("{}: {why}", server(config, name))))
    };
    Ok((read(&config.stable)?, read(&config.canary)?))
}

/// Sets the canary's share to `percent`, then reads both weights back.
fn set_split(config: &Config, percent: u8) -> Result<Change, PluginError> {
    let (stable, canary) = weights(percent);
    set_weights(config, u32::from(stable), u32::from(canary))
}

/// Sets both weights, reads them back, and remembers them as what this rollout set.
fn set_weights(config: &Config, stable: u32, canary: u32) -> Result<Change, PluginError> {
    let line = format!(
        "set weight {} {stable}; set weight {} {canary}",
        server(config, &config.stable),
        server(config, &config.canary)
    );
    let answer = command(config, &line)?;
    let answer = answer.trim();
    if !answer.is_empty() {
        return Err(PluginError::conflict(format!("HAProxy refused `{line}`: {answer}")));
    }
    // Sent and accepted: from here on these are the weights this rollout set, even if the read-back
    // below finds someone else's.
    state::set(SET, &format!("{stable} {canary}"))?;
    let seen = read_weights(config)?;
    if seen != (stable, canary) {
        return Err(PluginError::conflict(format!(
            "weights did not take effect: set {} {stable} / {} {canary}, HAProxy reports {} / {}",
            config.stable, config.canary, seen.0, seen.1
        )));
    }
    Ok(Change {
        message: format!(
            "backend {}: {} weight {stable}, {} weight {canary} (confirmed)",
            config.backend, config.stable, config.canary
        ),
        weight: canary_percent(stable, canary),
        units: vec![],
    })
}

pub struct HaproxySplit;

impl Target for HaproxySplit {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "haproxy-split".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "traffic split between two servers of an HAProxy backend, by weight".into(),
            capabilities: Capabilities {
                traffic_split: true,
                unit_batches: false,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, _from: String, _to: String) -> Result<Observation, PluginError> {
        let (stable, canary) = read_weights(config)?;
        Ok(Observation { units: vec![], weight: canary_percent(stable, canary), irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let percent = op.weight.ok_or_else(|| {
            PluginError::invalid_config(format!(
                "stage {:?} has no traffic weight; haproxy-split needs one",
                op.stage_name
            ))
        })?;
        if state::get(BEFORE).is_none() {
            let (stable, canary) = read_weights(config)?;
            state::set(BEFORE, &format!("{stable} {canary}"))?;
        }
        set_split(config, percent)
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let now = read_weights(config)?;
        let unchanged = |message: String| Change { message, weight: canary_percent(now.0, now.1), units: vec![] };
        let Some(set) = state::get(SET).as_deref().and_then(pair) else {
            return Ok(unchanged(format!("backend {}: this rollout set no weight; left as is", config.backend)));
        };
        if now != set {
            return Err(PluginError::conflict(format!(
                "backend {}: weights are {} / {}, not the {} / {} this rollout set: someone else changed them; left as is",
                config.backend, now.0, now.1, set.0, set.1
            )));
        }
        let (stable, canary) = match state::get(BEFORE).as_deref().and_then(pair) {
            Some(before) => before,
            None => {
                let (s, c) = weights(op.weight.unwrap_or(0));
                (u32::from(s), u32::from(c))
            }
        };
        let change = set_weights(config, stable, canary)?;
        state::remove(SET);
        Ok(change)
    }

    fn finalize(_op: Operation, config: &Config) -> Result<Change, PluginError> {
        set_split(config, 100)
    }
}

upshift_sdk::export_target!(HaproxySplit);
upshift_sdk::capabilities!(network);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_put_the_percentage_on_the_canary() {
        assert_eq!(weights(0), (100, 0));
        assert_eq!(weights(1), (99, 1));
        assert_eq!(weights(100), (0, 100));
        assert_eq!(weights(250), (0, 100));
    }

    #[test]
    fn the_share_is_read_back_from_any_weights() {
        assert_eq!(canary_percent(99, 1), Some(1));
        assert_eq!(canary_percent(0, 100), Some(100));
        assert_eq!(canary_percent(1, 1), Some(50));
        assert_eq!(canary_percent(0, 0), None);
    }

    #[test]
    fn get_weight_answers_are_parsed() {
        assert_eq!(parse_weight("10 (initial 1)\n"), Ok(10));
        assert!(parse_weight("No such server.\n").is_err());
        assert!(parse_weight("").is_err());
    }
}
