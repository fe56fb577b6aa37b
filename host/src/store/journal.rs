//! The audit trail: append-only entries of transitions, plugin call outcomes and notes, each
//! capped in size when it is written.
//!
//! A message or detail can carry a plugin's text (a verdict's reason, an error, its logs), so an
//! entry is cut to [`MAX_MESSAGE_BYTES`] and [`MAX_DETAIL_BYTES`] before it is stored, with a
//! visible mark (`… [N more bytes]`). The detail stays valid JSON: the strings inside it are cut,
//! never its serialized text.

use super::db::{Db, DbError, Row, Tx, p};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text;

/// The longest message an entry keeps, in bytes (mark included). A message is one line a human
/// reads in `history`; a plugin's 1 MB reason is kept as its first 8 KiB.
pub const MAX_MESSAGE_BYTES: usize = 8 << 10;
/// The longest detail an entry keeps, as serialized JSON, in bytes. Room for a verdict with its
/// measurements and a call's logs; past it, strings and then lists inside are shortened until it fits.
pub const MAX_DETAIL_BYTES: usize = 64 << 10;
/// The shortest a string inside a detail is cut to before lists are shortened instead.
const MIN_DETAIL_STRING_BYTES: usize = 128;
/// The fewest items a list or object inside a detail keeps before the detail is replaced by an excerpt.
const MIN_DETAIL_ITEMS: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn name(self) -> &'static str {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

pub fn insert(tx: &mut Tx<'_>, rollout: &str, at: i64, e: &NewEntry) -> Result<(), DbError> {
    // Kept as the plugin wrote it (cut); on PostgreSQL, whose text holds no NUL, a NUL is stored as
    // U+FFFD (`db::P`).
    let message = text::cut(&e.message, MAX_MESSAGE_BYTES);
    let detail = e.detail.as_ref().map(capped_detail);
    tx.execute(
        "INSERT INTO journal (rollout_id, at, actor, kind, event, from_phase, to_phase, stage, message, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        p![
            rollout,
            at,
            &e.actor,
            e.kind.name(),
            e.event.as_ref(),
            e.from.as_ref(),
            e.to.as_ref(),
            e.stage.map(|s| s as i64),
            message.as_ref(),
            detail.as_ref()
        ],
    )?;
    Ok(())
}

pub fn read(db: &mut Db, rollout: &str) -> Result<Vec<JournalEntry>, DbError> {
    let rows = db.query(
        "SELECT seq, at, actor, kind, event, from_phase, to_phase, stage, message, detail
         FROM journal WHERE rollout_id = ?1 ORDER BY seq",
        p![rollout],
    )?;
    rows.iter().map(entry).collect()
}

/// An entry from a row whose first ten columns are those of [`read`]'s query.
pub(super) fn entry(r: &Row) -> Result<JournalEntry, DbError> {
    let detail = r.opt_text(9)?;
    Ok(JournalEntry {
        seq: r.int(0)?,
        at: r.int(1)?,
        actor: r.text(2)?,
        kind: EntryKind::parse(&r.text(3)?),
        event: r.opt_text(4)?,
        from: r.opt_text(5)?,
        to: r.opt_text(6)?,
        stage: r.opt_int(7)?.map(|s| s as usize),
        message: r.text(8)?,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

/// `detail` serialized in at most [`MAX_DETAIL_BYTES`]: as it is when it fits; otherwise with every
/// string (keys included) cut to a shrinking length, then every list and object shortened to a
/// shrinking number of items (the last item says how many were left out); and if even that does not
/// fit, an object with an excerpt of the serialized text. Always valid JSON.
pub(super) fn capped_detail(detail: &Value) -> String {
    let full = detail.to_string();
    if full.len() <= MAX_DETAIL_BYTES {
        return full;
    }
    let (mut strings, mut items) = (MAX_MESSAGE_BYTES, usize::MAX);
    loop {
        let shrunk = shrink(detail, strings, items).to_string();
        if shrunk.len() <= MAX_DETAIL_BYTES {
            return shrunk;
        }
        if strings > MIN_DETAIL_STRING_BYTES {
            strings = (strings / 4).max(MIN_DETAIL_STRING_BYTES);
        } else if items > MIN_DETAIL_ITEMS {
            items = if items == usize::MAX { 64 } else { (items / 4).max(MIN_DETAIL_ITEMS) };
        } else {
            let excerpt = text::cut(&full, MAX_DETAIL_BYTES / 2);
            return serde_json::json!({ "cut": true, "bytes": full.len(), "excerpt": excerpt }).to_string();
        }
    }
}

/// `v` with strings cut to `strings` bytes and lists and objects to `items` entries.
fn shrink(v: &Value, strings: usize, items: usize) -> Value {
    let left_out = |n: usize| format!("… [{n} more items]");
    match v {
        Value::String(s) => Value::String(text::cut(s, strings).into_owned()),
        Value::Array(a) => {
            let mut out: Vec<Value> = a.iter().take(items).map(|x| shrink(x, strings, items)).collect();
            if a.len() > items {
                out.push(Value::String(left_out(a.len() - items)));
            }
            Value::Array(out)
        }
        Value::Object(o) => {
            let mut out: serde_json::Map<String, Value> = o
                .iter()
                .take(items)
                .map(|(k, x)| (text::cut(k, strings).into_owned(), shrink(x, strings, items)))
                .collect();
            if o.len() > items {
                out.insert("…".into(), Value::String(left_out(o.len() - items)));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_that_fits_is_kept_exactly() {
        let d = serde_json::json!({ "reason": "x\n\u{1b}[2J", "measurements": [{ "name": "a", "value": 1.5 }] });
        assert_eq!(capped_detail(&d), d.to_string());
    }

    #[test]
    fn a_huge_string_in_a_detail_is_cut_and_the_rest_kept() {
        let d = serde_json::json!({ "plugin": "v", "outcome": "fail", "reason": "r".repeat(10 << 20) });
        let stored = capped_detail(&d);
        assert!(stored.len() <= MAX_DETAIL_BYTES, "{}", stored.len());
        let back: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(back["plugin"], "v");
        assert_eq!(back["outcome"], "fail");
        assert!(back["reason"].as_str().unwrap().ends_with(" more bytes]"));
    }

    #[test]
    fn many_strings_are_cut_shorter_until_the_detail_fits() {
        let records: Vec<Value> =
            (0..100).map(|i| serde_json::json!({ "message": format!("{i}{}", "m".repeat(4096)) })).collect();
        let d = serde_json::json!({ "logs": { "records": records, "dropped": 0 } });
        let stored = capped_detail(&d);
        assert!(stored.len() <= MAX_DETAIL_BYTES, "{}", stored.len());
        let back: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(back["logs"]["records"].as_array().unwrap().len(), 100, "every record kept, each shorter");
    }

    #[test]
    fn a_list_too_long_for_any_string_length_is_shortened_and_says_so() {
        let d = serde_json::json!({ "measurements": vec![serde_json::json!({ "name": "n".repeat(200), "value": 1 }); 20_000] });
        let stored = capped_detail(&d);
        assert!(stored.len() <= MAX_DETAIL_BYTES, "{}", stored.len());
        let back: Value = serde_json::from_str(&stored).unwrap();
        let list = back["measurements"].as_array().unwrap();
        assert!(list.last().unwrap().as_str().unwrap().ends_with(" more items]"), "{:?}", list.last());
    }
}
