//! Verifier `cloudwatch`: reads Amazon CloudWatch metrics of the new version over the last
//! `window_seconds` (`GetMetricData`, one statistic over the whole window) and compares each with
//! the check's bounds: for a Lambda canary, `Errors` per `Invocations` at most 1 % and `Duration` p99
//! at most 800 ms. It fails closed, as `prometheus` does: a metric with no data in the window, or a
//! ratio over no traffic, is inconclusive; an answer CloudWatch refuses is an error. Neither is ever
//! a pass.
//!
//! Metrics are selected by the exact dimension set the config gives (CloudWatch matches the set
//! exactly: a metric with one more dimension is another metric). In dimension values `{to}` and
//! `{from}` stand for the rollout's versions, so `ExecutedVersion = "{to}"` selects what the alias
//! ran on the new version. Requests are signed with SigV4 (`upshift_sdk::aws`).

use upshift_sdk::aws::{self, Call, Client};
use upshift_sdk::serde::Deserialize;
use upshift_sdk::serde_json::{self, Value, json};
use upshift_sdk::{Check, PluginError, Verdict, Verifier, clock};

/// The namespace unless the config gives another.
pub const DEFAULT_NAMESPACE: &str = "AWS/Lambda";
/// The window read unless the config gives another.
pub const DEFAULT_WINDOW_SECONDS: u32 = 300;

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The CloudWatch API endpoint, `scheme://host[:port]`; default
    /// `https://monitoring.{region}.amazonaws.com`. Grant its `host:port` in `grants.network.http`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The metrics' namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The exact dimension set of every metric; `{to}` and `{from}` in a value stand for the versions.
    pub dimensions: Vec<Dimension>,
    /// How far back each verification looks, in seconds: a multiple of 60.
    #[serde(default = "default_window")]
    pub window_seconds: u32,
    pub checks: Vec<MetricCheck>,
}

#[derive(Debug, Clone, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct MetricCheck {
    pub name: String,
    /// The metric, e.g. `Errors` or `Duration`.
    pub metric: String,
    /// The statistic over the window: `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount` or a
    /// percentile such as `p99`.
    #[serde(default = "default_stat")]
    pub stat: String,
    /// Divide by this metric's `Sum` over the same window (`Invocations` for an error ratio).
    #[serde(default)]
    pub per: Option<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Shown with the measurement, e.g. "ratio" or "ms".
    #[serde(default)]
    pub unit: Option<String>,
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.into()
}

fn default_window() -> u32 {
    DEFAULT_WINDOW_SECONDS
}

fn default_stat() -> String {
    "Sum".into()
}

/// Whether `stat` is a statistic CloudWatch computes.
pub fn valid_stat(stat: &str) -> bool {
    matches!(stat, "Sum" | "Average" | "Minimum" | "Maximum" | "SampleCount")
        || stat.strip_prefix('p').is_some_and(|p| p.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p)))
}

/// The dimension set for `check`, with `{to}` and `{from}` filled in.
pub fn dimensions(config: &Config, from: &str, to: &str) -> Vec<Value> {
    config
        .dimensions
        .iter()
        .map(|d| json!({ "Name": d.name, "Value": d.value.replace("{to}", to).replace("{from}", from) }))
        .collect()
}

/// The `GetMetricData` body for every check over the window up to `end` (seconds since the epoch):
/// query `m<i>` for check `i`'s metric and `d<i>` for its divisor, one period spanning the window.
pub fn request_body(config: &Config, from: &str, to: &str, end: u64) -> Value {
    let dims = dimensions(config, from, to);
    let stat = |id: String, metric: &str, stat: &str| {
        json!({
            "Id": id,
            "ReturnData": true,
            "MetricStat": {
                "Metric": { "Namespace": config.namespace, "MetricName": metric, "Dimensions": dims },
                "Period": config.window_seconds,
                "Stat": stat,
            },
        })
    };
    let mut queries = Vec::new();
    for (i, c) in config.checks.iter().enumerate() {
        queries.push(stat(format!("m{i}"), &c.metric, &c.stat));
        if let Some(per) = &c.per {
            queries.push(stat(format!("d{i}"), per, "Sum"));
        }
    }
    // Whole minutes, the end rounded up so the newest data points are inside.
    let end = end.div_ceil(60) * 60;
    json!({
        "MetricDataQueries": queries,
        "StartTime": end.saturating_sub(u64::from(config.window_seconds)),
        "EndTime": end,
        "ScanBy": "TimestampDescending",
    })
}

