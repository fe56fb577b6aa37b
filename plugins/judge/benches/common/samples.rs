//! The benches' workload, shared by the native bench (`plugins/judge/benches/judge.rs`) and the
//! Wasm one through the host's runtime (`host/benches/judge.rs`, which includes this file): 10
//! metrics of 1,000 baseline and 1,000 canary samples, normal noise, every third canary shifted by
//! 0.3 σ, every metric with the distribution test. Nothing but std, so both can include it.

#![allow(dead_code)]

pub const METRICS: usize = 10;
pub const SAMPLES_PER_SERIES: usize = 1_000;

/// Baseline and canary of metric `i`: Box–Muller over xorshift, seeded by `i`.
pub fn series(i: usize) -> (Vec<f64>, Vec<f64>) {
    let seed = i as u64;
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
    let shift = if seed.is_multiple_of(3) { 3.0 } else { 0.0 };
    let baseline = (0..SAMPLES_PER_SERIES).map(|_| 100.0 + 10.0 * normal()).collect();
    let canary = (0..SAMPLES_PER_SERIES).map(|_| 100.0 + shift + 10.0 * normal()).collect();
    (baseline, canary)
}

/// The judge's config (JSON) reading the samples from `file`.
pub fn config(file: &str) -> String {
    let metrics: Vec<String> = (0..METRICS)
        .map(|i| {
            let direction = if i % 2 == 0 { "increase" } else { "either" };
            format!(r#"{{"name": "m{i}", "direction": "{direction}", "distribution": {{"test": "ks"}}}}"#)
        })
        .collect();
    format!(r#"{{"file": "{file}", "metrics": [{}]}}"#, metrics.join(", "))
}

/// Every metric's samples as a replay file (JSON), as `record` writes it.
pub fn replay_file() -> String {
    let list = |values: &[f64]| values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(",");
    let entries: Vec<String> = (0..METRICS)
        .map(|i| {
            let (b, c) = series(i);
            format!(r#""m{i}": {{"baseline": [{}], "canary": [{}]}}"#, list(&b), list(&c))
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}
