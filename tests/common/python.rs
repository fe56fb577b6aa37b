//! Plugins written in Python, built from source with componentize-py (PyPI, installed by
//! scripts/setup-services.sh) once per test process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::root;

/// The componentize-py command (`UPSHIFT_COMPONENTIZE_PY` overrides).
pub fn componentize_py() -> Command {
    Command::new(std::env::var("UPSHIFT_COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into()))
}

/// `examples/python-verifier`, built by its own `build.sh` with this upshift binary: the folder,
/// holding `error-budget.wasm` and `file-fleet.wasm` (each declaring `files`).
pub fn example() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = root().join("examples/python-verifier");
        let out = Command::new("bash")
            .arg(dir.join("build.sh"))
            .arg(env!("CARGO_BIN_EXE_upshift"))
            .env("PATH", path_with_componentize_py())
            .output()
            .expect("run examples/python-verifier/build.sh");
        assert!(
            out.status.success(),
            "building the Python example failed (is componentize-py installed? scripts/setup-services.sh installs it):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// `tests/hostile-python/app.py` as a verifier component (declaring nothing).
pub fn hostile() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out_dir = root().join("target/python-plugins");
        std::fs::create_dir_all(&out_dir).unwrap();
        let wasm = out_dir.join("hostile.wasm");
        let out = componentize_py()
            .arg("-d")
            .arg(root().join("wit"))
            .args(["-w", "verifier-plugin", "componentize", "-p"])
            .arg(root().join("sdk/python"))
            .arg("-p")
            .arg(root().join("tests/hostile-python"))
            .arg("app")
            .arg("-o")
            .arg(&wasm)
            .output()
            .expect("run componentize-py");
        assert!(out.status.success(), "componentize-py failed: {}", String::from_utf8_lossy(&out.stderr));
        wasm
    })
}

/// PATH with the folder of `UPSHIFT_COMPONENTIZE_PY` in front, if it names one.
fn path_with_componentize_py() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    match std::env::var("UPSHIFT_COMPONENTIZE_PY").ok().as_deref().map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => format!("{}:{path}", dir.display()),
        _ => path,
    }
}
