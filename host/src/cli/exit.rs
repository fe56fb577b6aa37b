//! The exit codes of `upshift`, documented in README: scripts branch on them.

use std::process::ExitCode;

use upshift::runtime::LoadError;

/// The command did what was asked (for `run`: the rollout succeeded).
pub const SUCCESS: u8 = 0;
/// Something went wrong that is not the input's fault (I/O, a plugin crash outside a rollout).
pub const FAILURE: u8 = 1;
/// The input was invalid: a malformed spec, an unknown or refused plugin, an unknown rollout id.
pub const INVALID_INPUT: u8 = 2;

/// Maps an error to its exit code: refused input is [`INVALID_INPUT`], anything else [`FAILURE`].
pub fn from_error(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.downcast_ref::<LoadError>().is_some()) {
        ExitCode::from(INVALID_INPUT)
    } else {
        ExitCode::from(FAILURE)
    }
}
