//! Verifier `http-probe`: sends a few synthetic `GET` requests to a URL, with the headers the config
//! gives (a preview header, a cookie), and checks each answer's status, latency and body. A request that gets no answer counts as a failed probe; a destination
//! the host refuses (not granted) is an error, never a pass.

use std::time::{Duration, Instant};

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, ErrorKind, PluginError, Verdict, Verifier, http};

/// Requests per verification when the config does not say.
pub const DEFAULT_REQUESTS: u32 = 3;
/// The status every answer must have when the config does not say.
pub const DEFAULT_EXPECT_STATUS: u16 = 200;

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Grant its `host:port` in `grants.network.http`.
    pub url: String,
    #[serde(default = "default_requests")]
    pub requests: u32,
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// Longest time one answer may take; a request gets no longer (its timeout).
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Text every answer's body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Headers sent with every request, name to value (a preview route's header, a `Cookie`).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

fn default_requests() -> u32 {
    DEFAULT_REQUESTS
}

fn default_status() -> u16 {
    DEFAULT_EXPECT_STATUS
}

/// Why one answer breaks the config's expectations, if it does.
pub fn judge(config: &Config, status: u16, body: &str, latency_ms: u64) -> Option<String> {
    if status != config.expect_status {
        return Some(format!("status {status}, expected {}", config.expect_status));
    }
    if let Some(max) = config.max_latency_ms.filter(|max| latency_ms > *max) {
        return Some(format!("took {latency_ms} ms, budget {max} ms"));
    }
    if let Some(text) = config.body_contains.as_ref().filter(|t| !body.contains(t.as_str())) {
        return Some(format!("body does not contain {text:?}"));
    }
    None
}

pub struct HttpProbe;

impl Verifier for HttpProbe {
    type Config = Config;

    fn verify(_check: Check, config: &Config) -> Result<Verdict, PluginError> {
        if config.requests == 0 {
            return Err(PluginError::invalid_config("http-probe: `requests` must be at least 1"));
        }
        http::parse_url(&config.url)?;
        let headers: Vec<(&str, &str)> = config.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (mut failures, mut slowest) = (Vec::new(), 0u64);
        for i in 1..=config.requests {
            let started = Instant::now();
            let answer = http::send(&http::Request {
                method: "GET",
                url: &config.url,
                headers: &headers,
                body: &[],
                timeout: config.max_latency_ms.map(Duration::from_millis),
            });
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            slowest = slowest.max(ms);
            match answer {
                Ok(r) => {
                    failures.extend(judge(config, r.status, &r.text(), ms).map(|why| format!("request {i}: {why}")))
                }
                Err(e) if e.kind == ErrorKind::Denied => return Err(e),
                Err(_) if config.max_latency_ms.is_some_and(|max| ms >= max) => {
                    failures.push(format!("request {i}: no answer within {} ms", config.max_latency_ms.unwrap_or(ms)))
                }
                Err(e) => failures.push(format!("request {i}: no answer: {}", e.message)),
            }
        }
        let verdict = if failures.is_empty() {
            Verdict::pass(format!("{} requests to {} answered as expected", config.requests, config.url))
        } else {
            Verdict::fail(format!("{}/{} probes failed: {}", failures.len(), config.requests, failures.join("; ")))
        };
        Ok(verdict.measure("failed", failures.len() as f64, "requests").measure("slowest", slowest as f64, "ms"))
    }
}

upshift_sdk::export_verifier!(HttpProbe);
upshift_sdk::capabilities!(network);

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            url: "http://127.0.0.1:1/".into(),
            requests: 1,
            expect_status: 200,
            max_latency_ms: Some(100),
            body_contains: Some("hello".into()),
            headers: [("X-Preview".to_string(), "green".to_string())].into(),
        }
    }

    #[test]
    fn each_expectation_is_checked() {
        assert_eq!(judge(&config(), 200, "hello from v2", 5), None);
        assert!(judge(&config(), 500, "hello", 5).unwrap().contains("status 500"));
        assert!(judge(&config(), 200, "hello", 101).unwrap().contains("budget 100 ms"));
        assert!(judge(&config(), 200, "bye", 5).unwrap().contains("does not contain"));
    }

    fn check() -> Check {
        Check {
            rollout_id: "r".into(),
            stage_index: 0,
            stage_name: "canary".into(),
            from_version: "1".into(),
            to_version: "2".into(),
            weight: Some(10),
            units: vec![],
            attempt: 1,
        }
    }

    #[test]
    fn a_server_that_is_down_fails_the_probe() {
        let verdict = HttpProbe::verify(check(), &config()).unwrap();
        assert_eq!(verdict.outcome, upshift_sdk::Outcome::Fail, "{verdict:?}");
    }

    #[test]
    fn a_server_that_never_answers_fails_the_probe_at_the_latency_budget() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = Config { url: format!("http://{}/", listener.local_addr().unwrap()), ..config() };
        let started = Instant::now();
        let verdict = HttpProbe::verify(check(), &c).unwrap();
        assert_eq!(verdict.outcome, upshift_sdk::Outcome::Fail, "{verdict:?}");
        assert!(verdict.reason.contains("no answer within 100 ms"), "{}", verdict.reason);
        assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
        drop(listener);
    }
}
