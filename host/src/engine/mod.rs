//! The rollout engine: a pure state machine (`(state, event) -> (state, commands)`, no I/O, no
//! clock, no async) and the plan it runs against. The driver, the store and the CLI sit around it.

mod command;
mod event;
mod machine;
mod phase;
mod plan;

pub use command::Command;
pub use event::{Decision, Event};
pub use machine::{OPERATOR_PAUSE, State, Transition, TransitionError, start};
pub use phase::Phase;
pub use plan::{
    Context, DEFAULT_MAX_BAKE_SECONDS, DEFAULT_MAX_CONSECUTIVE_ERRORS, FailurePolicy, MAX_BAKE_SECONDS,
    MAX_VERIFICATION_ROUNDS, MIN_CONSECUTIVE_ERRORS, OnError, OnFail, OnInconclusive, StagePlan,
};
