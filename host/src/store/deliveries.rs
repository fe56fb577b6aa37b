//! Webhook deliveries: the durable queue of events each webhook still owes its endpoint, where
//! each webhook has read the journal up to, and the record of every attempt.
//!
//! A delivery is one event for one webhook, created (with its final JSON body) when the notifier
//! reads the journal entry it comes from; the webhook's cursor moves in the same transaction, so an
//! event is queued exactly once across restarts. Every attempt updates the delivery and appends a
//! note to its rollout's journal (actor `webhook <name>`) in one transaction: the rollout's history
//! shows each attempt and its outcome, and the metrics count deliveries from the journal.

use serde_json::json;

use super::db::{DbError, Row, p};
use super::{EntryKind, NewEntry, Store, StoreError, journal};

/// Migration: the webhook tables (SQLite).
pub(super) const SQLITE_MIGRATION: &str = r#"
CREATE TABLE webhook_cursors (
    webhook     TEXT PRIMARY KEY,
    after_seq   INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook     TEXT NOT NULL,
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    seq         INTEGER NOT NULL,
    event       TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (webhook, seq, event)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook, status, rollout_id, seq);
"#;

/// Migration: the webhook tables (PostgreSQL).
pub(super) const POSTGRES_MIGRATION: &str = r#"
CREATE TABLE webhook_cursors (
    webhook     TEXT PRIMARY KEY,
    after_seq   BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    rowid       BIGSERIAL UNIQUE,
    id          TEXT PRIMARY KEY,
    webhook     TEXT NOT NULL,
    rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
    seq         BIGINT NOT NULL,
    event       TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (webhook, seq, event)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook, status, rollout_id, seq);
"#;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet; attempted again at `next_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; the notifier stopped trying.
    GivenUp,
}

impl DeliveryStatus {
    pub fn name(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::GivenUp => "given-up",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "given-up" => DeliveryStatus::GivenUp,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// An event to queue for a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// Sent as `X-Upshift-Delivery`; the same for every attempt.
    pub id: String,
    pub rollout_id: String,
    /// The journal entry the event comes from.
    pub seq: i64,
    pub event: String,
    /// The JSON body, exactly as it is signed and sent.
    pub body: String,
}

/// A queued event, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub webhook: String,
    pub rollout_id: String,
    pub seq: i64,
    pub event: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (ms since the Unix epoch).
    pub next_at: i64,
    pub last_error: Option<String>,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// 2xx: done.
    Delivered { status: u16 },
    /// Failed; tried again at `retry_at` (ms since the Unix epoch).
    Retry { error: String, retry_at: i64 },
    /// Failed, and it was the last attempt.
    GivenUp { error: String },
}

impl AttemptOutcome {
    /// The name the journal and the metrics use.
    pub fn name(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Retry { .. } => "failed",
            AttemptOutcome::GivenUp { .. } => "given-up",
        }
    }
}

/// One attempt to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<'a> {
    pub delivery: &'a Delivery,
    /// 1 for the first attempt.
    pub number: u32,
    pub duration_ms: u64,
    pub outcome: AttemptOutcome,
    pub at: i64,
}

impl Store {
    /// Where webhook `name` has read the journal up to, if it ever started.
    pub fn webhook_cursor(&self, webhook: &str) -> Result<Option<i64>, StoreError> {
        self.db()
            .query_opt("SELECT after_seq FROM webhook_cursors WHERE webhook = ?1", p![webhook])
            .and_then(|r| r.map(|r| r.int(0)).transpose())
            .map_err(|e| self.err(e))
    }

