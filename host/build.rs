//! Builds the first-party plugins in `plugins/` for `wasm32-wasip2` and generates the table that
//! embeds them in the binary (`src/builtin.rs`). The plugins are built by a nested cargo into their
//! own target directory, so the outer build's lock is never contended.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";
const WASM_PROFILE: &str = "wasm";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("host/ lives inside the workspace").to_path_buf();
    for watched in ["plugins", "sdk/src", "sdk/Cargo.toml", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // Builds that need no first-party plugins (the nightly fuzz build, whose toolchain may lack the
    // wasm32-wasip2 target) set UPSHIFT_NO_BUILTIN_PLUGINS=1 and get an empty table.
    println!("cargo:rerun-if-env-changed=UPSHIFT_NO_BUILTIN_PLUGINS");
    let plugins = if env::var_os("UPSHIFT_NO_BUILTIN_PLUGINS").is_some() {
        Vec::new()
    } else {
        plugin_names(&root.join("plugins"))
    };
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("wasm-plugins");
    if !plugins.is_empty() {
        ensure_wasm_target();
        build_plugins(&root, &target_dir, &plugins);
    }

    let mut table = String::from("/// Every embedded first-party plugin.\npub static PLUGINS: &[BuiltinPlugin] = &[\n");
    for name in &plugins {
        let wasm = target_dir.join(WASM_TARGET).join(WASM_PROFILE).join(format!("{}.wasm", name.replace('-', "_")));
        assert!(wasm.exists(), "plugin {name} built but {} is missing", wasm.display());
        let path = wasm.to_str().expect("target directory path is UTF-8");
        writeln!(table, "    BuiltinPlugin {{ name: {name:?}, bytes: include_bytes!({path:?}) }},").unwrap();
    }
    table.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_plugins.rs");
    fs::write(&out, table).expect("write builtin_plugins.rs");
}

/// Each folder of `plugins/` with a Cargo.toml is a plugin crate named like its folder.
fn plugin_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Installs the wasm32-wasip2 standard library through rustup when the toolchain lacks it.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().expect("run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
        return;
    }
    println!("cargo:warning=installing the {WASM_TARGET} target with rustup (needed to build the plugins)");
    let ok = Command::new("rustup").args(["target", "add", WASM_TARGET]).status().map(|s| s.success());
    assert!(
        matches!(ok, Ok(true)),
        "the {WASM_TARGET} target is missing and `rustup target add {WASM_TARGET}` failed; install it and build again"
    );
}

fn build_plugins(root: &Path, target_dir: &Path, plugins: &[String]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .args(["--profile", WASM_PROFILE, "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for p in plugins {
        cmd.args(["-p", p]);
    }
    // The outer build's settings (target, flags, profile) must not leak into the plugin build.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let cargo_setting = key.starts_with("CARGO_") && key != "CARGO_HOME";
        if cargo_setting || key.starts_with("RUSTFLAGS") || key == "RUSTDOCFLAGS" || key.starts_with("__CARGO") {
            cmd.env_remove(&key);
        }
    }
    // Whatever the nested cargo prints goes to stderr: a build script's stdout is for cargo directives.
    cmd.stdout(std::io::stderr());
    let status = cmd.status().expect("run cargo to build the plugins");
    assert!(status.success(), "building the first-party plugins for {WASM_TARGET} failed (see the errors above)");
}
