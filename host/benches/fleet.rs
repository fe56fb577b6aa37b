//! Many rollouts at once through `upshift serve`'s controller, in this process, on the SQLite store:
//! N concurrent rollouts (N = 100, 1,000, 10,000), each of a synthetic in-memory target (the
//! `recorder` test fixture: 10 units, instant apply) with the `batches` strategy (5 stages of 2
//! units, 1 s bakes) and a cheap verifier (the `threshold` fixture). All N are created first (through
//! the library, plugins loaded once), then one controller drives them to their end.
//!
//! Reported per N: whether every rollout succeeded, the seconds until the last one ended, plugin
//! calls/s, journaled transitions/s, the p50/p99 lateness of a bake's end (when the transition that
//! ended a bake was journaled, against the bake's due time, which the transition that began it
//! stored), and the process's peak RSS during the run (`VmHWM`, reset before each N). Also how long
//! rollouts waited to be begun (`p50_start_wait_ms`, `p99_start_wait_ms`): the controller begins a
//! new rollout only when those under way leave the workers room (`serve::schedule`).
//!
//! `UPSHIFT_FLEET_N=100,1000` picks other sizes; `UPSHIFT_FLEET_PARALLEL` the controller's threads.
//! Writes target/upshift-bench/fleet.json: one object per N with `n`, `all_succeeded`, `seconds`,
//! `plugin_calls_per_s`, `transitions_per_s`, `p50_lateness_ms`, `p99_lateness_ms`, `peak_rss_mib`.
//!
//! Run: `cargo bench -p upshift --bench fleet`.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upshift::rollout::{self, RolloutPlugins};
use upshift::runtime::{CallObserver, Runtime};
use upshift::serve::{Controller, Observers};
use upshift::spec::RolloutSpec;
use upshift::store::Store;
use upshift::trust::TrustPolicy;

/// The sizes measured unless `UPSHIFT_FLEET_N` says otherwise.
const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// The controller's threads unless `UPSHIFT_FLEET_PARALLEL` says otherwise (`serve`'s default).
const PARALLEL: usize = upshift::serve::config::DEFAULT_MAX_PARALLEL;
/// Each stage's bake.
const BAKE_MS: i64 = 1_000;
/// The longest a size may take before the benchmark gives up on it.
const TIMEOUT: Duration = Duration::from_secs(1_800);

/// Counts plugin calls.
#[derive(Default)]
struct Calls(AtomicU64);

impl CallObserver for Calls {
    fn call_finished(&self, _plugin: &str, _call: &'static str, _duration: Duration) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn limit_hit(&self, _plugin: &str, _call: &'static str, _limit: &'static str) {}
}

fn spec_text(dir: &Path) -> String {
    let target = fixtures::copy_fixture(dir, "recorder");
    let verifier = fixtures::copy_fixture(dir, "threshold");
    let units: Vec<String> = (1..=10).map(|i| format!("\"u{i}\"")).collect();
    format!(
        "name = \"fleet\"\nfrom = \"1\"\nto = \"2\"\n\n\
         [target]\nfile = \"recorder.wasm\"\nsha256 = \"{target}\"\nconfig = {{ units = [{}] }}\n\n\
         [strategy]\nplugin = \"batches\"\nconfig = {{ batch_size = 2, bake_seconds = 1 }}\n\n\
         [[verifiers]]\nname = \"cheap\"\nfile = \"threshold.wasm\"\nsha256 = \"{verifier}\"\n\
         config = {{ value = 0.001, max = 0.01 }}\n",
        units.join(", ")
    )
}

/// This process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Resets `VmHWM` to the current resident set.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[i64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64
}

