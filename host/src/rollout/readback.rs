//! Check, don't believe: what a target says an `apply`, `rollback` or `finalize` did is compared
//! with what `observe` reads back, and what a rollback may undo is decided from the target's own
//! state, not from the plan alone. Pure functions of the plan and the observations.

use super::plan::Plan;
use crate::runtime::{Change, Observation};

/// What a rollback must undo, read from the target before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// Units of the applied stages whose version differs from what the target reported before the
    /// rollout: only these were changed by it (or may have been, part-way).
    pub units: Vec<String>,
    /// The traffic weight differs from the one found before the rollout, or the plan began with a
    /// preview stage (whose route `observe` cannot show).
    pub weight: bool,
}

impl Undo {
    pub fn is_nothing(&self) -> bool {
        self.units.is_empty() && !self.weight
    }
}

/// The version `observation` reports for `unit`; `None` inside when it reports the unit with no
/// version, `None` outside when it does not report the unit at all.
fn version_of<'o>(observation: &'o Observation, unit: &str) -> Option<Option<&'o str>> {
    observation.units.iter().find(|u| u.unit == unit).map(|u| u.version.as_deref())
}

fn shown(v: Option<Option<&str>>) -> String {
    match v {
        None => "not reported".into(),
        Some(None) => "at no version".into(),
        Some(Some(v)) => format!("at {v}"),
    }
}

fn weight_shown(w: Option<u8>) -> String {
    w.map_or_else(|| "no weight".into(), |w| format!("weight {w}"))
}

/// The weight a rollback restores: the one the target reported before the rollout (0 if none).
pub fn weight_before(plan: &Plan) -> u8 {
    plan.observed_weight.unwrap_or(0)
}

/// What a rollback of stages `0..=through` must undo, given what the target reports now. A plan
/// stored before the rollout's first observation was kept (older upshift) undoes every unit of the
/// applied stages, as it used to.
pub fn undo(plan: &Plan, through: usize, now: &Observation) -> Undo {
    let candidates = plan.units_through(through);
    let units = if plan.observed.is_empty() {
        candidates
    } else {
        candidates
            .into_iter()
            .filter(|unit| {
                let before = plan.observed.iter().find(|u| &u.unit == unit).and_then(|u| u.version.as_deref());
                version_of(now, unit) != Some(before)
            })
            .collect()
    };
    let previewed = super::plan::is_preview(&plan.stages);
    Undo { units, weight: plan.traffic_split && (now.weight != plan.observed_weight || previewed) }
}

/// Checks that every unit in `units` is at `version` and, when given, the weight is `weight`.
fn expect(observation: &Observation, units: &[String], version: &str, weight: Option<u8>) -> Result<(), String> {
    let mut wrong: Vec<String> = units
        .iter()
        .filter_map(|unit| {
            let v = version_of(observation, unit);
            (v != Some(Some(version))).then(|| format!("unit {unit} is {} (expected {version})", shown(v)))
        })
        .collect();
    const SHOWN: usize = 5;
    if wrong.len() > SHOWN {
        let more = wrong.len() - SHOWN;
        wrong.truncate(SHOWN);
        wrong.push(format!("and {more} more"));
    }
    if let Some(w) = weight
        && observation.weight != Some(w)
    {
        wrong.push(format!("{} (expected {w})", weight_shown(observation.weight)));
    }
    if wrong.is_empty() { Ok(()) } else { Err(format!("observe shows {}", wrong.join(", "))) }
}

/// After `apply` of `stage`: every unit of stages `0..=stage` at `to`, and the stage's weight.
pub fn after_apply(plan: &Plan, stage: usize, to: &str, observation: &Observation) -> Result<(), String> {
    let weight = plan.weight_through(stage).filter(|_| plan.traffic_split);
    expect(observation, &plan.units_through(stage), to, weight)
}

/// After a `rollback` of `units`: each back at `from`, and the weight back where it was before the
/// rollout when it had moved.
pub fn after_rollback(plan: &Plan, undo: &Undo, from: &str, observation: &Observation) -> Result<(), String> {
    expect(observation, &undo.units, from, undo.weight.then(|| weight_before(plan)))
}

/// After `finalize`: every unit at `to`, and all traffic (100) on a traffic-split target.
pub fn after_finalize(plan: &Plan, to: &str, observation: &Observation) -> Result<(), String> {
    expect(observation, &plan.units, to, plan.traffic_split.then_some(100))
}

