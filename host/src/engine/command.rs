//! What the machine asks the driver to do. At most one command is outstanding at a time; it is
//! persisted with the state, so after a crash the driver re-sends exactly it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Call the target's `apply` for stage `stage`.
    Apply { stage: usize },
    /// Wait `seconds` (a bake, or the interval before the next verification round), then report
    /// `TimerElapsed`.
    Wait { seconds: u64 },
    /// Run verification round `round` (1-based) of stage `stage`.
    Verify { stage: usize, round: u32 },
    /// Ask the strategy's `next` what follows stage `stage`.
    Decide { stage: usize },
    /// Call the target's `rollback` for every stage up to and including `through`.
    Rollback { through: usize },
    /// Call the target's `finalize`.
    Finalize,
}

impl Command {
    /// The operation id of a mutating call: the same for every (re-)send of the same intended
    /// change, different for different changes.
    pub fn operation_id(&self, rollout_id: &str) -> Option<String> {
        match self {
            Command::Apply { stage } => Some(format!("{rollout_id}/apply/{stage}")),
            Command::Rollback { through } => Some(format!("{rollout_id}/rollback/{through}")),
            Command::Finalize => Some(format!("{rollout_id}/finalize")),
            Command::Wait { .. } | Command::Verify { .. } | Command::Decide { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_stable_and_distinct() {
        let apply = Command::Apply { stage: 2 };
        assert_eq!(apply.operation_id("r1"), apply.clone().operation_id("r1"));
        assert_ne!(apply.operation_id("r1"), Command::Apply { stage: 3 }.operation_id("r1"));
        assert_ne!(apply.operation_id("r1"), Command::Rollback { through: 2 }.operation_id("r1"));
        assert_eq!(Command::Wait { seconds: 1 }.operation_id("r1"), None);
    }
}
