//! The controller's schedule, in memory: where each rollout it knows stands (running, or parked
//! until a time or a change), the parked ones' timers, and the steps waiting for a worker, in the
//! order workers take them.
//!
//! Rollouts under way go first, earliest due first, so a bake's end is late by the steps ahead of
//! it and not by a backlog of rollouts not yet begun. A new rollout is begun only when none under
//! way is waiting and [`admits`] says the workers can take it on: the steps of the rollouts under
//! way that come due within [`ADMISSION_HORIZON`] must fit in [`ADMISSION_LOAD`] of the workers'
//! time. Past that, beginning more would only make every rollout under way late; the new ones wait
//! instead (how long, the fleet benchmark reports).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

/// How far ahead the steps coming due are counted when deciding whether to begin a new rollout.
pub const ADMISSION_HORIZON: Duration = Duration::from_secs(1);
/// The share of the workers' time over [`ADMISSION_HORIZON`] that steps already due may fill for a
/// new rollout to be begun; the rest absorbs steps that take longer than usual and bursts of timers.
pub const ADMISSION_LOAD: f64 = 0.7;

/// Where one rollout stands in this controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Queued for a worker, or a worker is driving it.
    Running,
    /// Waiting until `until_ms` (ms since the epoch; `i64::MAX`: no time) or until its record's
    /// version is not `version` (-1: unknown, only the time counts).
    Parked { version: i64, until_ms: i64 },
}

/// Which queue a step waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// A rollout under way: its bake ended, a control arrived, a retry came due.
    UnderWay,
    /// A rollout this controller has not driven yet (new, or found after a restart), in the order
    /// the scans found them.
    New,
}

/// Whether a new rollout may be begun: `due_soon` steps (queued, or coming due within the horizon)
/// of about `step` each, plus the `busy` workers' steps, fit in [`ADMISSION_LOAD`] of `workers`
/// workers' time over [`ADMISSION_HORIZON`].
pub fn admits(due_soon: usize, busy: usize, step: Duration, workers: usize) -> bool {
    let work = (due_soon + busy) as f64 * step.as_secs_f64();
    work < ADMISSION_LOAD * workers as f64 * ADMISSION_HORIZON.as_secs_f64()
}

#[derive(Default)]
pub struct Schedule {
    slots: HashMap<String, Slot>,
    /// `(until_ms, id)` of every rollout parked until a time.
    timers: BTreeSet<(i64, String)>,
    /// `(due_ms, sequence, id)` of the rollouts under way waiting for a worker, earliest due first.
    under_way: BinaryHeap<Reverse<(i64, u64, String)>>,
    /// New rollouts waiting for a worker, oldest found first.
    fresh: VecDeque<String>,
    /// Steps queued so far, to keep equally due ones in the order they came.
    queued: u64,
}

impl Schedule {
    pub fn slot(&self, id: &str) -> Option<Slot> {
        self.slots.get(id).copied()
    }

    /// Parks rollout `id` until `until_ms` or a change of its version from `version`.
    pub fn park(&mut self, id: String, version: i64, until_ms: i64) {
        self.unset_timer(&id);
        if until_ms < i64::MAX {
            self.timers.insert((until_ms, id.clone()));
        }
        self.slots.insert(id, Slot::Parked { version, until_ms });
    }

    /// Forgets rollout `id` (it ended, or another process drives it); returns where it stood.
    pub fn forget(&mut self, id: &str) -> Option<Slot> {
        self.unset_timer(id);
        self.slots.remove(id)
    }

    fn unset_timer(&mut self, id: &str) {
        if let Some(Slot::Parked { until_ms, .. }) = self.slots.get(id)
            && *until_ms < i64::MAX
        {
            self.timers.remove(&(*until_ms, id.to_string()));
        }
    }

    /// Marks rollout `id` running and queues its next step for a worker.
    pub fn queue(&mut self, id: String, urgency: Urgency, due_ms: i64) {
        self.unset_timer(&id);
        self.slots.insert(id.clone(), Slot::Running);
        match urgency {
            Urgency::UnderWay => {
                self.queued += 1;
                self.under_way.push(Reverse((due_ms, self.queued, id)));
            }
            Urgency::New => self.fresh.push_back(id),
        }
    }

    /// Queues the parked rollouts due at `now`; returns how many.
    pub fn queue_due(&mut self, now: i64) -> usize {
        let mut due = vec![];
        while let Some((until, _)) = self.timers.first()
            && *until <= now
        {
            if let Some(timer) = self.timers.pop_first() {
                due.push(timer);
            }
        }
        let count = due.len();
        for (until, id) in due {
            self.queue(id, Urgency::UnderWay, until);
        }
        count
    }

