//! Group commit: one thread owns a store connection and commits, in one transaction, every
//! rollout's commit that is waiting when it is free. Each is still its own compare-and-swap (a
//! conflict or a fence refuses that one alone, [`Store::commit_group`]) and each caller gets its
//! answer only after the transaction is on disk, so a runner still sends its next plugin command
//! only once the transition before it is durable. Ten rollouts ready at once cost one write to disk
//! instead of ten, and writers no longer wait on each other for SQLite's lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use super::{Commit, Location, Store, StoreError};

/// The most commits one transaction carries.
pub const MAX_GROUP: usize = 512;

struct Request {
    id: String,
    version: i64,
    commit: Commit<'static>,
    reply: mpsc::SyncSender<Result<i64, StoreError>>,
}

/// Commits of many runners, grouped. Dropping it ends its thread once the last commit is answered.
pub struct GroupCommitter {
    sender: mpsc::Sender<Request>,
    location: Location,
    stats: std::sync::Arc<Stats>,
}

/// How many commits were made, in how many transactions; whether the thread ended.
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: AtomicU64,
    pub groups: AtomicU64,
    stopped: std::sync::atomic::AtomicBool,
}

/// Marks the committer stopped when its thread ends, however it ends (a panic included).
struct Stopped<'a>(&'a Stats);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter").field("location", &self.location).finish_non_exhaustive()
    }
}

impl GroupCommitter {
    /// Opens its own connection to the existing store at `location` and starts its thread.
    pub fn start(location: impl Into<Location>) -> Result<Self, StoreError> {
        let location = location.into();
        let store = Store::open_existing(location.clone())?;
        let (sender, requests) = mpsc::channel();
        let stats = std::sync::Arc::new(Stats::default());
        let counts = stats.clone();
        let reopen = location.clone();
        std::thread::Builder::new()
            .name("upshift-commits".into())
            .spawn(move || serve(store, &reopen, requests, &counts))
            .map_err(|e| StoreError::Open {
                store: location.clone(),
                message: format!("cannot start the committer: {e}"),
            })?;
        Ok(GroupCommitter { sender, location, stats })
    }

    /// [`Store::commit`] through the group: returns once the commit is durable (or refused).
    pub fn commit(&self, id: &str, version: i64, commit: Commit<'static>) -> Result<i64, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped =
            || StoreError::Open { store: self.location.clone(), message: "the committer thread stopped".into() };
        self.sender.send(Request { id: id.to_string(), version, commit, reply }).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    /// Commits made, and the transactions they were made in.
    pub fn stats(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.groups.load(Ordering::Relaxed))
    }

    /// Whether its thread ended (it panicked): a new committer must replace it.
    pub fn stopped(&self) -> bool {
        self.stats.stopped.load(Ordering::SeqCst)
    }
}

/// The committer's loop: waits for one commit, takes every other one waiting, commits them together.
/// After a group the database failed, the connection is opened again for the next one (a
/// PostgreSQL server that restarted, a session that was cut).
fn serve(mut store: Store, location: &Location, requests: mpsc::Receiver<Request>, stats: &Stats) {
    let _stopped = Stopped(stats);
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let items: Vec<(&str, i64, &Commit<'_>)> =
            group.iter().map(|r| (r.id.as_str(), r.version, &r.commit)).collect();
        let results = store.commit_group(&items);
        let failed = results.iter().any(|r| matches!(r, Err(StoreError::Db { .. } | StoreError::Open { .. })));
        if failed {
            match Store::open_existing(location.clone()) {
                Ok(fresh) => store = fresh,
                Err(e) => tracing::warn!("the committer cannot open the store again: {e}"),
            }
        }
        stats.commits.fetch_add(group.len() as u64, Ordering::Relaxed);
        stats.groups.fetch_add(1, Ordering::Relaxed);
        for (request, result) in group.into_iter().zip(results) {
            // A caller that went away no longer needs the answer.
            let _ = request.reply.send(result);
        }
    }
}
