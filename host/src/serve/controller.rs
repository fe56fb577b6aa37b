//! The controller: finds every rollout in the store that has not ended (created by the API, by a CLI
//! `run` that left it, or before a restart) and drives each one step after another on a bounded pool
//! of blocking threads, so a stuck plugin holds one thread until its deadline and never the others.
//!
//! A rollout is driven in controller mode (`RunOptions::controller`): the runner returns at a bake,
//! a closed window or a human's turn, and the rollout is *parked* here with the time it is due and
//! its record's version; it is driven again when the time comes (a timer in memory, so a bake ends
//! on time without a scan of the store) or the version changes (a control, seen by the next scan).
//! Bakes are therefore timers, not sleeping threads: a baking rollout holds no thread and no plugin
//! instance. Store connections are kept and reused by the steps and scans. The store's runner lease is
//! taken by this process for every rollout it drives and kept while one is parked, so a CLI `run` or
//! `resume` sees it driven and a rollout a CLI process drives is left alone until that process lets
//! go. On shutdown the runners stop at their next step boundary and every lease is given back.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::observe::Observers;
use crate::engine::State;
use crate::rollout::{self, Halt, Plan, Reporter, RunError, RunOptions, Runner};
use crate::runtime::Runtime;
use crate::store::{GroupCommitter, Lease, NewEntry, Store, StoreError};
use crate::trust::TrustPolicy;

/// How often the store is scanned for rollouts to drive (a submission through the API wakes the
/// scan at once; a rollout a CLI process created or let go of is found by the next scan).
pub const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// How long a rollout whose step failed (its plugins cannot be loaded, the store is busy) waits
/// before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where one rollout stands in this controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A thread is driving it.
    Running,
    /// Waiting until `until_ms` (ms since the epoch) or until its record's version is not `version`
    /// (-1: unknown, only the time counts).
    Parked { version: i64, until_ms: i64 },
}

/// How urgent a step waiting for a worker is; the lower first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Urgency {
    /// A rollout under way: its bake ended, a control arrived, a retry came due. Among these the
    /// earliest due goes first, so a bake's end is late by the steps ahead of it, not by the backlog.
    UnderWay,
    /// A rollout not yet driven by this controller (new, or found after a restart), in the order the
    /// scans found them: begun only when no rollout under way is waiting for a worker.
    New,
}

/// Every rollout this controller knows, the parked ones' timers, and the steps waiting for a worker.
#[derive(Default)]
struct Slots {
    map: HashMap<String, Slot>,
    /// `(until_ms, id)` of parked rollouts, earliest first. An entry whose rollout's slot changed
    /// since is stale and skipped.
    timers: BinaryHeap<Reverse<(i64, String)>>,
    /// `(urgency, due_ms, sequence, id)` of the rollouts whose next step waits for a worker (their
    /// slot is `Running`), most urgent first.
    ready: BinaryHeap<Reverse<(Urgency, i64, u64, String)>>,
    /// Steps queued so far, to keep equally urgent ones in the order they came.
    queued: u64,
}

impl Slots {
    fn set(&mut self, id: String, slot: Slot) {
        let timed = match (slot, self.map.get(&id)) {
            // The same due time again (a control seen while parked, a retry): its entry is there.
            (Slot::Parked { until_ms, .. }, Some(Slot::Parked { until_ms: was, .. })) if *was == until_ms => None,
            (Slot::Parked { until_ms, .. }, _) if until_ms < i64::MAX => Some(until_ms),
            _ => None,
        };
        if let Some(until_ms) = timed {
            self.timers.push(Reverse((until_ms, id.clone())));
        }
        self.map.insert(id, slot);
        // Entries of slots that changed since are skipped when they come due; past twice the
        // rollouts known, they are dropped at once.
        if self.timers.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.timers.retain(
                |Reverse((until, id))| matches!(map.get(id), Some(Slot::Parked { until_ms, .. }) if until_ms == until),
            );
        }
    }

    /// Marks rollout `id` running and queues its next step for a worker.
    fn queue(&mut self, id: String, urgency: Urgency, due_ms: i64) {
        self.map.insert(id.clone(), Slot::Running);
        self.queued += 1;
        self.ready.push(Reverse((urgency, due_ms, self.queued, id)));
    }

    /// The most urgent step waiting for a worker.
    fn next_ready(&mut self) -> Option<String> {
        self.ready.pop().map(|Reverse((_, _, _, id))| id)
    }

    /// Queues the parked rollouts due at `now`; returns how many.
    fn queue_due(&mut self, now: i64) -> usize {
        let mut queued = 0;
        while let Some(Reverse((until, _))) = self.timers.peek() {
            if *until > now {
                break;
            }
            let Some(Reverse((until, id))) = self.timers.pop() else { break };
            if matches!(self.map.get(&id), Some(Slot::Parked { until_ms, .. }) if *until_ms == until) {
                self.queue(id, Urgency::UnderWay, until);
                queued += 1;
            }
        }
        queued
    }

    /// When the next parked rollout is due (ms since the epoch).
    fn next_due(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((until, _))| *until)
    }
}

