//! Plugins of every contract version this host runs. A target and a verifier built the way an
//! outside author built them against `upshift:plugin@0.1.0` (raw wit-bindgen on the frozen
//! `wit/v0.1.0/`, no SDK: `tests/fixtures/frozen-*`) load, are inspected as 0.1.0, and run whole
//! rollouts on this host beside 0.2.0 built-ins; the SDK's plugins are 0.2.0 and describe their
//! config.

mod common;

use std::path::{Path, PathBuf};

use common::fixtures::copy_fixture;
use common::{run, stderr, stdout, upshift_in};

/// A folder with the two 0.1.0 plugins, a fleet of three units at 1.0, and a spec rolling them to
/// `to` with the built-in `batches` strategy; the verifier fails a rollout to `fail_at`.
fn frozen_rollout(dir: &Path, to: &str, fail_at: &str) -> PathBuf {
    let target = copy_fixture(dir, "frozen-target");
    let verifier = copy_fixture(dir, "frozen-verifier");
    std::fs::create_dir_all(dir.join("fleet")).unwrap();
    for unit in ["a", "b", "c"] {
        std::fs::write(dir.join(format!("fleet/{unit}.version")), "1.0").unwrap();
    }
    let spec = dir.join("rollout.toml");
    std::fs::write(
        &spec,
        format!(
            r#"name = "frozen"
from = "1.0"
to = "{to}"

[target]
file = "frozen-target.wasm"
sha256 = "{target}"
config = {{ units = ["a", "b", "c"] }}
grants.files = [{{ path = "fleet", write = true }}]

[strategy]
plugin = "batches"
config = {{ batch_size = 2 }}

[[verifiers]]
file = "frozen-verifier.wasm"
sha256 = "{verifier}"
config = {{ fail_at = "{fail_at}" }}
"#
        ),
    )
    .unwrap();
    spec
}

fn fleet(dir: &Path) -> Vec<String> {
    ["a", "b", "c"].iter().map(|u| std::fs::read_to_string(dir.join(format!("fleet/{u}.version"))).unwrap()).collect()
}

#[test]
fn a_target_and_a_verifier_built_against_the_frozen_0_1_contract_run_a_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let spec = frozen_rollout(dir.path(), "2.0", "9.9");
    let out = upshift_in(dir.path()).args(["run", "--allow-unsigned", spec.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("rollout frozen-1: succeeded"), "{text}");
    assert_eq!(text.matches("judged by a 0.1.0 verifier").count(), 2, "one verdict per batch: {text}");
    assert_eq!(fleet(dir.path()), ["2.0", "2.0", "2.0"]);
    // The 0.1.0 host services (`log`, `state`) answered under their old names.
    let history = upshift_in(dir.path()).args(["history", "frozen-1"]).output().unwrap();
    assert!(stdout(&history).contains("moved 2 units to 2.0"), "{}", stdout(&history));
}

#[test]
fn a_failing_0_1_verifier_rolls_back_what_the_0_1_target_moved() {
    let dir = tempfile::tempdir().unwrap();
    let spec = frozen_rollout(dir.path(), "3.0", "3.0");
    let out = upshift_in(dir.path()).args(["run", "--allow-unsigned", spec.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim_end().ends_with("rollout frozen-1: rolled-back"), "{}", stdout(&out));
    assert_eq!(fleet(dir.path()), ["1.0", "1.0", "1.0"], "the rollback restored the batch it moved");
}

#[test]
fn inspect_names_the_contract_of_each_version_and_says_a_0_1_config_is_checked_late() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path(), "frozen-verifier");
    let old = dir.path().join("frozen-verifier.wasm");
    let out = run(&["plugin", "inspect", old.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind:     verifier (world upshift:plugin/verifier-plugin@0.1.0)"), "{text}");
    assert!(text.contains("contract: upshift:plugin@0.1.0 (no config check"), "{text}");
    assert!(!text.contains("config:"), "a 0.1.0 plugin cannot describe its config: {text}");
    let out = run(&["plugin", "inspect", "--json", old.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["contract"].as_str(), json["config_fields"].is_null()), (Some("0.1.0"), true), "{json}");

    let out = run(&["plugin", "inspect", "--json", "prometheus"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["contract"], "0.2.0", "{json}");
    let fields = json["config_fields"]["fields"].as_array().unwrap();
    let url = fields.iter().find(|f| f["name"] == "url").expect("prometheus describes `url`");
    assert_eq!((url["type"].as_str(), url["required"].as_bool()), (Some("string"), Some(true)), "{url}");
    assert!(url["description"].as_str().unwrap().contains("grants.network.http"), "{url}");
}

#[test]
fn inspect_shows_the_config_a_built_in_accepts_with_types_and_defaults() {
    let out = run(&["plugin", "inspect", "haproxy-split"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("contract: upshift:plugin@0.2.0\n"), "{text}");
    assert!(text.contains("config:   6 fields; any other field is an error"), "{text}");
    assert!(text.contains("  backend (string, required): The backend holding both servers."), "{text}");
    assert!(text.contains(r#"  canary (string, default "canary"): "#), "{text}");
    assert!(text.contains("  preview (table or null, optional): A preview route"), "{text}");
}

#[test]
fn a_0_1_verifiers_config_is_checked_at_its_first_call_and_its_invalid_config_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let spec = frozen_rollout(dir.path(), "2.0", "9.9");
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "config = { fail_at = \"9.9\" }",
        "config = { fail_at = \"9.9\", failat = \"2.0\" }\n\n[failure_policy]\nmax_consecutive_errors = 3",
    );
    std::fs::write(&spec, text).unwrap();
    // `validate` cannot ask a 0.1.0 plugin: it passes, and says so on the verifier's line.
    let out = upshift_in(dir.path()).args(["validate", "--allow-unsigned", spec.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("verifier frozen-verifier is a plugin of contract upshift:plugin@0.1.0, which cannot check a config in advance"),
        "{}",
        stderr(&out)
    );
    let out =
        upshift_in(dir.path()).args(["run", "--allow-unsigned", "--no-wait", spec.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "paused under on_error = pause: {}\n{}", stdout(&out), stderr(&out));
    let history = stdout(&upshift_in(dir.path()).args(["history", "frozen-1"]).output().unwrap());
    let errors: Vec<&str> = history.lines().filter(|l| l.contains("verify frozen-verifier: error")).collect();
    assert_eq!(errors.len(), 1, "invalid-config is not retried although max_consecutive_errors = 3:\n{history}");
    assert!(
        errors[0].contains("unknown field `failat`") && errors[0].contains("(not retried: invalid-config)"),
        "{history}"
    );
}
