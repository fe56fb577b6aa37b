//! The statistical judge end to end, on the HAProxy canary example: `upshift run` on
//! `examples/haproxy-canary/judged.toml` (its ports moved to free ones) shifts 10 % of live traffic
//! to the canary, bakes 50 s, and the `judge` verifier compares the canary's per-second latency
//! quantiles and error ratio with the stable server's, from the real Prometheus scraping HAProxy and
//! both demo services.
//!
//! A healthy v2 passes and takes all the traffic. A v3 with the same median but a slower tail (one
//! request in 50 takes 250 ms more) fails: the Mann-Whitney interval of its p99 series straddles the
//! tolerance band (Kayenta would pass it), the one-sided Kolmogorov-Smirnov test catches it, and
//! the rollout rolls back by itself. The samples of each verification are recorded for replay.

mod common;

use common::haproxy::{Services, history};
use common::{stderr, stdout};
use serde_json::Value;

/// One verification of `verifier` as journaled: its outcome, reason and measurements by name.
struct Verification {
    outcome: String,
    reason: String,
    measurements: Vec<(String, f64, String)>,
}

impl Verification {
    fn value(&self, name: &str) -> f64 {
        self.measurements
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| *v)
            .unwrap_or_else(|| panic!("no measurement {name} in {:?}", self.measurements))
    }
}

fn verifications(services: &Services, rollout: &str) -> Vec<Verification> {
    history(services, rollout)
        .iter()
        .filter(|e| e["detail"]["call"] == "verify" && e["detail"]["plugin"] == "canary-judge")
        .map(|e| {
            let d = &e["detail"];
            let measurements = d["measurements"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|m| {
                    let name = m["name"].as_str().unwrap_or_default().to_string();
                    let unit = m["unit"].as_str().unwrap_or_default().to_string();
                    (name, m["value"].as_f64().unwrap_or(f64::NAN), unit)
                })
                .collect();
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            Verification { outcome: text(&d["outcome"]), reason: text(&d["reason"]), measurements }
        })
        .collect()
}

#[test]
fn the_judge_passes_a_healthy_canary_and_rolls_back_a_slower_tail() {
    let mut services = Services::new();
    services.start_all();
    assert_eq!(services.weights(), (100, 0), "the example starts with all traffic on stable");

    // 1. A healthy v2: the judge passes it, every stage, and the canary ends with all the traffic.
    let out = services.run("judged.toml");
    let (text, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{errors}");
    assert!(text.contains("rollout haproxy-judged-1: succeeded"), "{text}");
    assert_eq!(services.weights(), (0, 100));
    let healthy = verifications(&services, "haproxy-judged-1");
    assert!(
        !healthy.is_empty() && healthy.iter().all(|v| v.outcome == "pass"),
        "{:?}",
        healthy.iter().map(|v| &v.reason).collect::<Vec<_>>()
    );
    assert_eq!(healthy[0].value("score"), 100.0, "{}", healthy[0].reason);
    println!("healthy v2: {}", healthy[0].reason);

    // 2. v3: the same median, a slower tail. Its own version label keeps v2's samples out of it.
    services.stop("canary");
    services.start_service("canary", "v3", &["--slow-rate", "0.02", "--slow-ms", "250"]);
    services.reset_weights();
    let spec = std::fs::read_to_string(services.path("judged.toml")).unwrap().replace("to = \"v2\"", "to = \"v3\"");
    std::fs::write(services.path("judged-v3.toml"), spec).unwrap();
    let out = services.run("judged-v3.toml");
    let (text, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(4), "stdout:\n{text}\nstderr:\n{errors}");
    assert!(text.contains("rollout haproxy-judged-2: rolled-back"), "{text}");
    assert_eq!(services.weights(), (100, 0), "rolled back to the stable server");

    let failed = verifications(&services, "haproxy-judged-2");
    let failed = failed.iter().find(|v| v.outcome == "fail").expect("a failed verification");
    println!("slower tail v3: {}", failed.reason);
    // The p99 series: High, and by the distribution test: the interval does not clear the band.
    assert_eq!(failed.value("latency-p99.class"), 1.0, "{}", failed.reason);
    assert!(failed.reason.contains("latency-p99 High (distribution: KS D+"), "{}", failed.reason);
    assert!(failed.value("latency-p99.ks_p") < 0.02);
    let (estimate, lower) = (failed.value("latency-p99.estimate"), failed.value("latency-p99.lower"));
    assert!(lower <= 0.25 * estimate.abs(), "Mann-Whitney alone would have caught it: [{lower}, ..] vs {estimate}");
    // The median did not move, nor did errors.
    assert_eq!(failed.value("latency-p50.class"), 0.0, "{}", failed.reason);
    assert_eq!(failed.value("error-ratio.class"), 0.0, "{}", failed.reason);
    assert!(failed.value("score") < 75.0);

    // Each verification's samples were recorded for replay; the tail is in the canary's p99 samples.
    let recorded: Vec<_> = std::fs::read_dir(services.path("judgements"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("haproxy-judged-2-0-canary-10-")))
        .collect();
    let file = recorded.last().unwrap_or_else(|| panic!("nothing recorded for haproxy-judged-2"));
    let samples: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let p99 = samples["latency-p99"]["canary"].as_array().expect("canary p99 samples");
    let slow = p99.iter().filter(|v| v.as_f64().is_some_and(|ms| ms >= 250.0)).count();
    assert!(slow * 5 >= p99.len(), "{slow} slow of {} canary p99 samples in {}", p99.len(), file.display());
    println!("recorded {}: {slow} of {} canary p99 samples at 250 ms or more", file.display(), p99.len());
}