pub struct Controller {
    state: PathBuf,
    runtime: Arc<Runtime>,
    trust: TrustPolicy,
    observers: Observers,
    stop: Arc<AtomicBool>,
    /// A step was queued, or the controller is stopping: idle workers look at the queue.
    work: Notify,
    /// Workers carrying out a step now.
    busy: AtomicUsize,
    /// Scan the store now (a rollout was created, the controller is stopping).
    wake: Notify,
    /// A step ended: look at the timers again.
    tick: Notify,
    slots: Mutex<Slots>,
    /// Store connections not in use, kept for the next step or scan.
    stores: Mutex<Vec<Store>>,
    committer: Mutex<Option<Arc<GroupCommitter>>>,
    max_parallel: usize,
    actor: String,
    /// Set once the first scan of the store has been made (`/readyz`).
    scanned: AtomicBool,
}

impl Controller {
    pub fn new(
        state: PathBuf,
        runtime: Arc<Runtime>,
        trust: TrustPolicy,
        observers: Observers,
        max_parallel: usize,
    ) -> Self {
        Controller {
            state,
            runtime,
            trust,
            observers,
            stop: Arc::new(AtomicBool::new(false)),
            work: Notify::new(),
            busy: AtomicUsize::new(0),
            wake: Notify::new(),
            tick: Notify::new(),
            slots: Mutex::new(Slots::default()),
            stores: Mutex::new(Vec::new()),
            committer: Mutex::new(None),
            max_parallel,
            actor: format!("upshift serve (pid {})", std::process::id()),
            scanned: AtomicBool::new(false),
        }
    }

