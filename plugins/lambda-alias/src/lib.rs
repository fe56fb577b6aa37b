//! Target `lambda-alias`: shifts the traffic of one AWS Lambda alias between two published versions
//! of a function, as CodeDeploy does, through the Lambda API's weighted alias routing: while a
//! stage's weight is below 100 the alias points at the old version with the new one as an
//! additional version at that weight (`RoutingConfig.AdditionalVersionWeights`); at 100, and on
//! finalize, it points at the new version alone.
//!
//! - Every change is read back (`GetAlias`): the `change` reported is what the API says, and an
//!   update that did not take effect fails. Updates carry the alias's `RevisionId` as read just
//!   before, so a change someone made in between is refused by AWS rather than overwritten.
//! - The versions are checked before anything changes: both published (numbers, not `$LATEST`),
//!   different, and existing (`GetFunctionConfiguration`). Weights are whole percents.
//! - An operation sets an absolute routing, so a re-sent operation (same id, after a crash) sets the
//!   same routing again.
//! - A rollback sets back only what this rollout changed: the routing found before its first apply
//!   is kept in the plugin's state and restored only while the alias still has the routing this
//!   rollout last set; if someone else changed it since, the rollback leaves it and fails with a
//!   conflict. A rollout that never changed the alias rolls back nothing.
//!
//! Credentials come from the granted environment (`upshift_sdk::aws`); the endpoint only through a
//! network grant.

use std::collections::BTreeMap;

use upshift_sdk::aws::{self, Call, Client};
use upshift_sdk::serde::Deserialize;
use upshift_sdk::serde_json::{self, Value, json};
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, http, state};

/// Plugin-state key: the alias's routing (JSON) found before this rollout's first apply.
const BEFORE: &str = "before";
/// Plugin-state key: the routing (JSON) this rollout last set.
const SET: &str = "set";
/// The Lambda API's version in its paths.
const API: &str = "/2015-03-31";

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The function's name or ARN.
    pub function: String,
    /// The alias whose traffic is shifted, e.g. `live`.
    pub alias: String,
    /// The Lambda API endpoint, `scheme://host[:port]`; default `https://lambda.{region}.amazonaws.com`.
    /// Grant its `host:port` in `grants.network.http`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// Where an alias sends its traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// The version that takes what the additional versions do not.
    pub version: String,
    /// Additional versions and the share (0 to 1) each takes.
    pub weights: BTreeMap<String, f64>,
}

impl Routing {
    /// From a `GetAlias`/`UpdateAlias` answer; also its `RevisionId`.
    pub fn parse(answer: &str) -> Result<(Routing, Option<String>), String> {
        let v: Value = serde_json::from_str(answer).map_err(|e| format!("the answer is not JSON: {e}"))?;
        let version = v.get("FunctionVersion").and_then(Value::as_str).ok_or("the answer has no FunctionVersion")?;
        let mut weights = BTreeMap::new();
        if let Some(map) = v.pointer("/RoutingConfig/AdditionalVersionWeights").and_then(Value::as_object) {
            for (k, w) in map {
                let w = w.as_f64().ok_or_else(|| format!("the weight of version {k} is not a number"))?;
                weights.insert(k.clone(), w);
            }
        }
        let revision = v.get("RevisionId").and_then(Value::as_str).map(str::to_string);
        Ok((Routing { version: version.to_string(), weights }, revision))
    }

    /// The routing that puts `percent` of the traffic on `to`, the rest on `from`.
    pub fn split(from: &str, to: &str, percent: u8) -> Routing {
        match percent {
            0 => Routing { version: from.into(), weights: BTreeMap::new() },
            p if p >= 100 => Routing { version: to.into(), weights: BTreeMap::new() },
            p => Routing { version: from.into(), weights: [(to.to_string(), f64::from(p) / 100.0)].into() },
        }
    }

    /// The share of traffic on `to`, in whole percent, if the alias splits between `from` and `to`
    /// alone (an error naming what it does instead otherwise).
    pub fn percent_on(&self, from: &str, to: &str) -> Result<u8, String> {
        let others: Vec<&String> = self.weights.keys().filter(|k| *k != to).collect();
        let percent = |w: f64| (w * 100.0).round().clamp(0.0, 100.0) as u8;
        match self.version.as_str() {
            v if v == to && self.weights.is_empty() => Ok(100),
            v if v == from && others.is_empty() => Ok(self.weights.get(to).map_or(0, |w| percent(*w))),
            _ => Err(format!("it routes to {}, not between versions {from} and {to} alone", self.describe())),
        }
    }

    /// `version 1` or `version 1 + version 2 at 10 %`.
    pub fn describe(&self) -> String {
        let mut text = format!("version {}", self.version);
        for (v, w) in &self.weights {
            text.push_str(&format!(" + version {v} at {} %", (w * 10_000.0).round() / 100.0));
        }
        text
    }

    /// The `UpdateAlias` body setting this routing, guarded by `revision` when known.
    pub fn update_body(&self, revision: Option<&str>) -> Value {
        let mut body = json!({
            "FunctionVersion": self.version,
            "RoutingConfig": { "AdditionalVersionWeights": self.weights },
        });
        if let Some(r) = revision {
            body["RevisionId"] = json!(r);
        }
        body
    }

