//! What the machine decides against and never changes: the planned stages and the failure policy.

use serde::{Deserialize, Serialize};

/// The error in a row of one action (apply, verify, decide, rollback, finalize) at which the failure
/// policy acts: the first `N - 1` are re-sent with backoff, the Nth is handed to the policy.
pub const DEFAULT_MAX_CONSECUTIVE_ERRORS: u32 = 3;
/// The smallest `max_consecutive_errors` a spec may give: 1 acts at the first error (no retry).
pub const MIN_CONSECUTIVE_ERRORS: u32 = 1;
/// Inconclusive verification rounds tolerated in one stage under `on_inconclusive = "retry"`.
pub const DEFAULT_MAX_INCONCLUSIVE: u32 = 3;
/// The largest value a spec may give `count` (verification rounds per stage), `max_inconclusive`
/// and `max_consecutive_errors`.
pub const MAX_VERIFICATION_ROUNDS: u32 = 100;
/// The longest bake (and bake extension) a strategy may ask for when the spec's `[plan]` does not
/// set `max_bake_seconds`: one day. Also the longest `interval_seconds` between verifications.
pub const DEFAULT_MAX_BAKE_SECONDS: u64 = 86_400;
/// The largest `max_bake_seconds` a spec may set: 30 days.
pub const MAX_BAKE_SECONDS: u64 = 30 * 86_400;

/// One stage as the machine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePlan {
    pub name: String,
    pub bake_seconds: u64,
    /// Run the verifiers after the bake.
    pub verify: bool,
    /// Hold for approval before applying; `approval_reason` says why (strategy, policy, irreversible change).
    pub approval: bool,
    pub approval_reason: Option<String>,
}

/// What a failed verification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFail {
    #[default]
    Rollback,
    Pause,
}

/// What an inconclusive verification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnInconclusive {
    #[default]
    Pause,
    Rollback,
    /// Verify again after the round interval; past `max_inconclusive` rounds, pause.
    Retry,
}

/// What too many consecutive verification errors do (errors are not failures: by default they hold
/// the rollout for a human rather than undo it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    #[default]
    Pause,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailurePolicy {
    pub on_fail: OnFail,
    pub on_inconclusive: OnInconclusive,
    pub on_error: OnError,
    pub max_inconclusive: u32,
    /// The policy acts at this error in a row of one action (see [`DEFAULT_MAX_CONSECUTIVE_ERRORS`]).
    pub max_consecutive_errors: u32,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            on_fail: OnFail::default(),
            on_inconclusive: OnInconclusive::default(),
            on_error: OnError::default(),
            max_inconclusive: DEFAULT_MAX_INCONCLUSIVE,
            max_consecutive_errors: DEFAULT_MAX_CONSECUTIVE_ERRORS,
        }
    }
}

/// Everything fixed for the life of a rollout that the machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub stages: Vec<StagePlan>,
    pub policy: FailurePolicy,
    /// Verification rounds a verified stage must pass (the largest `count` of the verifiers);
    /// 0 when the rollout has no verifiers.
    pub rounds: u32,
    /// Seconds between rounds (the largest `interval` of the verifiers).
    pub round_interval_seconds: u64,
}