/// Each query's values, by id, from a `GetMetricData` answer.
pub fn results(answer: &str) -> Result<Vec<(String, Vec<f64>)>, String> {
    let v: Value = serde_json::from_str(answer).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let list = v.get("MetricDataResults").and_then(Value::as_array).ok_or("the answer has no MetricDataResults")?;
    let mut out = Vec::new();
    for r in list {
        let id = r.get("Id").and_then(Value::as_str).ok_or("a result has no Id")?;
        let values = r.get("Values").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        let values: Result<Vec<f64>, String> =
            values.iter().map(|x| x.as_f64().ok_or(format!("{id}: a value is not a number"))).collect();
        out.push((id.to_string(), values?));
    }
    Ok(out)
}

/// What one check reads: its value, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(f64),
    NoData(String),
}

/// Check `i`'s reading from the results: the newest value of `m<i>` (one period spans the window),
/// divided by the newest of `d<i>` when it has a divisor.
pub fn reading(i: usize, check: &MetricCheck, results: &[(String, Vec<f64>)]) -> Reading {
    let newest = |id: String| results.iter().find(|(r, _)| *r == id).and_then(|(_, v)| v.first().copied());
    let Some(value) = newest(format!("m{i}")) else {
        return Reading::NoData(format!("{}: no {} data in the window", check.name, check.metric));
    };
    let Some(per) = &check.per else { return Reading::Value(value) };
    match newest(format!("d{i}")) {
        Some(d) if d > 0.0 => Reading::Value(value / d),
        _ => Reading::NoData(format!("{}: no {per} in the window (no traffic to judge yet?)", check.name)),
    }
}

pub struct CloudWatch;

impl Verifier for CloudWatch {
    type Config = Config;

    fn check_config(config: &Config) -> Result<(), PluginError> {
        let invalid = |m: String| Err(PluginError::invalid_config(m));
        if config.checks.is_empty() {
            return invalid("`checks` is empty".into());
        }
        if config.dimensions.is_empty() {
            return invalid("`dimensions` is empty: give the exact dimension set of the metrics".into());
        }
        if config.window_seconds == 0 || !config.window_seconds.is_multiple_of(60) {
            return invalid(format!("window_seconds = {}: give a multiple of 60", config.window_seconds));
        }
        for c in &config.checks {
            if !valid_stat(&c.stat) {
                return invalid(format!(
                    "check {}: stat {:?} is not Sum, Average, Minimum, Maximum, SampleCount or pNN",
                    c.name, c.stat
                ));
            }
            if c.min.is_none() && c.max.is_none() {
                return invalid(format!("check {}: give `min`, `max` or both", c.name));
            }
        }
        if let Some(e) = &config.endpoint {
            let url = upshift_sdk::http::parse_url(e)?;
            if url.path != "/" {
                return invalid(format!("endpoint {e:?} must be scheme://host[:port], no path"));
            }
        }
        Ok(())
    }

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        Self::check_config(config)?;
        let client = Client {
            credentials: aws::credentials_from_env()?,
            region: config.region.clone(),
            service: "monitoring".into(),
            endpoint: aws::endpoint("monitoring", &config.region, config.endpoint.as_deref()),
        };
        let body = request_body(config, &check.from_version, &check.to_version, clock::now_millis() / 1000);
        let body = body.to_string();
        let answer = client.send(&Call {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "GraniteServiceVersion20100801.GetMetricData"),
            ],
            body: body.as_bytes(),
        })?;
        let results = results(&answer.text())
            .map_err(|why| PluginError::unavailable(format!("CloudWatch GetMetricData: {why}")))?;
        let (mut failures, mut missing, mut measurements) = (Vec::new(), Vec::new(), Vec::new());
        for (i, c) in config.checks.iter().enumerate() {
            match reading(i, c, &results) {
                Reading::Value(v) => {
                    measurements.push((c.name.clone(), v, c.unit.clone().unwrap_or_default()));
                    failures.extend(upshift_sdk::outside_bounds(&c.name, v, c.min, c.max));
                }
                Reading::NoData(why) => missing.push(why),
            }
        }
        let mut verdict = if !failures.is_empty() {
            Verdict::fail(failures.join("; "))
        } else if !missing.is_empty() {
            Verdict::inconclusive(missing.join("; "))
        } else {
            let names: Vec<&str> = config.checks.iter().map(|c| c.name.as_str()).collect();
            Verdict::pass(format!("within bounds over the last {} s: {}", config.window_seconds, names.join(", ")))
        };
        for (name, value, unit) in measurements {
            verdict = verdict.measure(name, value, &unit);
        }
        Ok(verdict)
    }
}