    fn to_state(&self) -> String {
        json!({ "FunctionVersion": self.version, "RoutingConfig": { "AdditionalVersionWeights": self.weights } })
            .to_string()
    }

    fn from_state(text: &str) -> Option<Routing> {
        Routing::parse(text).ok().map(|(r, _)| r)
    }
}

/// Both versions published (numbers) and different.
pub fn check_versions(from: &str, to: &str) -> Result<(), PluginError> {
    for v in [from, to] {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PluginError::invalid_config(format!(
                "version {v:?} is not a published Lambda version: give the version numbers as `from` and `to` \
                 (weighted aliases cannot route to $LATEST)"
            )));
        }
    }
    if from == to {
        return Err(PluginError::invalid_config(format!("from and to are both version {from}")));
    }
    Ok(())
}

fn client(config: &Config) -> Result<Client, PluginError> {
    Ok(Client {
        credentials: aws::credentials_from_env()?,
        region: config.region.clone(),
        service: "lambda".into(),
        endpoint: aws::endpoint("lambda", &config.region, config.endpoint.as_deref()),
    })
}

fn alias_path(config: &Config) -> String {
    format!(
        "{API}/functions/{}/aliases/{}",
        http::encode_query_value(&config.function),
        http::encode_query_value(&config.alias)
    )
}

/// `GetAlias`: the routing and its revision.
fn read_alias(client: &Client, config: &Config) -> Result<(Routing, Option<String>), PluginError> {
    let path = alias_path(config);
    let answer = client.send(&Call { method: "GET", path: &path, query: &[], headers: &[], body: &[] })?;
    Routing::parse(&answer.text())
        .map_err(|why| PluginError::conflict(format!("alias {} of {}: {why}", config.alias, config.function)))
}

/// `GetFunctionConfiguration` of `version`: fails `invalid-config` when it does not exist.
fn check_exists(client: &Client, config: &Config, version: &str) -> Result<(), PluginError> {
    let path = format!("{API}/functions/{}/configuration", http::encode_query_value(&config.function));
    client
        .send(&Call { method: "GET", path: &path, query: &[("Qualifier", version)], headers: &[], body: &[] })
        .map(drop)
        .map_err(|e| match e.kind {
            upshift_sdk::ErrorKind::InvalidConfig => PluginError::invalid_config(format!(
                "function {} has no version {version}: publish it first ({})",
                config.function, e.message
            )),
            _ => e,
        })
}

/// Sets `routing` (guarded by `revision`), records it as what this rollout set, and reads it back.
fn set_routing(
    client: &Client,
    config: &Config,
    routing: &Routing,
    revision: Option<&str>,
    from: &str,
    to: &str,
) -> Result<Change, PluginError> {
    let path = alias_path(config);
    let body = routing.update_body(revision).to_string();
    client.send(&Call {
        method: "PUT",
        path: &path,
        query: &[],
        headers: &[("Content-Type", "application/json")],
        body: body.as_bytes(),
    })?;
    // Accepted: from here on this is the routing this rollout set, even if the read-back below
    // finds someone else's.
    state::set(SET, &routing.to_state())?;
    let (seen, _) = read_alias(client, config)?;
    if seen != *routing {
        return Err(PluginError::conflict(format!(
            "alias {}: set {}, the API reports {}",
            config.alias,
            routing.describe(),
            seen.describe()
        )));
    }
    Ok(Change {
        message: format!("alias {} of {}: {} (confirmed)", config.alias, config.function, seen.describe()),
        weight: seen.percent_on(from, to).ok(),
        units: vec![],
    })
}

/// Moves the alias to `percent` on `op.to_version`: before the first change checks the versions
/// and remembers the routing found, then sets and reads back.
fn shift(op: &Operation, config: &Config, percent: u8) -> Result<Change, PluginError> {
    check_versions(&op.from_version, &op.to_version)?;
    let client = client(config)?;
    let (now, revision) = read_alias(&client, config)?;
    // Before this rollout's first change: both versions exist, the alias splits between them
    // alone, and what it does now is kept for a rollback.
    if state::get(BEFORE).is_none() {
        for v in [&op.from_version, &op.to_version] {
            check_exists(&client, config, v)?;
        }
        now.percent_on(&op.from_version, &op.to_version).map_err(|why| {
            PluginError::conflict(format!("alias {} of {}: {why}; left as is", config.alias, config.function))
        })?;
        state::set(BEFORE, &now.to_state())?;
    }
    let routing = Routing::split(&op.from_version, &op.to_version, percent);
    set_routing(&client, config, &routing, revision.as_deref(), &op.from_version, &op.to_version)
}

pub struct LambdaAlias;

impl Target for LambdaAlias {
    type Config = Config;

