//! The verifier as the host calls it, natively: config in, samples from a replay file or a
//! Prometheus stand-in, verdict out with its measurements.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use judge::Judge;
use upshift_sdk::serde_json::{self, Value, json};
use upshift_sdk::{Check, ErrorKind, Outcome, Verdict, Verifier};

/// A fresh folder under the system's temporary folder.
fn folder() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("judge-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn verify(config: Value) -> Result<Verdict, upshift_sdk::PluginError> {
    let config: judge::Config = upshift_sdk::parse_config(&config.to_string())?;
    Judge::verify(Check { to_version: "v2".into(), from_version: "v1".into(), ..Check::example() }, &config)
}

fn measurement(v: &Verdict, name: &str) -> Option<f64> {
    v.measurements.iter().find(|m| m.name == name).map(|m| m.value)
}

/// Deterministic noise: n values around `center`, spread ±`spread`.
fn noisy(n: usize, center: f64, spread: f64, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            center + spread * ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        })
        .collect()
}

fn replay(samples: Value, metrics: Value) -> Result<Verdict, upshift_sdk::PluginError> {
    let dir = folder();
    let file = dir.join("samples.json");
    std::fs::write(&file, samples.to_string()).unwrap();
    verify(json!({ "file": file, "metrics": metrics }))
}

#[test]
fn a_healthy_canary_passes_with_every_number_recorded() {
    let samples = json!({
        "latency": { "baseline": noisy(60, 0.05, 0.002, 1), "canary": noisy(60, 0.05, 0.002, 2) },
        "errors": { "baseline": vec![0.0; 60], "canary": vec![0.0; 60] },
    });
    let metrics = json!([
        { "name": "latency", "direction": "increase", "unit": "s", "distribution": { "test": "ks" } },
        { "name": "errors", "direction": "increase" },
    ]);
    let v = replay(samples, metrics).unwrap();
    assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
    assert_eq!(measurement(&v, "score"), Some(100.0));
    assert_eq!(measurement(&v, "latency.class"), Some(0.0));
    for name in [
        "latency.estimate",
        "latency.lower",
        "latency.upper",
        "latency.effect",
        "latency.mw_p",
        "latency.ks_d",
        "latency.ks_p",
    ] {
        assert!(measurement(&v, name).is_some(), "{name} missing: {:?}", v.measurements);
    }
    let unit = v.measurements.iter().find(|m| m.name == "latency.lower").and_then(|m| m.unit.clone());
    assert_eq!(unit.as_deref(), Some("s"));
    assert!(v.reason.contains("errors"), "{}", v.reason);
}

#[test]
fn a_tail_only_regression_fails_by_the_distribution_test() {
    let baseline = noisy(60, 0.05, 0.001, 3);
    let mut canary = noisy(42, 0.05, 0.001, 4);
    canary.extend(noisy(18, 0.45, 0.02, 5));
    let samples = json!({ "latency": { "baseline": baseline, "canary": canary } });
    let without = replay(samples.clone(), json!([{ "name": "latency", "direction": "increase" }])).unwrap();
    let with =
        replay(samples, json!([{ "name": "latency", "direction": "increase", "distribution": { "test": "ks" } }]))
            .unwrap();
    assert_eq!(with.outcome, Outcome::Fail, "{}", with.reason);
    assert!(with.reason.contains("latency High (distribution: KS D+ 0.3"), "{}", with.reason);
    assert!(measurement(&with, "latency.ks_p").unwrap() < 0.02);
    println!("without the distribution test: {:?}: {}", without.outcome, without.reason);
}

#[test]
fn ten_metrics_keep_every_classification_within_the_hosts_64_measurements() {
    let mut samples = serde_json::Map::new();
    let mut metrics = Vec::new();
    for i in 0..10 {
        let shift = if i == 3 { 0.5 } else { 0.0 };
        samples.insert(
            format!("m{i}"),
            json!({ "baseline": noisy(100, 1.0, 0.1, 10 + i), "canary": noisy(100, 1.0 + shift, 0.1, 30 + i) }),
        );
        metrics.push(json!({ "name": format!("m{i}"), "distribution": { "test": "ks" } }));
    }
    let v = replay(Value::Object(samples), Value::Array(metrics)).unwrap();
    assert_eq!(v.measurements.len(), 64);
    for i in 0..10 {
        assert!(measurement(&v, &format!("m{i}.class")).is_some(), "m{i}.class dropped");
    }
    assert_eq!(measurement(&v, "m3.class"), Some(1.0));
    assert!(measurement(&v, "m3.ks_p").is_some(), "a failing metric's details are kept first");
    assert!(v.reason.contains("measurements left out: the host keeps 64"), "{}", v.reason);
    assert_eq!(v.outcome, Outcome::Inconclusive, "score 90: {}", v.reason);
}

#[test]
fn a_csv_replay_is_judged_like_json() {
    let dir = folder();
    let mut csv = String::from("metric,series,value\n");
    for v in noisy(30, 10.0, 1.0, 7) {
        csv.push_str(&format!("rps,baseline,{v}\n"));
    }
    for v in noisy(30, 5.0, 1.0, 8) {
        csv.push_str(&format!("rps,canary,{v}\n"));
    }
    csv.push_str("rps,canary,\n");
    std::fs::write(dir.join("s.csv"), csv).unwrap();
    let v =
        verify(json!({ "file": dir.join("s.csv"), "metrics": [{ "name": "rps", "direction": "decrease" }] })).unwrap();
    assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
    assert_eq!(measurement(&v, "rps.class"), Some(-1.0));
}

