//! The durable store: SQLite (WAL, `synchronous=FULL`) holding each rollout's record and an
//! append-only journal of every transition and plugin call outcome. Every change is one
//! transaction, checked against the record's version so concurrent writers (a runner and a control
//! command from another terminal) never overwrite each other. A journal entry is capped in size when
//! it is written (see [`MAX_MESSAGE_BYTES`], [`MAX_DETAIL_BYTES`]).

mod commit_hook;
mod deliveries;
mod journal;
mod schema;
mod tail;
mod tokens;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

pub use commit_hook::{CommitObserver, set_commit_observer};
pub use deliveries::{Attempt, AttemptOutcome, Delivery, DeliveryStatus, NewDelivery};
pub use journal::{EntryKind, JournalEntry, MAX_DETAIL_BYTES, MAX_MESSAGE_BYTES, NewEntry};
pub use tail::TailEntry;
pub use tokens::StoredToken;

/// Environment variable naming the state file; `--state` overrides it.
pub const STATE_ENV: &str = "UPSHIFT_STATE";
/// File name of the store inside the user's data directory.
pub const STATE_FILE: &str = "upshift.db";
/// How long a writer waits for another's transaction before giving up.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },

    #[error("cannot create the state folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },

    #[error("no state store at {}: no rollout has run with this state yet (pass --state or set {STATE_ENV})", path.display())]
    Missing { path: PathBuf },

    #[error("unknown rollout {id:?}; `upshift list` shows the rollouts in {}", path.display())]
    UnknownRollout { id: String, path: PathBuf },

    #[error("rollout {id} changed while this command ran; try again")]
    Conflict { id: String },

    #[error("rollout {id} has a corrupt record ({what}): {message}")]
    Corrupt { id: String, what: &'static str, message: String },

    #[error("state store {} was written by a newer upshift (schema {found}, this one knows {known})", path.display())]
    NewerSchema { path: PathBuf, found: i64, known: i64 },

    #[error("a token named {name:?} exists already in {}; choose another --name", path.display())]
    TokenExists { name: String, path: PathBuf },

    /// The admission check of [`Store::create_admitted`] refused the new rollout.
    #[error("{reason}")]
    Refused { reason: String },
}

/// Decides, from every rollout in the store, whether a new one may be recorded; `Err` says why not.
pub type Admit<'a> = &'a dyn Fn(&[RolloutRecord]) -> Result<(), String>;

/// The default location: `$UPSHIFT_STATE`, else `<data dir>/upshift/upshift.db`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os(STATE_ENV) {
        return PathBuf::from(p);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("upshift").join(STATE_FILE)
}

/// One rollout's record, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutRecord {
    pub id: String,
    pub name: String,
    pub spec_path: PathBuf,
    /// The resolved spec, as JSON.
    pub spec: String,
    /// The planned stages and policy, as JSON.
    pub plan: String,
    /// The engine state, as JSON.
    pub state: String,
    pub phase: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub runner_pid: Option<u32>,
}

/// A new rollout to create.
#[derive(Debug, Clone)]
pub struct NewRollout<'a> {
    /// From [`Store::next_id`].
    pub id: &'a str,
    pub name: &'a str,
    pub spec_path: &'a Path,
    pub spec: &'a str,
    pub plan: &'a str,
    pub state: &'a str,
    pub phase: &'a str,
    pub at: i64,
    /// The process that creates the rollout to drive it holds its runner lease from the start, so
    /// no controller takes it between its creation and its first step.
    pub runner_pid: Option<u32>,
}

