//! Running rollouts: preparing a plan from a spec (load plugins, observe the target, ask the
//! strategy), driving the state machine by carrying out its commands against the plugins and the
//! store, and applying operators' controls. This is where the pure engine meets I/O and time.

pub mod bounds;
mod control;
mod create;
pub mod dev;
mod entries;
mod judge;
mod mutate;
mod plan;
mod plugins;
pub mod preflight;
mod readback;
mod runner;
pub mod start;
pub mod view;
mod waits;

pub use control::{ControlError, control, control_journaled};
pub use create::{CreateError, create};
pub use plan::{Plan, PlanError, PlannedStage, UnitVersion, prepare};
pub use plugins::{PluginsError, RolloutPlugins};
pub use runner::{Halt, Reporter, RunError, RunOptions, Runner};
pub use waits::YIELD_WAITS_OVER;

/// Milliseconds since the Unix epoch from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
