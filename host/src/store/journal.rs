//! The audit trail: append-only entries of transitions, plugin call outcomes and notes.

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The state machine moved.
    Transition,
    /// A plugin call finished (its outcome, measurements, logs).
    Call,
    /// Anything else worth keeping (a discarded stale result, a takeover after a crash).
    Note,
}

impl EntryKind {
    fn name(self) -> &'static str {
        match self {
            EntryKind::Transition => "transition",
            EntryKind::Call => "call",
            EntryKind::Note => "note",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "transition" => EntryKind::Transition,
            "call" => EntryKind::Call,
            _ => EntryKind::Note,
        }
    }
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub actor: String,
    pub kind: EntryKind,
    pub event: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub stage: Option<usize>,
    pub message: String,
    pub detail: Option<serde_json::Value>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub kind: EntryKind,
    pub event: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub stage: Option<usize>,
    pub message: String,
    pub detail: Option<serde_json::Value>,
}

pub fn insert(tx: &Transaction<'_>, rollout: &str, at: i64, e: &NewEntry) -> rusqlite::Result<()> {
    let detail = e.detail.as_ref().map(|d| d.to_string());
    tx.prepare_cached(
        "INSERT INTO journal (rollout_id, at, actor, kind, event, from_phase, to_phase, stage, message, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        rollout,
        at,
        e.actor,
        e.kind.name(),
        e.event,
        e.from,
        e.to,
        e.stage.map(|s| s as i64),
        e.message,
        detail
    ])?;
    Ok(())
}

pub fn read(conn: &Connection, rollout: &str) -> rusqlite::Result<Vec<JournalEntry>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, kind, event, from_phase, to_phase, stage, message, detail
         FROM journal WHERE rollout_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([rollout], |r| {
        let detail: Option<String> = r.get(9)?;
        Ok(JournalEntry {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            kind: EntryKind::parse(&r.get::<_, String>(3)?),
            event: r.get(4)?,
            from: r.get(5)?,
            to: r.get(6)?,
            stage: r.get::<_, Option<i64>>(7)?.map(|s| s as usize),
            message: r.get(8)?,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    rows.collect()
}
