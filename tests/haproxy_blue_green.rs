//! Blue-green and the sticky canary end to end with real HAProxy: `upshift run` on
//! `examples/haproxy-canary/blue-green.toml` and `sticky.toml` (ports moved to free ones), the
//! `haproxy-split` target driving the preview ACL and the cohort map of the example's haproxy.cfg
//! through the runtime API, while steady load (no header, no cookie) goes through HAProxy.
//!
//! Blue-green: before the switch, requests with the preview header reach only green and the rest
//! only blue; after a healthy switch everything is on green and the preview route is gone. Then green
//! dies right after a switch: the next verification fails and all traffic is back on blue within one
//! verification interval, measured from HAProxy's own weights and printed.
//!
//! Sticky: each user (a `user` cookie) gets one version, every time, and the users on v2 at 10 % are
//! still on v2 at 50 %.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::haproxy::{Services, WeightWatch, http_get_with, now_ms};
use common::{stderr, stdout, upshift_in};

/// `interval_seconds` of blue-green.toml's verifier.
const VERIFY_INTERVAL_MS: i64 = 2_000;
/// Allowance on top of one interval for the probe, the rollback's commands and its read-back.
const ROLLBACK_ALLOWANCE_MS: i64 = 1_000;
/// Longest wait for a rollout to reach a point the test looks at.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

/// `upshift run SPEC` in the scenario's folder, in the background.
fn spawn(services: &Services, spec: &str) -> Child {
    upshift_in(services.dir.path())
        .args(["run", spec])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run upshift")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PHASE_LIMIT, "{what}: not after {PHASE_LIMIT:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// The version that answered (`v1`, `v2`), or `down` when nothing did.
fn version(services: &Services, headers: &[(&str, &str)]) -> String {
    http_get_with(services.addr("front"), "/", headers)
        .and_then(|body| body.trim().strip_prefix("hello from ").map(str::to_string))
        .unwrap_or_else(|| "down".into())
}

fn acl(services: &Services) -> String {
    services.admin("show acl preview.acl")
}

#[test]
fn blue_green_previews_green_then_switches_and_a_failure_after_the_switch_goes_back_to_blue() {
    let mut services = Services::new();
    services.start_routing();
    services.start_load();
    assert_eq!(services.weights(), (100, 0));

    // 1. Healthy: the preview reaches green alone, the switch moves everything, finalize clears
    // the route.
    let run = spawn(&services, "blue-green.toml");
    wait_until("the preview route", || acl(&services).contains("green"));
    let preview: Vec<String> = (0..20).map(|_| version(&services, &[("X-Preview", "green")])).collect();
    let plain: Vec<String> = (0..20).map(|_| version(&services, &[])).collect();
    let other: Vec<String> = (0..5).map(|_| version(&services, &[("X-Preview", "blue")])).collect();
    assert_eq!(services.weights(), (100, 0), "the switch came before the preview was sampled");
    assert!(preview.iter().all(|v| v == "v2"), "preview requests: {preview:?}");
    assert!(plain.iter().chain(&other).all(|v| v == "v1"), "requests without the preview value: {plain:?} {other:?}");
    println!("before the switch: 20/20 preview requests on v2, 25/25 others on v1");

    let out = run.wait_with_output().unwrap();
    let (text, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{errors}\nHAProxy:\n{}", services.log("haproxy"));
    assert!(text.contains("rollout haproxy-blue-green-1: succeeded"), "{text}");
    assert!(text.contains("preview green on (confirmed)"), "{text}");
    assert_eq!(services.weights(), (0, 100));
    assert!(!acl(&services).contains("green"), "finalize left the preview route: {}", acl(&services));
    let after: Vec<String> = (0..10).map(|_| version(&services, &[])).collect();
    assert!(after.iter().all(|v| v == "v2"), "after the switch: {after:?}");

    // 2. Green dies right after a switch: back to blue within one verification interval.
    services.reset_weights();
    let watch = WeightWatch::start(services.addr("admin"));
    let run = spawn(&services, "blue-green.toml");
    wait_until("the switch", || services.weights() == (0, 100));
    services.stop("canary");
    let failed_at = now_ms();
    let out = run.wait_with_output().unwrap();
    thread::sleep(Duration::from_millis(50));
    let changes = watch.finish();
    let (text, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(4), "stdout:\n{text}\nstderr:\n{errors}");
    assert!(text.contains("rollout haproxy-blue-green-2: rolled-back"), "{text}");
    assert_eq!(services.weights(), (100, 0), "the rollback leaves everything on blue");
    assert!(!acl(&services).contains("green"), "the rollback left the preview route: {}", acl(&services));
    let back = changes.iter().find(|(t, w)| *t >= failed_at && *w == 0).map(|(t, _)| *t);
    let back = back.unwrap_or_else(|| panic!("the canary weight never went back to 0 after the failure: {changes:?}"));
    let took = back - failed_at;
    println!(
        "time-to-blue: {:.3} s (green stopped → all traffic on blue, confirmed by HAProxy; verification interval {:.0} s)",
        took as f64 / 1000.0,
        VERIFY_INTERVAL_MS as f64 / 1000.0
    );
    assert!(
        took <= VERIFY_INTERVAL_MS + ROLLBACK_ALLOWANCE_MS,
        "back on blue only after {took} ms; weights seen: {changes:?}\n{text}"
    );
    let plain: Vec<String> = (0..10).map(|_| version(&services, &[])).collect();
    assert!(plain.iter().all(|v| v == "v1"), "after the rollback: {plain:?}");
}

/// Users the sticky test asks for.
const USERS: usize = 100;

/// `n` user ids as a session cookie would hold them: 16 hex digits from a fixed pseudo-random
/// sequence. (Ids that differ in one digit, `user-1`, `user-2`..., hash unevenly: none of
/// `user-0`..`user-59` falls below 10 under HAProxy's `crc32(1),mod(100)`.)
fn user_ids(n: usize) -> Vec<String> {
    let mut x: u64 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) & (u64::MAX >> 1);
            format!("{x:016x}")
        })
        .collect()
}

