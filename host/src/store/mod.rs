//! The durable store: each rollout's record and an append-only journal of every transition and
//! plugin call outcome, in SQLite (a file: WAL, `synchronous=FULL`; the embedded default) or in
//! PostgreSQL (a database several `upshift serve` replicas share), with the same semantics on both
//! ([`db`]). Every change is one transaction, checked against the record's version so concurrent
//! writers (a runner and a control command from another terminal or replica) never overwrite each
//! other. A journal entry is capped in size when it is written (see [`MAX_MESSAGE_BYTES`],
//! [`MAX_DETAIL_BYTES`]).

mod commit_hook;
mod db;
mod deliveries;
mod group;
mod journal;
mod lease;
mod location;
mod postgres;
mod schema;
mod tail;
mod tokens;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use db::{Db, DbError, Row, Tx, p};

pub use commit_hook::{CommitObserver, set_commit_observer};
pub use deliveries::{Attempt, AttemptOutcome, Delivery, DeliveryStatus, NewDelivery};
pub use group::{GroupCommitter, MAX_GROUP};
pub use journal::{EntryKind, JournalEntry, MAX_DETAIL_BYTES, MAX_MESSAGE_BYTES, NewEntry};
pub use lease::{
    Fence, LEASE_RENEW_EVERY, LEASE_TTL, Lease, keep_renewed, lease_ttl, me as lease_holder, process_alive,
    set_lease_timing,
};
pub use location::Location;
pub use postgres::{DEFAULT_POOL_IDLE, PASSWORD_ENV, set_pool_idle};
pub use tail::TailEntry;
pub use tokens::StoredToken;

/// Environment variable naming the store (a file, or a `postgres://` URL); `--state` overrides it.
pub const STATE_ENV: &str = "UPSHIFT_STATE";
/// File name of the store inside the user's data directory.
pub const STATE_FILE: &str = "upshift.db";
/// How long a writer waits for another's transaction before giving up (SQLite).
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {store}: {source}")]
    Db { store: Location, source: DbError },

    #[error("state store {store}: {message}")]
    Open { store: Location, message: String },

    #[error("cannot create the state folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },

    #[error("no state store at {store}: no rollout has run with this state yet (pass --state or set {STATE_ENV})")]
    Missing { store: Location },

    #[error("unknown rollout {id:?}; `upshift list` shows the rollouts in {store}")]
    UnknownRollout { id: String, store: Location },

    #[error("rollout {id} changed while this command ran; try again")]
    Conflict { id: String },

    /// The commit's [`Fence`] is no longer the lease's: another process took the rollout over.
    #[error("rollout {id}: this process's runner lease (epoch {epoch}) was taken over by {by}; it stops driving it")]
    Fenced { id: String, epoch: i64, by: String },

    #[error("rollout {id} has a corrupt record ({what}): {message}")]
    Corrupt { id: String, what: &'static str, message: String },

    #[error("state store {store} was written by a newer upshift (schema {found}, this one knows {known})")]
    NewerSchema { store: Location, found: i64, known: i64 },

    #[error("a token named {name:?} exists already in {store}; choose another --name")]
    TokenExists { name: String, store: Location },

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
    /// Who drives it, if anyone took its runner lease (it may have expired).
    pub lease: Option<Lease>,
}

/// What a runner reads of its rollout at every step: its version, engine state and lease (the
/// spec and plan, which never change, are read once when it opens the rollout).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutHead {
    pub version: i64,
    /// The engine state, as JSON.
    pub state: String,
    pub lease: Option<Lease>,
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
    /// Whether the process creating the rollout takes its runner lease with it, so no other process
    /// takes it between its creation and its first step (the one that created it to drive it).
    pub leased: bool,
}

