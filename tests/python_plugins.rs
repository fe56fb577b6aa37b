//! Plugins written in Python (componentize-py and `sdk/python/upshift_plugin.py`), built from
//! source as `examples/python-verifier/build.sh` builds them, against the same WIT worlds as Rust
//! plugins: a Python target and a Python verifier in real rollouts, one that succeeds and one the
//! verifier's verdict rolls back; `plugin inspect` and `validate` on them; and the sandbox holding a
//! hostile Python plugin exactly as it holds a Rust one (no file outside a grant, a loop ended by the
//! deadline, memory stopped at the limit).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{python, stderr, stdout};
use serde_json::Value;
use upshift::runtime::{CallError, Limits, Runtime};

/// A copy of the example's folder with its built components and the specs pinned to them.
struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    fn new() -> Self {
        let built = python::example();
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(built, dir.path());
        for spec in ["rollout.toml", "bad-release.toml"] {
            let mut text = std::fs::read_to_string(dir.path().join(spec)).unwrap();
            for wasm in ["error-budget.wasm", "file-fleet.wasm"] {
                let digest = upshift::runtime::Digest::of(&std::fs::read(dir.path().join(wasm)).unwrap()).to_hex();
                text = text.replace(&format!("<the sha256 build.sh printed for {wasm}>"), &digest);
            }
            assert!(!text.contains("<the sha256"), "{text}");
            std::fs::write(dir.path().join(spec), text).unwrap();
        }
        Example { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn upshift(&self, args: &[&str]) -> Output {
        common::upshift_in(self.dir.path()).arg("--allow-unsigned").args(args).output().unwrap()
    }

    /// Each unit's file: version, and the operation that wrote it.
    fn unit(&self, unit: &str) -> (String, String) {
        let text = std::fs::read_to_string(self.path(&format!("fleet/{unit}"))).unwrap();
        let mut lines = text.lines();
        (lines.next().unwrap_or("").to_string(), lines.next().unwrap_or("").to_string())
    }
}

const UNITS: [&str; 4] = ["web-1", "web-2", "web-3", "web-4"];

#[test]
fn a_python_target_and_verifier_roll_out_and_a_python_verdict_rolls_back() {
    let ex = Example::new();
    let out = ex.upshift(&["run", "rollout.toml"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("rollout python-fleet-1: succeeded"), "{}", stdout(&out));
    for unit in UNITS {
        let (version, by) = ex.unit(unit);
        assert_eq!(version, "2", "{unit}");
        assert!(by.starts_with("python-fleet-1/apply/"), "{unit}: {by}");
    }
    // The verifier's measurements and log record are in the journal.
    let history: Value = serde_json::from_slice(&ex.upshift(&["history", "python-fleet-1", "--json"]).stdout).unwrap();
    let verify = history.as_array().unwrap().iter().find(|e| e["detail"]["call"] == "verify").expect("a verify entry");
    assert_eq!(verify["detail"]["outcome"], "pass");
    assert_eq!(verify["detail"]["measurements"][0]["name"], "error_ratio");
    assert!(verify["detail"]["logs"]["records"][0]["message"].as_str().unwrap().contains("signals read"), "{verify}");

    // The next release: the Python verifier fails the canary and the rollout puts it back.
    let out = ex.upshift(&["run", "bad-release.toml"]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("error ratio 0.0800 (400/5000), budget 0.01"), "{}", stdout(&out));
    assert_eq!(ex.unit("web-1"), ("2".to_string(), "python-fleet-bad-1/rollback/0".to_string()));
    for unit in &UNITS[1..] {
        let (version, by) = ex.unit(unit);
        assert_eq!(version, "2", "{unit}");
        assert!(by.starts_with("python-fleet-1/"), "{unit} was not touched by the rolled-back rollout: {by}");
    }
}

#[test]
fn python_plugins_describe_themselves_and_their_config_is_checked_before_anything_changes() {
    let ex = Example::new();
    let out = ex.upshift(&["plugin", "inspect", "error-budget.wasm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind:     verifier (world upshift:plugin/verifier-plugin@0.2.0)"), "{text}");
    assert!(text.contains("asks for: files"), "{text}");
    assert!(text.contains("max_error_ratio"), "the config's fields, from the Python dataclass: {text}");
    let out = ex.upshift(&["plugin", "inspect", "--json", "file-fleet.wasm"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["kind"].as_str(), json["describe"]["name"].as_str()), (Some("target"), Some("file-fleet")));

    // A config the plugin's own check refuses, and an unknown field: exit 2 naming the problem,
    // nothing written.
    for (bad, says) in [
        ("max_error_ratio = 2.0", "max_error_ratio = 2.0: give 0 to 1"),
        ("max_errors = 1", "unknown field 'max_errors'"),
    ] {
        let spec = std::fs::read_to_string(ex.path("rollout.toml")).unwrap().replace("max_error_ratio = 0.01", bad);
        std::fs::write(ex.path("bad-config.toml"), spec).unwrap();
        let out = ex.upshift(&["run", "bad-config.toml"]);
        assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(UNITS.iter().all(|u| ex.unit(u).0 == "1"), "nothing changed");
    }
}

/// One call of the hostile Python verifier with `attack`, under `limits`; the result and its duration.
fn attack(runtime: &Runtime, attack: &str, limits: Limits) -> (Result<String, CallError>, Duration) {
    let (result, took, _) = common::hostile_verifier::call(runtime, python::hostile(), attack, limits);
    (result, took)
}

#[test]
fn the_sandbox_holds_a_hostile_python_plugin_as_it_holds_a_rust_one() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap().with_cache(upshift::runtime::CompiledCache::open(cache.path()).ok());
    let limits = Limits { call_timeout: Duration::from_secs(3), ..Limits::default() };

    let (ok, _) = attack(&runtime, "none", limits);
    assert_eq!(ok.unwrap(), "no attack", "the component works when it does not attack");

    let (passwd, _) = attack(&runtime, "read-passwd", limits);
    let err = passwd.expect_err("/etc/passwd is not readable without a grant").to_string();
    assert!(!err.contains("root:"), "{err}");
    assert!(
        err.contains("/etc/passwd") && (err.contains("FileNotFoundError") || err.contains("PermissionError")),
        "{err}"
    );

    let (looped, took) = attack(&runtime, "loop", limits);
    assert!(matches!(looped, Err(CallError::Timeout { .. })), "{looped:?}");
    assert!(took < Duration::from_secs(10), "stopped by its 3 s deadline, not later: {took:?}");

    let (hoarded, _) = attack(&runtime, "alloc", limits);
    match hoarded {
        Err(CallError::MemoryLimit { limit_bytes, .. }) => assert_eq!(limit_bytes, Limits::default().memory_bytes),
        other => panic!("not stopped at the memory limit: {other:?}"),
    }
    println!("loop stopped after {took:?}; cache: {:?}", runtime.cache_stats());
    // After each attack, a fresh instance of the same plugin still works.
    assert_eq!(attack(&runtime, "none", limits).0.unwrap(), "no attack");
    assert!(Path::new(cache.path()).read_dir().unwrap().count() >= 1, "the compiled component was cached");
}
