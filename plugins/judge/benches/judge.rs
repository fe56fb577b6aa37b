//! What one judgement costs natively: 10 metrics of 1,000 baseline and 1,000 canary samples each
//! (`samples.rs`), every metric with the distribution test, from samples to the verdict with its
//! measurements; then the same verification as the plugin does it from a replay file (read, parse,
//! judge). Prints medians of 31 timed runs and writes target/upshift-bench/judge.json. The same
//! verification inside the Wasm plugin, through the host's runtime, is
//! `cargo bench -p upshift --bench judge`.
//!
//! Run: `cargo bench -p judge`.

#[path = "common/samples.rs"]
mod samples;

use std::hint::black_box;
use std::time::{Duration, Instant};

use judge::judgement::judge;
use judge::measurements::verdict;
use judge::source::Samples;
use judge::stats::{hodges_lehmann, ks, mann_whitney, sorted_finite};
use samples::{METRICS, SAMPLES_PER_SERIES};
use upshift_sdk::{Check, Verifier};

/// Timed runs; the median is reported.
const TIMED: usize = 31;
/// The target for one verification on this machine.
const TARGET_MS: f64 = 20.0;

fn main() {
    let dir = std::env::temp_dir().join(format!("judge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let file = dir.join("bench.json");
    std::fs::write(&file, samples::replay_file()).expect("write the samples");
    let config: judge::Config =
        upshift_sdk::parse_config(&samples::config(&file.to_string_lossy())).expect("the bench's config");
    let samples: Vec<Samples> = (0..METRICS)
        .map(|i| {
            let (baseline, canary) = samples::series(i);
            Samples { baseline, canary }
        })
        .collect();
    let v = verdict(&config, &judge(&config, &samples).expect("judge"));
    println!("verdict: {:?}: {}", v.outcome, v.reason);

    let whole = median(|| {
        let judged = judge(black_box(&config), black_box(&samples)).expect("judge");
        black_box(verdict(&config, &judged));
    });
    let from_file = median(|| {
        black_box(judge::Judge::verify(Check::example(), black_box(&config)).expect("verify"));
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
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("judge, native: {METRICS} metrics × 2 × {SAMPLES_PER_SERIES} samples, median of {TIMED} runs");
    println!("  judgement + verdict (10 metrics)          {:>9.3} ms   (target ≤ {TARGET_MS} ms)", ms(whole));
    println!("  verify from a replay file (read + parse)  {:>9.3} ms", ms(from_file));
    println!("  one metric: Hodges–Lehmann interval       {:>9.3} ms", ms(interval));
    println!("  one metric: Mann–Whitney p                {:>9.3} ms", ms(mw));
    println!("  one metric: KS (one-sided, exact p)       {:>9.3} ms", ms(distribution));

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/upshift-bench");
    std::fs::create_dir_all(&out).expect("create target/upshift-bench");
    let json = format!(
        "{{\n  \"metrics\": {METRICS},\n  \"samples_per_series\": {SAMPLES_PER_SERIES},\n  \"judge_ms\": {:.4},\n  \"verify_from_file_ms\": {:.4},\n  \"hodges_lehmann_ms\": {:.4},\n  \"mann_whitney_ms\": {:.4},\n  \"ks_ms\": {:.4}\n}}\n",
        ms(whole),
        ms(from_file),
        ms(interval),
        ms(mw),
        ms(distribution)
    );
    std::fs::write(out.join("judge.json"), json).expect("write judge.json");
    println!("wrote target/upshift-bench/judge.json");
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