/// One atomic change to a rollout: new state (if any), journal entries, plugin states.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// New engine state JSON and phase name; `None` leaves the state as it is.
    pub state: Option<(String, &'a str)>,
    pub entries: Vec<NewEntry>,
    pub plugin_states: Vec<(String, BTreeMap<String, String>)>,
    pub at: i64,
    /// The committing runner's lease: the commit is refused once the lease is another's. `None`
    /// for a control (pause, approve, abort), which any process may record.
    pub fence: Option<Fence>,
    /// The wait this commit issues, as `(issued, due)` (see [`Store::timer`]): stored in the same
    /// transaction, so starting a bake costs no write of its own.
    pub timer: Option<(u64, i64)>,
}

pub struct Store {
    /// In a cell so that reading takes `&self` (a PostgreSQL session needs `&mut` for every query).
    db: std::cell::RefCell<Db>,
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.location).finish_non_exhaustive()
    }
}

/// The columns of a rollout's record, in the order [`record`] reads them, and where they are read
/// from: the rollout's row `r` and its spec and plan `d` (kept apart: written once, and large).
macro_rules! record_columns {
    () => {
        "r.id, r.name, r.spec_path, d.spec, d.plan, r.state, r.phase, r.version, r.created_at, r.updated_at, \
         r.lease_holder, r.lease_epoch, r.lease_expires FROM rollouts r JOIN rollout_docs d ON d.id = r.id"
    };
}

