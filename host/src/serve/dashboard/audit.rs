//! The audit trail as the dashboard shows it: a rollout's journal, newest first, filtered by kind
//! (transitions, plugin calls, controls people sent, notes) and cut into pages.

use super::model::shown;
use crate::rollout::view;
use crate::store::{EntryKind, JournalEntry, Store, StoreError};
use crate::text;

/// Audit-trail entries per page.
pub const AUDIT_PER_PAGE: usize = 50;
/// The longest actor shown, in bytes.
const NAME: usize = text::MAX_NAME;

/// Which entries the audit trail shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditKind {
    #[default]
    All,
    Transitions,
    Calls,
    /// Approve, pause, resume and abort: what people did.
    Controls,
    Notes,
}

impl AuditKind {
    pub const ALL: [AuditKind; 5] =
        [AuditKind::All, AuditKind::Transitions, AuditKind::Calls, AuditKind::Controls, AuditKind::Notes];

    pub fn name(self) -> &'static str {
        match self {
            AuditKind::All => "all",
            AuditKind::Transitions => "transitions",
            AuditKind::Calls => "calls",
            AuditKind::Controls => "controls",
            AuditKind::Notes => "notes",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn admits(self, e: &JournalEntry) -> bool {
        match self {
            AuditKind::All => true,
            AuditKind::Transitions => e.kind == EntryKind::Transition,
            AuditKind::Calls => e.kind == EntryKind::Call,
            AuditKind::Notes => e.kind == EntryKind::Note,
            AuditKind::Controls => {
                e.kind == EntryKind::Transition
                    && matches!(e.event.as_deref(), Some("approve" | "pause" | "resume" | "abort"))
            }
        }
    }
}

/// One entry of the audit trail as shown.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: &'static str,
    pub stage: String,
    /// `baking → verifying` for a transition.
    pub change: String,
    pub message: String,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone)]
pub struct AuditView {
    pub id: String,
    pub kind: AuditKind,
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub rows: Vec<AuditRow>,
}

/// Page `page` (from 1) of rollout `id`'s audit trail, `kind` entries only, newest first.
pub fn audit(store: &Store, id: &str, kind: AuditKind, page: usize) -> Result<AuditView, StoreError> {
    let entries: Vec<JournalEntry> = store.history(id)?.into_iter().rev().filter(|e| kind.admits(e)).collect();
    let pages = entries.len().div_ceil(AUDIT_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let rows = entries
        .iter()
        .skip((page - 1) * AUDIT_PER_PAGE)
        .take(AUDIT_PER_PAGE)
        .map(|e| AuditRow {
            seq: e.seq,
            at: view::time(e.at),
            actor: shown(&e.actor, NAME),
            kind: match e.kind {
                EntryKind::Transition => "transition",
                EntryKind::Call => "call",
                EntryKind::Note => "note",
            },
            stage: e.stage.map(|s| (s + 1).to_string()).unwrap_or_default(),
            change: match (&e.from, &e.to) {
                (Some(f), Some(t)) => format!("{f} → {t}"),
                (None, Some(t)) => format!("→ {t}"),
                _ => String::new(),
            },
            message: shown(&e.message, text::MAX_LINE),
        })
        .collect();
    Ok(AuditView { id: id.to_string(), kind, page, pages, total: entries.len(), rows })
}
