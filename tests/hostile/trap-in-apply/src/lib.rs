//! Hostile target: moves the first unit of the stage (recorded in its state, which `observe`
//! reports honestly), then traps (panics) in the middle of apply. Rollback works, so the host can
//! undo what the rollout began, and only that.

use upshift_sdk::{
    Capabilities, Change, Description, NoConfig, Observation, Operation, PluginError, Target, UnitVersion, state,
};

pub struct Crash;

impl Target for Crash {
    type Config = NoConfig;

    fn describe() -> Description {
        Description {
            name: "trap-in-apply".into(),
            version: "0.1.0".into(),
            summary: "traps in the middle of apply".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(_: &NoConfig, from: String, _: String) -> Result<Observation, PluginError> {
        let units = ["u1", "u2"]
            .map(|u| UnitVersion { unit: u.into(), version: Some(state::get(u).unwrap_or_else(|| from.clone())) })
            .into();
        Ok(Observation { units, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, _: &NoConfig) -> Result<Change, PluginError> {
        if let Some(first) = op.units.first() {
            state::set(first, &op.to_version)?;
        }
        panic!("hostile: trapping in the middle of apply {}", op.id);
    }

    fn rollback(op: Operation, _: &NoConfig) -> Result<Change, PluginError> {
        for u in &op.units {
            state::remove(u);
        }
        Ok(Change { message: format!("rolled back {}", op.units.join(",")), weight: None, units: vec![] })
    }

    fn finalize(_: Operation, _: &NoConfig) -> Result<Change, PluginError> {
        Err(PluginError::internal("never reached"))
    }
}

upshift_sdk::export_target!(Crash);
