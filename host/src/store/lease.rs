//! Runner leases: which process drives a rollout. A lease is three columns of the rollout's row:
//! its holder (a process, named `HOST:PID:START`), a fencing epoch that grows on every takeover,
//! and when it expires.
//!
//! - A process takes a rollout's lease when it is free, already its own, expired, or held by a
//!   process of this host that no longer exists (a killed `upshift run` is taken over at once rather
//!   than after the TTL). Taking it from another holder adds one to the epoch.
//! - Every process renews the leases it holds every [`LEASE_RENEW_EVERY`] (a thread of its own, see
//!   [`keep_renewed`]), pushing their expiry [`LEASE_TTL`] ahead; both are configurable
//!   ([`set_lease_timing`], `serve`'s `lease_ttl_ms` and `lease_renew_ms`).
//! - Every commit of a holder carries its [`Fence`] (holder and epoch) and is refused
//!   ([`StoreError::Fenced`](super::StoreError::Fenced)) once the lease is someone else's: a process
//!   that was paused or cut off past its lease can never commit, whatever its clock says. Fencing is
//!   by epoch, not by time; the expiry only decides when another may take over.
//! - A process that stops cleanly gives its leases back ([`Store::release_lease`]) so another takes
//!   them over at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::db::{DbError, Row, p};
use super::{Location, Store, StoreError};

/// How long a lease lasts unless renewed.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often a process renews the leases it holds.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(5);

static TTL_MS: AtomicU64 = AtomicU64::new(LEASE_TTL.as_millis() as u64);
static RENEW_MS: AtomicU64 = AtomicU64::new(LEASE_RENEW_EVERY.as_millis() as u64);

/// Sets this process's lease TTL and renewal interval (the renewal at most a third of the TTL, so
/// two renewals can fail before the lease runs out).
pub fn set_lease_timing(ttl: Duration, renew_every: Duration) {
    let ttl_ms = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
    let renew_ms = (renew_every.as_millis().clamp(1, u64::MAX as u128) as u64).min((ttl_ms / 3).max(1));
    TTL_MS.store(ttl_ms, Ordering::Relaxed);
    RENEW_MS.store(renew_ms, Ordering::Relaxed);
}

/// The lease TTL this process uses.
pub fn lease_ttl() -> Duration {
    Duration::from_millis(TTL_MS.load(Ordering::Relaxed))
}

fn renew_every() -> Duration {
    Duration::from_millis(RENEW_MS.load(Ordering::Relaxed))
}

/// A rollout's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// `HOST:PID:START` of the holding process.
    pub holder: String,
    pub epoch: i64,
    /// Ms since the Unix epoch.
    pub expires_at: i64,
}

/// What a holder's commits carry: refused once the lease moved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub epoch: i64,
}

