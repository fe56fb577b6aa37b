//! What the compiled-plugin cache saves: per plugin, compiling a component vs loading it compiled
//! from the cache; `upshift plan` of the quickstart with a cold and a warm cache; and for a Rust, a
//! Python and a JavaScript verifier, size, compile, cache load, instantiate + call, and a call on a
//! reused instance. The Python and JavaScript parts need componentize-py and componentize-js
//! (scripts/setup-services.sh installs both) and are skipped, saying so, without them. Writes target/upshift-bench/plugin_cache.json.
//!
//! Run: `cargo bench -p upshift --bench plugin_cache`.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upshift::runtime::{Check, CompiledCache, Digest, PluginKind, PluginSource, Runtime, Scope, VerifierInstance};
use wasmtime::component::Component;

/// The median of `n` timings of `f`.
fn median(n: usize, mut f: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[n / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn check() -> Check {
    Check {
        rollout_id: "bench".into(),
        stage_index: 0,
        stage_name: "canary".into(),
        from_version: "1".into(),
        to_version: "2".into(),
        weight: None,
        units: vec![],
        attempt: 1,
    }
}

/// Compile vs cache load of the component `bytes`, in ms.
fn compile_and_load(runtime: &Runtime, cache: &CompiledCache, bytes: &[u8], compiles: usize) -> (f64, f64) {
    let engine = runtime.engine();
    let digest = Digest::of(bytes);
    let mut compiled = None;
    let compile = median(compiles, || compiled = Some(Component::new(engine, bytes).expect("compile")));
    cache.store(engine, &digest, &compiled.expect("compiled")).expect("store");
    let load = median(31, || {
        cache.load(engine, &digest).expect("load from the cache");
    });
    (ms(compile), ms(load))
}

/// Size, compile, cache load, instantiate + call and reused call of the verifier at `wasm`.
fn verifier_costs(label: &str, wasm: &Path, config: &str, compiles: usize) -> Value {
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = CompiledCache::open(cache_dir.path()).expect("cache");
    let runtime = Runtime::new().expect("runtime").with_cache(Some(cache.clone()));
    let bytes = std::fs::read(wasm).expect("read the component");
    let (compile_ms, load_ms) = compile_and_load(&runtime, &cache, &bytes, compiles);
    let plugin = runtime
        .load(&PluginSource::File { path: wasm.to_path_buf(), sha256: None }, PluginKind::Verifier)
        .expect("load");
    let check = check();
    let fresh = median(31, || {
        let mut instance = VerifierInstance::new(plugin.clone(), Scope::default());
        instance.verify(&check, config).expect("verify");
    });
    let mut reused = VerifierInstance::new(plugin.clone(), Scope::default());
    reused.verify(&check, config).expect("warm-up");
    let call = median(31, || {
        reused.verify(&check, config).expect("verify");
    });
    println!(
        "  {label:<28} {:>8.1} MB {compile_ms:>10.1} {load_ms:>10.2} {:>12.3} {:>12.4}",
        bytes.len() as f64 / 1e6,
        ms(fresh),
        ms(call)
    );
    json!({
        "plugin": label, "bytes": bytes.len(), "compile_ms": compile_ms, "cache_load_ms": load_ms,
        "instantiate_and_call_ms": ms(fresh), "reused_call_ms": ms(call),
    })
}

/// The Python verifier of tests/hostile-python (its `none` path: a minimal verify), built now.
fn python_verifier() -> Option<std::path::PathBuf> {
    let root = fixtures::root();
    let out = root.join("target/python-plugins/bench-minimal.wasm");
    std::fs::create_dir_all(out.parent()?).ok()?;
    let status = Command::new(std::env::var("UPSHIFT_COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into()))
        .arg("-d")
        .arg(root.join("wit"))
        .args(["-w", "verifier-plugin", "componentize", "-p"])
        .arg(root.join("sdk/python"))
        .arg("-p")
        .arg(root.join("tests/hostile-python"))
        .args(["app", "-o"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(out)
}

/// The JavaScript verifier of tests/hostile-js (its `none` path: a minimal verify), built now.
fn js_verifier() -> Option<std::path::PathBuf> {
    let root = fixtures::root();
    let out = root.join("target/js-plugins/bench-minimal.wasm");
    std::fs::create_dir_all(out.parent()?).ok()?;
    let status = Command::new("node")
        .arg(root.join("sdk/js/componentize.mjs"))
        .args(["--world", "verifier-plugin", "-o"])
        .arg(&out)
        .arg(root.join("tests/hostile-js/app.js"))
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(out)
}

fn main() {
    let runtime = Runtime::new().expect("runtime").with_cache(None);
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = CompiledCache::open(cache_dir.path()).expect("cache");

    println!();
    println!("compile vs load from the cache, median (ms)");
    println!("  {:<16} {:>10} {:>10} {:>8}", "plugin", "compile", "cache", "ratio");
    let mut builtins = Vec::new();
    for name in ["all-at-once", "batches", "sql-check", "sql-migrator", "prometheus", "judge"] {
        let Some(p) = upshift::builtin::PLUGINS.iter().find(|p| p.name == name) else { continue };
        let (compile, load) = compile_and_load(&runtime, &cache, p.bytes, 5);
        println!("  {name:<16} {compile:>10.1} {load:>10.2} {:>7.0}x", compile / load);
        builtins.push(json!({ "plugin": name, "bytes": p.bytes.len(), "compile_ms": compile, "cache_load_ms": load }));
    }

    // The whole command, as a user runs it: the quickstart's plan, cold (empty cache) and warm.
    let quickstart = fixtures::root().join("examples/quickstart");
    let plan_dir = tempfile::tempdir().expect("tempdir");
    let plan = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_upshift"))
            .arg("--cache")
            .arg(plan_dir.path())
            .args(extra)
            .args(["plan", "rollout.toml"])
            .current_dir(&quickstart)
            .output()
            .expect("run upshift plan");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let cold = median(5, || {
        let _ = std::fs::remove_dir_all(plan_dir.path());
        plan(&[]);
    });
    plan(&[]);
    let warm = median(11, || plan(&[]));
    println!();
    println!("upshift plan examples/quickstart/rollout.toml, median wall time");
    println!("  cold cache  {:>8.1} ms", ms(cold));
    println!("  warm cache  {:>8.1} ms   cold/warm = {:.1}", ms(warm), ms(cold) / ms(warm));

    println!();
    println!("a verifier, Rust vs Python vs JavaScript (median; compile and cache in ms, calls in ms)");
    println!(
        "  {:<28} {:>11} {:>10} {:>10} {:>12} {:>12}",
        "", "size", "compile", "cache", "inst.+call", "reused call"
    );
    let rust = verifier_costs(
        "Rust (fixture threshold)",
        &fixtures::fixture("threshold"),
        r#"{"value": 0.004, "max": 0.01, "regress_from_stage": 3}"#,
        5,
    );
    let python = match python_verifier() {
        Some(wasm) => verifier_costs("Python (minimal verifier)", &wasm, r#"{"attack": "none"}"#, 1),
        None => {
            println!("  Python: skipped (componentize-py not found; scripts/setup-services.sh installs it)");
            Value::Null
        }
    };
    let js = match js_verifier() {
        Some(wasm) => verifier_costs("JavaScript (minimal verifier)", &wasm, r#"{"attack": "none"}"#, 1),
        None => {
            println!(
                "  JavaScript: skipped (componentize-js not installed; scripts/setup-services.sh runs `npm ci` in sdk/js)"
            );
            Value::Null
        }
    };

    let out_dir = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&out_dir).expect("create target/upshift-bench");
    let report = json!({
        "builtins": builtins,
        "plan_cold_ms": ms(cold),
        "plan_warm_ms": ms(warm),
        "rust_verifier": rust,
        "python_verifier": python,
        "js_verifier": js,
    });
    let path = out_dir.join("plugin_cache.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write plugin_cache.json");
    println!("wrote {}", path.display());
}