impl Store {
    /// Opens the store at `location`, creating it (and a file's folder) if needed.
    pub fn open(location: impl Into<Location>) -> Result<Self, StoreError> {
        let location = location.into();
        if let Some(dir) = location.file().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder { path: dir.to_path_buf(), source })?;
        }
        let store = Self::connect(location)?;
        schema::migrate(&mut store.db()).map_err(|e| store.schema_error(e))?;
        Ok(store)
    }

    /// Opens an existing store; a missing one is an error rather than a new empty store, so a
    /// read-only command never creates state as a side effect.
    pub fn open_existing(location: impl Into<Location>) -> Result<Self, StoreError> {
        let location = location.into();
        if location.file().is_some_and(|p| !p.exists()) {
            return Err(StoreError::Missing { store: location });
        }
        let store = Self::connect(location)?;
        if matches!(store.location, Location::Postgres(_)) {
            let version = schema::version(&mut store.db()).map_err(|e| store.err(e))?;
            if version == 0 {
                return Err(StoreError::Missing { store: store.location.clone() });
            }
        }
        schema::migrate(&mut store.db()).map_err(|e| store.schema_error(e))?;
        Ok(store)
    }

    fn connect(location: Location) -> Result<Self, StoreError> {
        let db = match &location {
            Location::File(path) => {
                let err = |source: rusqlite::Error| StoreError::Db { store: location.clone(), source: source.into() };
                let conn = rusqlite::Connection::open(path).map_err(err)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
                conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
                conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
                conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
                Db::Sqlite(conn)
            }
            Location::Postgres(url) => Db::Postgres(
                postgres::session(url)
                    .map_err(|e| StoreError::Open { store: location.clone(), message: e.to_string() })?,
            ),
        };
        Ok(Store { db: std::cell::RefCell::new(db), location })
    }

    fn db(&self) -> std::cell::RefMut<'_, Db> {
        self.db.borrow_mut()
    }

    /// Where the store lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn err(&self, source: DbError) -> StoreError {
        StoreError::Db { store: self.location.clone(), source }
    }

    fn schema_error(&self, e: schema::SchemaError) -> StoreError {
        match e {
            schema::SchemaError::Db(source) => self.err(source),
            schema::SchemaError::Newer { found, known } => {
                StoreError::NewerSchema { store: self.location.clone(), found, known }
            }
        }
    }

    fn unknown(&self, id: &str) -> StoreError {
        StoreError::UnknownRollout { id: id.to_string(), store: self.location.clone() }
    }

    /// The id the next rollout named `name` gets: `<name>-<n>`.
    pub fn next_id(&self, name: &str) -> Result<String, StoreError> {
        let n = self
            .db()
            .query_opt("SELECT COUNT(*) FROM rollouts WHERE name = ?1", p![name])
            .and_then(|r| r.map_or(Ok(0), |r| r.int(0)))
            .map_err(|e| self.err(e))?;
        Ok(format!("{name}-{}", n + 1))
    }

    /// Creates a rollout with its first journal entries and its plugins' state.
    pub fn create(
        &mut self,
        new: NewRollout<'_>,
        entries: Vec<NewEntry>,
        plugin_states: Vec<(String, BTreeMap<String, String>)>,
    ) -> Result<(), StoreError> {
        self.create_admitted(new, entries, plugin_states, None)
    }

    /// [`Store::create`], if `admit` accepts the rollouts in the store as they are inside the write
    /// transaction: two processes deciding at once cannot both pass a check one of them would fail
    /// (`max_concurrent`, waves). A refusal writes nothing. Without `admit`, the store's rollouts are
    /// not read (creating one costs the same in a store of ten thousand).
    pub fn create_admitted(
        &mut self,
        new: NewRollout<'_>,
        entries: Vec<NewEntry>,
        plugin_states: Vec<(String, BTreeMap<String, String>)>,
        admit: Option<Admit<'_>>,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let mut db = self.db.borrow_mut();
        let mut tx = db.write().map_err(err)?;
        if let Some(admit) = admit {
            let all = tx.query(LIST, &[]).and_then(|rows| rows.iter().map(record).collect::<Result<Vec<_>, _>>());
            admit(&all.map_err(err)?).map_err(|reason| StoreError::Refused { reason })?;
        }
        let id = new.id;
        let spec_path = new.spec_path.to_string_lossy();
        let (holder, epoch, expires) = match new.leased {
            true => (Some(lease::me()), 1i64, Some(new.at.saturating_add(lease::lease_ttl().as_millis() as i64))),
            false => (None, 0i64, None),
        };
        tx.execute(
            "INSERT INTO rollouts (id, name, spec_path, state, phase, version, created_at, updated_at,
                                   lease_holder, lease_epoch, lease_expires)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7, ?8, ?9)",
            p![id, new.name, spec_path.as_ref(), new.state, new.phase, new.at, holder, epoch, expires],
        )
        .map_err(err)?;
        tx.execute("INSERT INTO rollout_docs (id, spec, plan) VALUES (?1, ?2, ?3)", p![id, new.spec, new.plan])
            .map_err(err)?;
        for e in &entries {
            journal::insert(&mut tx, id, new.at, e).map_err(err)?;
        }
        for (plugin, entries) in &plugin_states {
            let json = serde_json::to_string(entries).unwrap_or_else(|_| "{}".into());
            tx.execute(
                "INSERT INTO plugin_state (rollout_id, plugin, entries) VALUES (?1, ?2, ?3)",
                p![id, plugin, &json],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        drop(db);
        if new.leased {
            lease::keep_renewed(&self.location);
        }
        commit_hook::committed(entries.len(), started.elapsed());
        Ok(())
    }

    /// The rollout `id`.
    pub fn rollout(&self, id: &str) -> Result<RolloutRecord, StoreError> {
        let row = self
            .db()
            .query_opt(concat!("SELECT ", record_columns!(), " WHERE r.id = ?1"), p![id])
            .map_err(|e| self.err(e))?;
        match row {
            Some(r) => record(&r).map_err(|e| self.err(e)),
            None => Err(self.unknown(id)),
        }
    }

    /// The version, state and lease of rollout `id` ([`RolloutHead`]).
    pub fn rollout_head(&self, id: &str) -> Result<RolloutHead, StoreError> {
        let row = self
            .db()
            .query_opt(
                "SELECT version, state, lease_holder, lease_epoch, lease_expires FROM rollouts WHERE id = ?1",
                p![id],
            )
            .map_err(|e| self.err(e))?;
        let Some(r) = row else { return Err(self.unknown(id)) };
        let head = (|| Ok(RolloutHead { version: r.int(0)?, state: r.text(1)?, lease: lease::from_row(&r, 2)? }))();
        head.map_err(|e: DbError| self.err(e))
    }

    /// Every rollout, newest first.
    pub fn list(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let rows = self.db().query(LIST, &[]).map_err(|e| self.err(e))?;
        rows.iter().map(record).collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The newest rollout named `name` that has not ended, if any.
    pub fn active_by_name(&self, name: &str, terminal: &[&str]) -> Result<Option<String>, StoreError> {
        let rows = self
            .db()
            .query("SELECT id, phase FROM rollouts WHERE name = ?1 ORDER BY created_at DESC, rowid DESC", p![name])
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (id, phase) = (row.text(0), row.text(1));
            let (id, phase) = (id.map_err(|e| self.err(e))?, phase.map_err(|e| self.err(e))?);
            if !terminal.contains(&phase.as_str()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Applies `commit` if the rollout is still at `version`; returns the new version.
    pub fn commit(&mut self, id: &str, version: i64, commit: Commit<'_>) -> Result<i64, StoreError> {
        self.commit_ref(id, version, &commit)
    }

    fn commit_ref(&mut self, id: &str, version: i64, commit: &Commit<'_>) -> Result<i64, StoreError> {
        let started = std::time::Instant::now();
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let mut db = self.db.borrow_mut();
        let mut tx = db.write().map_err(err)?;
        check(&mut tx, &location, id, version, commit)?;
        let new_version = write(&mut tx, &location, id, version, commit)?;
        tx.commit().map_err(err)?;
        commit_hook::committed(commit.entries.len(), started.elapsed());
        Ok(new_version)
    }

    /// Applies several rollouts' commits in one transaction (one write to disk for all): each is
    /// still its own compare-and-swap, refused alone (a conflict, a fence, an unknown rollout)
    /// without touching the others, and each is durable once this returns. The results are in the
    /// order of `commits`.
    ///
    /// Any other error inside the group (the database failing a statement, or the commit) ends the
    /// transaction there, before another statement runs (so nothing is written outside it), and each
    /// commit is then made on its own instead, so one bad commit never takes the others with it. If
    /// the transaction cannot even begin, every commit gets that error.
    pub fn commit_group(&mut self, commits: &[(&str, i64, &Commit<'_>)]) -> Vec<Result<i64, StoreError>> {
        let started = std::time::Instant::now();
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let grouped = {
            let mut db = self.db.borrow_mut();
            let mut tx = match db.write() {
                Ok(tx) => tx,
                Err(e) => {
                    let message = err(e).to_string();
                    return commits
                        .iter()
                        .map(|_| Err(StoreError::Open { store: location.clone(), message: message.clone() }))
                        .collect();
                }
            };
            (|| {
                let mut results = Vec::with_capacity(commits.len());
                for (id, version, commit) in commits {
                    // Only these refuse one commit; any other error is the whole group's.
                    match check(&mut tx, &location, id, *version, commit) {
                        Ok(()) => results.push(Ok(write(&mut tx, &location, id, *version, commit)?)),
                        Err(
                            refused @ (StoreError::Conflict { .. }
                            | StoreError::Fenced { .. }
                            | StoreError::UnknownRollout { .. }),
                        ) => results.push(Err(refused)),
                        Err(e) => return Err(e),
                    }
                }
                tx.commit().map_err(err)?;
                Ok::<_, StoreError>(results)
            })()
        };
        match grouped {
            Ok(results) => {
                let entries =
                    commits.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|((_, _, c), _)| c.entries.len());
                commit_hook::committed(entries.sum(), started.elapsed());
                results
            }
            // The transaction was rolled back (the `Tx` dropped): nothing of the group was written.
            Err(_) => commits.iter().map(|(id, version, commit)| self.commit_ref(id, *version, commit)).collect(),
        }
    }

    /// The rollouts that have not ended ([`ENDED_PHASES`]), oldest first: id, version and lease.
    /// Read from the `rollouts_unended` index alone, so its cost grows with the rollouts under way,
    /// not with the history.
    pub fn unended(&self) -> Result<Vec<(String, i64, Option<Lease>)>, StoreError> {
        let rows = self.db().query(UNENDED, &[]).map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.text(0).map_err(|e| self.err(e))?;
            let version = r.int(1).map_err(|e| self.err(e))?;
            let lease = lease::from_row(&r, 2).map_err(|e| self.err(e))?;
            out.push((id, version, lease));
        }
        Ok(out)
    }

    /// The journal of rollout `id`, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        self.rollout(id)?;
        journal::read(&mut self.db(), id).map_err(|e| self.err(e))
    }

    /// The persisted state of `plugin` in rollout `id`.
    pub fn plugin_state(&self, id: &str, plugin: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let json = self
            .db()
            .query_opt("SELECT entries FROM plugin_state WHERE rollout_id = ?1 AND plugin = ?2", p![id, plugin])
            .and_then(|r| r.map(|r| r.text(0)).transpose())
            .map_err(|e| self.err(e))?;
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
        let keys = self
            .db()
            .query("SELECT plugin FROM plugin_state WHERE rollout_id = ?1", p![id])
            .and_then(|rows| rows.iter().map(|r| r.text(0)).collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        keys.into_iter().map(|k| Ok((k.clone(), self.plugin_state(id, &k)?))).collect()
    }

    /// When the outstanding wait numbered `issued` is due, if it was started.
    pub fn timer(&self, id: &str, issued: u64) -> Result<Option<i64>, StoreError> {
        self.db()
            .query_opt("SELECT timer_due FROM rollouts WHERE id = ?1 AND timer_issued = ?2", p![id, issued as i64])
            .and_then(|r| r.map(|r| r.opt_int(0)).transpose())
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Records that the wait numbered `issued` is due at `due` (ms since the epoch).
    pub fn set_timer(&self, id: &str, issued: u64, due: i64) -> Result<(), StoreError> {
        self.db()
            .execute("UPDATE rollouts SET timer_issued = ?2, timer_due = ?3 WHERE id = ?1", p![id, issued as i64, due])
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

/// The phases a rollout ends in (`Phase::is_terminal`), as the `rollouts_unended` index and
/// [`UNENDED`] spell them: the query must repeat the index's condition word for word to use it.
pub const ENDED_PHASES: [&str; 3] = ["succeeded", "rolled-back", "failed"];

const UNENDED: &str = "SELECT id, version, lease_holder, lease_epoch, lease_expires FROM rollouts
     WHERE phase NOT IN ('succeeded', 'rolled-back', 'failed') ORDER BY created_at, rowid";

/// Every rollout, newest first.
const LIST: &str = concat!("SELECT ", record_columns!(), " ORDER BY r.created_at DESC, r.rowid DESC");

/// Whether `commit` may be made inside the write transaction `tx`: rollout `id` is still at
/// `version` (the compare-and-swap) and, for a runner's commit, still under its lease.
fn check(tx: &mut Tx<'_>, location: &Location, id: &str, version: i64, commit: &Commit<'_>) -> Result<(), StoreError> {
    let err = |source| StoreError::Db { store: location.clone(), source };
    let row = tx
        .query_opt("SELECT version, lease_holder, lease_epoch, lease_expires FROM rollouts WHERE id = ?1", p![id])
        .map_err(err)?;
    let Some(row) = row else {
        return Err(StoreError::UnknownRollout { id: id.to_string(), store: location.clone() });
    };
    if let Some(fence) = &commit.fence {
        let lease = lease::from_row(&row, 1).map_err(err)?;
        if lease.as_ref().is_none_or(|l| l.holder != fence.holder || l.epoch != fence.epoch) {
            let by = lease.map_or_else(|| "nobody (released)".to_string(), |l| l.describe());
            return Err(StoreError::Fenced { id: id.to_string(), epoch: fence.epoch, by });
        }
    }
    if row.int(0).map_err(err)? != version {
        return Err(StoreError::Conflict { id: id.to_string() });
    }
    Ok(())
}

/// The writes of a checked `commit` (see [`check`]): the entries, plugin states, state and timer;
/// returns the rollout's new version.
fn write(tx: &mut Tx<'_>, location: &Location, id: &str, version: i64, commit: &Commit<'_>) -> Result<i64, StoreError> {
    let err = |source| StoreError::Db { store: location.clone(), source };
    for e in &commit.entries {
        journal::insert(tx, id, commit.at, e).map_err(err)?;
    }
    for (plugin, entries) in &commit.plugin_states {
        let json = serde_json::to_string(entries).unwrap_or_else(|_| "{}".into());
        tx.execute(
            "INSERT INTO plugin_state (rollout_id, plugin, entries) VALUES (?1, ?2, ?3)
             ON CONFLICT (rollout_id, plugin) DO UPDATE SET entries = excluded.entries",
            p![id, plugin, &json],
        )
        .map_err(err)?;
    }
    // One statement per rollout row: SQLite rewrites the whole row on every update of it (spec and
    // plan live in `rollout_docs` so that this row stays small).
    match (&commit.state, commit.timer) {
        (Some((state, phase)), timer) => {
            // A runner's commit that ends the rollout gives its lease back with it: no second write
            // after the end, which a controller ending many rollouts at once would queue for the lock.
            let ends = commit.fence.is_some() && ENDED_PHASES.contains(phase);
            let new_version = version + 1;
            let sql = match (timer.is_some(), ends) {
                (false, false) => {
                    "UPDATE rollouts SET state = ?2, phase = ?3, version = ?4, updated_at = ?5 WHERE id = ?1"
                }
                (false, true) => {
                    "UPDATE rollouts SET state = ?2, phase = ?3, version = ?4, updated_at = ?5,
                     lease_holder = NULL, lease_expires = NULL WHERE id = ?1"
                }
                (true, false) => {
                    "UPDATE rollouts SET state = ?2, phase = ?3, version = ?4, updated_at = ?5,
                     timer_issued = ?6, timer_due = ?7 WHERE id = ?1"
                }
                (true, true) => {
                    "UPDATE rollouts SET state = ?2, phase = ?3, version = ?4, updated_at = ?5,
                     timer_issued = ?6, timer_due = ?7, lease_holder = NULL, lease_expires = NULL WHERE id = ?1"
                }
            };
            let (issued, due) = timer.map_or((0, 0), |(issued, due)| (issued as i64, due));
            let params = p![id, state, *phase, new_version, commit.at, issued, due];
            let params = if timer.is_some() { params } else { &params[..5] };
            tx.execute(sql, params).map_err(err)?;
            Ok(new_version)
        }
        (None, Some((issued, due))) => {
            tx.execute(
                "UPDATE rollouts SET timer_issued = ?2, timer_due = ?3 WHERE id = ?1",
                p![id, issued as i64, due],
            )
            .map_err(err)?;
            Ok(version)
        }
        (None, None) => Ok(version),
    }
}

fn record(r: &Row) -> Result<RolloutRecord, DbError> {
    Ok(RolloutRecord {
        id: r.text(0)?,
        name: r.text(1)?,
        spec_path: PathBuf::from(r.text(2)?),
        spec: r.text(3)?,
        plan: r.text(4)?,
        state: r.text(5)?,
        phase: r.text(6)?,
        version: r.int(7)?,
        created_at: r.int(8)?,
        updated_at: r.int(9)?,
        lease: lease::from_row(r, 10)?,
    })
}

#[cfg(test)]
mod backends_tests;
#[cfg(test)]
mod tests;