    /// Queues `deliveries` for webhook `name` and moves its cursor to `after_seq`, in one
    /// transaction. An event already queued (same webhook, seq and event) is not queued again.
    pub fn enqueue_deliveries(
        &mut self,
        webhook: &str,
        after_seq: i64,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<(), StoreError> {
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let mut db = self.db.borrow_mut();
        let mut tx = db.write().map_err(err)?;
        for d in deliveries {
            tx.execute(
                "INSERT INTO webhook_deliveries
                 (id, webhook, rollout_id, seq, event, body, status, attempts, next_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7, ?7)
                 ON CONFLICT DO NOTHING",
                p![&d.id, webhook, &d.rollout_id, d.seq, &d.event, &d.body, now],
            )
            .map_err(err)?;
        }
        tx.execute(
            "INSERT INTO webhook_cursors (webhook, after_seq) VALUES (?1, ?2)
             ON CONFLICT (webhook) DO UPDATE SET after_seq = CASE
                 WHEN excluded.after_seq > webhook_cursors.after_seq THEN excluded.after_seq
                 ELSE webhook_cursors.after_seq END",
            p![webhook, after_seq],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The deliveries of webhook `name` that may be attempted at `now`: for each rollout, its
    /// oldest pending delivery, if it is due and the rollout is not in `busy`. Events of one
    /// rollout therefore go out in order, one at a time. Oldest due first, at most `limit`.
    ///
    /// "Oldest" is the order of queueing (the rowid): journal order, and for the two events one
    /// entry can be (`verification-failed`, then `paused`), the order they were queued in.
    pub fn due_deliveries(
        &self,
        webhook: &str,
        now: i64,
        busy: &[String],
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .db()
            .query(
                "SELECT d.id, d.webhook, d.rollout_id, d.seq, d.event, d.body, d.status, d.attempts, d.next_at,
                        d.last_error
                 FROM webhook_deliveries d
                 WHERE d.webhook = ?1 AND d.status = 'pending' AND d.next_at <= ?2
                   AND d.rowid = (SELECT MIN(h.rowid) FROM webhook_deliveries h
                                  WHERE h.webhook = d.webhook AND h.rollout_id = d.rollout_id AND h.status = 'pending')
                 ORDER BY d.next_at, d.seq",
                p![webhook, now],
            )
            .map_err(|e| self.err(e))?;
        let mut due = Vec::new();
        for row in rows {
            let d = delivery(&row).map_err(|e| self.err(e))?;
            if !busy.contains(&d.rollout_id) {
                due.push(d);
                if due.len() >= limit {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// When the next pending delivery of webhook `name` is due, if any is pending.
    pub fn next_delivery_due(&self, webhook: &str) -> Result<Option<i64>, StoreError> {
        self.db()
            .query_opt(
                "SELECT MIN(next_at) FROM webhook_deliveries WHERE webhook = ?1 AND status = 'pending'",
                p![webhook],
            )
            .and_then(|r| r.map(|r| r.opt_int(0)).transpose())
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// How many deliveries of webhook `name` are pending.
    pub fn pending_deliveries(&self, webhook: &str) -> Result<u64, StoreError> {
        self.db()
            .query_opt("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook = ?1 AND status = 'pending'", p![webhook])
            .and_then(|r| r.map_or(Ok(0), |r| r.int(0)))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// Every delivery of webhook `name`, in journal order.
    pub fn deliveries(&self, webhook: &str) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .db()
            .query(
                "SELECT id, webhook, rollout_id, seq, event, body, status, attempts, next_at, last_error
                 FROM webhook_deliveries WHERE webhook = ?1 ORDER BY seq",
                p![webhook],
            )
            .map_err(|e| self.err(e))?;
        rows.iter().map(delivery).collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records an attempt: the delivery's new status and a note in its rollout's journal, in one
    /// transaction.
    pub fn record_attempt(&mut self, a: &Attempt<'_>) -> Result<(), StoreError> {
        let d = a.delivery;
        let (status, next_at, error) = match &a.outcome {
            AttemptOutcome::Delivered { .. } => (DeliveryStatus::Delivered, d.next_at, None),
            AttemptOutcome::Retry { error, retry_at } => (DeliveryStatus::Pending, *retry_at, Some(error.as_str())),
            AttemptOutcome::GivenUp { error } => (DeliveryStatus::GivenUp, d.next_at, Some(error.as_str())),
        };
        let said = match &a.outcome {
            AttemptOutcome::Delivered { status } => format!("delivered (HTTP {status})"),
            AttemptOutcome::Retry { error, retry_at } => {
                format!("failed: {error}; retrying in {:.1}s", (retry_at - a.at).max(0) as f64 / 1000.0)
            }
            AttemptOutcome::GivenUp { error } => format!("failed: {error}; given up"),
        };
        let note = NewEntry {
            actor: format!("webhook {}", d.webhook),
            kind: EntryKind::Note,
            event: None,
            from: None,
            to: None,
            stage: None,
            message: format!("webhook {}: {} (delivery {}) attempt {}: {said}", d.webhook, d.event, d.id, a.number),
            detail: Some(json!({
                "webhook": d.webhook,
                "delivery": d.id,
                "event": d.event,
                "seq": d.seq,
                "attempt": a.number,
                "outcome": a.outcome.name(),
                "status": match a.outcome { AttemptOutcome::Delivered { status } => Some(status), _ => None },
                "error": error,
                "duration_ms": a.duration_ms,
            })),
        };
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let started = std::time::Instant::now();
        let mut db = self.db.borrow_mut();
        let mut tx = db.write().map_err(err)?;
        tx.execute(
            "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_at = ?4, last_error = ?5, updated_at = ?6
             WHERE id = ?1",
            p![&d.id, status.name(), a.number, next_at, error, a.at],
        )
        .map_err(err)?;
        journal::insert(&mut tx, &d.rollout_id, a.at, &note).map_err(err)?;
        tx.commit().map_err(err)?;
        super::commit_hook::committed(1, started.elapsed());
        Ok(())
    }
}

fn delivery(r: &Row) -> Result<Delivery, DbError> {
    Ok(Delivery {
        id: r.text(0)?,
        webhook: r.text(1)?,
        rollout_id: r.text(2)?,
        seq: r.int(3)?,
        event: r.text(4)?,
        body: r.text(5)?,
        status: DeliveryStatus::parse(&r.text(6)?),
        attempts: r.int(7)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: r.int(8)?,
        last_error: r.opt_text(9)?,
    })
}

#[cfg(test)]
#[path = "deliveries_tests.rs"]
mod tests;
