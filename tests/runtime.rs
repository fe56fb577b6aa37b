//! The plugin runtime against real components built from source: one plugin of each kind runs;
//! runaway, greedy, tampered, foreign and wrong-world plugins are stopped or refused with a clear
//! error, and the same runtime then runs a good plugin fine.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use upshift::runtime::{
    CallError, Check, Limits, LoadError, Operation, Outcome, PluginKind, PluginSource, RolloutInfo, Runtime, Scope,
    StrategyInstance, TargetInstance, VerifierInstance,
};

use common::fixture;

fn file(path: &Path) -> PluginSource {
    PluginSource::File { path: path.to_path_buf(), sha256: None }
}

fn check(stage_index: u32) -> Check {
    Check {
        rollout_id: "r1".into(),
        stage_index,
        stage_name: "canary".into(),
        from_version: "1.0.0".into(),
        to_version: "1.1.0".into(),
        weight: Some(5),
        units: vec![],
        attempt: 1,
    }
}

const THRESHOLD_CONFIG: &str = r#"{"value": 0.004, "max": 0.01, "regress_from_stage": 2}"#;

/// A good verifier still runs on `runtime`: the host survived whatever came before.
fn assert_runs_good_plugin(runtime: &Runtime) {
    let plugin = runtime.load(&file(&fixture("threshold")), PluginKind::Verifier).expect("load threshold");
    let mut v = VerifierInstance::new(plugin, Scope::default());
    let verdict = v.verify(&check(0), THRESHOLD_CONFIG).expect("threshold verifies");
    assert_eq!(verdict.outcome, Outcome::Pass);
}

fn op(id: &str, stage_index: u32, units: &[&str]) -> Operation {
    Operation {
        id: id.into(),
        rollout_id: "r1".into(),
        config: r#"{"units": ["a", "b", "c"]}"#.into(),
        from_version: "1.0.0".into(),
        to_version: "1.1.0".into(),
        stage_index,
        stage_name: format!("stage-{stage_index}"),
        weight: None,
        units: units.iter().map(|u| u.to_string()).collect(),
    }
}

#[test]
fn a_target_runs_and_repeated_operation_ids_apply_once() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("recorder")), PluginKind::Target).unwrap();
    let mut t = TargetInstance::new(plugin, Scope::default());
    let d = t.describe().unwrap();
    assert_eq!(d.name, "recorder");
    assert!(d.capabilities.rollback);

    let seen = t.observe(r#"{"units": ["a", "b", "c"]}"#, "1.0.0", "1.1.0").unwrap();
    assert_eq!(seen.units.len(), 3);
    assert!(seen.units.iter().all(|u| u.version.as_deref() == Some("1.0.0")));

    let change = t.apply(&op("r1/0/apply", 0, &["a"])).unwrap();
    assert_eq!(change.units[0].version.as_deref(), Some("1.1.0"));
    // Re-sent after a "crash": same id, no second apply.
    t.apply(&op("r1/0/apply", 0, &["a"])).unwrap();
    let log: Vec<String> = t.state().keys().into_iter().filter(|k| k.starts_with("log/")).collect();
    assert_eq!(log.len(), 1, "state: {:?}", t.state().snapshot());

    t.rollback(&op("r1/rollback", 0, &["a"])).unwrap();
    let seen = t.observe(r#"{"units": ["a", "b", "c"]}"#, "1.0.0", "1.1.0").unwrap();
    assert!(seen.units.iter().all(|u| u.version.as_deref() == Some("1.0.0")));
}

#[test]
fn a_verifier_judges_and_records_measurements() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("threshold")), PluginKind::Verifier).unwrap();
    let mut v = VerifierInstance::new(plugin, Scope::default());
    let pass = v.verify(&check(0), THRESHOLD_CONFIG).unwrap();
    assert_eq!(pass.outcome, Outcome::Pass);
    let fail = v.verify(&check(2), THRESHOLD_CONFIG).unwrap();
    assert_eq!(fail.outcome, Outcome::Fail);
    let value = fail.measurements.iter().find(|m| m.name == "value").unwrap();
    assert!((value.value - 0.04).abs() < 1e-12);
}

#[test]
fn a_verifier_with_bad_config_returns_a_typed_error() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("threshold")), PluginKind::Verifier).unwrap();
    let mut v = VerifierInstance::new(plugin, Scope::default());
    let err = v.verify(&check(0), r#"{"value": 1}"#).unwrap_err();
    assert!(matches!(err, CallError::Plugin { kind: upshift::runtime::ErrorKind::InvalidConfig, .. }), "{err}");
    assert!(err.to_string().contains("missing field `max`"), "{err}");
}

#[test]
fn builtin_strategies_plan_stages() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&PluginSource::Builtin("canary".into()), PluginKind::Strategy).unwrap();
    let mut s = StrategyInstance::new(plugin, Scope::default());
    let info = RolloutInfo {
        id: "r1".into(),
        name: "demo".into(),
        from_version: "1".into(),
        to_version: "2".into(),
        units: (0..8).map(|i| format!("shard-{i}")).collect(),
        traffic_split: false,
    };
    let stages = s.plan(r#"{"steps": [{"units": 1, "bake_seconds": 5}, {"units": 4}]}"#, &info).unwrap();
    let sizes: Vec<usize> = stages.iter().map(|s| s.units.len()).collect();
    assert_eq!(sizes, vec![1, 3, 4]);
    assert_eq!(stages[0].bake_seconds, 5);

    for name in ["all-at-once", "linear", "batches"] {
        assert!(runtime.load(&PluginSource::Builtin(name.into()), PluginKind::Strategy).is_ok(), "{name}");
    }
}