    /// When the next parked rollout is due (ms since the epoch).
    pub fn next_due(&self) -> Option<i64> {
        self.timers.first().map(|(until, _)| *until)
    }

    /// Steps waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.under_way.len() + self.fresh.len()
    }

    /// Steps of rollouts under way queued now or coming due before `now + horizon`.
    pub fn due_soon(&self, now: i64, horizon: Duration) -> usize {
        let limit = now.saturating_add(horizon.as_millis() as i64);
        self.under_way.len() + self.timers.range(..(limit, String::new())).count()
    }

    /// The step a free worker takes: the earliest due of a rollout under way, else the oldest new
    /// rollout if `admit(due_soon)` allows (see [`admits`]).
    pub fn next(&mut self, now: i64, admit: impl FnOnce(usize) -> bool) -> Option<String> {
        if let Some(Reverse((_, _, id))) = self.under_way.pop() {
            return Some(id);
        }
        if self.fresh.is_empty() || !admit(self.due_soon(now, ADMISSION_HORIZON)) {
            return None;
        }
        self.fresh.pop_front()
    }

    /// Whether a new rollout waits for a worker (and for [`admits`]).
    pub fn new_waiting(&self) -> bool {
        !self.fresh.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollouts_under_way_go_first_earliest_due_first_then_new_ones_in_order() {
        let mut s = Schedule::default();
        s.queue("new-1".into(), Urgency::New, 0);
        s.queue("new-2".into(), Urgency::New, 0);
        s.park("late".into(), 3, 2_000);
        s.park("early".into(), 3, 1_000);
        s.park("human".into(), 3, i64::MAX);
        assert_eq!(s.next_due(), Some(1_000));
        assert_eq!(s.queue_due(1_500), 1, "only the one due by then");
        assert_eq!(s.queue_due(2_500), 1);
        assert_eq!(s.slot("early"), Some(Slot::Running));
        let order: Vec<String> = std::iter::from_fn(|| s.next(2_500, |_| true)).collect();
        assert_eq!(order, ["early", "late", "new-1", "new-2"]);
        assert_eq!(s.next_due(), None, "a rollout waiting for a human has no timer");
        assert_eq!(s.slot("human"), Some(Slot::Parked { version: 3, until_ms: i64::MAX }));
    }

    #[test]
    fn a_rollout_parked_again_or_forgotten_leaves_no_timer_behind() {
        let mut s = Schedule::default();
        s.park("r".into(), 1, 1_000);
        s.park("r".into(), 2, 5_000);
        assert_eq!(s.queue_due(2_000), 0, "the first due time is gone");
        assert_eq!(s.next_due(), Some(5_000));
        assert_eq!(s.forget("r"), Some(Slot::Parked { version: 2, until_ms: 5_000 }));
        assert_eq!(s.next_due(), None);
        assert_eq!(s.queue_due(i64::MAX - 1), 0);
        s.park("q".into(), 1, 1_000);
        s.queue("q".into(), Urgency::UnderWay, 1_000);
        assert_eq!(s.next_due(), None, "queued by a scan before its timer: the timer goes");
    }

    #[test]
    fn a_new_rollout_waits_while_the_steps_coming_due_would_fill_the_workers() {
        let mut s = Schedule::default();
        s.queue("new".into(), Urgency::New, 0);
        for i in 0..50 {
            s.park(format!("r{i}"), 1, 10_000 + i * 10);
        }
        s.park("far".into(), 1, 60_000);
        assert_eq!(s.due_soon(10_000, ADMISSION_HORIZON), 50, "the one due in a minute is not counted");
        let mut asked = None;
        assert_eq!(
            s.next(10_000, |due| {
                asked = Some(due);
                false
            }),
            None
        );
        assert_eq!(asked, Some(50));
        assert!(s.new_waiting());
        assert_eq!(s.next(10_000, |_| true).as_deref(), Some("new"));
    }

    #[test]
    fn admission_weighs_the_steps_coming_due_against_the_workers_time() {
        let step = Duration::from_millis(20);
        // 8 workers over 1 s at 70 %: 5.6 s of work; 20 ms steps: 280 fit.
        assert!(admits(279, 0, step, 8));
        assert!(!admits(280, 0, step, 8));
        assert!(!admits(270, 10, step, 8), "steps being carried out count");
        assert!(admits(0, 0, Duration::from_secs(10), 8), "nothing coming due: always");
        assert!(!admits(1, 0, Duration::from_secs(10), 8), "one step longer than the workers' budget");
    }
}
