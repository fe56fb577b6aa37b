//! The controller's metrics (issue 13): after real rollouts in this process (one that succeeds, one
//! a verifier fails, one whose verifier is stopped by its time limit), `/metrics`' text passes
//! `promtool check metrics`, its counters equal the counts of the journal's entries, and the
//! runtime's and the store's observers fed the histograms and the limit hits.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use upshift::engine::Phase;
use upshift::serve::metrics::Metrics;
use upshift::store::EntryKind;

use common::lab::Lab;

/// Every sample of a text exposition, by series (`name{labels}`).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {l}"));
            (series.to_string(), value.parse().unwrap_or_else(|_| panic!("not a number: {l}")))
        })
        .collect()
}

#[test]
fn metrics_pass_promtool_and_their_counters_equal_the_journal() {
    let mut lab = Lab::new();
    let metrics = Arc::new(Metrics::new());
    lab.runtime.set_call_observer(Some(metrics.clone()));
    upshift::store::set_commit_observer(Some(metrics.clone()));

    let threshold = lab.plugin("threshold");
    let good = lab.spec(&format!("{threshold}\nconfig = {{ value = 0.001, max = 0.01 }}"), None);
    let failing = lab.spec(&format!("{threshold}\nconfig = {{ value = 0.5, max = 0.01 }}"), None);
    let looping = lab.spec(&format!("{}\ntimeout_seconds = 0.3", lab.plugin("infinite-loop")), None);
    assert_eq!(lab.run(&good).unwrap().phase, Phase::Succeeded);
    assert_eq!(lab.run(&failing).unwrap().phase, Phase::RolledBack);
    assert_eq!(lab.run(&looping).unwrap().phase, Phase::RolledBack);

    let read = metrics.catch_up(&lab.store).unwrap();
    let text = metrics.render();
    println!("{text}");
    common::promtool_check(&text);
    let got = samples(&text);

    let journal = lab.store.journal_after(0, usize::MAX >> 1).unwrap();
    assert_eq!(read, journal.len(), "catch_up reads the whole journal once");
    let mut transitions = BTreeMap::new();
    let mut verifications = BTreeMap::new();
    for t in &journal {
        let e = &t.entry;
        if e.kind == EntryKind::Transition {
            let series = format!(
                "upshift_transitions_total{{from=\"{}\",to=\"{}\"}}",
                e.from.as_deref().unwrap(),
                e.to.as_deref().unwrap()
            );
            *transitions.entry(series).or_insert(0.0) += 1.0;
        }
        let d = e.detail.as_ref();
        let field = |k: &str| d.and_then(|d| d.get(k)).and_then(|v| v.as_str());
        if e.kind == EntryKind::Call && field("call") == Some("verify") && field("purpose").is_none() {
            let series = format!(
                "upshift_verifications_total{{verifier=\"{}\",outcome=\"{}\"}}",
                field("plugin").unwrap(),
                field("outcome").unwrap()
            );
            *verifications.entry(series).or_insert(0.0) += 1.0;
        }
    }
    let family = |prefix: &str| -> BTreeMap<String, f64> {
        got.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), *v)).collect()
    };
    assert!(transitions.len() >= 5, "{transitions:?}");
    assert_eq!(family("upshift_transitions_total{"), transitions);
    assert_eq!(
        verifications.values().sum::<f64>(),
        4.0,
        "two stages passed, one failed, one errored: {verifications:?}"
    );
    assert_eq!(family("upshift_verifications_total{"), verifications);

    assert_eq!(got["upshift_rollouts{phase=\"succeeded\"}"], 1.0);
    assert_eq!(got["upshift_rollouts{phase=\"rolled-back\"}"], 2.0);
    assert_eq!(got["upshift_rollouts{phase=\"baking\"}"], 0.0);

    let time_limit_hits: f64 = got
        .iter()
        .filter(|(k, _)| {
            k.starts_with("upshift_plugin_limit_hits_total{")
                && k.contains("infinite-loop")
                && k.contains("call=\"verify\"")
                && k.contains("limit=\"time\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(time_limit_hits, 1.0, "{text}");
    let applies: f64 = got
        .iter()
        .filter(|(k, _)| k.starts_with("upshift_plugin_call_duration_seconds_count{") && k.contains("call=\"apply\""))
        .map(|(_, v)| v)
        .sum();
    assert!(applies >= 3.0, "each rollout applied at least once: {applies}");
    assert!(!text.contains("lab-1") && !text.contains("lab-2"), "no rollout id in any label");
    assert!(got["upshift_journal_commit_duration_seconds_count"] >= 10.0, "{text}");

    assert_eq!(metrics.catch_up(&lab.store).unwrap(), 0, "a second catch-up counts nothing twice");
    assert_eq!(
        samples(&metrics.render())["upshift_transitions_total{from=\"applying\",to=\"baking\"}"],
        got["upshift_transitions_total{from=\"applying\",to=\"baking\"}"]
    );
}
