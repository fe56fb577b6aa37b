//! The phases of a rollout, named in kebab-case wherever they are shown.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Created, not started.
    Pending,
    /// The current stage's apply is outstanding.
    Applying,
    /// Waiting out a bake (or the interval before the next verification round).
    Baking,
    /// A verification round, or the strategy's decision, is outstanding.
    Verifying,
    /// Holding for `upshift approve` before the current stage (or finalize).
    AwaitingApproval,
    /// Held by an operator or by the failure policy; `upshift resume` continues.
    Paused,
    /// Promoting the new version fully.
    Finalizing,
    Succeeded,
    /// Undoing every stage that was applied.
    RollingBack,
    RolledBack,
    /// A rollback itself failed: a human must act; the state says what is left half-done.
    Failed,
}

impl Phase {
    pub const ALL: [Phase; 11] = [
        Phase::Pending,
        Phase::Applying,
        Phase::Baking,
        Phase::Verifying,
        Phase::AwaitingApproval,
        Phase::Paused,
        Phase::Finalizing,
        Phase::Succeeded,
        Phase::RollingBack,
        Phase::RolledBack,
        Phase::Failed,
    ];

    /// No event moves a rollout out of a terminal phase.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::RolledBack | Phase::Failed)
    }

    /// Waiting for a human: `upshift run --no-wait` exits here.
    pub fn needs_human(self) -> bool {
        matches!(self, Phase::Paused | Phase::AwaitingApproval)
    }

    /// The phase `name` names (`rolled-back`), as records, the journal and the API write it.
    pub fn named(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Applying => "applying",
            Phase::Baking => "baking",
            Phase::Verifying => "verifying",
            Phase::AwaitingApproval => "awaiting-approval",
            Phase::Paused => "paused",
            Phase::Finalizing => "finalizing",
            Phase::Succeeded => "succeeded",
            Phase::RollingBack => "rolling-back",
            Phase::RolledBack => "rolled-back",
            Phase::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_kebab_case_names() {
        for phase in Phase::ALL {
            let json = serde_json::to_string(&phase).unwrap();
            assert_eq!(json, format!("\"{}\"", phase.name()));
        }
    }
}