/// One atomic change to a rollout: new state (if any), journal entries, plugin states.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// New engine state JSON and phase name; `None` leaves the state as it is.
    pub state: Option<(String, &'a str)>,
    pub entries: Vec<NewEntry>,
    pub plugin_states: Vec<(String, BTreeMap<String, String>)>,
    pub at: i64,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating it (and its folder) if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder { path: dir.to_path_buf(), source })?;
        }
        Self::connect(path)
    }

    /// Opens an existing store; a missing file is an error rather than a new empty store, so a
    /// read-only command never creates state as a side effect.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        Self::connect(path)
    }

    fn connect(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        let mut store = Store { conn, path: path.to_path_buf() };
        schema::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The id the next rollout named `name` gets: `<name>-<n>`.
    pub fn next_id(&self, name: &str) -> Result<String, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM rollouts WHERE name = ?1", [name], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(format!("{name}-{}", n + 1))
    }

    /// Creates a rollout with its first journal entries and its plugins' state.
    pub fn create(
        &mut self,
        new: NewRollout<'_>,
        entries: Vec<NewEntry>,
        plugin_states: Vec<(String, BTreeMap<String, String>)>,
    ) -> Result<(), StoreError> {
        self.create_admitted(new, entries, plugin_states, &|_| Ok(()))
    }

    /// [`Store::create`], if `admit` accepts the rollouts in the store as they are inside the write
    /// transaction: two processes deciding at once cannot both pass a check one of them would fail
    /// (`max_concurrent`, waves). A refusal writes nothing.
    pub fn create_admitted(
        &mut self,
        new: NewRollout<'_>,
        entries: Vec<NewEntry>,
        plugin_states: Vec<(String, BTreeMap<String, String>)>,
        admit: Admit<'_>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let started = std::time::Instant::now();
        let tx = write_transaction(&mut self.conn).map_err(err)?;
        admit(&list_rollouts(&tx).map_err(err)?).map_err(|reason| StoreError::Refused { reason })?;
        let id = new.id;
        tx.execute(
            "INSERT INTO rollouts (id, name, spec_path, spec, plan, state, phase, version, created_at, updated_at, runner_pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8, ?9)",
            params![
                id,
                new.name,
                new.spec_path.to_string_lossy(),
                new.spec,
                new.plan,
                new.state,
                new.phase,
                new.at,
                new.runner_pid
            ],
        )
        .map_err(err)?;
        for e in &entries {
            journal::insert(&tx, id, new.at, e).map_err(err)?;
        }
        for (plugin, entries) in &plugin_states {
            let json = serde_json::to_string(entries).unwrap_or_else(|_| "{}".into());
            tx.execute(
                "INSERT INTO plugin_state (rollout_id, plugin, entries) VALUES (?1, ?2, ?3)",
                params![id, plugin, json],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        commit_hook::committed(entries.len(), started.elapsed());
        Ok(())
    }

    /// The rollout `id`.
    pub fn rollout(&self, id: &str) -> Result<RolloutRecord, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, spec_path, spec, plan, state, phase, version, created_at, updated_at, runner_pid
                 FROM rollouts WHERE id = ?1",
                [id],
                record,
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::UnknownRollout { id: id.to_string(), path: self.path.clone() })
    }

    /// Every rollout, newest first.
    pub fn list(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        list_rollouts(&self.conn).map_err(|e| self.sql(e))
    }

    /// The newest rollout named `name` that has not ended, if any.
    pub fn active_by_name(&self, name: &str, terminal: &[&str]) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, phase FROM rollouts WHERE name = ?1 ORDER BY created_at DESC, rowid DESC")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (id, phase) = row.map_err(|e| self.sql(e))?;
            if !terminal.contains(&phase.as_str()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Applies `commit` if the rollout is still at `version`; returns the new version.
    pub fn commit(&mut self, id: &str, version: i64, commit: Commit<'_>) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let started = std::time::Instant::now();
        let tx = write_transaction(&mut self.conn).map_err(err)?;
        // Cached statements: this runs once per transition, on the hot path of every rollout.
        let current: Option<i64> = tx
            .prepare_cached("SELECT version FROM rollouts WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(err)?;
        match current {
            None => {
                return Err(StoreError::UnknownRollout { id: id.to_string(), path });
            }
            Some(v) if v != version => return Err(StoreError::Conflict { id: id.to_string() }),
            Some(_) => {}
        }
        for e in &commit.entries {
            journal::insert(&tx, id, commit.at, e).map_err(err)?;
        }
        for (plugin, entries) in &commit.plugin_states {
            let json = serde_json::to_string(entries).unwrap_or_else(|_| "{}".into());
            tx.execute(
                "INSERT INTO plugin_state (rollout_id, plugin, entries) VALUES (?1, ?2, ?3)
                 ON CONFLICT (rollout_id, plugin) DO UPDATE SET entries = excluded.entries",
                params![id, plugin, json],
            )
            .map_err(err)?;
        }
        let mut new_version = version;
        if let Some((state, phase)) = &commit.state {
            new_version = version + 1;
            tx.prepare_cached(
                "UPDATE rollouts SET state = ?2, phase = ?3, version = ?4, updated_at = ?5 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, state, phase, new_version, commit.at]))
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        commit_hook::committed(commit.entries.len(), started.elapsed());
        Ok(new_version)
    }

    /// The rollouts that have not ended (phase not in `terminal`): id, version and lease holder.
    pub fn unended(&self, terminal: &[&str]) -> Result<Vec<(String, i64, Option<u32>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, phase, version, runner_pid FROM rollouts ORDER BY created_at, rowid")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows.into_iter().filter(|r| !terminal.contains(&r.1.as_str())).map(|(id, _, v, pid)| (id, v, pid)).collect())
    }

    /// The journal of rollout `id`, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.rollout(id)?;
        journal::read(&self.conn, id).map_err(|e| self.sql(e))
    }

    /// The persisted state of `plugin` in rollout `id`.
    pub fn plugin_state(&self, id: &str, plugin: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT entries FROM plugin_state WHERE rollout_id = ?1 AND plugin = ?2", [id, plugin], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))?;
        match json {
            None => Ok(BTreeMap::new()),
            Some(j) => serde_json::from_str(&j).map_err(|e| StoreError::Corrupt {
                id: id.to_string(),
                what: "plugin state",
                message: e.to_string(),
            }),
        }
    }

    /// Every plugin's persisted state in rollout `id`, by plugin key.
    pub fn plugin_states(&self, id: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT plugin FROM plugin_state WHERE rollout_id = ?1").map_err(|e| self.sql(e))?;
        let keys: Vec<String> = stmt
            .query_map([id], |r| r.get(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        keys.into_iter().map(|k| Ok((k.clone(), self.plugin_state(id, &k)?))).collect()
    }

    /// When the outstanding wait numbered `issued` is due, if it was started.
    pub fn timer(&self, id: &str, issued: u64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT timer_due FROM rollouts WHERE id = ?1 AND timer_issued = ?2",
                params![id, issued as i64],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.sql(e))
    }

    /// Records that the wait numbered `issued` is due at `due` (ms since the epoch).
    pub fn set_timer(&self, id: &str, issued: u64, due: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE rollouts SET timer_issued = ?2, timer_due = ?3 WHERE id = ?1",
                params![id, issued as i64, due],
            )
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    /// Takes the runner lease of rollout `id` for process `pid`, unless another live process holds it.
    /// Returns the holder's pid when refused.
    pub fn acquire_lease(
        &mut self,
        id: &str,
        pid: u32,
        alive: impl Fn(u32) -> bool,
    ) -> Result<Result<(), u32>, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = write_transaction(&mut self.conn).map_err(err)?;
        let holder: Option<Option<u32>> = tx
            .query_row("SELECT runner_pid FROM rollouts WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(err)?;
        let Some(holder) = holder else {
            return Err(StoreError::UnknownRollout { id: id.to_string(), path });
        };
        if let Some(other) = holder.filter(|&h| h != pid && alive(h)) {
            return Ok(Err(other));
        }
        tx.execute("UPDATE rollouts SET runner_pid = ?2 WHERE id = ?1", params![id, pid]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Ok(()))
    }

    /// Gives the lease of rollout `id` back, if `pid` holds it.
    pub fn release_lease(&self, id: &str, pid: u32) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE rollouts SET runner_pid = NULL WHERE id = ?1 AND runner_pid = ?2", params![id, pid])
            .map(drop)
            .map_err(|e| self.sql(e))
    }
}

/// Every rollout, newest first.
fn list_rollouts(conn: &Connection) -> rusqlite::Result<Vec<RolloutRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, spec_path, spec, plan, state, phase, version, created_at, updated_at, runner_pid
         FROM rollouts ORDER BY created_at DESC, rowid DESC",
    )?;
    let rows = stmt.query_map([], record)?;
    rows.collect()
}

/// A transaction that takes the write lock at once. In WAL mode a deferred transaction that reads
/// and then writes fails immediately with BUSY if another connection committed in between (the busy
/// timeout cannot help it), which would kill a runner whenever an operator pauses from a second
/// terminal; taking the lock up front makes concurrent writers wait their turn instead.
fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RolloutRecord> {
    Ok(RolloutRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        spec_path: PathBuf::from(r.get::<_, String>(2)?),
        spec: r.get(3)?,
        plan: r.get(4)?,
        state: r.get(5)?,
        phase: r.get(6)?,
        version: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        runner_pid: r.get(10)?,
    })
}

#[cfg(test)]
mod tests;
