//! Reading the journal of every rollout in commit order, from a position onwards: how the
//! controller's metrics and notifier follow what any process (a runner, a CLI control) journals,
//! and resume after a restart from the last entry they handled.
//!
//! Positions are journal `seq` values. `seq` grows (`AUTOINCREMENT`, `BIGSERIAL`) and every write
//! takes the store's write lock before inserting, so entries become visible in `seq` order: a reader that has seen `seq` n never
//! sees an entry below n appear later.

use super::db::{DbError, Row, p};
use super::{EntryKind, JournalEntry, Store, StoreError, journal};

/// A journal entry with the rollout it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TailEntry {
    pub rollout_id: String,
    pub rollout_name: String,
    pub entry: JournalEntry,
}

impl Store {
    /// Up to `limit` entries of any rollout with `seq` greater than `after`, oldest first.
    pub fn journal_after(&self, after: i64, limit: usize) -> Result<Vec<TailEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .db()
            .query(
                "SELECT j.seq, j.at, j.actor, j.kind, j.event, j.from_phase, j.to_phase, j.stage, j.message, j.detail,
                        j.rollout_id, r.name
                 FROM journal j JOIN rollouts r ON r.id = j.rollout_id
                 WHERE j.seq > ?1 ORDER BY j.seq LIMIT ?2",
                p![after, limit],
            )
            .map_err(|e| self.err(e))?;
        let tail =
            |r: &Row| Ok(TailEntry { rollout_id: r.text(10)?, rollout_name: r.text(11)?, entry: journal::entry(r)? });
        rows.iter().map(tail).collect::<Result<_, DbError>>().map_err(|e| self.err(e))
    }

    /// The newest `limit` entries of kind `kind` in rollout `id`'s journal, newest first (the
    /// dashboard's last verdict of each listed rollout, without reading whole journals).
    pub fn recent(&self, id: &str, kind: EntryKind, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .db()
            .query(
                "SELECT seq, at, actor, kind, event, from_phase, to_phase, stage, message, detail
                 FROM journal WHERE rollout_id = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT ?3",
                p![id, kind.name(), limit],
            )
            .map_err(|e| self.err(e))?;
        rows.iter().map(journal::entry).collect::<Result<_, DbError>>().map_err(|e| self.err(e))
    }

    /// The `seq` of the newest journal entry (0 for an empty journal).
    pub fn journal_end(&self) -> Result<i64, StoreError> {
        self.db()
            .query_opt("SELECT COALESCE(MAX(seq), 0) FROM journal", &[])
            .and_then(|r| r.map_or(Ok(0), |r| r.int(0)))
            .map_err(|e| self.err(e))
    }

    /// How many rollouts are in each phase (only phases that have some).
    pub fn phase_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = self
            .db()
            .query("SELECT phase, COUNT(*) FROM rollouts GROUP BY phase ORDER BY phase", &[])
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.int(1)?.max(0) as u64)))
            .collect::<Result<_, DbError>>()
            .map_err(|e| self.err(e))
    }
}
