//! How the CLI shows rollouts to a human: progress lines as a rollout runs, times, stage labels.

use std::io::Write;
use std::time::Duration;

use upshift::engine::{Phase, State};
use upshift::rollout::{Plan, Reporter};
use upshift::store::{EntryKind, NewEntry};

/// A UTC timestamp (RFC 3339, seconds) for `ms` since the epoch.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// "2/3 canary" for stage `i` of `plan`, or "finalize" past the last.
pub fn stage_label(plan: &Plan, i: usize) -> String {
    plan.stages.get(i).map_or_else(|| "finalize".to_string(), |s| format!("{}/{} {}", i + 1, plan.stages.len(), s.name))
}

/// Prints a running rollout's progress to stdout, one line per event.
pub struct Progress;

impl Reporter for Progress {
    fn committed(&mut self, entries: &[NewEntry], _state: &State, _plan: &Plan) {
        let mut out = std::io::stdout().lock();
        for e in entries {
            let line = match e.kind {
                EntryKind::Transition => format!("→ {}", e.message),
                EntryKind::Call => format!("    {}", e.message),
                EntryKind::Note => format!("  ! {}", e.message),
            };
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    fn waiting(&mut self, id: &str, state: &State) {
        let why = state.note.as_deref().unwrap_or("waiting");
        let what = match state.phase {
            Phase::AwaitingApproval => format!("`upshift approve {id}` continues, `upshift abort {id}` rolls back"),
            _ => format!("`upshift resume {id}` continues, `upshift abort {id}` rolls back"),
        };
        println!("⏸ {}: {why}; {what}", state.phase);
    }

    fn baking(&mut self, state: &State, plan: &Plan, remaining: Duration) {
        println!("    … {}s left in the bake of stage {}", remaining.as_secs().max(1), stage_label(plan, state.stage));
    }
}
