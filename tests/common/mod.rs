//! Shared by the end-to-end tests: the fixture plugins and running the real `upshift` binary.

#![allow(dead_code)]

pub mod aws;
pub mod fixtures;
pub mod haproxy;
pub mod hostile_verifier;
pub mod js;
pub mod lab;
pub mod postgres;
pub mod python;
pub mod receiver;
pub mod sandbox;
pub mod serve;

use std::process::{Command, Output};

#[allow(unused_imports)]
pub use fixtures::{fixture, root};

/// The real `upshift` binary built for these tests.
pub fn upshift() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upshift"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Runs `upshift` with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    upshift().args(args).output().expect("run upshift")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `out` is a refusal of invalid input: exit code 2 and one line on stderr naming `needle`.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "stdout: {} stderr: {}", stdout(out), stderr(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

/// Asserts that `promtool check metrics` (Debian's prometheus package, installed by
/// scripts/setup-services.sh) accepts `text` without a word.
pub fn promtool_check(text: &str) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian's prometheus package; scripts/setup-services.sh installs it)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
}

/// `upshift` running in `dir` with the state store `dir/state.db`.
pub fn upshift_in(dir: &std::path::Path) -> Command {
    let mut cmd = upshift();
    cmd.arg("--state").arg(dir.join("state.db")).current_dir(dir);
    cmd
}

/// Copies folder `from` into `to`, leaving out a state store (`state.db` and its `-wal`/`-shm`).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    copy_filtered(from, to, &|_| true);
}

/// A fresh copy of `examples/NAME` in `to`: the folder as the repository has it, without what a run
/// in place left there (the quickstart script's `shards/` and state store).
pub fn copy_example(name: &str, to: &std::path::Path) {
    copy_filtered(&root().join("examples").join(name), to, &|dir| dir != "shards");
}

fn copy_filtered(from: &std::path::Path, to: &std::path::Path, keep_dir: &dyn Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            if keep_dir(&name) {
                copy_filtered(&entry.path(), &to.join(&name), keep_dir);
            }
        } else if name != "state.db" && !name.starts_with("state.db-") {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}
