//! A Lambda canary end to end without a cloud: `examples/lambda-canary/rollout.toml` (its endpoints
//! moved to moto, the AWS-API stand-in, on a free 127.0.0.1 port; bakes cut to 1 s) run by the real
//! binary with the `lambda-alias` target and the `cloudwatch` verifier, both signing their requests
//! with SigV4. A watcher reads the alias through the API while the rollout runs: a healthy version 2
//! takes 10 % and then everything; with errors injected into its CloudWatch metrics, the verdict
//! fails and the alias goes back to version 1 alone.
//!
//! moto computes no percentiles (a `p99` query makes it fail with HTTP 500), so the test judges
//! `Duration` by its `Maximum`; real CloudWatch answers the example's `p99`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::aws::StandIn;
use common::{root, stderr, stdout, upshift_in};

/// The example's spec, pointed at the stand-in.
fn spec(stand_in: &StandIn) -> String {
    let text = std::fs::read_to_string(root().join("examples/lambda-canary/rollout.toml")).unwrap();
    let address = stand_in.address.to_string();
    let endpoint = stand_in.endpoint();
    let replaced = text
        .replace("lambda.us-east-1.amazonaws.com:443", &address)
        .replace("monitoring.us-east-1.amazonaws.com:443", &address)
        .replace("alias = \"live\" }", &format!("alias = \"live\", endpoint = \"{endpoint}\" }}"))
        .replace(
            "region = \"us-east-1\", window_seconds",
            &format!("region = \"us-east-1\", endpoint = \"{endpoint}\", window_seconds"),
        )
        .replace("bake_seconds = 300", "bake_seconds = 1")
        .replace("interval_seconds = 60", "interval_seconds = 1")
        .replace("stat = \"p99\"", "stat = \"Maximum\"");
    assert_eq!(replaced.matches(&format!("[\"{address}\"]")).count(), 2, "both grants moved:\n{replaced}");
    assert_eq!(replaced.matches(&format!("endpoint = \"{endpoint}\"")).count(), 2, "both endpoints set:\n{replaced}");
    assert!(replaced.contains("bake_seconds = 1") && replaced.contains("\"Maximum\""), "{replaced}");
    replaced
}

fn run(dir: &Path, stand_in: &StandIn) -> (std::process::Output, Vec<String>) {
    let mut watcher = stand_in.command(&["watch", "30"]).stdout(Stdio::piped()).spawn().expect("start the watcher");
    // The watcher prints the routing it finds first: from then on it sees every change.
    let mut seen = BufReader::new(watcher.stdout.take().expect("the watcher's output"));
    let mut first = String::new();
    seen.read_line(&mut first).expect("the watcher's first line");
    let out = upshift_in(dir)
        .args(["run", "rollout.toml"])
        .env("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
        .env("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run upshift");
    // The watcher ends by itself once the alias points at version 2 alone, else after its 30 s.
    if stand_in.script(&["alias"]) != "2" {
        let _ = watcher.kill();
    }
    let _ = watcher.wait();
    let rest: Vec<String> = seen.lines().map_while(Result::ok).collect();
    (out, std::iter::once(first.trim().to_string()).chain(rest).collect())
}

#[test]
fn a_healthy_version_takes_10_percent_then_everything_and_a_failing_one_is_routed_back() {
    let stand_in = StandIn::start();
    assert_eq!(stand_in.script(&["setup"]), "1", "the alias starts on version 1 alone");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rollout.toml"), spec(&stand_in)).unwrap();

    // 1. Version 2 answers without errors: 10 %, then everything, each read back.
    stand_in.script(&["metrics", "0", "500"]);
    let (out, seen) = run(dir.path(), &stand_in);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{text}\nstderr:\n{}", stderr(&out));
    assert_eq!(seen, ["1", "1 2=0.1", "2"], "the routings the API showed, in order");
    assert!(text.contains("alias live of orders: version 1 + version 2 at 10 % (confirmed)"), "{text}");
    assert!(text.contains("verify lambda-metrics: pass"), "{text}");
    assert!(text.contains("error-ratio=0 ratio"), "{text}");
    assert!(text.contains("finalized: alias live of orders: version 2 (confirmed)"), "{text}");
    assert_eq!(stand_in.script(&["alias"]), "2");

    // 2. Back to version 1, then version 2 again with 60 errors in 500 more calls (6 % in the window).
    stand_in.script(&["reset"]);
    stand_in.script(&["metrics", "60", "500"]);
    let (out, seen) = run(dir.path(), &stand_in);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "rolled back by its verdict:\nstdout:\n{text}\nstderr:\n{}", stderr(&out));
    assert!(text.contains("verify lambda-metrics: fail: error-ratio = 0.0600, above the maximum 0.01"), "{text}");
    assert!(text.contains("rolled back: alias live of orders: version 1 (confirmed)"), "{text}");
    assert_eq!(seen, ["1", "1 2=0.1", "1"], "the routings the API showed, in order");
    assert_eq!(stand_in.script(&["alias"]), "1", "0 % on version 2 after the rollback");
}

#[test]
fn missing_credentials_and_a_version_that_does_not_exist_change_nothing() {
    let stand_in = StandIn::start();
    stand_in.script(&["setup"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rollout.toml"), spec(&stand_in).replace("to = \"2\"", "to = \"3\"")).unwrap();

    let out = upshift_in(dir.path())
        .args(["run", "rollout.toml"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("AWS_ACCESS_KEY_ID is not set for this plugin"), "{said}");
    assert_eq!(stand_in.script(&["alias"]), "1");

    let out = upshift_in(dir.path())
        .args(["run", "rollout.toml"])
        .env("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
        .env("AWS_SECRET_ACCESS_KEY", "stand-in-secret")
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("function orders has no version 3: publish it first"), "{said}");
    assert_eq!(stand_in.script(&["alias"]), "1", "nothing changed");
}
