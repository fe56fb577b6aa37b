//! What happens to a rollout: outcomes of the outstanding command, and operators' controls.

use serde::{Deserialize, Serialize};

/// The strategy's answer to [`crate::engine::Command::Decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "value", rename_all = "kebab-case")]
pub enum Decision {
    Continue,
    ExtendBake(u64),
    Hold(String),
    RollBack(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Start,
    ApplyOk,
    ApplyError {
        message: String,
        retryable: bool,
    },
    /// The bake or round interval is over.
    TimerElapsed,
    VerdictPass,
    VerdictFail {
        reason: String,
    },
    VerdictInconclusive {
        reason: String,
    },
    /// No judgement could be made (every verifier of the round errored, or one did).
    /// `retryable` is false when a retry cannot succeed (a verifier's `invalid-config`): the
    /// error policy then acts at once instead of after `max_consecutive_errors`.
    VerifyError {
        message: String,
        #[serde(default = "retryable_by_default")]
        retryable: bool,
    },
    Decided {
        decision: Decision,
    },
    /// The strategy's decision errored; `retryable` as for [`Event::VerifyError`].
    DecideError {
        message: String,
        #[serde(default = "retryable_by_default")]
        retryable: bool,
    },
    Approve,
    /// Stop at the next stage boundary; `reason` says who or what asked (default: an operator).
    Pause {
        #[serde(default)]
        reason: Option<String>,
    },
    Resume,
    /// An operator asked to stop and roll back.
    Abort {
        reason: String,
    },
    /// Something other than an operator asked to roll back.
    RollbackRequested {
        reason: String,
    },
    /// The rollout ran past a deadline (a window closed, an approval never came).
    DeadlineExceeded {
        what: String,
    },
    RollbackOk,
    RollbackError {
        message: String,
        retryable: bool,
    },
    FinalizeOk,
    FinalizeError {
        message: String,
        retryable: bool,
    },
    /// The outstanding apply, rollback or finalize answered as done, but reading the target back
    /// shows it did not hold (units or weight not where the call should have left them).
    Drift {
        message: String,
    },
}

/// Events recorded before `retryable` existed on verify and decide errors counted toward the retries.
fn retryable_by_default() -> bool {
    true
}

impl Event {
    /// The kebab-case name shown in history.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::ApplyOk => "apply-ok",
            Event::ApplyError { .. } => "apply-error",
            Event::TimerElapsed => "timer-elapsed",
            Event::VerdictPass => "verdict-pass",
            Event::VerdictFail { .. } => "verdict-fail",
            Event::VerdictInconclusive { .. } => "verdict-inconclusive",
            Event::VerifyError { .. } => "verify-error",
            Event::Decided { .. } => "decided",
            Event::DecideError { .. } => "decide-error",
            Event::Approve => "approve",
            Event::Pause { .. } => "pause",
            Event::Resume => "resume",
            Event::Abort { .. } => "abort",
            Event::RollbackRequested { .. } => "rollback-requested",
            Event::DeadlineExceeded { .. } => "deadline-exceeded",
            Event::RollbackOk => "rollback-ok",
            Event::RollbackError { .. } => "rollback-error",
            Event::FinalizeOk => "finalize-ok",
            Event::FinalizeError { .. } => "finalize-error",
            Event::Drift { .. } => "drift",
        }
    }

    /// Whether this event is the outcome of the outstanding command (as opposed to a control).
    pub fn is_outcome(&self) -> bool {
        !matches!(
            self,
            Event::Start
                | Event::Approve
                | Event::Pause { .. }
                | Event::Resume
                | Event::Abort { .. }
                | Event::RollbackRequested { .. }
                | Event::DeadlineExceeded { .. }
        )
    }
}
