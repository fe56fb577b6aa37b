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

pub use upshift::rollout::view::time;

/// "2/3 canary" for stage `i` of `plan`, or "finalize" past the last.
pub fn stage_label(plan: &Plan, i: usize) -> String {
    stage_at(i, plan.stages.len(), plan.stages.get(i).map(|s| s.name.as_str()))
}

/// "2/3 canary" for stage `index` (named `name`) of `count`, or "finalize" past the last.
pub fn stage_at(index: usize, count: usize, stage_name: Option<&str>) -> String {
    match stage_name {
        Some(n) if index < count => format!("{}/{count} {}", index + 1, name(n)),
        _ => "finalize".to_string(),
    }
}

/// Prints a running rollout's progress to stdout, one line per event.
pub struct Progress;

impl Progress {
    /// The line of one committed journal entry (`→` a transition, indented a call, `!` a note).
    pub fn entry(kind: EntryKind, message: &str) {
        match kind {
            EntryKind::Transition => say!("→ {message}"),
            EntryKind::Call => say!("    {message}"),
            EntryKind::Note => say!("  ! {message}"),
        }
    }

    /// The line of a rollout that waits for a human in `phase`, for the reason `note`.
    pub fn waiting_for(id: &str, phase: Phase, note: Option<&str>) {
        let why = note.unwrap_or("waiting");
        let what = match phase {
            Phase::AwaitingApproval => format!("`upshift approve {id}` continues, `upshift abort {id}` rolls back"),
            _ => format!("`upshift resume {id}` continues, `upshift abort {id}` rolls back"),
        };
        // The note can be a plugin's reason: capped on its own so the instructions stay in sight.
        say!("⏸ {phase}: {}; {what}", text::terminal(why, text::MAX_LINE / 2));
    }
}

impl Reporter for Progress {
    fn committed(&mut self, entries: &[NewEntry], _state: &State, _plan: &Plan) {
        for e in entries {
            Progress::entry(e.kind, &e.message);
        }
        let _ = std::io::stdout().flush();
    }

    fn waiting(&mut self, id: &str, state: &State) {
        Progress::waiting_for(id, state.phase, state.note.as_deref());
    }

    fn baking(&mut self, state: &State, plan: &Plan, remaining: Duration) {
        say!("    … {}s left in the bake of stage {}", remaining.as_secs().max(1), stage_label(plan, state.stage));
    }
}
