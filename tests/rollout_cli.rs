//! Rollouts end to end through the real `upshift` binary with real components: canary stages
//! verified one by one, automatic rollback on a failed verification, controls from a second
//! terminal, and bad input refused with a one-line error, a non-zero exit and an untouched store.

mod common;

use std::process::{Child, Command, Output};
use std::time::Duration;

use common::sandbox::Sandbox;
use common::{assert_one_line_error, stderr, stdout};

const STEPS: &str = "[{ units = 1 }, { units = 2 }]";

#[test]
fn a_canary_rollout_verifies_every_stage_and_succeeds() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("rollout demo-1: succeeded"), "{text}");
    assert_eq!(text.matches("verify error-ratio: pass").count(), 3, "{text}");
    let status = sb.status("demo-1");
    assert_eq!(status["state"], "succeeded");
    let history = sb.history("demo-1");
    for stage in ["canary", "step-2", "promote"] {
        assert!(history.contains(&format!("applied stage {stage}")), "{history}");
    }
    assert!(history.contains("finalizing → succeeded"), "{history}");
}

#[test]
fn a_failing_verification_rolls_back_by_itself_and_history_says_why() {
    let sb = Sandbox::new();
    let spec = sb.spec("broken", 1, STEPS);
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    assert!(stdout(&out).trim_end().ends_with("rollout broken-1: rolled-back"));
    let history = sb.history("broken-1");
    assert!(
        history.contains("verifying → rolling-back") && history.contains("error-ratio: value 0.02 > max 0.01"),
        "{history}"
    );
    assert!(history.contains("rolled back 2 units"), "{history}");
    assert!(history.contains("rolling-back → rolled-back"), "{history}");
    let status = sb.status("broken-1");
    assert_eq!(status["state"], "rolled-back");
    assert_eq!(status["applied_through"], 1);
    assert!(status["note"].as_str().unwrap().contains("failed"), "{status}");
}

#[test]
fn a_malformed_spec_is_refused_and_creates_no_state() {
    let sb = Sandbox::new();
    let path = sb.path("bad.toml");
    std::fs::write(&path, "name = \"x\"\nfrom = \"1\"\nto = 2 3\n").unwrap();
    let out = sb.run(&["run", path.to_str().unwrap()]);
    assert_one_line_error(&out, "bad.toml:3:");
    assert!(!sb.state().exists(), "a refused spec created the state store");
}

#[test]
fn an_unknown_plugin_file_is_refused_and_creates_no_state() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    let text = std::fs::read_to_string(&spec).unwrap().replace("file = \"recorder.wasm\"", "file = \"gone.wasm\"");
    std::fs::write(&spec, text).unwrap();
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "gone.wasm");
    assert!(!sb.state().exists());
}

#[test]
fn a_plugin_of_the_wrong_kind_is_refused_naming_both_kinds() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replacen("file = \"recorder.wasm\"", "file = \"threshold.wasm\"", 1)
        .replacen(&sb.digest("recorder.wasm"), &sb.digest("threshold.wasm"), 1);
    std::fs::write(&spec, text).unwrap();
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "expected a target");
    assert!(stderr(&out).contains("found a verifier"));
}

#[test]
fn unknown_rollout_ids_are_refused() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    assert!(sb.run(&["run", spec.to_str().unwrap()]).status.success());
    for cmd in ["status", "history", "approve", "pause", "resume", "abort"] {
        let out = sb.run(&[cmd, "demo-7"]);
        assert_one_line_error(&out, "unknown rollout \"demo-7\"");
    }
}

#[test]
fn approve_on_a_rollout_not_awaiting_approval_changes_nothing() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    assert!(sb.run(&["run", spec.to_str().unwrap()]).status.success());
    let before = sb.history("demo-1");
    let out = sb.run(&["approve", "demo-1"]);
    assert_one_line_error(&out, "only a rollout awaiting approval can be approved");
    assert_eq!(sb.history("demo-1"), before);
    assert_eq!(sb.status("demo-1")["state"], "succeeded");
}

