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
fn a_config_check_that_loops_is_stopped_by_the_same_deadline() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("infinite-loop")), PluginKind::Verifier).unwrap();
    let limit = Duration::from_millis(200);
    let scope = Scope { limits: Limits { call_timeout: limit, ..Limits::default() }, ..Scope::default() };
    let mut v = VerifierInstance::new(plugin, scope);
    assert!(v.validate_config("{}").is_ok(), "without spin_in_check the config is accepted");
    let err = v.validate_config(r#"{"spin_in_check": true}"#).unwrap_err();
    assert!(matches!(err, CallError::Timeout { call: "validate-config", .. }), "{err}");
    assert!(err.to_string().contains("timeout_seconds"), "names the fix: {err}");
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

/// Serves `answer` to every connection on a fresh 127.0.0.1 port, counting connections.
fn serve(answer: &'static [u8]) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(answer);
        }
    });
    (address, seen)
}

fn network(tcp: &[std::net::SocketAddr], http: &[String]) -> Scope {
    let network = upshift::runtime::NetworkGrant { tcp: tcp.to_vec(), http: http.to_vec() };
    Scope { grants: upshift::runtime::Grants { network, ..Default::default() }, ..Scope::default() }
}

#[test]
fn http_goes_only_to_granted_servers_and_a_refusal_names_the_address_and_the_plugin() {
    use std::sync::atomic::Ordering;
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[0,"0.5"]}}"#;
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let (server, seen) = serve(Box::leak(answer.into_bytes().into_boxed_slice()));
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&PluginSource::Builtin("prometheus".into()), PluginKind::Verifier).unwrap();
    let config = format!(r#"{{"url": "http://{server}", "checks": [{{"name": "q", "query": "up", "max": 1}}]}}"#);

    let mut granted = VerifierInstance::new(plugin.clone(), network(&[], &[server.to_string()]));
    let verdict = granted.verify(&check(0), &config).expect("granted server answers");
    assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    let elsewhere = format!("127.0.0.1:{}", server.port().wrapping_add(1).max(1));
    for scope in [network(&[], &[elsewhere]), network(&[server], &[]), Scope::default()] {
        let err = VerifierInstance::new(plugin.clone(), scope).verify(&check(0), &config).unwrap_err();
        assert!(matches!(err, CallError::Plugin { kind: upshift::runtime::ErrorKind::Denied, .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("prometheus") && text.contains(&server.to_string()), "{text}");
        assert!(text.contains("grants.network.http"), "{text}");
    }
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a refused request reached the server");
}

#[test]
fn tcp_goes_only_to_granted_peers_and_a_refusal_names_the_address_and_the_plugin() {
    use std::sync::atomic::Ordering;
    // HAProxy's runtime API answers `get weight` with the current and initial weights.
    let (admin, seen) = serve(b"7 (initial 1)\n");
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&PluginSource::Builtin("haproxy-split".into()), PluginKind::Target).unwrap();
    let config = format!(r#"{{"admin": "{admin}", "backend": "app"}}"#);

    let mut granted = TargetInstance::new(plugin.clone(), network(&[admin], &[]));
    let observed = granted.observe(&config, "v1", "v2").expect("granted peer answers");
    assert_eq!(observed.weight, Some(50));
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one connection per server's weight");

    let elsewhere: std::net::SocketAddr = format!("127.0.0.1:{}", admin.port().wrapping_add(1).max(1)).parse().unwrap();
    for scope in [network(&[elsewhere], &[]), network(&[], &[admin.to_string()]), Scope::default()] {
        let err = TargetInstance::new(plugin.clone(), scope).observe(&config, "v1", "v2").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("haproxy-split") && text.contains(&format!("TCP connection to {admin} refused")),
            "{text}"
        );
        assert!(text.contains("grants.network.tcp"), "{text}");
    }
    assert_eq!(seen.load(Ordering::SeqCst), 2, "a refused connection reached the peer");
}

/// A granted folder swapped for a symlink after the spec was checked (by another rollout's plugin
/// with a writable grant above it, say) is refused when the instance is made: the open itself
/// follows no symlink in the grant's path. The same grant on a real folder works.
#[test]
fn a_granted_folder_swapped_for_a_symlink_is_refused_at_the_open() {
    let runtime = Runtime::new().unwrap();
    let plugin = runtime.load(&file(&fixture("threshold")), PluginKind::Verifier).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let scope = |host: &Path| Scope {
        grants: upshift::runtime::Grants {
            files: vec![upshift::runtime::FileGrant { host: host.to_path_buf(), guest: "/data".into(), write: false }],
            ..Default::default()
        },
        ..Scope::default()
    };
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let mut real = VerifierInstance::new(plugin.clone(), scope(&dir.path().join("data")));
    assert_eq!(real.verify(&check(0), THRESHOLD_CONFIG).unwrap().outcome, Outcome::Pass);

    std::fs::remove_dir(dir.path().join("data")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data")).unwrap();
    let mut swapped = VerifierInstance::new(plugin, scope(&dir.path().join("data")));
    let err = swapped.verify(&check(0), THRESHOLD_CONFIG).unwrap_err().to_string();
    assert!(err.contains("cannot open granted folder") && err.contains("data is a symlink"), "{err}");
    println!("refused: {err}");
    assert_runs_good_plugin(&runtime);
}
