//! Journal entries the runner writes and their one-line texts: a plugin call with its logs, a
//! policy note, and where a transition left the rollout.

use serde_json::json;

use super::plan::Plan;
use crate::engine::{Command, Phase, State};
use crate::runtime::{CallError, LogRecord};
use crate::store::{EntryKind, NewEntry};

/// A journal note from the policy.
pub(super) fn policy_note(actor: &str, stage: usize, message: String) -> NewEntry {
    NewEntry {
        actor: actor.to_string(),
        kind: EntryKind::Note,
        event: None,
        from: None,
        to: None,
        stage: Some(stage),
        message,
        detail: None,
    }
}

/// One line saying where the rollout now stands.
pub(super) fn transition_text(state: &State, plan: &Plan) -> String {
    let stage = |i: usize| {
        plan.stages
            .get(i)
            .map_or_else(|| "finalize".to_string(), |s| format!("stage {}/{} {}", i + 1, plan.stages.len(), s.name))
    };
    let said = match &state.outstanding {
        Some(Command::Apply { stage: i }) => format!("applying {}", stage(*i)),
        Some(Command::Wait { seconds }) => format!("baking {} for {seconds}s", stage(state.stage)),
        Some(Command::Verify { stage: i, round }) => format!("verifying {} (round {round})", stage(*i)),
        Some(Command::Decide { stage: i }) => format!("{} verified; asking the strategy what follows", stage(*i)),
        Some(Command::Rollback { through }) => format!("rolling back stages 1 to {}", through + 1),
        Some(Command::Finalize) => "finalizing".to_string(),
        None => state.phase.name().to_string(),
    };
    match (&state.note, &state.half_done) {
        (_, Some(h)) => format!("{said}: {h}"),
        (Some(n), None) if state.outstanding.is_none() || state.phase == Phase::RollingBack => format!("{said}: {n}"),
        _ => said,
    }
}

/// A call's log records as the journal keeps them: each with its level as the contract spells it
/// (`trace`, `debug`, `info`, `warn`, `error`), its message and its fields; and how many were dropped.
pub(super) fn logs_json(logs: &[LogRecord], dropped: usize) -> serde_json::Value {
    use crate::runtime::LogLevel;
    let level = |l: LogLevel| match l {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let records: Vec<_> =
        logs.iter().map(|l| json!({ "level": level(l.level), "message": l.message, "fields": l.fields })).collect();
    json!({ "records": records, "dropped": dropped })
}

/// `e` as the text of an error event and its journal entry: when no retry can succeed
/// ([`CallError::not_retried`]), it ends by saying so and why; the plugin's text before it is cut
/// first, so a long message cannot push that out of the caps on events and journal entries.
pub(super) fn error_text(e: &CallError) -> String {
    match e.not_retried() {
        Some(why) => {
            format!("{} (not retried: {why})", super::bounds::cut(e.to_string(), super::bounds::MAX_REASON_BYTES))
        }
        None => e.to_string(),
    }
}

pub(super) fn entry(kind: &str, stage: Option<usize>, message: String, detail: serde_json::Value) -> NewEntry {
    NewEntry {
        actor: detail["plugin"].as_str().map_or_else(|| "plugin".to_string(), |p| format!("plugin {p}")),
        kind: if kind == "call" { EntryKind::Call } else { EntryKind::Note },
        event: None,
        from: None,
        to: None,
        stage,
        message,
        detail: Some(detail),
    }
}

pub(super) fn call_entry<T>(
    plugin: &str,
    call: &str,
    stage: Option<usize>,
    op_id: &str,
    result: &Result<T, CallError>,
    (logs, dropped): (&[LogRecord], usize),
    ok: impl FnOnce(&T) -> String,
) -> NewEntry {
    let mut detail = json!({ "plugin": plugin, "call": call, "operation": op_id, "logs": logs_json(logs, dropped) });
    let message = match result {
        Ok(v) => ok(v),
        Err(e) => {
            detail["error"] = json!(e.to_string());
            detail["limit"] = json!(e.limit());
            detail["retryable"] = json!(e.retryable());
            if let Some(why) = e.not_retried() {
                detail["not_retried"] = json!(why);
            }
            format!("{call} failed: {}", error_text(e))
        }
    };
    entry("call", stage, message, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ErrorKind;

    fn plugin_error(kind: ErrorKind, retryable: bool, message: String) -> CallError {
        CallError::Plugin { plugin: "v".into(), call: "verify", kind, message, retryable }
    }

    #[test]
    fn an_error_no_retry_can_help_says_why_even_after_a_long_message() {
        let e = plugin_error(ErrorKind::InvalidConfig, true, "x".repeat(1 << 20));
        let text = error_text(&e);
        assert!(text.ends_with(" (not retried: invalid-config)"), "{}", &text[text.len() - 80..]);
        assert!(text.len() < 5 << 10, "{}", text.len());
    }

    #[test]
    fn a_retryable_error_is_its_own_text() {
        let e = plugin_error(ErrorKind::Unavailable, true, "prometheus down".into());
        assert_eq!(error_text(&e), e.to_string());
    }
}
