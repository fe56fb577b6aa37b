//! One call of a hostile verifier component built from another language (tests/hostile-python,
//! tests/hostile-js): its config's `attack` picks what it tries.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use upshift::runtime::{CallError, Check, Limits, PluginKind, PluginSource, Runtime, Scope, VerifierInstance};

fn check() -> Check {
    Check {
        rollout_id: "lab-1".into(),
        stage_index: 0,
        stage_name: "canary".into(),
        from_version: "1".into(),
        to_version: "2".into(),
        weight: None,
        units: vec!["a".into()],
        attempt: 1,
    }
}

/// `verify` of the verifier at `wasm` with `attack`, under `limits`, on a fresh instance: the
/// verdict's reason or the error, the call's duration, and the log records it kept and dropped.
pub fn call(
    runtime: &Runtime,
    wasm: &Path,
    attack: &str,
    limits: Limits,
) -> (Result<String, CallError>, Duration, (usize, usize)) {
    let source = PluginSource::File { path: wasm.to_path_buf(), sha256: None };
    let plugin = runtime.load(&source, PluginKind::Verifier).expect("the hostile verifier loads");
    let mut instance = VerifierInstance::new(plugin, Scope { limits, ..Scope::default() });
    let started = Instant::now();
    let result = instance.verify(&check(), &format!("{{\"attack\": \"{attack}\"}}")).map(|v| v.reason);
    let took = started.elapsed();
    let (kept, dropped) = instance.last_logs();
    (result, took, (kept.len(), dropped))
}
