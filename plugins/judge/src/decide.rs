//! The verdict from the score: Kayenta's ThresholdScoreClassifier (pass, marginal, fail) mapped to
//! upshift's outcomes, with the cases where the score cannot speak made inconclusive: too much
//! missing data (Kayenta scores 0 and fails; too sparse is not a regression), nothing judged at all,
//! and a metric whose classification failed (never a pass).

use upshift_sdk::Outcome;

use crate::classify::{Label, short};
use crate::score::{Forced, Score, Scored};

/// Kayenta's score classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreClass {
    Pass,
    Marginal,
    Fail,
}

/// ThresholdScoreClassifier: at least `pass` passes, at least `marginal` is marginal, below fails.
pub fn classify_score(score: f64, pass: f64, marginal: f64) -> ScoreClass {
    if score >= pass {
        ScoreClass::Pass
    } else if score >= marginal {
        ScoreClass::Marginal
    } else {
        ScoreClass::Fail
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// One line: why, then each metric that did not pass with its reason.
    pub reason: String,
}

pub fn decide(score: &Score, results: &[Scored<'_>], pass: f64, marginal: f64) -> Decision {
    let (outcome, why) = match &score.forced {
        Some(Forced::CriticalFailure { metric, label, .. }) => {
            (Outcome::Fail, format!("critical metric {metric} is {}: score 0", label.name()))
        }
        Some(Forced::TooMuchMissingData { nodata, of }) => {
            (Outcome::Inconclusive, format!("too sparse to judge: {nodata} of {of} metrics have no data (score 0)"))
        }
        None if score.groups.iter().all(|g| g.no_data) => {
            (Outcome::Inconclusive, "nothing to judge: no metric could be compared".to_string())
        }
        None => {
            let value = short(score.value);
            match classify_score(score.value, pass, marginal) {
                ScoreClass::Pass => match results.iter().find(|r| r.class.label == Label::Error) {
                    Some(r) => {
                        (Outcome::Inconclusive, format!("score {value} passes, but {} could not be classified", r.name))
                    }
                    None => (Outcome::Pass, format!("score {value} (pass at {pass})")),
                },
                ScoreClass::Marginal => (Outcome::Inconclusive, format!("score {value} is marginal (pass at {pass})")),
                ScoreClass::Fail => (Outcome::Fail, format!("score {value} is below {marginal}")),
            }
        }
    };
    Decision { outcome, reason: format!("{why}; {}", summary(results)) }
}

/// "latency High (its reason); errors Nodata (its reason); 3 passed: a, b, c".
fn summary(results: &[Scored<'_>]) -> String {
    let mut parts: Vec<String> = results
        .iter()
        .filter(|r| r.class.label != Label::Pass)
        .map(|r| format!("{} {} ({})", r.name, r.class.label.name(), r.class.reason))
        .collect();
    let passed: Vec<&str> = results.iter().filter(|r| r.class.label == Label::Pass).map(|r| r.name).collect();
    if !passed.is_empty() {
        parts.push(format!("{} passed: {}", passed.len(), passed.join(", ")));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Classification, Rule};
    use crate::score::score;

    fn class(label: Label, critical: bool) -> Classification {
        Classification {
            label,
            critical,
            rule: Rule::MannWhitney,
            reason: "why".into(),
            samples: (10, 10),
            shift: None,
            p: None,
            effect: None,
            distribution: None,
        }
    }

    fn decided(labels: &[(Label, bool)]) -> Decision {
        let classes: Vec<(String, Classification)> =
            labels.iter().enumerate().map(|(i, (l, c))| (format!("m{i}"), class(*l, *c))).collect();
        let results: Vec<Scored<'_>> = classes.iter().map(|(n, c)| Scored { name: n, group: n, class: c }).collect();
        decide(&score(&results, &[]), &results, 95.0, 75.0)
    }

    #[test]
    fn a_score_at_the_pass_threshold_passes() {
        assert_eq!(classify_score(95.0, 95.0, 75.0), ScoreClass::Pass);
        let d = decided(&[(Label::Pass, false); 3]);
        assert_eq!(d.outcome, Outcome::Pass);
        assert!(d.reason.starts_with("score 100 (pass at 95); 3 passed: m0, m1, m2"), "{}", d.reason);
    }

    #[test]
    fn a_score_between_marginal_and_pass_is_inconclusive() {
        assert_eq!(classify_score(80.0, 95.0, 75.0), ScoreClass::Marginal);
        let mut labels = vec![(Label::Pass, false); 4];
        labels.push((Label::High, false));
        assert_eq!(decided(&labels).outcome, Outcome::Inconclusive, "score 80");
    }

    #[test]
    fn a_score_below_marginal_fails() {
        assert_eq!(classify_score(74.99, 95.0, 75.0), ScoreClass::Fail);
        let d = decided(&[(Label::Pass, false), (Label::High, false)]);
        assert_eq!(d.outcome, Outcome::Fail);
        assert!(d.reason.contains("m1 High (why)"), "{}", d.reason);
    }

    #[test]
    fn a_critical_failure_fails() {
        let d = decided(&[(Label::Pass, false), (Label::Pass, false), (Label::Low, true)]);
        assert_eq!(d.outcome, Outcome::Fail);
        assert!(d.reason.starts_with("critical metric m2 is Low: score 0"), "{}", d.reason);
    }

    #[test]
    fn too_much_missing_data_is_inconclusive_not_a_failure() {
        let d = decided(&[(Label::Pass, false), (Label::Nodata, false)]);
        assert_eq!(d.outcome, Outcome::Inconclusive);
        assert!(d.reason.starts_with("too sparse to judge: 1 of 2"), "{}", d.reason);
    }

    #[test]
    fn nothing_judged_is_inconclusive() {
        let d = decided(&[(Label::Error, false), (Label::Error, false), (Label::Nodata, false)]);
        assert_eq!(d.outcome, Outcome::Inconclusive);
        assert!(d.reason.starts_with("nothing to judge"), "{}", d.reason);
    }

    #[test]
    fn a_metric_that_could_not_be_classified_never_lets_a_pass_through() {
        let d = decided(&[(Label::Pass, false), (Label::Pass, false), (Label::Error, false)]);
        assert_eq!(d.outcome, Outcome::Inconclusive);
        assert!(d.reason.contains("m2 could not be classified"), "{}", d.reason);
    }
}
