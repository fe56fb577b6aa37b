//! A closed stdout or stderr (`upshift run SPEC | head -1`, `list | head`, `... 2>&1 | head`) never
//! stops a rollout or crashes a command, through the real binary: `run` drives the rollout to its
//! end and exits with its phase's code; read-only commands exit quietly with 0.

mod common;

use std::io::{BufRead as _, BufReader, PipeWriter};
use std::process::{Command, Output};

use common::sandbox::Sandbox;
use common::{stderr, stdout};

/// A canary whose first stage bakes, so most of `run`'s lines come after the reader has gone.
const BAKED: &str = "[{ units = 1, bake_seconds = 1 }, { units = 2 }]";

/// The write end of a pipe nobody reads: every write to it fails (EPIPE), as when `head` has exited.
fn closed_pipe() -> PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// Runs `cmd` with both stdout and stderr on a pipe nobody reads.
fn with_output_closed(mut cmd: Command) -> Output {
    let pipe = closed_pipe();
    cmd.stdout(pipe.try_clone().unwrap()).stderr(pipe).output().unwrap()
}

#[test]
fn run_drives_the_rollout_to_its_end_after_its_reader_stops_after_one_line() {
    let sb = Sandbox::new();
    for (name, regress_from, phase, code) in [("ok", 99, "succeeded", 0), ("broken", 1, "rolled-back", 4)] {
        let spec = sb.spec(name, regress_from, BAKED);
        let mut cmd = sb.cmd(&["run", spec.to_str().unwrap()]);
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with(&format!("rollout {name}-1: ")), "{first}");
        // The reader is gone (as `head -1` exits); the rollout is still in its first stage's bake.
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{name}: the exit code of the phase it reached");
        assert_eq!(sb.status(&format!("{name}-1"))["state"], phase, "{name}: driven to its end");
    }
}

#[test]
fn run_with_stdout_and_stderr_closed_keeps_driving_while_plugins_log_warnings() {
    let sb = Sandbox::new();
    std::fs::copy(common::fixture("forge-logs"), sb.path("forge-logs.wasm")).unwrap();
    assert!(sb.run(&["plugin", "sign", "forge-logs.wasm", "--key", "signing.key"]).status.success());
    let spec = sb.spec("logged", 99, BAKED);
    let verifier = format!(
        "file = \"forge-logs.wasm\"\nsha256 = \"{}\"\nconfig = {{ text = \"hello\" }}",
        sb.digest("forge-logs.wasm")
    );
    let text = std::fs::read_to_string(&spec).unwrap();
    let at = text.find("file = \"threshold.wasm\"").unwrap();
    std::fs::write(&spec, format!("{}{verifier}\n", &text[..at])).unwrap();
    // Without -v, the verifier's warn and error records go to stderr at every verification.
    let out = with_output_closed(sb.cmd(&["run", spec.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "a closed stderr must not crash the runner");
    assert_eq!(sb.status("logged-1")["state"], "succeeded");
}

#[test]
fn read_only_commands_exit_quietly_when_their_output_is_closed() {
    let sb = Sandbox::new();
    let spec = sb.spec("demo", 99, "[{ units = 1 }, { units = 2 }]");
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let spec = spec.to_str().unwrap();
    let commands: [&[&str]; 8] = [
        &["list"],
        &["list", "--json"],
        &["history", "demo-1"],
        &["history", "demo-1", "--json"],
        &["status", "demo-1"],
        &["plan", spec],
        &["plan", "--json", spec],
        &["plugin", "list"],
    ];
    for args in commands {
        let out = with_output_closed(sb.cmd(args));
        assert_eq!(out.status.code(), Some(0), "{args:?} with its output closed");
    }
}

#[test]
fn an_error_keeps_its_exit_code_when_stderr_is_closed() {
    let sb = Sandbox::new();
    let bad = sb.path("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nfrom = \"1\"\nto = 2 3\n").unwrap();
    let out = with_output_closed(sb.cmd(&["validate", bad.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "invalid input, not a panic (101)");
}