#[test]
fn an_approval_from_a_second_terminal_continues_the_running_rollout() {
    let sb = Sandbox::new();
    let spec = sb.spec("gated", 99, "[{ units = 1 }, { units = 4, approval = true }]");
    let runner = sb.spawn(&["run", spec.to_str().unwrap()]);
    sb.wait_for("gated-1", "awaiting-approval");
    let out = sb.run(&["approve", "gated-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("carries on"), "{}", stdout(&out));
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("⏸ awaiting-approval"), "{}", stdout(&out));
    let history = sb.history("gated-1");
    assert!(history.contains("(upshift approve)") && history.contains("awaiting-approval → applying"), "{history}");
}

#[test]
fn pause_and_resume_from_a_second_terminal() {
    let sb = Sandbox::new();
    let spec = sb.spec("slow", 99, "[{ units = 1, bake_seconds = 3 }, { units = 4 }]");
    let runner = sb.spawn(&["run", spec.to_str().unwrap()]);
    sb.wait_for("slow-1", "baking");
    assert!(sb.run(&["pause", "slow-1", "--reason", "checking the dashboards"]).status.success());
    assert_eq!(sb.status("slow-1")["state"], "paused");
    assert_eq!(sb.status("slow-1")["note"], "paused by operator: checking the dashboards");
    let out = sb.run(&["resume", "slow-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("slow-1");
    assert!(history.contains("baking → paused") && history.contains("paused → baking"), "{history}");
}

#[test]
fn no_wait_stops_at_an_approval_and_abort_rolls_back() {
    let sb = Sandbox::new();
    let spec = sb.spec("held", 99, "[{ units = 1 }, { units = 4, approval = true }]");
    let out = sb.run(&["run", "--no-wait", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let out = sb.run(&["abort", "held-1", "--reason", "changed our minds"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(sb.status("held-1")["state"], "rolled-back");
    let history = sb.history("held-1");
    assert!(history.contains("aborted by") && history.contains("changed our minds"), "{history}");
    assert!(history.contains("rolled back 1 units"), "{history}");
}

#[test]
fn a_second_run_of_the_same_spec_continues_the_unfinished_rollout() {
    let sb = Sandbox::new();
    let spec = sb.spec("again", 99, "[{ units = 1 }, { units = 4, approval = true }]");
    assert_eq!(sb.run(&["run", "--no-wait", spec.to_str().unwrap()]).status.code(), Some(3));
    assert!(sb.run(&["approve", "again-1"]).status.success());
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("continuing rollout again-1"), "{}", stdout(&out));
    assert_eq!(sb.status("again-1")["state"], "succeeded");
}

#[test]
fn list_and_status_speak_json() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    assert!(sb.run(&["run", spec.to_str().unwrap()]).status.success());
    let out = sb.run(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], "demo-1");
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["state"], "succeeded");
    let status = sb.status("demo-1");
    assert_eq!(status["id"], "demo-1");
    assert_eq!(status["stage"]["count"], 3);
    let out = sb.run(&["history", "demo-1", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(history.as_array().unwrap().iter().any(|e| e["kind"] == "call"));
}

#[test]
fn an_unsigned_plugin_file_is_refused_with_how_to_sign_it() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    std::fs::remove_file(sb.path("threshold.wasm.sig")).unwrap();
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "threshold.wasm is not signed");
    assert!(stderr(&out).contains("upshift plugin sign") && stderr(&out).contains("--allow-unsigned"));
    assert!(!sb.state().exists(), "a refused plugin created state");
}

#[test]
fn a_plugin_signed_by_an_untrusted_key_is_refused() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    assert!(sb.run(&["plugin", "keygen", "--out", "stranger.key"]).status.success());
    assert!(sb.run(&["plugin", "sign", "recorder.wasm", "--key", "stranger.key"]).status.success());
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "which this host does not trust");
}

#[test]
fn allow_unsigned_runs_and_is_recorded_in_the_audit_trail() {
    let sb = Sandbox::new();
    let spec = sb.spec("dev", 99, STEPS);
    std::fs::remove_file(sb.path("recorder.wasm.sig")).unwrap();
    let out = sb.run(&["--allow-unsigned", "run", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = sb.history("dev-1");
    assert!(
        history.contains("recorder.wasm is not signed") && history.contains("allowed by --allow-unsigned"),
        "{history}"
    );
    assert!(
        history.contains("threshold.wasm is signed by ed25519:") && history.contains("(test-suite), trusted"),
        "{history}"
    );
}

#[test]
fn max_consecutive_errors_acts_at_the_nth_failed_apply_as_plan_says() {
    let sb = Sandbox::new();
    let spec = sb.spec("flaky", 99, STEPS);
    sb.edit(&spec, "\"d\"] }", "\"d\"], fail_apply_at_stage = 1 }");
    std::fs::write(&spec, std::fs::read_to_string(&spec).unwrap() + "\n[failure_policy]\nmax_consecutive_errors = 3\n")
        .unwrap();
    let plan = sb.run(&["plan", spec.to_str().unwrap()]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(stdout(&plan).contains("errors: pause at the 3rd in a row (2 retries first)"), "{}", stdout(&plan));
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("flaky-1");
    let failed_applies = history.lines().filter(|l| l.contains("apply failed:")).count();
    assert_eq!(failed_applies, 3, "the policy acts at the 3rd failed apply, not after it:\n{history}");
    assert!(history.contains("applying → rolling-back"), "{history}");
}

#[test]
fn a_verifier_config_typo_is_refused_on_its_spec_line_before_the_canary_is_applied() {
    let sb = Sandbox::new();
    let spec = sb.spec("typo", 99, STEPS);
    sb.edit(&spec, "max = 0.01", "max = 0.01, max_eror_rate = 0.5");
    let line = std::fs::read_to_string(&spec).unwrap().lines().position(|l| l.contains("max_eror_rate")).unwrap() + 1;
    for command in ["validate", "plan", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert_one_line_error(
            &out,
            &format!("typo.toml:{line}: verifier error-ratio refuses its config: unknown field `max_eror_rate`"),
        );
        let err = stderr(&out);
        assert!(err.contains("fix `config` in [[verifiers]] #1") && !err.contains("column"), "{command}: {err}");
    }
    assert!(!sb.state().exists(), "a refused spec created the state store (the target was never called)");
}

#[test]
fn history_shows_operation_ids_and_plugin_log_records_with_plain_levels() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, STEPS);
    assert!(sb.run(&["run", spec.to_str().unwrap()]).status.success());
    let history = sb.history("demo-1");
    let apply = history.lines().position(|l| l.contains("applied stage canary")).expect("the canary's apply");
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[apply].ends_with("(operation demo-1/apply/0)"), "{}", lines[apply]);
    // The recorder logs each operation it performs, with the units as a field.
    assert_eq!(lines[apply + 1], "      log info: apply demo-1/apply/0 [units=a]", "{history}");
    assert!(history.contains("(operation demo-1/finalize)"), "{history}");

    let out = sb.run(&["history", "demo-1", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let levels: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["detail"]["logs"]["records"].as_array().into_iter().flatten())
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert!(!levels.is_empty() && levels.iter().all(|l| *l == "info"), "{levels:?}");
}

/// Runs `upshift <control> <id>` while another process takes the rollout's runner lease at the
/// worst moment: after the control was recorded and the command looked for a driver (none), before
/// it takes the lease to drive the rollout itself. Deterministic: the target's plugin file is a FIFO,
/// so the command blocks reading it while loading the plugins, until the test, having taken the
/// lease for a live process (`sleep`), puts the real file back and writes the bytes into the FIFO
/// the command has open. Returns the command's output and the lease holder (still running).
fn control_while_another_process_takes_the_lease(sb: &Sandbox, control: &str, id: &str) -> (Output, Child) {
    use std::io::Write as _;
    let (plugin, real) = (sb.path("recorder.wasm"), sb.path("recorder.wasm.real"));
    std::fs::rename(&plugin, &real).unwrap();
    assert!(Command::new("mkfifo").arg(&plugin).status().unwrap().success(), "mkfifo");
    let holder = Command::new("sleep").arg("120").spawn().unwrap();
    let command = sb.spawn(&[control, id]);
    let (opened, proceed) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let bytes = std::fs::read(&real).unwrap();
    std::thread::spawn(move || {
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&plugin).unwrap(); // waits for the reader
        opened.0.send(()).unwrap();
        proceed.1.recv().unwrap();
        // The real file back first: the plugin's later reads (loading, after the signature) open it.
        std::fs::rename(&real, &plugin).unwrap();
        fifo.write_all(&bytes).unwrap();
    });
    opened.1.recv_timeout(Duration::from_secs(60)).expect("the control never loaded the plugins");
    let store = upshift::store::Store::open(sb.state()).unwrap();
    // The control holds the lease while it loads the plugins; the `sleep` process takes it over as
    // a process of this host would once the control's lease ran out (taken "an hour later"; it
    // lasts the test's length, since nothing renews it).
    let host = upshift::store::lease_holder().split(':').next().unwrap().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let hour = 3_600_000;
    let taken =
        store.acquire_lease_as(id, &format!("{host}:{}:1", holder.id()), now + hour, Duration::from_secs(7_200));
    let fence = taken.unwrap().expect("the test takes the lease over");
    assert!(fence.epoch >= 2, "a takeover: {fence:?}");
    proceed.0.send(()).unwrap();
    (command.wait_with_output().unwrap(), holder)
}

/// A rollout held for approval after its canary: an abort has something to roll back.
const HELD: &str = "[{ units = 1 }, { units = 4, approval = true }]";

#[test]
fn an_abort_that_another_process_carries_out_reports_success() {
    let sb = Sandbox::new();
    let spec = sb.spec("held", 99, HELD);
    assert_eq!(sb.run(&["run", "--no-wait", spec.to_str().unwrap()]).status.code(), Some(3));
    let (out, mut holder) = control_while_another_process_takes_the_lease(&sb, "abort", "held-1");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let said = format!("the upshift process driving it (pid {}) rolls it back", holder.id());
    assert!(stdout(&out).contains(&said), "{}", stdout(&out));
    // The abort took effect: the rollout rolls back, in the hands of the lease holder.
    let status = sb.status("held-1");
    assert_eq!((&status["state"], &status["runner_pid"]), (&"rolling-back".into(), &holder.id().into()), "{status}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = sb.run(&["resume", "held-1"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(sb.history("held-1").contains("aborted by"));
}

#[test]
fn a_resume_that_another_process_carries_out_reports_success() {
    let sb = Sandbox::new();
    let spec = sb.spec("held", 99, HELD);
    assert_eq!(sb.run(&["run", "--no-wait", spec.to_str().unwrap()]).status.code(), Some(3));
    assert!(sb.run(&["pause", "held-1"]).status.success());
    let (out, mut holder) = control_while_another_process_takes_the_lease(&sb, "resume", "held-1");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let said = format!("resumed; the upshift process driving it (pid {}) carries on", holder.id());
    assert!(stdout(&out).contains(&said), "{}", stdout(&out));
    assert_eq!(sb.status("held-1")["state"], "awaiting-approval", "the resume took effect");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

/// "Rebuilds" plugin `file` in the sandbox: the same component with a custom section appended
/// (`tag` makes each rebuild differ), so its digest no longer matches its pin or its signature.
/// Returns the new digest.
fn rebuild(sb: &Sandbox, file: &str, tag: &str) -> String {
    let (name, payload) = (b"dev-build".as_slice(), tag.as_bytes());
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one-byte LEB128 sizes only");
    let mut bytes = std::fs::read(sb.path(file)).unwrap();
    bytes.extend([0, size as u8, name.len() as u8]);
    bytes.extend(name);
    bytes.extend(payload);
    std::fs::write(sb.path(file), bytes).unwrap();
    sb.digest(file)
}

fn rollout_ids(sb: &Sandbox) -> Vec<String> {
    let out = sb.run(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_rebuilt_plugin_is_refused_by_its_digest_and_run_dev_runs_it_recording_the_digest() {
    let sb = Sandbox::new();
    let spec = sb.spec("dev", 99, STEPS);
    let pinned = sb.digest("recorder.wasm");
    let rebuilt = rebuild(&sb, "recorder.wasm", "1");

    // Without --dev: refused before anything is recorded, naming both digests and --dev.
    for command in ["validate", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert_one_line_error(&out, &format!("sha256 mismatch: the spec expects {pinned} but the file has {rebuilt}"));
        assert!(stderr(&out).contains("`upshift run --dev` runs it as built"), "{}", stderr(&out));
    }
    assert!(rollout_ids(&sb).is_empty());

    // With --dev: it runs, warns on stderr, and the audit trail records the mode and the digest.
    let out = sb.run(&["run", "--dev", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let warned = format!(
        "warning: dev mode: plugin {} loaded with sha256 {rebuilt}; the spec pins {pinned}",
        sb.path("recorder.wasm").display()
    );
    assert!(stderr(&out).lines().any(|l| l == warned), "{}", stderr(&out));
    let history = sb.history("dev-1");
    assert!(history.contains("dev mode (upshift run --dev): plugin files run as built"), "{history}");
    let recorded = format!("recorder.wasm loaded with sha256 {rebuilt}; the spec pins {pinned}");
    assert!(history.contains(&recorded), "{history}");
    assert!(history.contains("threshold.wasm loaded with sha256") && history.contains("as the spec pins"), "{history}");
    assert!(history.contains("the file changed after signing -- allowed by --dev"), "{history}");
    // The spec's own pin is untouched: dev mode is never written back.
    assert!(std::fs::read_to_string(&spec).unwrap().contains(&pinned));
}

#[test]
fn a_dev_rollout_is_resumed_only_with_dev_and_only_with_the_build_it_recorded() {
    let sb = Sandbox::new();
    // Verification fails at the second stage and the rollout pauses there.
    let spec = sb.spec("dev", 1, STEPS);
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text + "\n[failure_policy]\non_fail = \"pause\"\n").unwrap();
    let first = std::fs::read(sb.path("recorder.wasm")).unwrap();
    let built = rebuild(&sb, "recorder.wasm", "1");
    let out = sb.run(&["run", "--dev", "--no-wait", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(sb.status("dev-1")["state"], "paused");

    // Without --dev, neither `resume` nor a new `run` of the spec continues it; nothing changes.
    let out = sb.run(&["resume", "dev-1"]);
    assert_one_line_error(&out, "rollout dev-1 was started by `upshift run --dev`");
    assert!(stderr(&out).contains("`upshift resume --dev dev-1` continues it"), "{}", stderr(&out));
    assert_eq!(sb.status("dev-1")["state"], "paused");

    // Rebuilt once more: `resume --dev` does not run the new build; the recorded digest is named.
    let newer = rebuild(&sb, "recorder.wasm", "2");
    let out = sb.run(&["resume", "--dev", "--no-wait", "dev-1"]);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains(&format!("the spec expects {built} but the file has {newer}")), "{}", stderr(&out));

    // With the build it recorded, `resume --dev` continues it (the check fails again: paused).
    std::fs::write(sb.path("recorder.wasm"), &first).unwrap();
    assert_eq!(rebuild(&sb, "recorder.wasm", "1"), built);
    let out = sb.run(&["resume", "--dev", "--no-wait", "dev-1"]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("dev-1");
    assert_eq!(history.matches("verify error-ratio: fail").count(), 2, "{history}");

    // `abort` rolls a dev rollout back without --dev.
    let out = sb.run(&["abort", "dev-1"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
}
