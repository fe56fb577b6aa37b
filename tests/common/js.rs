//! Plugins written in JavaScript, built from source with componentize-js (npm, installed into
//! sdk/js by scripts/setup-services.sh) once per test process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::root;

/// `node sdk/js/componentize.mjs` (`UPSHIFT_NODE` overrides the node command).
fn componentize() -> Command {
    let mut command = Command::new(std::env::var("UPSHIFT_NODE").unwrap_or_else(|_| "node".into()));
    command.arg(root().join("sdk/js/componentize.mjs"));
    command
}

fn built(what: &str, out: std::process::Output) {
    assert!(
        out.status.success(),
        "building {what} failed (is componentize-js installed? scripts/setup-services.sh runs `npm ci` in sdk/js):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `examples/js-verifier`, built by its own `build.sh` with this upshift binary: the folder, holding
/// `ledger-guard.wasm` (declaring `sql`).
pub fn example() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = root().join("examples/js-verifier");
        let out = Command::new("bash")
            .arg(dir.join("build.sh"))
            .arg(env!("CARGO_BIN_EXE_upshift"))
            .output()
            .expect("run examples/js-verifier/build.sh");
        built("the JavaScript example", out);
        dir
    })
}

/// `tests/hostile-js/app.js` as a verifier component (declaring nothing).
pub fn hostile() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out_dir = root().join("target/js-plugins");
        std::fs::create_dir_all(&out_dir).unwrap();
        let wasm = out_dir.join("hostile.wasm");
        let out = componentize()
            .args(["--world", "verifier-plugin", "-o"])
            .arg(&wasm)
            .arg(root().join("tests/hostile-js/app.js"))
            .output()
            .expect("run node sdk/js/componentize.mjs");
        built("tests/hostile-js", out);
        wasm
    })
}
