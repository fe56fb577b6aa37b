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
    let mut cmd = nested_cargo();
    cmd.args(["build", "--quiet", "--profile", profile, "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join(manifest))
        .arg("--target-dir")
        .arg(&target_dir);
    let status = cmd.status().expect("run cargo to build components");
    assert!(status.success(), "building {} for wasm32-wasip2 failed", manifest.display());
    target_dir.join("wasm32-wasip2").join(profile)
}

/// A `cargo` command for a build nested in a test run: the outer build's settings (target dir,
/// flags) must not leak into it.
pub fn nested_cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("RUSTFLAGS") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Copies fixture `name` into `dir` as `<name>.wasm` and returns its sha256 (hex), for a spec.
pub fn copy_fixture(dir: &Path, name: &str) -> String {
    let to = dir.join(format!("{name}.wasm"));
    std::fs::copy(fixture(name), &to).expect("copy fixture");
    upshift::runtime::Digest::of(&std::fs::read(&to).expect("read fixture")).to_hex()
}

/// The hand-written hostile verifier `tests/hostile-wat/<name>.wat`, assembled inside the shared
/// `verifier-shell.wat` by `tests/wat-assembler` (built once per process, in its own target folder).
pub fn wat_component(name: &str) -> Vec<u8> {
    static ASSEMBLER: OnceLock<PathBuf> = OnceLock::new();
    let assembler = ASSEMBLER.get_or_init(|| {
        let root = root();
        let target_dir = root.join("target").join("wat-assembler");
        let status = nested_cargo()
            .args(["build", "--quiet", "--release", "--manifest-path"])
            .arg(root.join("tests/wat-assembler/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .status()
            .expect("run cargo to build the WAT assembler");
        assert!(status.success(), "building tests/wat-assembler failed");
        target_dir.join("release").join("wat-assembler")
    });
    let dir = root().join("tests/hostile-wat");
    let out = root().join("target/wat-assembler").join(format!("{name}.wasm"));
    let status = Command::new(assembler)
        .arg(dir.join("verifier-shell.wat"))
        .arg(dir.join(format!("{name}.wat")))
        .arg(&out)
        .status()
        .expect("run the WAT assembler");
    assert!(status.success(), "assembling tests/hostile-wat/{name}.wat failed");
    std::fs::read(&out).expect("read the assembled component")
}
