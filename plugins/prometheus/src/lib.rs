//! Verifier `prometheus`: runs PromQL instant queries against Prometheus' HTTP API and compares
//! each single value with the check's bounds (for example the canary's 5xx ratio at most 0.01, or
//! its latency at most 1.1 times the stable one's). It fails closed: a query with no data, or a
//! value that is not a number (no traffic yet: 0/0), is inconclusive, and a query Prometheus cannot
//! answer is an error. Neither is ever a pass.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::serde_json::Value;
use upshift_sdk::{Check, PluginError, Verdict, Verifier, http};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Prometheus' base URL, e.g. `http://127.0.0.1:9090`; grant its `host:port` in `grants.network.http`.
    pub url: String,
    pub checks: Vec<QueryCheck>,
}

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct QueryCheck {
    pub name: String,
    /// A PromQL expression returning one number (aggregate to one series with `sum`, `max`...).
    pub query: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Shown with the measurement, e.g. "ratio" or "s".
    #[serde(default)]
    pub unit: Option<String>,
}

/// What one query gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(f64),
    /// Why there is no number to judge.
    NoData(String),
}

/// Reads the single number out of a `/api/v1/query` answer. Prometheus' own errors (a bad query)
/// are invalid config; more than one series is invalid config too (the check must aggregate).
pub fn read_answer(name: &str, status: u16, body: &str) -> Result<Reading, PluginError> {
    let json: Value = upshift_sdk::serde_json::from_str(body).map_err(|e| {
        let mut err = PluginError::unavailable(format!("{name}: Prometheus answered HTTP {status} with no JSON: {e}"));
        err.retryable = true;
        err
    })?;
    if json["status"] != "success" {
        let message = format!(
            "{name}: Prometheus refused the query ({}): {}",
            json["errorType"].as_str().unwrap_or("error"),
            json["error"].as_str().unwrap_or("no reason given")
        );
        return Err(if status == 400 || status == 422 {
            PluginError::invalid_config(message)
        } else {
            let mut err = PluginError::unavailable(message);
            err.retryable = true;
            err
        });
    }
    let data = &json["data"];
    let sample = match data["resultType"].as_str() {
        Some("scalar") => Some(&data["result"]),
        Some("vector") => {
            let series = data["result"].as_array().map_or(&[][..], Vec::as_slice);
            match series {
                [] => return Ok(Reading::NoData(format!("{name}: no data (the query matched no series)"))),
                [one] => Some(&one["value"]),
                many => {
                    return Err(PluginError::invalid_config(format!(
                        "{name}: the query returned {} series; aggregate it to one (sum, max, ...)",
                        many.len()
                    )));
                }
            }
        }
        _ => None,
    };
    let text = sample.and_then(|s| s[1].as_str()).ok_or_else(|| {
        PluginError::invalid_config(format!("{name}: the query must return an instant vector or a scalar"))
    })?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Reading::Value(v)),
        _ => Ok(Reading::NoData(format!("{name}: value is {text} (no traffic to judge yet?)"))),
    }
}

/// Why `value` breaks the check's bounds, if it does.
pub fn judge(check: &QueryCheck, value: f64) -> Option<String> {
    upshift_sdk::outside_bounds(&check.name, value, check.min, check.max)
}

fn query(config: &Config, check: &QueryCheck) -> Result<Reading, PluginError> {
    let url =
        format!("{}/api/v1/query?query={}", config.url.trim_end_matches('/'), http::encode_query_value(&check.query));
    let response = http::get(&url)?;
    read_answer(&check.name, response.status, &response.text())
}

pub struct Prometheus;

impl Verifier for Prometheus {
    type Config = Config;

    fn verify(_check: Check, config: &Config) -> Result<Verdict, PluginError> {
        if config.checks.is_empty() {
            return Err(PluginError::invalid_config("prometheus: `checks` is empty"));
        }
        let (mut failures, mut missing, mut measurements) = (Vec::new(), Vec::new(), Vec::new());
        for c in &config.checks {
            match query(config, c)? {
                Reading::Value(v) => {
                    measurements.push((c.name.clone(), v, c.unit.clone().unwrap_or_default()));
                    failures.extend(judge(c, v));
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
            Verdict::pass(format!("within bounds: {}", names.join(", ")))
        };
        for (name, value, unit) in measurements {
            verdict = verdict.measure(name, value, &unit);
        }
        Ok(verdict)
    }
}

upshift_sdk::export_verifier!(Prometheus);
upshift_sdk::capabilities!(network);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(max: Option<f64>, min: Option<f64>) -> QueryCheck {
        QueryCheck { name: "err".into(), query: "x".into(), min, max, unit: None }
    }

    #[test]
    fn one_series_gives_its_value() {
        let body =
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.02"]}]}}"#;
        assert_eq!(read_answer("err", 200, body).unwrap(), Reading::Value(0.02));
        let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"3"]}}"#;
        assert_eq!(read_answer("err", 200, body).unwrap(), Reading::Value(3.0));
    }

    #[test]
    fn missing_data_and_nan_are_never_values() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(read_answer("err", 200, empty).unwrap(), Reading::NoData(_)));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert!(matches!(read_answer("err", 200, nan).unwrap(), Reading::NoData(_)));
    }

    #[test]
    fn bad_queries_and_broken_answers_are_errors() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        let e = read_answer("err", 400, bad).unwrap_err();
        assert!(!e.retryable && e.message.contains("parse error"), "{e:?}");
        let e = read_answer("err", 502, "<html>bad gateway</html>").unwrap_err();
        assert!(e.retryable, "{e:?}");
        let two =
            r#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#;
        assert!(read_answer("err", 200, two).unwrap_err().message.contains("aggregate"));
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(judge(&check(Some(0.01), None), 0.01), None);
        assert!(judge(&check(Some(0.01), None), 0.0101).unwrap().contains("above the maximum"));
        assert!(judge(&check(None, Some(5.0)), 4.0).unwrap().contains("below the minimum"));
    }
}
