//! One metric's classification, in the order Kayenta's NetflixACAJudge and MannWhitneyClassifier
//! apply their rules, plus the distribution test (beyond Kayenta): no data; too few samples (this
//! judge's rule); identical series; a single value; the Mann–Whitney interval against the tolerance
//! band and the effect-size gate; the distribution test (which can turn a Pass into High or Low,
//! past the same effect-size gate); the critical rules.

use crate::config::{Direction, DistributionTest, EffectGate, EffectMeasure};
use crate::prepare::{NanStrategy, prepare};
use crate::stats::hodges_lehmann::{self, Shift};
use crate::stats::ks::{self, Alternative, Ks};
use crate::stats::{StatsError, effect, mann_whitney, sorted_finite};

/// What the classification of one metric needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub direction: Direction,
    pub nan: NanStrategy,
    /// Remove outliers with this IQR factor.
    pub outlier_factor: Option<f64>,
    pub critical: bool,
    pub must_have_data: bool,
    pub effect: EffectGate,
    pub distribution: DistributionTest,
    pub alpha: f64,
    pub min_distance: f64,
    /// The judge's: interval confidence, tolerance, samples needed a side.
    pub confidence: f64,
    pub tolerance: f64,
    pub min_samples: usize,
}

/// Kayenta's metric classifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Pass,
    High,
    Low,
    /// No data: left out of the score (unless critical); half the metrics or more without data
    /// forces the score to 0.
    Nodata,
    /// No data for a metric that must have data: counts as a failed metric.
    NodataFail,
    /// The classification could not be made: left out of the score.
    Error,
}

impl Label {
    pub fn name(self) -> &'static str {
        match self {
            Label::Pass => "Pass",
            Label::High => "High",
            Label::Low => "Low",
            Label::Nodata => "Nodata",
            Label::NodataFail => "NodataFail",
            Label::Error => "Error",
        }
    }

    /// The value a measurement records for it.
    pub fn code(self) -> f64 {
        match self {
            Label::Pass => 0.0,
            Label::High => 1.0,
            Label::Low => -1.0,
            Label::Nodata => 2.0,
            Label::NodataFail => 3.0,
            Label::Error => 4.0,
        }
    }
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    NoData,
    TooFewSamples,
    Identical,
    SingleValue,
    MannWhitney,
    Distribution,
    Error,
}

/// One metric's classification and what it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub label: Label,
    /// A critical failure: forces the score to 0.
    pub critical: bool,
    pub rule: Rule,
    /// One phrase, for the verdict's reason.
    pub reason: String,
    /// Samples compared (after NaN and outlier handling): baseline, canary.
    pub samples: (usize, usize),
    /// Hodges–Lehmann estimate and interval, canary − baseline.
    pub shift: Option<Shift>,
    /// The Mann–Whitney p-value.
    pub p: Option<f64>,
    /// The effect size of the configured measure (NaN when undefined).
    pub effect: Option<f64>,
    pub distribution: Option<Ks>,
}

impl Classification {
    fn new(label: Label, rule: Rule, reason: impl Into<String>, samples: (usize, usize)) -> Self {
        Classification {
            label,
            critical: false,
            rule,
            reason: reason.into(),
            samples,
            shift: None,
            p: None,
            effect: None,
            distribution: None,
        }
    }
}

/// Classifies a metric from its raw baseline and canary samples (NaN allowed).
pub fn classify(baseline: &[f64], canary: &[f64], rules: &Rules) -> Classification {
    let b = prepare(baseline, rules.nan, rules.outlier_factor);
    let c = prepare(canary, rules.nan, rules.outlier_factor);
    let counts = (b.len(), c.len());
    let (b, c) = match (sorted_finite(&b), sorted_finite(&c)) {
        (Ok(b), Ok(c)) => (b, c),
        _ => return Classification::new(Label::Error, Rule::Error, "a sample is infinite", counts),
    };
    if b.is_empty() || c.is_empty() {
        if rules.nan == NanStrategy::Replace {
            // Kayenta: with NaN meaning 0, a series that reported nothing had nothing happen.
            return Classification::new(Label::Pass, Rule::NoData, "no data (none means nothing happened)", counts);
        }
        return no_data(rules, format!("no data ({} baseline, {} canary samples)", b.len(), c.len()), counts);
    }
    if b.len() < rules.min_samples || c.len() < rules.min_samples {
        let why =
            format!("too few samples ({} baseline, {} canary; {} needed a side)", b.len(), c.len(), rules.min_samples);
        let mut out = no_data(rules, why, counts);
        out.rule = Rule::TooFewSamples;
        return out;
    }
    if b == c {
        return Classification::new(Label::Pass, Rule::Identical, "the baseline and canary data are identical", counts);
    }
    if b[0] == b[b.len() - 1] && c[0] == c[c.len() - 1] && b[0] == c[0] {
        return Classification::new(Label::Pass, Rule::SingleValue, "one value throughout", counts);
    }
    let mut out = match compare(&b, &c, rules) {
        Ok(out) => out,
        Err(e) => return Classification::new(Label::Error, Rule::Error, e.to_string(), counts),
    };
    out.samples = counts;
    if rules.critical {
        let effect = out.effect.unwrap_or(f64::NAN);
        let gate = &rules.effect;
        out.critical = match out.label {
            Label::High => effect.is_nan() || effect >= gate.critical_increase,
            Label::Low => effect.is_nan() || effect <= gate.critical_decrease,
            _ => false,
        };
    }
    out
}