fn run(n: usize, parallel: usize) -> Value {
    // In target/, so commits pay a real disk's fsync (a tmpfs /tmp would flatter them).
    let scratch = fixtures::root().join("target").join("upshift-bench");
    std::fs::create_dir_all(&scratch).expect("create target/upshift-bench");
    let dir = tempfile::tempdir_in(&scratch).expect("tempdir");
    let spec_path = dir.path().join("fleet.toml");
    let text = spec_text(dir.path());
    std::fs::write(&spec_path, &text).expect("write the spec");
    let state = dir.path().join("state.db");
    let runtime = Arc::new(Runtime::new().expect("runtime"));
    let calls = Arc::new(Calls::default());
    runtime.set_call_observer(Some(calls.clone()));
    let trust = TrustPolicy { allow_unsigned: true, ..TrustPolicy::default() };

    let seeding = Instant::now();
    {
        let mut store = Store::open(&state).expect("store");
        let spec = RolloutSpec::parse(&spec_path, &text).expect("spec");
        let mut plugins = RolloutPlugins::load(&runtime, &spec, &trust, |_| Default::default()).expect("plugins");
        for _ in 0..n {
            rollout::create(&mut store, &spec, &spec_path, &mut plugins, "bench", &[], None).expect("create");
        }
    }
    let seeding_s = seeding.elapsed().as_secs_f64();
    calls.0.store(0, Ordering::Relaxed);

    reset_peak_rss();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(parallel + 32)
        .build()
        .expect("tokio");
    let controller = Arc::new(Controller::new(state.clone(), runtime.clone(), trust, Observers::default(), parallel));
    let started = Instant::now();
    let started_ms = epoch_ms();
    let task = tokio.spawn(controller.clone().run());
    let watcher = Store::open_existing(&state).expect("store");
    let mut last_report = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let left = watcher.unended().expect("unended").len();
        if left == 0 {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("  N = {n}: {left} rollouts left after {:.0} s", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        assert!(started.elapsed() < TIMEOUT, "N = {n}: {left} rollouts still running after {TIMEOUT:?}");
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    let plugin_calls = calls.0.load(Ordering::Relaxed);
    let (commits, groups) = controller.commit_stats();
    controller.stop();
    tokio.block_on(task).expect("the controller stops");

    // From the journal: phases, transitions, and each bake's lateness.
    let db = rusqlite::Connection::open(&state).expect("open the store");
    let succeeded: i64 =
        db.query_row("SELECT COUNT(*) FROM rollouts WHERE phase = 'succeeded'", [], |r| r.get(0)).expect("count");
    let mut rows = db
        .prepare("SELECT rollout_id, at, event FROM journal WHERE kind = 'transition' ORDER BY rollout_id, seq")
        .expect("prepare");
    let transitions: Vec<(String, i64, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default())))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // How long each rollout waited to be begun (new rollouts wait while those under way keep the
    // workers busy: the controller's admission, `serve::schedule`).
    let mut start_wait = Vec::new();
    for (i, (id, at, _)) in transitions.iter().enumerate() {
        if i == 0 || transitions[i - 1].0 != *id {
            start_wait.push(at - started_ms);
        }
    }
    start_wait.sort_unstable();
    let mut lateness = Vec::new();
    for pair in transitions.windows(2) {
        let ((id_a, at_a, _), (id_b, at_b, event)) = (&pair[0], &pair[1]);
        if id_a == id_b && event == "timer-elapsed" {
            lateness.push(at_b - (at_a + BAKE_MS));
        }
    }
    lateness.sort_unstable();
    let result = json!({
        "n": n,
        "all_succeeded": succeeded as usize == n,
        "seconds": seconds,
        "plugin_calls_per_s": plugin_calls as f64 / seconds,
        "transitions_per_s": transitions.len() as f64 / seconds,
        "p50_lateness_ms": percentile(&lateness, 0.5),
        "p99_lateness_ms": percentile(&lateness, 0.99),
        "peak_rss_mib": peak,
        "succeeded": succeeded,
        "transitions": transitions.len(),
        "plugin_calls": plugin_calls,
        "bakes": lateness.len(),
        "parallel": parallel,
        "seeding_s": seeding_s,
        "p50_start_wait_ms": percentile(&start_wait, 0.5),
        "p99_start_wait_ms": percentile(&start_wait, 0.99),
        "grouped_commits": commits,
        "commit_transactions": groups,
    });
    println!(
        "  {n:>6} {:>5} {seconds:>9.1} {:>11.0} {:>13.0} {:>9.0} {:>9.0} {:>9.0} {peak:>9.0} {:>9.1}",
        if succeeded as usize == n { "yes" } else { "NO" },
        plugin_calls as f64 / seconds,
        transitions.len() as f64 / seconds,
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        percentile(&start_wait, 0.99),
        commits as f64 / groups.max(1) as f64,
    );
    result
}

fn main() {
    let sizes: Vec<usize> = std::env::var("UPSHIFT_FLEET_N")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| SIZES.to_vec());
    let parallel = std::env::var("UPSHIFT_FLEET_PARALLEL").ok().and_then(|v| v.parse().ok()).unwrap_or(PARALLEL);
    // Build the fixtures before anything is timed.
    fixtures::fixture("recorder");
    fixtures::fixture("threshold");
    println!();
    println!("N concurrent rollouts through the controller ({parallel} threads; 5 stages, 1 s bakes, SQLite)");
    println!(
        "  {:>6} {:>5} {:>9} {:>11} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "N",
        "all?",
        "seconds",
        "calls/s",
        "transitions/s",
        "p50 late",
        "p99 late",
        "p99 start",
        "peak RSS",
        "per group"
    );
    println!(
        "  {:>6} {:>5} {:>9} {:>11} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "", "", "", "", "ms", "ms", "wait ms", "MiB", "commits"
    );
    let results: Vec<Value> = sizes.iter().map(|&n| run(n, parallel)).collect();
    let out = fixtures::root().join("target").join("upshift-bench").join("fleet.json");
    std::fs::write(&out, serde_json::to_string_pretty(&results).expect("json")).expect("write fleet.json");
    println!("wrote {}", out.display());
}
