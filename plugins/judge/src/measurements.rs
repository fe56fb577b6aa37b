//! The verdict's measurements, so `history` and the dashboard show why: the score, each metric's
//! classification (value: 0 Pass, 1 High, −1 Low, 2 Nodata, 3 NodataFail, 4 Error; the unit names
//! it), its estimate and interval, effect size, Mann–Whitney p, the distribution test's gap and p,
//! and the scores of groups of several metrics. The host keeps at most 64 measurements a verdict:
//! past that, details go first (those of passing metrics before the others), never a metric's
//! classification, and the reason says how many were left out.

use upshift_sdk::{Measurement, Verdict};

use crate::classify::{Classification, Label};
use crate::config::{Config, EffectMeasure};
use crate::judgement::Judged;
use crate::stats::ks::Ks;

/// The host's bound on measurements per verdict.
pub const MAX_MEASUREMENTS: usize = 64;

/// How much a measurement is worth keeping, most first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Keep {
    Always,
    Group,
    FailingDetail,
    PassingDetail,
}

pub fn verdict(config: &Config, judged: &Judged) -> Verdict {
    let mut all: Vec<(Keep, Measurement)> = vec![(Keep::Always, m("score", judged.score.value, ""))];
    for g in judged.score.groups.iter().filter(|g| g.metrics > 1) {
        all.push((Keep::Group, m(&format!("group.{}", g.name), g.score, if g.no_data { "no data" } else { "" })));
    }
    for (metric, class) in config.metrics.iter().zip(&judged.classes) {
        all.push((Keep::Always, m(&format!("{}.class", metric.name), class.label.code(), class.label.name())));
        let keep = if class.label == Label::Pass { Keep::PassingDetail } else { Keep::FailingDetail };
        let unit = metric.unit.as_deref().unwrap_or("");
        for (suffix, value, unit) in details(class, metric.effect_size.measure, unit) {
            all.push((keep, m(&format!("{}.{suffix}", metric.name), value, unit)));
        }
    }
    let mut ranked: Vec<usize> = (0..all.len()).collect();
    ranked.sort_by_key(|&i| all[i].0);
    let mut kept: Vec<usize> = ranked.into_iter().take(MAX_MEASUREMENTS).collect();
    kept.sort_unstable();
    let left_out = all.len() - kept.len();
    let mut reason = judged.decision.reason.clone();
    if left_out > 0 {
        reason.push_str(&format!(" ({left_out} measurements left out: the host keeps {MAX_MEASUREMENTS})"));
    }
    let measurements = kept.into_iter().map(|i| all[i].1.clone()).collect();
    Verdict { outcome: judged.decision.outcome, reason, measurements }
}

fn m(name: &str, value: f64, unit: &str) -> Measurement {
    Measurement { name: name.to_string(), value, unit: (!unit.is_empty()).then(|| unit.to_string()) }
}

/// A metric's numbers, each only when it was computed (and is a number).
fn details<'a>(c: &Classification, measure: EffectMeasure, unit: &'a str) -> Vec<(&'static str, f64, &'a str)> {
    let mut out = Vec::new();
    if let Some(s) = c.shift {
        out.extend([("estimate", s.estimate, unit), ("lower", s.lower, unit), ("upper", s.upper, unit)]);
    }
    if let Some(e) = c.effect.filter(|e| !e.is_nan()) {
        out.push(("effect", e, if measure == EffectMeasure::Cles { "CLES" } else { "mean ratio" }));
    }
    if let Some(p) = c.p {
        out.push(("mw_p", p, "p"));
    }
    if let Some(Ks { statistic, p, .. }) = c.distribution {
        out.extend([("ks_d", statistic, "D"), ("ks_p", p, "p")]);
    }
    out
}
