//! What reading a target back costs a stage: the recorder test target (10 units) on a reused
//! instance, `apply` alone against the `observe` the host now calls after every `apply`, `rollback`
//! and `finalize`, next to what the journal costs a stage anyway (a committed transition, measured
//! by the `engine` benchmark). Prints medians; writes target/upshift-bench/readback.json.
//!
//! Run: `cargo bench -p upshift --bench readback`.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/median.rs"]
mod median;

use std::hint::black_box;

use median::{SAMPLES, median_ns};

use upshift::runtime::{Operation, PluginKind, PluginSource, Runtime, Scope, TargetInstance};

const UNITS: usize = 10;

fn main() {
    let units: Vec<String> = (0..UNITS).map(|i| format!("u{i}")).collect();
    let config = serde_json::json!({ "units": units }).to_string();
    let runtime = Runtime::new().expect("runtime");
    let plugin = runtime
        .load(&PluginSource::File { path: fixtures::fixture("recorder"), sha256: None }, PluginKind::Target)
        .expect("load the recorder target");
    let mut target = TargetInstance::new(plugin, Scope::default());
    let mut n = 0u64;
    let op = |n: u64| Operation {
        id: format!("bench/apply/{n}"),
        rollout_id: "bench".into(),
        config: config.clone(),
        from_version: "1".into(),
        to_version: "2".into(),
        stage_index: 0,
        stage_name: "all".into(),
        weight: Some(50),
        units: units.clone(),
    };
    // Each apply gets a new operation id, so the target does the work every time (its state grows
    // by one log record per call; the samples are few enough for that to stay small).
    let apply = median_ns(20, || {
        n += 1;
        black_box(target.apply(&op(n)).expect("apply"));
    });
    let observe = median_ns(20, || {
        black_box(target.observe(&config, "1", "2").expect("observe"));
    });

    println!();
    println!("read-back, median of {SAMPLES} samples (ns per call), recorder target with {UNITS} units");
    println!("  apply                               {apply:>12.0}");
    println!("  observe (the read-back)             {observe:>12.0}   observe/apply = {:.2}", observe / apply);
    println!("  (a stage also commits >= 3 journaled transitions: see the engine benchmark)");

    let out_dir = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&out_dir).expect("create target/upshift-bench");
    let json = serde_json::json!({ "apply_ns": apply, "observe_ns": observe, "units": UNITS });
    let path = out_dir.join("readback.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write readback.json");
    println!("wrote {}", path.display());
}
