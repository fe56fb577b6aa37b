//! Shared by the end-to-end tests: the fixture plugins and running the real `upshift` binary.

#![allow(dead_code)]

pub mod fixtures;

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