#[test]
fn a_looping_plugin_is_stopped_by_its_deadline() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("infinite-loop")), PluginKind::Verifier).unwrap();
    let limit = Duration::from_millis(200);
    let scope = Scope { limits: Limits { call_timeout: limit, ..Limits::default() }, ..Scope::default() };
    let mut v = VerifierInstance::new(plugin, scope);
    let started = Instant::now();
    let err = v.verify(&check(0), "{}").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, CallError::Timeout { call: "verify", .. }), "{err}");
    assert!(err.to_string().contains("infinite_loop.wasm"), "names the plugin: {err}");
    assert!(took >= limit, "stopped before its limit: {took:?}");
    // Generous bound: this asserts the deadline works at all, not how fast.
    assert!(took < Duration::from_secs(20), "deadline not enforced: {took:?}");
    assert_runs_good_plugin(&runtime);
}

#[test]
fn a_plugin_allocating_past_its_memory_limit_is_stopped() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("memory-bomb")), PluginKind::Verifier).unwrap();
    let scope = Scope { limits: Limits { memory_bytes: 16 << 20, ..Limits::default() }, ..Scope::default() };
    let mut v = VerifierInstance::new(plugin, scope);
    let err = v.verify(&check(0), "{}").unwrap_err();
    assert!(matches!(err, CallError::MemoryLimit { limit_bytes, .. } if limit_bytes == 16 << 20), "{err}");
    let text = err.to_string();
    assert!(text.contains("memory_bomb.wasm") && text.contains("16 MiB"), "{text}");
    // The instance is discarded after the trap; calling again stops again rather than misbehaving.
    assert!(matches!(v.verify(&check(0), "{}"), Err(CallError::MemoryLimit { .. })));
    assert_runs_good_plugin(&runtime);
}

#[test]
fn a_digest_mismatch_is_refused_showing_both_digests() {
    let runtime = Runtime::new().unwrap();
    let wrong = "0".repeat(64);
    let source = PluginSource::File { path: fixture("threshold"), sha256: Some(wrong.clone()) };
    let err = runtime.load(&source, PluginKind::Verifier).unwrap_err();
    let actual = upshift::runtime::Digest::of(&std::fs::read(fixture("threshold")).unwrap()).to_hex();
    assert!(matches!(err, LoadError::DigestMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&wrong) && text.contains(&actual), "{text}");

    let right = PluginSource::File { path: fixture("threshold"), sha256: Some(format!("sha256:{actual}")) };
    assert!(runtime.load(&right, PluginKind::Verifier).is_ok());
    assert_runs_good_plugin(&runtime);
}

#[test]
fn files_that_are_not_components_are_refused() {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "this is not wasm").unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let bytes = std::fs::read(fixture("threshold")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let err = runtime.load(&file(&core), PluginKind::Verifier).unwrap_err();
    assert!(err.to_string().contains("core WebAssembly module, not a component"), "{err}");
    let err = runtime.load(&file(&text), PluginKind::Verifier).unwrap_err();
    assert!(err.to_string().contains("not WebAssembly"), "{err}");
    let err = runtime.load(&file(&truncated), PluginKind::Verifier).unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");
    assert_runs_good_plugin(&runtime);
}

#[test]
fn a_component_of_another_world_is_refused_naming_both_kinds() {
    let runtime = Runtime::new().unwrap();
    let err = runtime.load(&file(&fixture("recorder")), PluginKind::Verifier).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::WrongKind { expected: PluginKind::Verifier, .. }), "{text}");
    assert!(text.contains("expected a verifier") && text.contains("found a target"), "{text}");
    assert_runs_good_plugin(&runtime);
}

#[test]
fn an_unknown_builtin_lists_the_known_ones() {
    let runtime = Runtime::new().unwrap();
    let err = runtime.load(&PluginSource::Builtin("canery".into()), PluginKind::Strategy).unwrap_err();
    assert!(err.to_string().contains("canary"), "{err}");
}

#[test]
fn plugin_logs_reach_the_host_within_the_budget() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("recorder")), PluginKind::Target).unwrap();
    let mut t = TargetInstance::new(plugin, Scope::default());
    t.apply(&op("r1/0/apply", 0, &["a", "b"])).unwrap();
    let (logs, dropped) = t.last_logs();
    assert_eq!(dropped, 0);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].message, "apply r1/0/apply");
    assert_eq!(logs[0].fields, vec![("units".to_string(), "a,b".to_string())]);
    // The buffer is per call: a repeated (idempotent) apply logs nothing new.
    t.apply(&op("r1/0/apply", 0, &["a", "b"])).unwrap();
    assert!(t.last_logs().0.is_empty());
}

#[test]
fn corrupted_component_bytes_are_refused_without_panicking() {
    // A bounded stand-in for fuzz/fuzz_targets/plugin_load.rs: deterministic corruptions of a real
    // component (bit flips, truncations, spliced headers) are recognised or refused, never a panic.
    let runtime = Runtime::new().unwrap();
    let bytes = std::fs::read(fixture("threshold")).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut refused = 0;
    for case in 0..40 {
        let mut b = bytes.clone();
        match case % 3 {
            0 => {
                for _ in 0..(1 + next() % 8) {
                    let at = (next() as usize) % b.len();
                    b[at] ^= 1 << (next() % 8);
                }
            }
            1 => b.truncate((next() as usize) % b.len()),
            _ => b.splice(8..8, [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]).for_each(drop),
        }
        if runtime.recognise("mutant.wasm", &b).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0, "some corruption must be refused");
    assert_runs_good_plugin(&runtime);
}