upshift_sdk::export_verifier!(CloudWatch);
upshift_sdk::capabilities!(network, env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_value(json!({
            "region": "us-east-1",
            "dimensions": [
                { "name": "FunctionName", "value": "orders" },
                { "name": "Resource", "value": "orders:live" },
                { "name": "ExecutedVersion", "value": "{to}" },
            ],
            "checks": [
                { "name": "error-ratio", "metric": "Errors", "per": "Invocations", "max": 0.01 },
                { "name": "p99", "metric": "Duration", "stat": "p99", "max": 800.0, "unit": "ms" },
            ],
        }))
        .unwrap()
    }

    #[test]
    fn one_query_per_metric_over_one_period_spanning_the_window_with_the_exact_dimensions() {
        let body = request_body(&config(), "1", "2", 1_000_000_030);
        assert_eq!(body["StartTime"], 1_000_000_080 - 300);
        assert_eq!(body["EndTime"], 1_000_000_080, "rounded up to the minute: the newest points are in");
        let queries = body["MetricDataQueries"].as_array().unwrap();
        let ids: Vec<&str> = queries.iter().map(|q| q["Id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["m0", "d0", "m1"]);
        assert_eq!(queries[1]["MetricStat"]["Metric"]["MetricName"], "Invocations");
        assert_eq!(queries[1]["MetricStat"]["Stat"], "Sum");
        assert_eq!(queries[2]["MetricStat"]["Stat"], "p99");
        assert_eq!(queries[2]["MetricStat"]["Period"], 300);
        assert_eq!(
            queries[0]["MetricStat"]["Metric"]["Dimensions"][2],
            json!({ "Name": "ExecutedVersion", "Value": "2" })
        );
    }

    #[test]
    fn a_ratio_over_no_traffic_and_a_metric_with_no_data_are_never_values() {
        let c = config();
        let answer = r#"{"MetricDataResults":[{"Id":"m0","Values":[3.0]},{"Id":"d0","Values":[200.0]},{"Id":"m1","Values":[]}]}"#;
        let r = results(answer).unwrap();
        assert_eq!(reading(0, &c.checks[0], &r), Reading::Value(0.015));
        assert!(matches!(reading(1, &c.checks[1], &r), Reading::NoData(why) if why.contains("no Duration data")));
        let idle = results(r#"{"MetricDataResults":[{"Id":"m0","Values":[0.0]},{"Id":"d0","Values":[0.0]}]}"#).unwrap();
        assert!(matches!(reading(0, &c.checks[0], &idle), Reading::NoData(why) if why.contains("no Invocations")));
        assert!(results("<xml/>").is_err());
        assert!(results(r#"{"MetricDataResults":[{"Id":"m0","Values":["x"]}]}"#).is_err());
    }

    #[test]
    fn configs_that_cannot_judge_are_refused() {
        assert!(CloudWatch::check_config(&config()).is_ok());
        let mut c = config();
        c.window_seconds = 90;
        assert!(CloudWatch::check_config(&c).unwrap_err().message.contains("multiple of 60"));
        let mut c = config();
        c.checks[1].stat = "p101".into();
        assert!(CloudWatch::check_config(&c).is_err());
        let mut c = config();
        c.checks[0].max = None;
        assert!(CloudWatch::check_config(&c).unwrap_err().message.contains("min"));
        let mut c = config();
        c.dimensions.clear();
        assert!(CloudWatch::check_config(&c).is_err());
        assert!(valid_stat("p99.9") && valid_stat("Average") && !valid_stat("avg"));
    }
}