/// Where the target's own report of a call disagrees with what `observe` read back: the report is
/// recorded, the observation is what counts.
pub fn change_disagrees(change: &Change, observation: &Observation) -> Option<String> {
    let mut differences: Vec<String> = change
        .units
        .iter()
        .filter_map(|c| {
            let seen = version_of(observation, &c.unit);
            (seen != Some(c.version.as_deref())).then(|| {
                format!("unit {} reported {} but observed {}", c.unit, shown(Some(c.version.as_deref())), shown(seen))
            })
        })
        .take(5)
        .collect();
    if let Some(w) = change.weight
        && observation.weight != Some(w)
    {
        differences.push(format!("weight reported {w} but observed {}", weight_shown(observation.weight)));
    }
    (!differences.is_empty()).then(|| format!("the target's report disagrees with observe: {}", differences.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Context, FailurePolicy};
    use crate::rollout::plan::{PlannedStage, UnitVersion as Seen};
    use crate::runtime::UnitVersion;

    fn stage(name: &str, units: &[&str], weight: Option<u8>) -> PlannedStage {
        PlannedStage {
            name: name.into(),
            weight,
            units: units.iter().map(|u| u.to_string()).collect(),
            bake_seconds: 0,
            verify: true,
            approval: false,
            approval_reason: None,
        }
    }

    /// Units a, b, c at 1 before the rollout (c at 3: drifted), stages [a] then [b, c].
    fn plan(traffic_split: bool) -> Plan {
        let seen = |u: &str, v: &str| Seen { unit: u.into(), version: Some(v.into()) };
        Plan {
            stages: vec![stage("canary", &["a"], traffic_split.then_some(10)), stage("rest", &["b", "c"], None)],
            context: Context { stages: vec![], policy: FailurePolicy::default(), rounds: 1, round_interval_seconds: 0 },
            traffic_split,
            units: vec!["a".into(), "b".into(), "c".into()],
            irreversible: vec![],
            allow_unsigned: false,
            dev: false,
            observed: vec![seen("a", "1"), seen("b", "1"), seen("c", "3")],
            observed_weight: traffic_split.then_some(0),
            unstaged: vec![],
            max_bake_seconds: 60,
        }
    }

    fn now(units: &[(&str, &str)], weight: Option<u8>) -> Observation {
        Observation {
            units: units
                .iter()
                .map(|(u, v)| UnitVersion { unit: u.to_string(), version: Some(v.to_string()) })
                .collect(),
            weight,
            irreversible: vec![],
        }
    }

    #[test]
    fn a_rollback_undoes_only_units_whose_version_changed() {
        // b moved part-way through stage 2; c was at 3 before the rollout and still is.
        let undo = undo(&plan(false), 1, &now(&[("a", "2"), ("b", "2"), ("c", "3")], None));
        assert_eq!(undo, Undo { units: vec!["a".into(), "b".into()], weight: false });
        let nothing = super::undo(&plan(false), 1, &now(&[("a", "1"), ("b", "1"), ("c", "3")], None));
        assert!(nothing.is_nothing());
    }

    #[test]
    fn a_rollback_undoes_the_weight_only_when_it_moved() {
        assert!(undo(&plan(true), 0, &now(&[("a", "1")], Some(10))).weight);
        assert!(!undo(&plan(true), 0, &now(&[("a", "1")], Some(0))).weight);
    }

    #[test]
    fn a_rollback_through_a_preview_stage_is_always_sent() {
        let mut blue_green = plan(true);
        blue_green.stages = vec![stage("preview", &[], Some(0)), stage("switch", &[], Some(100))];
        // The weight is back at 0, but the preview route (which observe cannot show) may be set.
        let undo = undo(&blue_green, 0, &now(&[], Some(0)));
        assert!(undo.weight && !undo.is_nothing(), "{undo:?}");
    }

    #[test]
    fn an_apply_that_did_not_take_is_named() {
        let p = plan(true);
        assert_eq!(after_apply(&p, 0, "2", &now(&[("a", "2")], Some(10))), Ok(()));
        let err = after_apply(&p, 0, "2", &now(&[("a", "1")], Some(0))).unwrap_err();
        assert_eq!(err, "observe shows unit a is at 1 (expected 2), weight 0 (expected 10)");
        let err = after_apply(&p, 1, "2", &now(&[("a", "2"), ("b", "2")], Some(10))).unwrap_err();
        assert_eq!(err, "observe shows unit c is not reported (expected 2)");
    }

    #[test]
    fn finalize_needs_every_unit_and_all_traffic() {
        let p = plan(true);
        assert!(after_finalize(&p, "2", &now(&[("a", "2"), ("b", "2"), ("c", "2")], Some(100))).is_ok());
        let err = after_finalize(&p, "2", &now(&[("a", "2"), ("b", "2"), ("c", "2")], Some(50))).unwrap_err();
        assert!(err.contains("weight 50 (expected 100)"), "{err}");
    }

    #[test]
    fn a_rollback_that_did_not_take_is_named() {
        let p = plan(true);
        let u = Undo { units: vec!["a".into()], weight: true };
        assert!(after_rollback(&p, &u, "1", &now(&[("a", "1")], Some(0))).is_ok());
        let err = after_rollback(&p, &u, "1", &now(&[("a", "2")], Some(10))).unwrap_err();
        assert_eq!(err, "observe shows unit a is at 2 (expected 1), weight 10 (expected 0)");
    }

    #[test]
    fn a_report_that_disagrees_with_observe_is_noted() {
        let change = Change {
            message: "done".into(),
            weight: Some(10),
            units: vec![UnitVersion { unit: "a".into(), version: Some("2".into()) }],
        };
        assert_eq!(change_disagrees(&change, &now(&[("a", "2")], Some(10))), None);
        let note = change_disagrees(&change, &now(&[("a", "1")], Some(0))).unwrap();
        assert!(
            note.contains("unit a reported at 2 but observed at 1") && note.contains("weight reported 10"),
            "{note}"
        );
    }
}
