//! Building the fixture plugins of `tests/Cargo.toml` for wasm32-wasip2, once per process (cargo's
//! own lock serialises concurrent test binaries). Shared by the end-to-end tests and the benchmarks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ is inside the workspace").to_path_buf()
}

/// The compiled component of fixture or hostile crate `name` (as in its Cargo.toml).
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(build_fixtures);
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "fixture {name} was not built: {} is missing", path.display());
    path
}

fn build_fixtures() -> PathBuf {
    build_components(Path::new("tests/Cargo.toml"), "fixtures", "wasm")
}

/// Builds every component of the workspace or crate at `manifest` (relative to the root) for
/// wasm32-wasip2 with `profile`, into `target/<target_subdir>`; returns the folder of the `.wasm` files.
pub fn build_components(manifest: &Path, target_subdir: &str, profile: &str) -> PathBuf {
    let root = root();
    let target_dir = root.join("target").join(target_subdir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--profile", profile, "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join(manifest))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings (target dir, flags) must not leak into this one.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("RUSTFLAGS") {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("run cargo to build components");
    assert!(status.success(), "building {} for wasm32-wasip2 failed", manifest.display());
    target_dir.join("wasm32-wasip2").join(profile)
}
