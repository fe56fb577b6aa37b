//! The human forms of `plan`, `list`, `status` and `history`: what a person reads of a spec's plan
//! and of the rollouts in the store. Every line goes through [`say!`]; names a plugin chose (stages,
//! units) are capped on their own with [`name`] so the rest of their line stays in sight.

use upshift::policy::Explanation;
use upshift::rollout::Plan;
use upshift::rollout::view::{self, Detail, Summary};
use upshift::spec::RolloutSpec;
use upshift::store::JournalEntry;
use upshift::text;

use super::output::{name, say, stage_at, time};

/// How the spec writes `value` (`rollback`, `pause`...).
fn spec_word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The stage names of `plan`, comma-separated, each capped.
pub fn stage_names(plan: &Plan) -> String {
    plan.stages.iter().map(|s| name(&s.name)).collect::<Vec<_>>().join(", ")
}

/// `upshift plan`: the version choice, the stages, verification and failure policy, the gates.
pub fn plan(spec: &RolloutSpec, plan: &Plan, explained: Option<&Explanation>) {
    if let Some(e) = explained {
        e.version_lines().iter().for_each(|l| say!("{l}"));
    }
    say!("{}: {} → {} on {} units", spec.name, spec.from, spec.to, plan.units.len());
    for (i, s) in plan.stages.iter().enumerate() {
        let mut parts = vec![];
        if let Some(w) = s.weight {
            parts.push(format!("weight {w}%"));
        }
        if !s.units.is_empty() {
            let n = s.units.len();
            let units: Vec<_> = s.units.iter().map(|u| name(u)).collect();
            parts.push(format!("{n} unit{} ({})", if n == 1 { "" } else { "s" }, units.join(", ")));
        }
        parts.push(format!("bake {}s", s.bake_seconds));
        parts.push(if s.verify { "verified".into() } else { "not verified".into() });
        say!("  {}. {}: {}", i + 1, name(&s.name), parts.join(", "));
        if let Some(why) = &s.approval_reason {
            say!("     needs approval: {why}");
        }
    }
    if !plan.unstaged.is_empty() {
        let units: Vec<_> = plan.unstaged.iter().map(|u| name(u)).collect();
        say!(
            "  finalize moves {} unit(s) no stage moves, unverified ([plan] allow_unstaged_units): {}",
            plan.unstaged.len(),
            units.join(", ")
        );
    }
    let p = plan.context.policy;
    say!(
        "verification: {} round(s) per verified stage, {}s apart, {} verifiers",
        plan.context.rounds,
        plan.context.round_interval_seconds,
        spec.verifiers.len()
    );
    // The engine acts at the Nth error in a row (`State::step`): N-1 retries come first.
    let retries = p.max_consecutive_errors.saturating_sub(1);
    say!(
        "on failure: {}; inconclusive: {} (max {}); errors: {} at the {} in a row ({retries} {} first)",
        spec_word(&p.on_fail),
        spec_word(&p.on_inconclusive),
        p.max_inconclusive,
        spec_word(&p.on_error),
        ordinal(p.max_consecutive_errors),
        if retries == 1 { "retry" } else { "retries" }
    );
    if let Some(e) = explained {
        e.time_and_gate_lines().iter().for_each(|l| say!("{l}"));
    }
}

/// "1st", "2nd", "3rd", "4th"... "11th", "21st".
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `upshift list`: one row per rollout, newest first.
pub fn list(rows: &[Summary]) {
    say!("{:<28} {:<18} {:<18} UPDATED", "ID", "STATE", "STAGE");
    for r in rows {
        let stage = match (r.stage, r.stages) {
            (Some(i), Some(n)) => stage_at(i, n, r.stage_name.as_deref()),
            _ => "?".to_string(),
        };
        say!("{:<28} {:<18} {:<18} {}", r.id, r.state, stage, r.updated_at);
    }
}

/// `upshift status`: where one rollout stands, and who drives it (`no_driver`: what to say when
/// nothing does and it has not ended).
pub fn status(d: &Detail, no_driver: &str) {
    say!("rollout:  {} ({} → {})", d.id, d.from, d.to);
    say!("state:    {}", d.state);
    say!("stage:    {}", stage_at(d.stage.index, d.stage.count, d.stage.name.as_deref()));
    if let Some(t) = d.applied_through {
        say!("applied:  stages 1 to {} have been sent to the target", t + 1);
    }
    if let Some(n) = &d.note {
        say!("note:     {n}");
    }
    if let Some(h) = &d.half_done {
        say!("HALF-DONE: {h}");
    }
    match &d.runner {
        Some(runner) => say!("driver:   upshift {runner}"),
        None if !view::ended(&d.state) => say!("driver:   none; {no_driver}"),
        None => {}
    }
    say!("updated:  {}", d.updated_at);
}

/// How a plugin's log record is indented under the entry of the call that logged it.
const LOG_INDENT: &str = "      ";

/// `upshift history`: one line per journal entry, the operation id of a target's call after its
/// message, and under a call each log record the plugin wrote during it (level, message, fields).
pub fn history(entries: &[JournalEntry]) {
    for e in entries {
        let moved = match (&e.from, &e.to) {
            (Some(f), Some(t)) if f != t => format!(" {f} → {t}:"),
            _ => String::new(),
        };
        let detail = e.detail.as_ref();
        match detail.and_then(|d| d["operation"].as_str()).filter(|op| !op.is_empty()) {
            // The message can be a plugin's: capped on its own so the operation id stays in sight.
            Some(op) => say!(
                "{}  {:<28}{} {} (operation {})",
                time(e.at),
                e.actor,
                moved,
                text::terminal(&e.message, text::MAX_LINE / 2),
                name(op)
            ),
            None => say!("{}  {:<28}{} {}", time(e.at), e.actor, moved, e.message),
        }
        if let Some(logs) = detail.map(|d| &d["logs"]) {
            log_lines(logs);
        }
    }
}

/// The log records of a call's journal detail (`{"records": [...], "dropped": n}`), one indented
/// line each, and how many were dropped past the per-call budget.
fn log_lines(logs: &serde_json::Value) {
    for r in logs["records"].as_array().into_iter().flatten() {
        // Journals written before levels were plain words say "level::info".
        let level = r["level"].as_str().unwrap_or("?");
        let level = level.strip_prefix("level::").unwrap_or(level);
        let fields: Vec<String> = r["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some(format!("{}={}", f.get(0)?.as_str()?, f.get(1)?.as_str()?)))
            .collect();
        let fields = if fields.is_empty() { String::new() } else { format!(" [{}]", fields.join(", ")) };
        say!("{LOG_INDENT}log {level}: {}{fields}", r["message"].as_str().unwrap_or_default());
    }
    if let Some(n) = logs["dropped"].as_u64().filter(|n| *n > 0) {
        say!("{LOG_INDENT}log: {n} more record(s) dropped (over the per-call log budget)");
    }
}
