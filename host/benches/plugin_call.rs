//! What a plugin call costs: the same verifier logic (tests/fixtures/threshold) called
//! (a) natively, (b) as a Wasm component on a reused instance, (c) on a fresh instance each time,
//! and (d) in a separate native process answering line-delimited JSON on stdin/stdout, the model of
//! RPC plugin systems. Beside (b) and (c), the same calls made by wasmtime alone (`raw_call.rs`):
//! synchronous, on a fiber, and instantiated afresh with wasmtime's default pool or none, so the
//! host's own share of a call can be read off. Prints medians and ratios; writes
//! target/upshift-bench/plugin_call.json.
//!
//! Run: `cargo bench -p upshift --bench plugin_call`. To profile one case alone, set
//! `UPSHIFT_BENCH_PROFILE=reused` (or `fresh`): the binary then repeats only that call for
//! [`PROFILE_SECONDS`] and prints nothing else (`perf record -g target/release/deps/plugin_call-*`).

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "../../tests/fixtures/threshold/src/logic.rs"]
mod logic;
#[path = "common/median.rs"]
mod median;
#[path = "common/raw_call.rs"]
mod raw_call;

use std::hint::black_box;

use median::{SAMPLES, median_ns};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use upshift::runtime::{
    Check, Measurement, Outcome, PluginKind, PluginSource, Runtime, Scope, Verdict, VerifierInstance,
};

/// Environment variable that turns this benchmark binary into the out-of-process peer.
const PEER_ENV: &str = "UPSHIFT_BENCH_PEER";
/// Environment variable naming the one case to repeat for a profiler (`reused`, `fresh`).
const PROFILE_ENV: &str = "UPSHIFT_BENCH_PROFILE";
/// How long a profiled case repeats.
const PROFILE_SECONDS: u64 = 5;
const CONFIG: &str = r#"{"value": 0.004, "max": 0.01, "regress_from_stage": 3}"#;

fn main() {
    if std::env::var_os(PEER_ENV).is_some() {
        serve_peer();
        return;
    }
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let wasm = fixtures::fixture("threshold");
    let runtime = Runtime::new().expect("runtime");
    let plugin = runtime
        .load(&PluginSource::File { path: wasm.clone(), sha256: None }, PluginKind::Verifier)
        .expect("load the threshold verifier");
    let check = check();
    if let Ok(case) = std::env::var(PROFILE_ENV) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(PROFILE_SECONDS);
        let mut reused = VerifierInstance::new(plugin.clone(), Scope::default());
        while std::time::Instant::now() < until {
            for _ in 0..1000 {
                match case.as_str() {
                    "reused" => black_box(reused.verify(black_box(&check), CONFIG).expect("verify")),
                    "fresh" => {
                        let mut fresh = VerifierInstance::new(plugin.clone(), Scope::default());
                        black_box(fresh.verify(black_box(&check), CONFIG).expect("verify"))
                    }
                    other => panic!("{PROFILE_ENV}={other}: profile `reused` or `fresh`"),
                };
            }
        }
        return;
    }

    let mut native_plugin = NativeVerifier::default();
    let native = median_ns(20_000, || {
        black_box(native_plugin.verify(black_box(&check), black_box(CONFIG)));
    });

    let mut reused = VerifierInstance::new(plugin.clone(), Scope::default());
    reused.verify(&check, CONFIG).expect("warm-up call");
    let wasm_call = median_ns(2_000, || {
        black_box(reused.verify(black_box(&check), CONFIG).expect("verify"));
    });

    // The same export called by wasmtime alone (`raw_call.rs`): what (b) costs above these is the
    // host's; what they cost above (a) is the component model's and the guest's.
    let mut raw_sync = raw_call::SyncCall::new(&wasm, &check);
    let raw_sync_ns = median_ns(2_000, || {
        black_box(raw_sync.call(black_box(CONFIG)));
    });
    let mut raw_async = raw_call::AsyncCall::new(&wasm, &check);
    let raw_async_ns = median_ns(2_000, || {
        black_box(raw_async.call(black_box(CONFIG)));
    });

    let mut raw_fresh = raw_call::SyncFresh::new(&wasm, &check, true);
    let raw_fresh_ns = median_ns(200, || {
        black_box(raw_fresh.call(black_box(CONFIG)));
    });
    let mut raw_fresh_on_demand = raw_call::SyncFresh::new(&wasm, &check, false);
    let raw_fresh_on_demand_ns = median_ns(200, || {
        black_box(raw_fresh_on_demand.call(black_box(CONFIG)));
    });

    let wasm_fresh = median_ns(200, || {
        let mut fresh = VerifierInstance::new(plugin.clone(), Scope::default());
        black_box(fresh.verify(black_box(&check), CONFIG).expect("verify"));
    });

    let mut peer = Peer::start();
    let subprocess = median_ns(500, || {
        black_box(peer.verify(&check));
    });

    println!();
    println!("plugin call, median of {SAMPLES} samples (ns per call)");
    println!("  (a) native call                     {native:>12.0}");
    println!("  (b) wasm call, reused instance      {wasm_call:>12.0}   b/a = {:.1}", wasm_call / native);
    println!("      wasmtime alone, synchronous     {raw_sync_ns:>12.0}   (no fiber; nothing of the host's)");
    println!("      wasmtime alone, on a fiber      {raw_async_ns:>12.0}   (as the host calls: async)");
    println!("  (c) wasm instantiate + call         {wasm_fresh:>12.0}   c/a = {:.1}", wasm_fresh / native);
    println!("      wasmtime alone, pooled          {raw_fresh_ns:>12.0}   (synchronous; wasmtime's default pool)");
    println!("      wasmtime alone, on demand       {raw_fresh_on_demand_ns:>12.0}   (synchronous; no pool)");
    println!("  (d) subprocess, JSON lines          {subprocess:>12.0}   d/b = {:.1}", subprocess / wasm_call);

    let out_dir = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&out_dir).expect("create target/upshift-bench");
    let json = serde_json::json!({
        "native_ns": native,
        "wasm_call_ns": wasm_call,
        "wasm_fresh_ns": wasm_fresh,
        "subprocess_ns": subprocess,
        "wasmtime_sync_ns": raw_sync_ns,
        "wasmtime_async_ns": raw_async_ns,
        "wasmtime_fresh_pooled_ns": raw_fresh_ns,
        "wasmtime_fresh_on_demand_ns": raw_fresh_on_demand_ns,
    });
    let path = out_dir.join("plugin_call.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write plugin_call.json");
    println!("wrote {}", path.display());
}