/// Kayenta's no-data outcome: NodataFail for a metric that must have data (and is not critical),
/// otherwise Nodata, critical for a critical metric.
fn no_data(rules: &Rules, why: String, counts: (usize, usize)) -> Classification {
    let mut out = if rules.must_have_data && !rules.critical {
        Classification::new(Label::NodataFail, Rule::NoData, why, counts)
    } else {
        Classification::new(Label::Nodata, Rule::NoData, why, counts)
    };
    out.critical = rules.critical && out.label == Label::Nodata;
    out
}

/// The Mann–Whitney comparison, then the distribution test.
fn compare(b: &[f64], c: &[f64], rules: &Rules) -> Result<Classification, StatsError> {
    let shift = interval(b, c, rules.confidence)?;
    let p = mann_whitney::test(c, b)?.p;
    let effect = match rules.effect.measure {
        EffectMeasure::MeanRatio => effect::mean_ratio(b, c),
        EffectMeasure::Cles => effect::cles(b, c),
    };
    // The tolerance band: the interval must clear ±tolerance·|estimate| on the side of the change.
    let band = rules.tolerance * shift.estimate.abs();
    let gate = &rules.effect;
    let up = matches!(rules.direction, Direction::Increase | Direction::Either);
    let down = matches!(rules.direction, Direction::Decrease | Direction::Either);
    let high = up && shift.lower > band && (effect.is_nan() || effect >= gate.allowed_increase);
    let low = down && shift.upper < -band && (effect.is_nan() || effect <= gate.allowed_decrease);
    let label = if high {
        Label::High
    } else if low {
        Label::Low
    } else {
        Label::Pass
    };
    let confidence = rules.confidence * 100.0;
    let reason = format!(
        "shift {} [{}, {}] at {confidence}%, {} {}",
        short(shift.estimate),
        short(shift.lower),
        short(shift.upper),
        measure_name(gate.measure),
        short(effect)
    );
    let mut out = Classification::new(label, Rule::MannWhitney, reason, (b.len(), c.len()));
    out.shift = Some(shift);
    out.p = Some(p);
    out.effect = Some(effect);
    if rules.distribution == DistributionTest::Ks {
        let alternative = match rules.direction {
            Direction::Increase => Alternative::CanaryHigher,
            Direction::Decrease => Alternative::CanaryLower,
            Direction::Either => Alternative::TwoSided,
        };
        let test = ks::test(b, c, alternative)?;
        out.distribution = Some(test);
        let label = match alternative {
            Alternative::CanaryHigher => Label::High,
            Alternative::CanaryLower => Label::Low,
            Alternative::TwoSided if test.canary_higher => Label::High,
            Alternative::TwoSided => Label::Low,
        };
        // The same effect-size gate as the interval's: a significant but negligible change is not a
        // regression, whichever test saw it.
        let effect_allows = effect.is_nan()
            || if label == Label::High { effect >= gate.allowed_increase } else { effect <= gate.allowed_decrease };
        if out.label == Label::Pass && test.p < rules.alpha && test.statistic >= rules.min_distance && effect_allows {
            out.label = label;
            out.rule = Rule::Distribution;
            out.reason = format!(
                "distribution: KS {} {} (p {} < {}); {}",
                gap_name(alternative, test.canary_higher),
                short(test.statistic),
                short(test.p),
                short(rules.alpha),
                out.reason
            );
        }
    }
    Ok(out)
}

/// The Hodges–Lehmann shift; when each series holds one value (and they differ) the interval
/// has no variance to work with, and Kayenta adds Gaussian noise of 1e-5 of the value first: its
/// result tends, as that noise shrinks, to the difference of the two values at both ends, which is
/// what this judge uses (deterministic). One sample each stays an error, as in Kayenta.
fn interval(b: &[f64], c: &[f64], confidence: f64) -> Result<Shift, StatsError> {
    match hodges_lehmann::shift(c, b, confidence) {
        Err(StatsError::AllTied) if b.len() + c.len() > 2 => {
            let d = c[0] - b[0];
            Ok(Shift { estimate: d, lower: d, upper: d })
        }
        other => other,
    }
}

fn measure_name(m: EffectMeasure) -> &'static str {
    match m {
        EffectMeasure::MeanRatio => "mean ratio",
        EffectMeasure::Cles => "CLES",
    }
}

fn gap_name(alternative: Alternative, canary_higher: bool) -> &'static str {
    match (alternative, canary_higher) {
        (Alternative::CanaryHigher, _) => "D+",
        (Alternative::CanaryLower, _) => "D-",
        (Alternative::TwoSided, true) => "D (canary higher)",
        (Alternative::TwoSided, false) => "D (canary lower)",
    }
}

/// A number in at most 4 significant digits, for reasons.
pub fn short(v: f64) -> String {
    if v.is_nan() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
