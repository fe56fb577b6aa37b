//! What the host accepts from a strategy's plan and decisions and from a verifier's verdict: every
//! count and size bounded by a documented constant, and a plan that could move something unverified
//! refused before anything changes. A plugin's answer past a bound is refused with the bound named,
//! or (free text only) cut with a visible mark.

pub use crate::engine::{DEFAULT_MAX_BAKE_SECONDS, MAX_BAKE_SECONDS, MAX_VERIFICATION_ROUNDS};
use crate::engine::{Decision as EngineDecision, Event};
use crate::runtime::{Decision, Verdict};

/// Most stages a plan may have.
pub const MAX_STAGES: usize = 100;
/// Most units a target may report, and so most units one stage may move.
pub const MAX_UNITS: usize = 10_000;
/// Longest stage name, in bytes: names appear on every line of output.
pub const MAX_STAGE_NAME_BYTES: usize = 64;
/// Longest unit name, in bytes.
pub const MAX_UNIT_NAME_BYTES: usize = 256;
/// Most `extend-bake` decisions a strategy may make for one stage.
pub const MAX_BAKE_EXTENSIONS: u32 = 10;
/// Most measurements one verdict may carry.
pub const MAX_MEASUREMENTS: usize = 64;
/// Longest measurement name or unit, in bytes; longer ones are cut.
pub const MAX_MEASUREMENT_NAME_BYTES: usize = 128;
/// Longest free text (a verdict's reason, a decision's reason, a change's message), in bytes;
/// longer text is cut.
pub const MAX_REASON_BYTES: usize = 4 << 10;

/// `s` cut to at most `max` bytes, the cut marked (see [`crate::text::cut`]).
pub fn cut(s: String, max: usize) -> String {
    match crate::text::cut(&s, max) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(cut) => cut,
    }
}

/// Longest text an event carries into the rollout's state (its note, what is left half-done): the
/// reasons and errors of several plugins joined, each already bounded, cut once more.
pub const MAX_EVENT_TEXT_BYTES: usize = 8 << 10;

/// `event` with its text cut to [`MAX_EVENT_TEXT_BYTES`]: an event's text becomes the rollout's
/// note, stored with its state and rewritten on every transition.
pub fn event(event: Event) -> Event {
    let c = |s: String| cut(s, MAX_EVENT_TEXT_BYTES);
    match event {
        Event::ApplyError { message, retryable } => Event::ApplyError { message: c(message), retryable },
        Event::VerdictFail { reason } => Event::VerdictFail { reason: c(reason) },
        Event::VerdictInconclusive { reason } => Event::VerdictInconclusive { reason: c(reason) },
        Event::VerifyError { message, retryable } => Event::VerifyError { message: c(message), retryable },
        Event::DecideError { message, retryable } => Event::DecideError { message: c(message), retryable },
        Event::RollbackError { message, retryable } => Event::RollbackError { message: c(message), retryable },
        Event::FinalizeError { message, retryable } => Event::FinalizeError { message: c(message), retryable },
        Event::Drift { message } => Event::Drift { message: c(message) },
        Event::Decided { decision: EngineDecision::Hold(r) } => Event::Decided { decision: EngineDecision::Hold(c(r)) },
        Event::Decided { decision: EngineDecision::RollBack(r) } => {
            Event::Decided { decision: EngineDecision::RollBack(c(r)) }
        }
        other => other,
    }
}

/// A verdict within bounds: more than [`MAX_MEASUREMENTS`] measurements is refused (a verifier
/// that floods cannot be judged); reason, names and units are cut.
pub fn verdict(mut v: Verdict) -> Result<Verdict, String> {
    if v.measurements.len() > MAX_MEASUREMENTS {
        return Err(format!(
            "the verdict carries {} measurements; at most {MAX_MEASUREMENTS} are accepted",
            v.measurements.len()
        ));
    }
    v.reason = cut(v.reason, MAX_REASON_BYTES);
    for m in &mut v.measurements {
        m.name = cut(std::mem::take(&mut m.name), MAX_MEASUREMENT_NAME_BYTES);
        m.unit = m.unit.take().map(|u| cut(u, MAX_MEASUREMENT_NAME_BYTES));
    }
    Ok(v)
}

/// A strategy's decision after a stage within bounds: a bake extension past `max_bake_seconds` or
/// past [`MAX_BAKE_EXTENSIONS`] for the stage is refused; reasons are cut.
pub fn decision(d: Decision, extensions: u32, max_bake_seconds: u64) -> Result<Decision, String> {
    match d {
        Decision::ExtendBake(s) if u64::from(s) > max_bake_seconds => Err(format!(
            "the strategy asked to extend the bake by {s}s; the spec allows at most {max_bake_seconds}s \
             ([plan] max_bake_seconds)"
        )),
        Decision::ExtendBake(_) if extensions >= MAX_BAKE_EXTENSIONS => {
            Err(format!("the strategy asked to extend the bake of this stage more than {MAX_BAKE_EXTENSIONS} times"))
        }
        Decision::Hold(r) => Ok(Decision::Hold(cut(r, MAX_REASON_BYTES))),
        Decision::RollBack(r) => Ok(Decision::RollBack(cut(r, MAX_REASON_BYTES))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Measurement, Outcome};

    fn measured(n: usize) -> Verdict {
        let m = Measurement { name: "x".repeat(300), value: 1.0, unit: Some("ms".into()) };
        Verdict { outcome: Outcome::Pass, reason: "r".repeat(10_000), measurements: vec![m; n] }
    }

    #[test]
    fn a_verdict_is_cut_to_its_bounds() {
        let v = verdict(measured(MAX_MEASUREMENTS)).unwrap();
        assert!(v.reason.len() <= MAX_REASON_BYTES && v.reason.ends_with("more bytes]"), "{}", v.reason.len());
        let name = &v.measurements[0].name;
        assert!(name.len() <= MAX_MEASUREMENT_NAME_BYTES && name.ends_with("more bytes]"), "{name}");
        assert_eq!(v.measurements[0].unit.as_deref(), Some("ms"));
    }

    #[test]
    fn too_many_measurements_are_refused_with_the_bound() {
        let err = verdict(measured(MAX_MEASUREMENTS + 1)).unwrap_err();
        assert!(err.contains("65 measurements") && err.contains("at most 64"), "{err}");
    }

    #[test]
    fn event_text_is_cut() {
        let Event::VerifyError { message, .. } =
            event(Event::VerifyError { message: "e".repeat(1 << 20), retryable: true })
        else {
            panic!("the event changed kind");
        };
        assert!(message.len() <= MAX_EVENT_TEXT_BYTES && message.ends_with("more bytes]"));
        assert_eq!(event(Event::ApplyOk), Event::ApplyOk);
    }

    #[test]
    fn bake_extensions_are_bounded_in_length_and_number() {
        assert!(matches!(decision(Decision::ExtendBake(60), 0, 60), Ok(Decision::ExtendBake(60))));
        assert!(decision(Decision::ExtendBake(61), 0, 60).unwrap_err().contains("at most 60s"));
        let err = decision(Decision::ExtendBake(1), MAX_BAKE_EXTENSIONS, 60).unwrap_err();
        assert!(err.contains("more than 10 times"), "{err}");
        assert!(matches!(decision(Decision::Continue, 99, 0), Ok(Decision::Continue)));
    }
}
