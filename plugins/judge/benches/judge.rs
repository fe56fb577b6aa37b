//! What one judgement costs natively: 10 metrics of 1,000 baseline and 1,000 canary samples each,
//! every metric with the distribution test, from samples to the verdict with its measurements (the
//! work the plugin does once its samples are in). Prints the median of 31 timed samples and writes
//! target/upshift-bench/judge.json. The same judgement inside the Wasm plugin, through the host's
//! runtime, is `cargo bench -p upshift --bench judge`.
//!
//! Run: `cargo bench -p judge`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use judge::judgement::judge;
use judge::measurements::verdict;
use judge::source::Samples;
use judge::stats::{hodges_lehmann, ks, mann_whitney, sorted_finite};

const METRICS: usize = 10;
const SAMPLES_PER_SERIES: usize = 1_000;
/// Timed samples; the median is reported.
const TIMED: usize = 31;
/// Target of the issue: a verification's statistics within 20 ms on this machine.
const TARGET_MS: f64 = 20.0;

fn main() {
    let config = config();
    let samples: Vec<Samples> = (0..METRICS).map(|i| series(i as u64)).collect();
    let judged = judge(&config, &samples).expect("judge");
    let v = verdict(&config, &judged);
    println!("verdict: {:?}: {}", v.outcome, v.reason);

    let whole = median(|| {
        let judged = judge(black_box(&config), black_box(&samples)).expect("judge");
        black_box(verdict(&config, &judged));
    });
    let (b, c) = (sorted_finite(&samples[0].baseline).unwrap(), sorted_finite(&samples[0].canary).unwrap());
    let interval = median(|| {
        black_box(hodges_lehmann::shift(black_box(&c), black_box(&b), 0.98).unwrap());
    });
    let mw = median(|| {
        black_box(mann_whitney::test(black_box(&c), black_box(&b)).unwrap());
    });
    let distribution = median(|| {
        black_box(ks::test(black_box(&b), black_box(&c), ks::Alternative::CanaryHigher).unwrap());
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("judge, native: {METRICS} metrics × 2 × {SAMPLES_PER_SERIES} samples, median of {TIMED} runs");
    println!("  whole judgement (10 metrics) + verdict   {:>9.3} ms   (target ≤ {TARGET_MS} ms)", ms(whole));
    println!("  one metric: Hodges–Lehmann interval      {:>9.3} ms", ms(interval));
    println!("  one metric: Mann–Whitney p               {:>9.3} ms", ms(mw));
    println!("  one metric: KS (one-sided, exact p)      {:>9.3} ms", ms(distribution));

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/upshift-bench");
    std::fs::create_dir_all(&out).expect("create target/upshift-bench");
    let json = format!(
        "{{\n  \"metrics\": {METRICS},\n  \"samples_per_series\": {SAMPLES_PER_SERIES},\n  \"judge_ms\": {:.4},\n  \"hodges_lehmann_ms\": {:.4},\n  \"mann_whitney_ms\": {:.4},\n  \"ks_ms\": {:.4}\n}}\n",
        ms(whole),
        ms(interval),
        ms(mw),
        ms(distribution)
    );
    std::fs::write(out.join("judge.json"), json).expect("write judge.json");
    println!("wrote {}", out.join("judge.json").display());
}

fn config() -> judge::Config {
    let metrics: Vec<String> = (0..METRICS)
        .map(|i| {
            let direction = if i % 2 == 0 { "increase" } else { "either" };
            format!(r#"{{"name": "m{i}", "direction": "{direction}", "distribution": {{"test": "ks"}}}}"#)
        })
        .collect();
    let json = format!(r#"{{"file": "/bench.json", "metrics": [{}]}}"#, metrics.join(","));
    upshift_sdk::parse_config(&json).expect("config")
}

/// Normal samples (Box–Muller over xorshift), the canary of every third metric shifted.
fn series(seed: u64) -> Samples {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
    let shift = if seed.is_multiple_of(3) { 0.3 } else { 0.0 };
    Samples {
        baseline: (0..SAMPLES_PER_SERIES).map(|_| 100.0 + 10.0 * normal()).collect(),
        canary: (0..SAMPLES_PER_SERIES).map(|_| 100.0 + shift * 10.0 + 10.0 * normal()).collect(),
    }
}

/// Median wall time of one call over TIMED runs, after a warm-up.
fn median(mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..TIMED)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[TIMED / 2]
}