fn check() -> Check {
    Check {
        rollout_id: "bench".into(),
        stage_index: 1,
        stage_name: "canary".into(),
        from_version: "1.0.0".into(),
        to_version: "1.1.0".into(),
        weight: Some(5),
        units: vec![],
        attempt: 1,
    }
}

/// The native equivalent of the Wasm plugin: like the SDK, it parses a config once per distinct
/// JSON string, then judges and builds the verdict on every call.
#[derive(Default)]
struct NativeVerifier {
    parsed: Option<(String, logic::Config)>,
}

impl NativeVerifier {
    fn verify(&mut self, check: &Check, config: &str) -> Verdict {
        if self.parsed.as_ref().is_none_or(|(json, _)| json != config) {
            self.parsed = Some((config.to_string(), logic::parse(config).expect("config")));
        }
        let (_, parsed) = self.parsed.as_ref().expect("parsed above");
        verdict(logic::judge(check.stage_index, parsed))
    }
}

fn verdict(j: logic::Judgement) -> Verdict {
    let m = |name: &str, value| Measurement { name: name.into(), value, unit: Some("ratio".into()) };
    Verdict {
        outcome: if j.pass { Outcome::Pass } else { Outcome::Fail },
        measurements: vec![m("value", j.value), m("max", j.max)],
        reason: j.reason,
    }
}

/// This binary re-run as a child process that answers one JSON request per line.
struct Peer {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: BufReader<std::process::ChildStdout>,
    line: String,
}

impl Peer {
    fn start() -> Self {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .env(PEER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the peer process");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Peer { child, input, output, line: String::new() }
    }

    fn verify(&mut self, check: &Check) -> Verdict {
        let request = serde_json::json!({
            "rollout_id": check.rollout_id,
            "stage_index": check.stage_index,
            "stage_name": check.stage_name,
            "from_version": check.from_version,
            "to_version": check.to_version,
            "weight": check.weight,
            "units": check.units,
            "attempt": check.attempt,
            "config": CONFIG,
        });
        writeln!(self.input, "{request}").expect("write request");
        self.input.flush().expect("flush");
        self.line.clear();
        self.output.read_line(&mut self.line).expect("read answer");
        let answer: serde_json::Value = serde_json::from_str(&self.line).expect("answer is JSON");
        verdict(logic::Judgement {
            pass: answer["pass"].as_bool().expect("pass"),
            value: answer["value"].as_f64().expect("value"),
            max: answer["max"].as_f64().expect("max"),
            reason: answer["reason"].as_str().expect("reason").to_string(),
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The peer side: read a request per line, answer a JSON verdict per line.
fn serve_peer() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut parsed: Option<(String, logic::Config)> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let request: serde_json::Value = serde_json::from_str(&line).expect("request is JSON");
        let stage = request["stage_index"].as_u64().unwrap_or(0) as u32;
        let json = request["config"].as_str().unwrap_or("{}");
        if parsed.as_ref().is_none_or(|(j, _)| j != json) {
            parsed = Some((json.to_string(), logic::parse(json).expect("config")));
        }
        let Some((_, config)) = parsed.as_ref() else { break };
        let j = logic::judge(stage, config);
        let answer = serde_json::json!({ "pass": j.pass, "value": j.value, "max": j.max, "reason": j.reason });
        if writeln!(stdout, "{answer}").and_then(|_| stdout.flush()).is_err() {
            break;
        }
    }
}