#[test]
fn a_sticky_canary_keeps_each_user_on_one_version_as_the_share_grows() {
    let mut services = Services::new();
    services.start_routing();
    services.start_load();
    let cohort = |services: &Services| services.admin("show map cohort.map");
    let users = user_ids(USERS);
    // Each user's version, asked twice (in parallel: each answer takes the service's latency).
    let sample = |services: &Services| -> BTreeMap<String, (String, String)> {
        thread::scope(|scope| {
            let handles: Vec<_> = users
                .chunks(USERS / 10)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|u| {
                                let cookie = format!("user={u}");
                                let first = version(services, &[("Cookie", &cookie)]);
                                (u.clone(), (first, version(services, &[("Cookie", &cookie)])))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        })
    };

    let run = spawn(&services, "sticky.toml");
    wait_until("the 10 % cohort", || cohort(&services).contains("percent 10"));
    let at_10 = sample(&services);
    assert!(cohort(&services).contains("percent 10"), "the stage moved on while sampling");
    wait_until("the 50 % cohort", || cohort(&services).contains("percent 50"));
    let at_50 = sample(&services);
    let out = run.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&out));
    assert!(text.contains("cohort 10% (confirmed)") && text.contains("cohort 50% (confirmed)"), "{text}");

    for (at, sampled) in [(10, &at_10), (50, &at_50)] {
        let flipped: Vec<_> = sampled.iter().filter(|(_, (a, b))| a != b).collect();
        assert!(flipped.is_empty(), "at {at} %, users answered by both versions: {flipped:?}");
    }
    let on_v2 = |s: &BTreeMap<String, (String, String)>| s.iter().filter(|(_, (v, _))| v == "v2").count();
    let (n10, n50) = (on_v2(&at_10), on_v2(&at_50));
    println!("users on v2: {n10}/{USERS} at 10 %, {n50}/{USERS} at 50 %");
    assert!((3..=20).contains(&n10), "{n10}/{USERS} users on v2 at 10 %");
    assert!((35..=65).contains(&n50), "{n50}/{USERS} users on v2 at 50 %");
    let left: Vec<_> = at_10.iter().filter(|(u, (v, _))| v == "v2" && at_50[*u].0 != "v2").collect();
    assert!(left.is_empty(), "users on v2 at 10 % but not at 50 %: {left:?}");
    // Finalize: everyone on v2, with the cookie or without.
    assert!(cohort(&services).contains("percent 100"), "{}", cohort(&services));
    assert_eq!(services.weights(), (0, 100));
    assert_eq!(version(&services, &[("Cookie", &format!("user={}", users[0]))]), "v2");
}
