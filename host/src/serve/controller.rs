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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::observe::Observers;
use super::schedule::{Schedule, Slot, Urgency, admits};
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
/// What a step is assumed to take until steps were measured.
const INITIAL_STEP: Duration = Duration::from_millis(50);
/// How often an idle worker looks again whether a new rollout may be begun ([`admits`]).
const ADMISSION_RECHECK: Duration = Duration::from_millis(20);

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
    schedule: Mutex<Schedule>,
    /// A step's wall time, averaged (µs; an exponential moving average), for [`admits`].
    step_us: AtomicU64,
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
            schedule: Mutex::new(Schedule::default()),
            step_us: AtomicU64::new(INITIAL_STEP.as_micros() as u64),
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
                let mut schedule = self.schedule();
                (schedule.queue_due(rollout::now_ms()), schedule.next_due())
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
            let (next, new_waiting) = {
                let busy = self.busy.load(Ordering::SeqCst);
                let step = Duration::from_micros(self.step_us.load(Ordering::Relaxed));
                let mut schedule = self.schedule();
                let next = schedule.next(rollout::now_ms(), |due_soon| admits(due_soon, busy, step, self.max_parallel));
                (next, schedule.new_waiting())
            };
            match next {
                Some(id) => {
                    self.busy.fetch_add(1, Ordering::SeqCst);
                    self.drive(id).await;
                    self.busy.fetch_sub(1, Ordering::SeqCst);
                }
                // New rollouts wait for the steps coming due to leave room: look again shortly.
                None if new_waiting => {
                    let _ = tokio::time::timeout(ADMISSION_RECHECK, queued).await;
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
        let mut schedule = self.schedule();
        // Rollouts no other process holds are taken a few at a time (as many as there are idle
        // workers), so replicas sharing a store share its rollouts rather than the first to look
        // taking them all; those this process holds already are always driven when due.
        let mut new_ones = self.max_parallel.saturating_sub(self.busy.load(Ordering::SeqCst) + schedule.waiting());
        let mut queued = 0;
        for (id, version, lease) in unended? {
            let slot = schedule.slot(&id);
            let ready = match slot {
                Some(Slot::Running) => None,
                Some(Slot::Parked { version: v, .. }) if v >= 0 && v != version => Some((Urgency::UnderWay, now)),
                Some(Slot::Parked { until_ms, .. }) => (now >= until_ms).then_some((Urgency::UnderWay, until_ms)),
                None => Some((Urgency::New, now)),
            };
            let held = lease.as_ref().filter(|l| l.live(now));
            let ours = held.is_some_and(Lease::mine);
            let Some((urgency, due_ms)) = ready.filter(|_| held.is_none() || ours) else {
                // Driven elsewhere: forget any slot, so that once the other process lets go (or
                // took it over from this one) the rollout is looked at afresh.
                if held.is_some() && !ours && slot != Some(Slot::Running) {
                    // One this controller had parked was taken over while this process was
                    // stopped or cut off past its lease.
                    if let (Some(Slot::Parked { .. }), Some(by)) = (schedule.forget(&id), held) {
                        warn_taken_over(&id, by);
                    }
                }
                continue;
            };
            if !ours && slot.is_none() {
                if new_ones == 0 {
                    continue;
                }
                new_ones -= 1;
            }
            schedule.queue(id, urgency, due_ms);
            queued += 1;
        }
        Ok(queued)
    }

    /// Drives rollout `id` on the blocking pool until it halts.
    async fn drive(self: &Arc<Self>, id: String) {
        let me = self.clone();
        let key = id.clone();
        let started = Instant::now();
        let slot = match tokio::task::spawn_blocking(move || me.step(&key)).await {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!("rollout {id}: its runner panicked: {e}");
                Some(parked_for(-1, RETRY_AFTER))
            }
        };
        // Nine parts the average so far, one part this step.
        let took = started.elapsed().as_micros() as u64;
        let _ = self.step_us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |avg| Some((avg * 9 + took) / 10));
        let mut schedule = self.schedule();
        match slot {
            Some(Slot::Parked { version, until_ms }) => schedule.park(id, version, until_ms),
            // A step never leaves its rollout running.
            Some(Slot::Running) | None => drop(schedule.forget(&id)),
        };
        drop(schedule);
        self.tick.notify_one();
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|p| p.into_inner())
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
                // The commit that ended it gave the lease back; one that ended elsewhere may not have.
                let released = match store.rollout_head(id) {
                    Ok(head) if head.lease.as_ref().is_some_and(Lease::mine) => store.release_lease(id),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                };
                return (None, released.is_ok());
            }
            Ok(Halt::Human(_) | Halt::Stopped(_)) => Slot::Parked { version: version(store), until_ms: i64::MAX },
            Ok(Halt::Timer { due_ms, .. }) => Slot::Parked { version: version(store), until_ms: due_ms },
            // A rollout this controller had parked, taken over meanwhile (this process was stopped
            // or cut off past its lease), or taken by another process between the scan and now.
            Err(RunError::Leased { holder, .. }) => {
                warn_taken_over(id, &holder);
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

/// Says that rollout `id`, which this process drove, is now `by`'s.
fn warn_taken_over(id: &str, by: &Lease) {
    tracing::warn!(
        "rollout {id}: this process's runner lease was taken over by {}; it stops driving it",
        by.describe()
    );
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
