//! How the CLI writes to a human: every line goes through [`say!`], which makes the plugin text in
//! it harmless (`upshift::text::terminal`: control characters, newlines and bidi overrides escaped
//! visibly, the line capped), so one printed line is one event whatever a plugin returned. JSON goes
//! through [`print_json`]: exact text, terminal-safe escapes. Also the progress of a running rollout.

use std::io::Write;
use std::time::Duration;

use upshift::engine::{Phase, State};
use upshift::rollout::{Plan, Reporter};
use upshift::store::{EntryKind, NewEntry};
use upshift::text;

/// Prints one line to stdout, like `println!`, made safe for a terminal by [`line`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::say_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// `line` as the CLI prints it: unsafe characters escaped, at most [`text::MAX_LINE`] bytes.
pub fn line(line: &str) -> std::borrow::Cow<'_, str> {
    text::terminal(line, text::MAX_LINE)
}

/// Prints `s` as one line on stdout (see [`line`]); a closed stdout is not an error worth a panic.
pub fn say_line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(s));
}

/// Prints `s` as one `warning: ` line on stderr (see [`line`]); a closed stderr loses it quietly.
pub fn warn(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", line(&format!("warning: {s}")));
}

/// Prints `value` as pretty JSON: the exact text, with terminal-unsafe characters as `\u` escapes.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<()> {
    let text = text::json::to_string_pretty(value)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    Ok(())
}

/// A name from a plugin (a stage, a unit) as shown inside a line: capped at [`text::MAX_NAME`].
pub fn name(s: &str) -> std::borrow::Cow<'_, str> {
    text::terminal(s, text::MAX_NAME)
}

/// A UTC timestamp (RFC 3339, seconds) for `ms` since the epoch.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// "2/3 canary" for stage `i` of `plan`, or "finalize" past the last.
pub fn stage_label(plan: &Plan, i: usize) -> String {
    plan.stages
        .get(i)
        .map_or_else(|| "finalize".to_string(), |s| format!("{}/{} {}", i + 1, plan.stages.len(), name(&s.name)))
}

/// Prints a running rollout's progress to stdout, one line per event.
pub struct Progress;

impl Reporter for Progress {
    fn committed(&mut self, entries: &[NewEntry], _state: &State, _plan: &Plan) {
        for e in entries {
            match e.kind {
                EntryKind::Transition => say!("→ {}", e.message),
                EntryKind::Call => say!("    {}", e.message),
                EntryKind::Note => say!("  ! {}", e.message),
            }
        }
        let _ = std::io::stdout().flush();
    }

    fn waiting(&mut self, id: &str, state: &State) {
        let why = state.note.as_deref().unwrap_or("waiting");
        let what = match state.phase {
            Phase::AwaitingApproval => format!("`upshift approve {id}` continues, `upshift abort {id}` rolls back"),
            _ => format!("`upshift resume {id}` continues, `upshift abort {id}` rolls back"),
        };
        // The note can be a plugin's reason: capped on its own so the instructions stay in sight.
        say!("⏸ {}: {}; {what}", state.phase, text::terminal(why, text::MAX_LINE / 2));
    }

    fn baking(&mut self, state: &State, plan: &Plan, remaining: Duration) {
        say!("    … {}s left in the bake of stage {}", remaining.as_secs().max(1), stage_label(plan, state.stage));
    }
}
