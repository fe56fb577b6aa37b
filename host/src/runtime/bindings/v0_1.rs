//! The frozen `upshift:plugin@0.1.0` contract (`wit/v0.1.0/`), which plugins built before 0.2.0 use.
//!
//! Its shared types and host services are those of 0.2.0, unchanged: the generated code reuses the
//! current version's modules for them (`with`), and the runtime links the same host functions under
//! the 0.1.0 names. Only the records its exports define are generated again here; the conversions
//! below map them to and from the current ones, field by field, so a change to either side that is
//! not mirrored fails to compile.

pub mod target {
    super::super::world_sharing_host_services!("../wit/v0.1.0", "upshift:plugin/target-plugin@0.1.0");
}

pub mod verifier {
    super::super::world_sharing_host_services!("../wit/v0.1.0", "upshift:plugin/verifier-plugin@0.1.0");
}

pub mod strategy {
    super::super::world_sharing_host_services!("../wit/v0.1.0", "upshift:plugin/strategy-plugin@0.1.0");
}

use strategy::exports::upshift::plugin::strategy as old_strategy;
use target::exports::upshift::plugin::target as old_target;
use verifier::exports::upshift::plugin::verifier as old_verifier;

use super::{Capabilities, Change, Check, Decision, Description, Observation, Operation, Progress, UnitVersion};

/// What the host sends a 0.1.0 target.
pub fn operation(op: &Operation) -> old_target::Operation {
    let Operation { id, rollout_id, config, from_version, to_version, stage_index, stage_name, weight, units } =
        op.clone();
    old_target::Operation { id, rollout_id, config, from_version, to_version, stage_index, stage_name, weight, units }
}

/// What the host sends a 0.1.0 verifier.
pub fn check(check: &Check) -> old_verifier::Check {
    let Check { rollout_id, stage_index, stage_name, from_version, to_version, weight, units, attempt } = check.clone();
    old_verifier::Check { rollout_id, stage_index, stage_name, from_version, to_version, weight, units, attempt }
}

/// What the host sends a 0.1.0 strategy.
pub fn progress(progress: &Progress) -> old_strategy::Progress {
    let Progress { rollout, stages, stage_index, verdicts, bake_extensions } = progress.clone();
    old_strategy::Progress { rollout, stages, stage_index, verdicts, bake_extensions }
}

fn unit_versions(units: Vec<old_target::UnitVersion>) -> Vec<UnitVersion> {
    units.into_iter().map(|old_target::UnitVersion { unit, version }| UnitVersion { unit, version }).collect()
}

impl From<old_target::Description> for Description {
    fn from(d: old_target::Description) -> Self {
        let old_target::Description { name, version, summary, capabilities } = d;
        let old_target::Capabilities { traffic_split, unit_batches, rollback, irreversible } = capabilities;
        Description {
            name,
            version,
            summary,
            capabilities: Capabilities { traffic_split, unit_batches, rollback, irreversible },
        }
    }
}

impl From<old_target::Observation> for Observation {
    fn from(o: old_target::Observation) -> Self {
        let old_target::Observation { units, weight, irreversible } = o;
        Observation { units: unit_versions(units), weight, irreversible }
    }
}

impl From<old_target::Change> for Change {
    fn from(c: old_target::Change) -> Self {
        let old_target::Change { message, weight, units } = c;
        Change { message, weight, units: unit_versions(units) }
    }
}

impl From<old_strategy::Decision> for Decision {
    fn from(d: old_strategy::Decision) -> Self {
        match d {
            old_strategy::Decision::Continue => Decision::Continue,
            old_strategy::Decision::ExtendBake(s) => Decision::ExtendBake(s),
            old_strategy::Decision::Hold(why) => Decision::Hold(why),
            old_strategy::Decision::RollBack(why) => Decision::RollBack(why),
        }
    }
}
