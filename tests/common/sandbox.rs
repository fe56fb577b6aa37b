//! A sandbox for running the real `upshift` binary: a folder with the fixture plugins (signed by a
//! key of its own, which it trusts), specs and a state store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{fixture, stderr, stdout};

/// A folder with the fixture plugins, specs and a state store of its own.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// Copies the fixture plugins in, signs them with a new key, and trusts that key.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sb = Sandbox { dir };
        let ok = |o: Output| assert!(o.status.success(), "{}", stderr(&o));
        ok(sb.run(&["plugin", "keygen", "--out", "signing.key"]));
        let public = std::fs::read_to_string(sb.path("signing.key.pub")).unwrap();
        std::fs::write(sb.trusted(), format!("{} test-suite\n", public.trim())).unwrap();
        for name in ["recorder", "threshold"] {
            let file = format!("{name}.wasm");
            std::fs::copy(fixture(name), sb.path(&file)).unwrap();
            ok(sb.run(&["plugin", "sign", &file, "--key", "signing.key"]));
        }
        sb
    }

    pub fn trusted(&self) -> PathBuf {
        self.path("trusted_keys")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state.db")
    }

    pub fn digest(&self, file: &str) -> String {
        upshift::runtime::Digest::of(&std::fs::read(self.path(file)).unwrap()).to_hex()
    }

    /// Writes a spec named `name` whose verifier regresses from `regress_from` and whose canary
    /// steps are `steps` (TOML inline array).
    pub fn spec(&self, name: &str, regress_from: u32, steps: &str) -> PathBuf {
        let text = format!(
            r#"name = "{name}"
from = "1.0.0"
to = "1.1.0"

[target]
file = "recorder.wasm"
sha256 = "{target}"
config = {{ units = ["a", "b", "c", "d"] }}

[strategy]
plugin = "canary"
config = {{ steps = {steps} }}

[[verifiers]]
name = "error-ratio"
file = "threshold.wasm"
sha256 = "{verifier}"
config = {{ value = 0.002, max = 0.01, regress_from_stage = {regress_from} }}
"#,
            target = self.digest("recorder.wasm"),
            verifier = self.digest("threshold.wasm"),
        );
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Replaces the first `from` (which must be there) with `to` in the file at `path`.
    pub fn edit(&self, path: &Path, from: &str, to: &str) {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{from:?} is not in {}:\n{text}", path.display());
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = super::upshift();
        cmd.arg("--state").arg(self.state()).arg("--trusted-keys").arg(self.trusted());
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    pub fn status(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["status", id, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn history(&self, id: &str) -> String {
        let out = self.run(&["history", id]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    /// Polls `status` until the rollout reaches `state` (bounded: a hung rollout fails the test).
    pub fn wait_for(&self, id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = self.run(&["status", id, "--json"]);
            if out.status.success() {
                let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                if json["state"] == state {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "rollout {id} never reached {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
