//! The exit codes of `upshift`, documented in README: scripts branch on them.

use std::process::ExitCode;

use upshift::engine::Phase;
use upshift::rollout::preflight::Problems;
use upshift::rollout::start::{Fault, StartError, invalid_config, plan_refused};
use upshift::rollout::{ControlError, CreateError, PlanError, PluginsError, RunError};
use upshift::runtime::{CallError, LoadError};
use upshift::serve::ServeError;
use upshift::serve::auth::TokenError;
use upshift::serve::client::ClientError;
use upshift::serve::config::ConfigError;
use upshift::spec::SpecError;
use upshift::store::StoreError;
use upshift::trust::{KeyError, TrustError};

/// The command did what was asked; for `run`/`resume`: the rollout succeeded.
pub const SUCCESS: u8 = 0;
/// Something went wrong that is not the input's fault (I/O, the store, a plugin crash outside a rollout).
pub const FAILURE: u8 = 1;
/// The input was invalid: a malformed spec, an unknown or refused plugin, a config a plugin refuses
/// (`invalid-config`, also while planning), a refused plan, an unknown rollout id, a control that
/// does not apply (e.g. `approve` on a rollout not awaiting approval).
pub const INVALID_INPUT: u8 = 2;
/// The rollout waits for a human: paused or awaiting approval (`run --no-wait`).
pub const NEEDS_HUMAN: u8 = 3;
/// The rollout ended rolled back.
pub const ROLLED_BACK: u8 = 4;
/// The rollout ended failed: its rollback failed, a human must repair what is half-done.
pub const FAILED: u8 = 5;

/// The exit code of `run`/`resume`/`abort` for the phase the rollout reached.
pub fn for_phase(phase: Phase) -> ExitCode {
    ExitCode::from(match phase {
        Phase::Succeeded => SUCCESS,
        Phase::RolledBack => ROLLED_BACK,
        Phase::Failed => FAILED,
        _ => NEEDS_HUMAN,
    })
}

/// Maps an error to its exit code: refused input is [`INVALID_INPUT`], anything else [`FAILURE`].
pub fn from_error(e: &anyhow::Error) -> ExitCode {
    let bad_id = |s: &StoreError| matches!(s, StoreError::UnknownRollout { .. } | StoreError::Missing { .. });
    let invalid = e.chain().any(|c| {
        c.is::<LoadError>()
            || c.is::<SpecError>()
            || c.is::<TrustError>()
            || c.is::<PluginsError>()
            || c.is::<Problems>()
            || c.is::<KeyError>()
            || c.is::<super::plugin::NoCache>()
            || c.is::<upshift::runtime::DeclareError>()
            || c.downcast_ref::<StoreError>().is_some_and(bad_id)
            || match c.downcast_ref::<ControlError>() {
                Some(ControlError::NotAllowed { .. }) => true,
                Some(ControlError::Store(s)) => bad_id(s),
                _ => false,
            }
            || match c.downcast_ref::<RunError>() {
                Some(RunError::Leased { .. } | RunError::Load(_) | RunError::Plugins(_) | RunError::Dev { .. }) => true,
                Some(RunError::Store(s)) => bad_id(s),
                _ => false,
            }
            || c.downcast_ref::<PlanError>().is_some_and(plan_refused)
            || matches!(c.downcast_ref::<CreateError>(), Some(CreateError::Plan(p)) if plan_refused(p))
            || c.downcast_ref::<CallError>().is_some_and(invalid_config)
            || c.downcast_ref::<StartError>().is_some_and(|s| s.fault() == Fault::Input)
            || c.is::<ConfigError>()
            || c.is::<super::NeedsServer>()
            || c.is::<super::remote::RemoteError>()
            || c.downcast_ref::<ClientError>().is_some_and(|e| e.refused() || matches!(e, ClientError::BadUrl(_)))
            || matches!(c.downcast_ref::<ServeError>(), Some(ServeError::NoTokens { .. }))
            || matches!(c.downcast_ref::<TokenError>(), Some(TokenError::BadName(_)))
            || matches!(c.downcast_ref::<StoreError>(), Some(StoreError::TokenExists { .. }))
    });
    ExitCode::from(if invalid { INVALID_INPUT } else { FAILURE })
}