    fn check_config(config: &Config) -> Result<(), PluginError> {
        for (what, value) in [("region", &config.region), ("function", &config.function), ("alias", &config.alias)] {
            if value.trim().is_empty() {
                return Err(PluginError::invalid_config(format!("{what} is empty")));
            }
        }
        if let Some(e) = &config.endpoint {
            let url = http::parse_url(e)?;
            if url.path != "/" {
                return Err(PluginError::invalid_config(format!(
                    "endpoint {e:?} must be scheme://host[:port], no path"
                )));
            }
        }
        Ok(())
    }

    fn describe() -> Description {
        Description {
            name: "lambda-alias".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "traffic split between two versions of an AWS Lambda function, by alias weights".into(),
            capabilities: Capabilities {
                traffic_split: true,
                unit_batches: false,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, to: String) -> Result<Observation, PluginError> {
        check_versions(&from, &to)?;
        let (routing, _) = read_alias(&client(config)?, config)?;
        let weight = routing
            .percent_on(&from, &to)
            .map_err(|why| PluginError::conflict(format!("alias {} of {}: {why}", config.alias, config.function)))?;
        Ok(Observation { units: vec![], weight: Some(weight), irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let percent = op.weight.ok_or_else(|| {
            PluginError::invalid_config(format!(
                "stage {:?} has no traffic weight; lambda-alias needs one",
                op.stage_name
            ))
        })?;
        if percent > 100 {
            return Err(PluginError::invalid_config(format!(
                "stage {:?}: weight {percent} is over 100",
                op.stage_name
            )));
        }
        shift(&op, config, percent)
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let client = client(config)?;
        let (now, revision) = read_alias(&client, config)?;
        let unchanged = |message: String| Change {
            message,
            weight: now.percent_on(&op.from_version, &op.to_version).ok(),
            units: vec![],
        };
        let Some(set) = state::get(SET).as_deref().and_then(Routing::from_state) else {
            return Ok(unchanged(format!("alias {}: this rollout changed nothing; left as is", config.alias)));
        };
        if now != set {
            return Err(PluginError::conflict(format!(
                "alias {}: it routes to {}, not the {} this rollout set: someone else changed it; left as is",
                config.alias,
                now.describe(),
                set.describe()
            )));
        }
        let before = state::get(BEFORE)
            .as_deref()
            .and_then(Routing::from_state)
            .unwrap_or_else(|| Routing::split(&op.from_version, &op.to_version, op.weight.unwrap_or(0)));
        let change = set_routing(&client, config, &before, revision.as_deref(), &op.from_version, &op.to_version)?;
        state::remove(SET);
        Ok(change)
    }

    fn finalize(op: Operation, config: &Config) -> Result<Change, PluginError> {
        shift(&op, config, 100)
    }
}

upshift_sdk::export_target!(LambdaAlias);
upshift_sdk::capabilities!(network, env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_keeps_the_old_version_primary_until_100() {
        assert_eq!(Routing::split("1", "2", 0), Routing { version: "1".into(), weights: BTreeMap::new() });
        assert_eq!(Routing::split("1", "2", 10), Routing { version: "1".into(), weights: [("2".into(), 0.1)].into() });
        assert_eq!(Routing::split("1", "2", 100), Routing { version: "2".into(), weights: BTreeMap::new() });
        for p in 0..=100u8 {
            assert_eq!(Routing::split("1", "2", p).percent_on("1", "2"), Ok(p), "{p} % round-trips");
        }
    }

    #[test]
    fn routing_is_read_from_the_api_answer_and_anything_else_is_refused() {
        let answer = r#"{"AliasArn":"arn:aws:lambda:us-east-1:1:function:f:live","Name":"live","FunctionVersion":"1",
            "RoutingConfig":{"AdditionalVersionWeights":{"2":0.25}},"RevisionId":"abc"}"#;
        let (routing, revision) = Routing::parse(answer).unwrap();
        assert_eq!(routing.percent_on("1", "2"), Ok(25));
        assert_eq!(revision.as_deref(), Some("abc"));
        let third = Routing { version: "1".into(), weights: [("3".into(), 0.5)].into() };
        assert!(third.percent_on("1", "2").unwrap_err().contains("version 1 + version 3 at 50 %"));
        let elsewhere = Routing { version: "7".into(), weights: BTreeMap::new() };
        assert!(elsewhere.percent_on("1", "2").is_err());
        assert!(Routing::parse(r#"{"Name":"live"}"#).is_err());
        assert!(
            Routing::parse(r#"{"FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":"x"}}}"#)
                .is_err()
        );
    }

    #[test]
    fn an_update_carries_the_revision_and_the_whole_routing() {
        let body = Routing::split("1", "2", 10).update_body(Some("r-1"));
        assert_eq!(
            body,
            json!({"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}, "RevisionId": "r-1"})
        );
        let finalize = Routing::split("1", "2", 100).update_body(None);
        assert_eq!(finalize, json!({"FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {}}}));
    }

    #[test]
    fn only_two_different_published_versions_are_accepted() {
        assert!(check_versions("1", "2").is_ok());
        for (from, to) in [("$LATEST", "2"), ("1", "1"), ("1", ""), ("v1", "2")] {
            assert!(check_versions(from, to).is_err(), "{from} -> {to}");
        }
    }
}
