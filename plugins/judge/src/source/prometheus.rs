//! Samples from Prometheus' range queries (`/api/v1/query_range`): every value of every series
//! the query returns, pooled (aggregate in PromQL to compare one series). "NaN" (0/0, no traffic)
//! stays NaN for the metric's NaN strategy; a query Prometheus refuses is invalid config, one it
//! cannot answer now is retryable.

use upshift_sdk::serde_json::Value;
use upshift_sdk::{PluginError, http};

use super::Samples;
use super::template::{Context, render};
use crate::config::{MAX_SAMPLES_PER_SERIES, Metric};

/// The range queried, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
    pub step: u32,
}

/// The baseline and canary samples of one metric.
pub fn metric(url: &str, m: &Metric, context: &Context, window: &Window) -> Result<Samples, PluginError> {
    let missing = || PluginError::invalid_config(format!("judge: metric {:?} has no baseline or canary query", m.name));
    let baseline = m.baseline.as_deref().ok_or_else(missing)?;
    let canary = m.canary.as_deref().ok_or_else(missing)?;
    Ok(Samples {
        baseline: series(url, &format!("{} baseline", m.name), &render(baseline, context), window)?,
        canary: series(url, &format!("{} canary", m.name), &render(canary, context), window)?,
    })
}

fn series(url: &str, what: &str, query: &str, w: &Window) -> Result<Vec<f64>, PluginError> {
    let url = format!(
        "{}/api/v1/query_range?query={}&start={}&end={}&step={}",
        url.trim_end_matches('/'),
        http::encode_query_value(query),
        w.start,
        w.end,
        w.step
    );
    let response = http::get(&url)?;
    read_matrix(what, response.status, &response.text())
}

fn retryable(message: String) -> PluginError {
    let mut e = PluginError::unavailable(message);
    e.retryable = true;
    e
}

/// The pooled values of a `query_range` answer.
pub fn read_matrix(what: &str, status: u16, body: &str) -> Result<Vec<f64>, PluginError> {
    let json: Value = upshift_sdk::serde_json::from_str(body)
        .map_err(|e| retryable(format!("{what}: Prometheus answered HTTP {status} with no JSON: {e}")))?;
    if json["status"] != "success" {
        let message = format!(
            "{what}: Prometheus refused the query ({}): {}",
            json["errorType"].as_str().unwrap_or("error"),
            json["error"].as_str().unwrap_or("no reason given")
        );
        return Err(if status == 400 || status == 422 {
            PluginError::invalid_config(message)
        } else {
            retryable(message)
        });
    }
    let data = &json["data"];
    if data["resultType"] != "matrix" {
        return Err(PluginError::invalid_config(format!(
            "{what}: the query must return a range vector (matrix), not {}",
            data["resultType"]
        )));
    }
    let mut values = Vec::new();
    for s in data["result"].as_array().map_or(&[][..], Vec::as_slice) {
        for point in s["values"].as_array().map_or(&[][..], Vec::as_slice) {
            let text = point[1].as_str().ok_or_else(|| {
                PluginError::internal(format!("{what}: a sample of the answer is not [time, \"value\"]: {point}"))
            })?;
            values.push(
                parse_sample(text).ok_or_else(|| {
                    PluginError::internal(format!("{what}: the sample value {text:?} is not a number"))
                })?,
            );
            if values.len() > MAX_SAMPLES_PER_SERIES as usize {
                return Err(PluginError::invalid_config(format!(
                    "{what}: the query returns more than {MAX_SAMPLES_PER_SERIES} samples; aggregate it to fewer series or raise step_seconds"
                )));
            }
        }
    }
    Ok(values)
}

/// A sample as Prometheus (or a file) writes it: a number, NaN, +Inf or -Inf.
pub fn parse_sample(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_of_every_series_is_a_sample() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"i":"a"},"values":[[1,"0.5"],[2,"NaN"]]},
            {"metric":{"i":"b"},"values":[[1,"+Inf"],[2,"1e-3"]]}]}}"#;
        let v = read_matrix("m", 200, body).unwrap();
        assert_eq!(v.len(), 4);
        assert!(v[0] == 0.5 && v[1].is_nan() && v[2] == f64::INFINITY && v[3] == 1e-3);
    }

    #[test]
    fn no_series_is_no_samples() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(read_matrix("m", 200, body).unwrap().is_empty());
    }

    #[test]
    fn refusals_and_broken_answers_are_typed() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let e = read_matrix("m", 400, bad).unwrap_err();
        assert_eq!(e.kind, upshift_sdk::ErrorKind::InvalidConfig);
        assert!(read_matrix("m", 503, "busy").unwrap_err().retryable);
        let instant = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(read_matrix("m", 200, instant).unwrap_err().message.contains("matrix"));
        let odd = r#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}"#;
        assert!(read_matrix("m", 200, odd).unwrap_err().message.contains("not a number"));
    }
}
