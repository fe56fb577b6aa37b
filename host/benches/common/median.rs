//! The one timing loop the call benchmarks share: the median time per call over [`SAMPLES`]
//! samples, each timing `batch` calls after a warm-up of up to 100 calls.

use std::time::{Duration, Instant};

/// Samples per measurement; the median of their per-call times is reported.
pub const SAMPLES: usize = 31;

/// Median over [`SAMPLES`] samples of the time per call in nanoseconds, each sample timing `batch` calls.
pub fn median_ns(batch: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..batch.min(100) {
        f();
    }
    let mut samples: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .collect();
    samples.sort();
    samples[SAMPLES / 2].as_nanos() as f64
}