#[test]
fn a_metric_missing_from_the_file_has_no_data() {
    let samples = json!({ "a": { "baseline": noisy(20, 1.0, 0.1, 1), "canary": noisy(20, 1.0, 0.1, 2) } });
    let v = replay(samples, json!([{ "name": "a" }, { "name": "b" }])).unwrap();
    assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
    assert!(v.reason.starts_with("too sparse to judge: 1 of 2"), "{}", v.reason);
    assert_eq!(measurement(&v, "b.class"), Some(2.0));
}

#[test]
fn a_missing_file_is_invalid_config_naming_it() {
    let e = verify(json!({ "file": "/nonexistent/x.json", "metrics": [{ "name": "a" }] })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(e.message.contains("/nonexistent/x.json") && e.message.contains("grants.files"), "{}", e.message);
}

#[test]
fn a_recorded_verification_replays_to_the_same_verdict() {
    let dir = folder();
    let source = dir.join("in.json");
    let samples = json!({ "latency": { "baseline": noisy(40, 1.0, 0.1, 1), "canary": noisy(40, 1.3, 0.1, 2) } });
    std::fs::write(&source, samples.to_string()).unwrap();
    let metrics = json!([{ "name": "latency", "direction": "increase" }]);
    let first = verify(json!({ "file": source, "metrics": metrics, "record": dir })).unwrap();
    let recorded = dir.join("example-1-0-canary-1.json");
    assert!(recorded.is_file(), "nothing recorded in {}", dir.display());
    let again = verify(json!({ "file": recorded, "metrics": metrics })).unwrap();
    let numbers = |v: &Verdict| v.measurements.iter().map(|m| (m.name.clone(), m.value)).collect::<Vec<_>>();
    assert_eq!((again.outcome, numbers(&again)), (first.outcome, numbers(&first)));
}

/// A Prometheus stand-in: answers every `query_range` from `answer(query)`, keeping the paths asked.
fn prometheus(answer: impl Fn(&str) -> Value + Send + 'static) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
            let query = path.split("query=").nth(1).and_then(|q| q.split('&').next()).unwrap_or_default();
            let query = decode(query);
            seen.lock().unwrap().push(path);
            let body = answer(&query).to_string();
            let _ = write!(stream, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        }
    });
    (url, asked)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn matrix(series: &[Vec<f64>]) -> Value {
    let result: Vec<Value> = series
        .iter()
        .map(|s| json!({ "metric": {}, "values": s.iter().enumerate().map(|(t, v)| json!([t, v.to_string()])).collect::<Vec<_>>() }))
        .collect();
    json!({ "status": "success", "data": { "resultType": "matrix", "result": result } })
}

#[test]
fn range_queries_are_templated_and_their_series_pooled() {
    let (url, asked) = prometheus(|query| {
        if query.contains("version=\"v2\"") {
            matrix(&[noisy(30, 2.0, 0.1, 1), noisy(30, 2.0, 0.1, 2)])
        } else {
            matrix(&[noisy(30, 1.0, 0.1, 3)])
        }
    });
    let config = json!({
        "prometheus": url, "window_seconds": 60, "step_seconds": 2,
        "metrics": [{ "name": "latency", "direction": "increase",
            "baseline": "rate(x{version=\"{from}\"}[{step}])", "canary": "rate(x{version=\"{to}\"}[{step}])" }],
    });
    let v = verify(config).unwrap();
    assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
    assert!(v.reason.contains("latency High"), "{}", v.reason);
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2);
    assert!(
        asked[0].starts_with("/api/v1/query_range?query=rate%28x%7Bversion%3D%22v1%22%7D%5B2s%5D%29&start="),
        "{}",
        asked[0]
    );
    let start: u64 = asked[0].split("start=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let end: u64 = asked[0].split("end=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    assert_eq!(end - start, 60);
    assert!(asked[0].ends_with("&step=2"), "{}", asked[0]);
}

#[test]
fn a_query_prometheus_refuses_is_invalid_config() {
    let (url, _) =
        prometheus(|_| json!({ "status": "error", "errorType": "bad_data", "error": "parse error at char 4" }));
    let config = json!({ "prometheus": url, "metrics": [{ "name": "a", "baseline": "x(", "canary": "y(" }] });
    // The stand-in answers 200; Prometheus answers 400 for a bad query: either way no verdict.
    let e = verify(config).unwrap_err();
    assert!(e.message.contains("parse error at char 4"), "{}", e.message);
}

#[test]
fn the_config_schema_shows_the_fields() {
    let schema: Value = serde_json::from_str(&upshift_sdk::config_schema::<judge::Config>()).unwrap();
    for field in
        ["prometheus", "file", "window_seconds", "step_seconds", "metrics", "pass_score", "marginal_score", "record"]
    {
        assert!(schema["properties"][field].is_object(), "{field} missing from {schema}");
    }
}