    /// Looks at the store now rather than at the next scan (a rollout was just created).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops taking work; runners stop at their next step boundary.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        self.work.notify_waiters();
    }

    pub fn ready(&self) -> bool {
        self.scanned.load(Ordering::SeqCst) && !self.stop.load(Ordering::SeqCst)
    }

    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    /// Scans and drives until [`Controller::stop`]; then waits for every runner to stop and gives
    /// back every lease this process holds.
    ///
    /// `max_parallel` workers take the queued steps, most urgent first ([`Urgency`]); this loop
    /// queues them: the rollouts a scan finds, and the parked ones whose timer is due.
    pub async fn run(self: Arc<Self>) {
        let mut workers = JoinSet::new();
        for _ in 0..self.max_parallel {
            workers.spawn(self.clone().work());
        }
        let mut scan_now = true;
        let mut last_scan = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            if scan_now || last_scan.elapsed() >= SCAN_INTERVAL {
                last_scan = Instant::now();
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.queue_found()).await {
                    Ok(Ok(queued)) => {
                        if queued > 0 {
                            self.work.notify_waiters();
                        }
                        self.scanned.store(true, Ordering::SeqCst);
                    }
                    Ok(Err(e)) => tracing::warn!("controller: cannot scan the store: {e}"),
                    Err(e) => tracing::warn!("controller: scan failed: {e}"),
                }
            }
            // Parked rollouts whose timer is due, without reading the store.
            let (queued, next_due) = {
                let mut slots = self.slots();
                (slots.queue_due(rollout::now_ms()), slots.next_due())
            };
            if queued > 0 {
                self.work.notify_waiters();
            }
            let mut sleep = SCAN_INTERVAL.saturating_sub(last_scan.elapsed());
            if let Some(at) = next_due {
                sleep = sleep.min(Duration::from_millis(at.saturating_sub(rollout::now_ms()).max(0) as u64));
            }
            scan_now = tokio::select! {
                _ = tokio::time::sleep(sleep) => false,
                _ = self.wake.notified() => true,
                _ = self.tick.notified() => false,
            };
        }
        self.work.notify_waiters();
        while workers.join_next().await.is_some() {}
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.release_all()).await;
    }

    /// One worker: carries out the most urgent queued step, one after another, until the controller
    /// stops (a step under way is finished first; the runner stops at its next step boundary).
    async fn work(self: Arc<Self>) {
        loop {
            // Registered before the queue is looked at, so a step queued in between still wakes it.
            let queued = self.work.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let next = self.slots().next_ready();
            match next {
                Some(id) => {
                    self.busy.fetch_add(1, Ordering::SeqCst);
                    self.drive(id).await;
                    self.busy.fetch_sub(1, Ordering::SeqCst);
                }
                None => queued.await,
            }
        }
    }

    /// Queues the rollouts to drive now: not ended, not running here, not parked (or due, or
    /// changed), and not leased to another live process. Returns how many.
    fn queue_found(&self) -> Result<usize, StoreError> {
        let store = match self.store() {
            Err(StoreError::Missing { .. }) => return Ok(0),
            other => other?,
        };
        let unended = store.unended();
        // A connection that failed is not kept: the next scan opens a new one.
        if unended.is_ok() {
            self.give_back(store);
        }
        let now = rollout::now_ms();
        let mut slots = self.slots();
        // Rollouts no other process holds are taken a few at a time (as many as there are idle
        // workers), so replicas sharing a store share its rollouts rather than the first to look
        // taking them all; those this process holds already are always driven when due.
        let mut new_ones = self.max_parallel.saturating_sub(self.busy.load(Ordering::SeqCst) + slots.ready.len());
        let mut queued = 0;
        for (id, version, lease) in unended? {
            let ready = match slots.map.get(&id) {
                Some(Slot::Running) => None,
                Some(Slot::Parked { version: v, .. }) if *v >= 0 && *v != version => Some((Urgency::UnderWay, now)),
                Some(Slot::Parked { until_ms, .. }) => (now >= *until_ms).then_some((Urgency::UnderWay, *until_ms)),
                None => Some((Urgency::New, now)),
            };
            let held = lease.as_ref().filter(|l| l.live(now));
            let ours = held.is_some_and(Lease::mine);
            let Some((urgency, due_ms)) = ready.filter(|_| held.is_none() || ours) else {
                // Driven elsewhere: forget any slot, so that once the other process lets go (or
                // took it over from this one) the rollout is looked at afresh.
                if held.is_some() && !ours && !matches!(slots.map.get(&id), Some(Slot::Running)) {
                    // One this controller had parked was taken over while this process was
                    // stopped or cut off past its lease.
                    if let (Some(Slot::Parked { .. }), Some(by)) = (slots.map.remove(&id), held) {
                        tracing::warn!(
                            "rollout {id}: this process's runner lease was taken over by {}; it stops driving it",
                            by.describe()
                        );
                    }
                }
                continue;
            };
            if !ours && !slots.map.contains_key(&id) {
                if new_ones == 0 {
                    continue;
                }
                new_ones -= 1;
            }
            slots.queue(id, urgency, due_ms);
            queued += 1;
        }
        Ok(queued)
    }

    /// Drives rollout `id` on the blocking pool until it halts.
    async fn drive(self: &Arc<Self>, id: String) {
        let me = self.clone();
        let key = id.clone();
        let slot = match tokio::task::spawn_blocking(move || me.step(&key)).await {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!("rollout {id}: its runner panicked: {e}");
                Some(parked_for(-1, RETRY_AFTER))
            }
        };
        let mut slots = self.slots();
        match slot {
            Some(s) => slots.set(id, s),
            None => drop(slots.map.remove(&id)),
        };
        drop(slots);
        self.tick.notify_one();
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group committer every runner commits through, started with the first step (the store
    /// exists by then). `None` if it cannot start: runners then commit on their own connections.
    fn committer(&self) -> Option<Arc<GroupCommitter>> {
        let mut committer = self.committer.lock().unwrap_or_else(|p| p.into_inner());
        // One whose thread ended (a panic) is replaced.
        if committer.as_ref().is_none_or(|c| c.stopped()) {
            match GroupCommitter::start(&self.state) {
                Ok(c) => *committer = Some(Arc::new(c)),
                Err(e) => tracing::warn!("controller: commits are not grouped: {e}"),
            }
        }
        committer.clone()
    }

    /// Commits made through the group committer, and the transactions they took.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.committer.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or((0, 0), |c| c.stats())
    }

    /// A store connection: one a step or scan gave back, or a new one.
    fn store(&self) -> Result<Store, StoreError> {
        let kept = self.stores.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match kept {
            Some(store) => Ok(store),
            None => Store::open_existing(&self.state),
        }
    }

    /// Keeps `store` for the next step or scan (as many as can be in use at once).
    fn give_back(&self, store: Store) {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if stores.len() <= self.max_parallel {
            stores.push(store);
        }
    }

    /// Opens rollout `id` and drives it until it halts; returns its new slot (`None`: forget it).
    fn step(&self, id: &str) -> Option<Slot> {
        let mut store = match self.store() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("rollout {id}: {e}");
                return Some(parked_for(-1, RETRY_AFTER));
            }
        };
        let (slot, healthy) = self.step_on(&mut store, id);
        // A connection that failed is not kept: the next step opens a new one.
        if healthy {
            self.give_back(store);
        }
        slot
    }

    /// [`Controller::step`] on `store`; also says whether the store answered throughout.
    fn step_on(&self, store: &mut Store, id: &str) -> (Option<Slot>, bool) {
        let opts = RunOptions {
            actor: self.actor.clone(),
            wait_for_humans: false,
            trust: self.trust.clone(),
            dev: false,
            controller: true,
            stop: Some(self.stop.clone()),
            committer: self.committer(),
        };
        let version = |store: &Store| store.rollout_head(id).map_or(-1, |r| r.version);
        let halt = match Runner::open(store, &self.runtime, id, opts) {
            Ok(mut runner) => runner.drive(&mut Relay { id, observers: &self.observers }),
            Err(e) => Err(e),
        };
        let slot = match halt {
            Ok(Halt::Ended(phase)) => {
                tracing::info!("rollout {id}: {phase}");
                let released = store.release_lease(id);
                return (None, released.is_ok());
            }
            Ok(Halt::Human(_) | Halt::Stopped(_)) => Slot::Parked { version: version(store), until_ms: i64::MAX },
            Ok(Halt::Timer { due_ms, .. }) => Slot::Parked { version: version(store), until_ms: due_ms },
            // Another process took it between the scan and now, or took it over from this one (whose
            // lease ran out while it was stopped or cut off): the next scan looks again.
            // A rollout this controller had parked, taken over meanwhile (this process was stopped
            // or cut off past its lease), or taken by another process between the scan and now.
            Err(RunError::Leased { holder, .. }) => {
                tracing::warn!(
                    "rollout {id}: this process's runner lease was taken over by {}; it stops driving it",
                    holder.describe()
                );
                return (None, true);
            }
            Err(e @ RunError::Store(StoreError::Fenced { .. })) => {
                tracing::warn!("{e}");
                return (None, true);
            }
            Err(e @ RunError::Dev { .. }) => {
                tracing::warn!("{}", crate::text::terminal(&e.to_string(), crate::text::MAX_LINE));
                Slot::Parked { version: version(store), until_ms: i64::MAX }
            }
            Err(e) => {
                tracing::warn!("rollout {id}: {}", crate::text::terminal(&e.to_string(), crate::text::MAX_LINE));
                let healthy = !matches!(e, RunError::Store(StoreError::Db { .. }));
                return (Some(parked_for(version(store), RETRY_AFTER)), healthy);
            }
        };
        (Some(slot), true)
    }

    /// Gives back the lease of every rollout this process holds (on shutdown): those it drove, and
    /// those created through the API that it had not yet begun.
    fn release_all(&self) {
        let Ok(store) = self.store() else { return };
        for (id, _, lease) in store.unended().unwrap_or_default() {
            if lease.as_ref().is_some_and(Lease::mine) {
                let _ = store.release_lease(&id);
            }
        }
    }
}

fn parked_for(version: i64, wait: Duration) -> Slot {
    Slot::Parked { version, until_ms: rollout::now_ms().saturating_add(wait.as_millis() as i64) }
}

/// Hands each commit of a runner to the server's observers.
struct Relay<'a> {
    id: &'a str,
    observers: &'a Observers,
}

impl Reporter for Relay<'_> {
    fn committed(&mut self, entries: &[NewEntry], state: &State, _plan: &Plan) {
        self.observers.committed(self.id, entries, state);
    }
    fn waiting(&mut self, _id: &str, _state: &State) {}
    fn baking(&mut self, _state: &State, _plan: &Plan, _remaining: Duration) {}
}
