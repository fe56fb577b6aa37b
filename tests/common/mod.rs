//! Shared by the end-to-end tests: the fixture plugins and running the real `upshift` binary.

#![allow(dead_code)]

pub mod fixtures;
pub mod lab;
pub mod sandbox;

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

/// `upshift` running in `dir` with the state store `dir/state.db`.
pub fn upshift_in(dir: &std::path::Path) -> Command {
    let mut cmd = upshift();
    cmd.arg("--state").arg(dir.join("state.db")).current_dir(dir);
    cmd
}
