//! How a granted database is opened for a plugin, with SQLite's own switches closing every door the
//! plugin does not need: no URI filenames, read-only (and `query_only`) for a read-only grant,
//! defensive mode, an untrusted schema, no attached databases, bounded values and statements, the
//! [`policy`](super::policy) authorizer on every statement, and a progress handler that stops work
//! at the plugin call's deadline.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use super::budget::{Deadline, MAX_SQL_STATEMENT_BYTES, SQL_PROGRESS_OPS};
use super::policy::{self, Access};

/// Why the authorizer refused the statement last prepared on a connection: SQLite only reports
/// "not authorized", the host takes the reason from here to explain it.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Option<String>>>);

impl Refusals {
    fn record(&self, reason: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(reason);
        }
    }

    /// The reason recorded since the last call, if any (and forgets it).
    pub fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A plugin's connection to one granted database.
#[derive(Debug)]
pub struct Guarded {
    pub conn: Connection,
    pub refusals: Refusals,
}

/// Opens `path` for a plugin with `access`. `value_limit` caps one string or blob (SQLite's
/// `SQLITE_LIMIT_LENGTH`); `deadline` is the plugin call's, checked every [`SQL_PROGRESS_OPS`]
/// instructions. A read-only database must already exist.
pub fn open(path: &Path, access: Access, value_limit: usize, deadline: &Deadline) -> rusqlite::Result<Guarded> {
    // Never SQLITE_OPEN_URI: the path is the operator's, and no `file:...?vfs=` or `mode=` from anywhere.
    let flags = match access {
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    harden(&conn, access, value_limit)?;
    let refusals = Refusals::default();
    let recorder = refusals.clone();
    conn.authorizer(Some(move |ctx: AuthContext<'_>| match policy::judge(access, &ctx.action) {
        Ok(()) => Authorization::Allow,
        Err(reason) => {
            let reason = match ctx.accessor {
                Some(by) => format!("{reason} (inside trigger or view {by:?})"),
                None => reason,
            };
            recorder.record(reason);
            Authorization::Deny
        }
    }));
    let deadline = deadline.clone();
    conn.progress_handler(SQL_PROGRESS_OPS, Some(move || deadline.passed()));
    Ok(Guarded { conn, refusals })
}

/// SQLite's own switches, set before the authorizer is installed (they are the host's doing).
fn harden(conn: &Connection, access: Access, value_limit: usize) -> rusqlite::Result<()> {
    // Defensive: no writable_schema, no journal_mode=OFF, no schema_version writes, no raw page or
    // shadow-table writes. An untrusted schema: views and triggers call only side-effect-free
    // functions. No fts3_tokenizer pointers, no ATTACH that creates or writes a file.
    // (Loading extensions stays at SQLite's default: off; the authorizer refuses load_extension too.)
    for (switch, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_WRITABLE_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false),
    ] {
        conn.set_db_config(switch, on)?;
    }
    let value_limit = i32::try_from(value_limit).unwrap_or(i32::MAX);
    let statement_limit = i32::try_from(MAX_SQL_STATEMENT_BYTES).unwrap_or(i32::MAX);
    for (limit, value) in [
        (Limit::SQLITE_LIMIT_ATTACHED, 0),
        (Limit::SQLITE_LIMIT_LENGTH, value_limit),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, statement_limit),
        // Sorting stays on the calling thread, under the progress handler.
        (Limit::SQLITE_LIMIT_WORKER_THREADS, 0),
    ] {
        conn.set_limit(limit, value)?;
    }
    if access == Access::ReadOnly {
        conn.execute_batch("PRAGMA query_only = ON")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn deadline() -> Deadline {
        Deadline::new(Duration::from_secs(5))
    }

    #[test]
    fn the_switches_are_set_on_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let g = open(&dir.path().join("a.db"), Access::ReadWrite, 1 << 20, &deadline()).unwrap();
        assert!(g.conn.db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE).unwrap());
        assert!(!g.conn.db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA).unwrap());
        assert_eq!(g.conn.limit(Limit::SQLITE_LIMIT_ATTACHED).unwrap(), 0);
        assert_eq!(g.conn.limit(Limit::SQLITE_LIMIT_LENGTH).unwrap(), 1 << 20);
        let ro = open(&dir.path().join("a.db"), Access::ReadOnly, 1 << 20, &deadline()).unwrap();
        assert!(ro.conn.is_readonly("main").unwrap());
        let query_only: bool = ro.conn.query_row("PRAGMA query_only", [], |r| r.get(0)).unwrap();
        assert!(query_only);
    }

    #[test]
    fn a_read_only_database_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        assert!(open(&dir.path().join("missing.db"), Access::ReadOnly, 1 << 20, &deadline()).is_err());
        assert!(!dir.path().join("missing.db").exists());
    }

    #[test]
    fn a_refusal_keeps_its_reason_for_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let g = open(&dir.path().join("a.db"), Access::ReadWrite, 1 << 20, &deadline()).unwrap();
        let err = g.conn.execute_batch("ATTACH 'b.db' AS b").unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::AuthorizationForStatementDenied));
        assert!(g.refusals.take().unwrap().contains("attaching another database"));
        assert_eq!(g.refusals.take(), None);
    }

    #[test]
    fn extensions_stay_off_even_without_the_authorizer() {
        // SQLite's default, which the host relies on under the authorizer: the SQL function refuses.
        let conn = Connection::open_in_memory().unwrap();
        let err = conn.query_row("SELECT load_extension('/nonexistent.so')", [], |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("not authorized"), "{err}");
    }
}
