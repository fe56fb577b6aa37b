//! What a `judge` verification costs inside the sandbox: the built-in Wasm plugin, called through
//! the host's runtime on a reused instance (as a rollout calls it), judging 10 metrics of 1,000
//! baseline and 1,000 canary samples each (the native bench's workload,
//! `plugins/judge/benches/common/samples.rs`) read from a granted folder: reading and parsing the
//! file, the statistics, the verdict. Prints the median and writes
//! target/upshift-bench/judge_wasm.json. The native figures are `cargo bench -p judge`.
//!
//! Run: `cargo bench -p upshift --bench judge`.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/median.rs"]
mod median;
#[path = "../../plugins/judge/benches/common/samples.rs"]
mod samples;

use std::hint::black_box;

use median::{SAMPLES, median_ns};
use upshift::runtime::{Check, FileGrant, Grants, PluginKind, PluginSource, Runtime, Scope, VerifierInstance};

/// The target for one verification on this machine.
const TARGET_MS: f64 = 20.0;

fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::write(dir.path().join("bench.json"), samples::replay_file()).expect("write the samples");
    let runtime = Runtime::new().expect("runtime");
    let plugin =
        runtime.load(&PluginSource::Builtin("judge".into()), PluginKind::Verifier).expect("load the judge plugin");
    let grants = Grants {
        files: vec![FileGrant { host: dir.path().to_path_buf(), guest: "/replay".into(), write: false }],
        ..Grants::default()
    };
    let config = samples::config("/replay/bench.json");
    let check = Check {
        rollout_id: "bench-1".into(),
        stage_index: 0,
        stage_name: "canary".into(),
        from_version: "1".into(),
        to_version: "2".into(),
        weight: Some(10),
        units: vec![],
        attempt: 1,
    };

    let mut instance = VerifierInstance::new(plugin.clone(), Scope { grants: grants.clone(), ..Scope::default() });
    let verdict = instance.verify(&check, &config).expect("a verdict");
    println!("verdict: {:?}: {}", verdict.outcome, verdict.reason);
    let reused = median_ns(3, || {
        black_box(instance.verify(black_box(&check), &config).expect("verify"));
    });
    let fresh = median_ns(1, || {
        let mut fresh = VerifierInstance::new(plugin.clone(), Scope { grants: grants.clone(), ..Scope::default() });
        black_box(fresh.verify(black_box(&check), &config).expect("verify"));
    });

    let ms = |ns: f64| ns / 1e6;
    println!();
    println!(
        "judge in Wasm (built-in plugin, host runtime): {} metrics × 2 × {} samples from a granted file, median of {SAMPLES}",
        samples::METRICS,
        samples::SAMPLES_PER_SERIES
    );
    println!("  verify, reused instance                 {:>9.3} ms   (target ≤ {TARGET_MS} ms)", ms(reused));
    println!("  instantiate + verify                    {:>9.3} ms", ms(fresh));

    let out = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&out).expect("create target/upshift-bench");
    let json = serde_json::json!({ "verify_reused_ms": ms(reused), "verify_fresh_ms": ms(fresh) });
    let path = out.join("judge_wasm.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write judge_wasm.json");
    println!("wrote {}", path.display());
}