/// This machine's name (the kernel's hostname).
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().replace(':', "_"))
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// This process as a lease holder: `HOST:PID:START` (START, ms since the epoch when it first asked,
/// tells a reused pid from the process that held a lease before).
pub fn me() -> &'static str {
    static ME: OnceLock<String> = OnceLock::new();
    ME.get_or_init(|| format!("{}:{}:{}", host(), std::process::id(), now_ms()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Whether process `pid` exists on this host.
pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Lease {
    /// The holder's host and pid.
    fn parts(&self) -> Option<(&str, u32)> {
        let mut it = self.holder.split(':');
        let (host, pid) = (it.next()?, it.next()?.parse().ok()?);
        Some((host, pid))
    }

    /// Whether the holder may still be driving at `now`: the lease has not expired and, for a
    /// holder on this host, its process exists (and is not this one under an older name).
    pub fn live(&self, now: i64) -> bool {
        if self.expires_at <= now {
            return false;
        }
        match self.parts() {
            Some((h, pid)) if h == host() => process_alive(pid) && (pid != std::process::id() || self.holder == me()),
            _ => true,
        }
    }

    /// Whether this process holds it.
    pub fn mine(&self) -> bool {
        self.holder == me()
    }

    /// The holder's pid, if it runs on this host.
    pub fn local_pid(&self) -> Option<u32> {
        self.parts().filter(|(h, _)| *h == host()).map(|(_, pid)| pid)
    }

    /// The holder for a human: `pid N`, with ` on HOST` when it runs elsewhere.
    pub fn describe(&self) -> String {
        match self.parts() {
            Some((h, pid)) if h == host() => format!("pid {pid}"),
            Some((h, pid)) => format!("pid {pid} on {h}"),
            None => self.holder.clone(),
        }
    }
}

impl std::fmt::Display for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The lease from a row's `lease_holder, lease_epoch, lease_expires` at `at`.
pub(super) fn from_row(r: &Row, at: usize) -> Result<Option<Lease>, DbError> {
    let Some(holder) = r.opt_text(at)? else { return Ok(None) };
    Ok(Some(Lease { holder, epoch: r.int(at + 1)?, expires_at: r.opt_int(at + 2)?.unwrap_or(0) }))
}

impl Store {
    /// Takes the lease of rollout `id` for this process (see the module's rules). `Ok(fence)` to
    /// carry in its commits, or `Err(lease)` of the live holder.
    pub fn acquire_lease(&self, id: &str) -> Result<Result<Fence, Lease>, StoreError> {
        self.acquire_lease_as(id, me(), now_ms(), lease_ttl())
    }

    /// [`Store::acquire_lease`] for `holder` at `now`.
    pub fn acquire_lease_as(
        &self,
        id: &str,
        holder: &str,
        now: i64,
        ttl: Duration,
    ) -> Result<Result<Fence, Lease>, StoreError> {
        let location = self.location.clone();
        let err = |source| StoreError::Db { store: location.clone(), source };
        let mut db = self.db.borrow_mut();
        let mut tx = db.write().map_err(err)?;
        let row = tx
            .query_opt("SELECT lease_holder, lease_epoch, lease_expires FROM rollouts WHERE id = ?1", p![id])
            .map_err(err)?;
        let Some(row) = row else { return Err(StoreError::UnknownRollout { id: id.to_string(), store: location }) };
        let current = from_row(&row, 0).map_err(err)?;
        let epoch = row.int(1).map_err(err)?;
        let epoch = match &current {
            Some(l) if l.holder == holder => epoch,
            Some(l) if l.live(now) => return Ok(Err(l.clone())),
            _ => epoch + 1,
        };
        let expires = now.saturating_add(ttl.as_millis() as i64);
        tx.execute(
            "UPDATE rollouts SET lease_holder = ?2, lease_epoch = ?3, lease_expires = ?4 WHERE id = ?1",
            p![id, holder, epoch, expires],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        drop(db);
        keep_renewed(&self.location);
        Ok(Ok(Fence { holder: holder.to_string(), epoch }))
    }

    /// Pushes the expiry of every lease `holder` holds to `now + ttl`; returns how many.
    pub fn renew_leases(&self, holder: &str, now: i64, ttl: Duration) -> Result<u64, StoreError> {
        let expires = now.saturating_add(ttl.as_millis() as i64);
        self.db()
            .execute("UPDATE rollouts SET lease_expires = ?2 WHERE lease_holder = ?1", p![holder, expires])
            .map_err(|e| self.err(e))
    }

    /// Gives the lease of rollout `id` back, if this process holds it (its epoch stays, so the next
    /// holder's is higher).
    pub fn release_lease(&self, id: &str) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE rollouts SET lease_holder = NULL, lease_expires = NULL WHERE id = ?1 AND lease_holder = ?2",
                p![id, me()],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

/// Starts (once per store location) this process's thread that renews its leases every
/// [`LEASE_RENEW_EVERY`]. A renewal that fails is tried again at the next tick; a lease that ran out
/// meanwhile may be taken over, and the fence then refuses this process's next commit.
pub fn keep_renewed(location: &Location) {
    static STARTED: Mutex<Vec<Location>> = Mutex::new(Vec::new());
    let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    if started.contains(location) {
        return;
    }
    started.push(location.clone());
    let location = location.clone();
    let spawned = std::thread::Builder::new().name("upshift-leases".into()).spawn(move || {
        let mut store = None;
        loop {
            std::thread::sleep(renew_every());
            let renewed = match &store {
                Some(s) => Ok(s),
                None => Store::open_existing(&location).map(|s| &*store.insert(s)),
            }
            .and_then(|s| s.renew_leases(me(), now_ms(), lease_ttl()));
            if let Err(e) = renewed {
                tracing::warn!("cannot renew this process's runner leases: {e}");
                store = None;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the lease renewal thread: {e}");
    }
}
