//! Live updates: the journal as a stream of changes, sent to open dashboards as Server-Sent Events.
//!
//! One thread per server follows the journal (`Store::journal_after`) and broadcasts, per batch, one
//! change per rollout that moved. It wakes when this server commits (it is a [`JournalObserver`])
//! and otherwise every [`FEED_POLL`], so what another replica or a CLI commits shows too. A page
//! receives only rollout ids and `seq`s, then fetches what it shows with its own credential.
//! [`Feed::close`] ends every stream, so a stopping server does not wait on open pages.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::engine::State;
use crate::serve::JournalObserver;
use crate::store::{NewEntry, Store};

/// How often the journal is read when this server commits nothing.
pub const FEED_POLL: Duration = Duration::from_millis(500);
/// Changes kept for a slow page before it is told to reload what it shows.
const BACKLOG: usize = 1024;
/// Entries read per batch.
const BATCH: usize = 1000;
/// The most streams open at once (every open dashboard page holds one). One more is refused until a
/// page closes: each holds a connection and a task, and a viewer's credential could otherwise open
/// them without end.
pub const MAX_STREAMS: usize = 256;

/// A rollout whose journal grew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub seq: i64,
}

/// The journal, followed for the dashboards.
pub struct Feed {
    tx: broadcast::Sender<Change>,
    wake: SyncSender<()>,
    woken: Mutex<Option<Receiver<()>>>,
    closed: watch::Sender<bool>,
    streams: Arc<AtomicUsize>,
    max_streams: usize,
}

/// One open stream's place among the [`MAX_STREAMS`]: given back when dropped (the page went away
/// or the server stopped).
#[derive(Debug)]
pub struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Feed {
    pub fn new() -> Arc<Feed> {
        Feed::with_max_streams(MAX_STREAMS)
    }

    fn with_max_streams(max_streams: usize) -> Arc<Feed> {
        let (wake, woken) = sync_channel(1);
        Arc::new(Feed {
            tx: broadcast::channel(BACKLOG).0,
            wake,
            woken: Mutex::new(Some(woken)),
            closed: watch::channel(false).0,
            streams: Arc::new(AtomicUsize::new(0)),
            max_streams,
        })
    }

    /// A new stream's changes and its slot, or `None` when [`MAX_STREAMS`] are open.
    pub fn subscribe(&self) -> Option<(broadcast::Receiver<Change>, StreamSlot)> {
        self.streams
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.max_streams).then_some(n + 1))
            .ok()?;
        Some((self.tx.subscribe(), StreamSlot(self.streams.clone())))
    }

    /// Becomes `true` when the server stops.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Ends every stream and the following thread.
    pub fn close(&self) {
        self.closed.send_replace(true);
        let _ = self.wake.try_send(());
    }

    /// Starts following the journal of the store at `state` from its current end. Only the first
    /// call starts a thread.
    pub fn start(self: &Arc<Self>, state: PathBuf) {
        let Some(woken) = self.woken.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let feed = self.clone();
        std::thread::Builder::new()
            .name("dashboard-feed".into())
            .spawn(move || feed.follow(state, woken))
            .map(drop)
            .unwrap_or_else(|e| tracing::warn!("the dashboard's live updates are off: {e}"));
    }

    fn follow(&self, state: PathBuf, woken: Receiver<()>) {
        let mut store: Option<Store> = None;
        let mut after: Option<i64> = None;
        while !*self.closed.borrow() {
            if store.is_none() {
                store = Store::open(&state).map_err(|e| tracing::warn!("dashboard feed: {e}")).ok();
            }
            if let Some(s) = &store {
                match self.read(s, &mut after) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!("dashboard feed: {e}");
                        store = None;
                    }
                }
            }
            match woken.recv_timeout(FEED_POLL) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Reads what was journaled after `after` and broadcasts it; the first call only finds the end.
    fn read(&self, store: &Store, after: &mut Option<i64>) -> Result<(), crate::store::StoreError> {
        let Some(from) = *after else {
            *after = Some(store.journal_end()?);
            return Ok(());
        };
        if self.tx.receiver_count() == 0 {
            // Nobody watches: keep the position, read nothing.
            *after = Some(store.journal_end()?);
            return Ok(());
        }
        let mut from = from;
        loop {
            let batch = store.journal_after(from, BATCH)?;
            let mut last: Vec<Change> = Vec::new();
            for t in &batch {
                match last.iter_mut().find(|c| c.id == t.rollout_id) {
                    Some(c) => c.seq = t.entry.seq,
                    None => last.push(Change { id: t.rollout_id.clone(), seq: t.entry.seq }),
                }
                from = t.entry.seq;
            }
            for c in last {
                let _ = self.tx.send(c);
            }
            if batch.len() < BATCH {
                break;
            }
        }
        *after = Some(from);
        Ok(())
    }
}

impl JournalObserver for Feed {
    fn committed(&self, _rollout_id: &str, _entries: &[NewEntry], _state: &State) {
        let _ = self.wake.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_ends_the_streams() {
        let feed = Feed::new();
        let mut closed = feed.closed();
        assert!(!*closed.borrow());
        feed.close();
        assert!(*closed.borrow_and_update());
    }

    #[test]
    fn streams_past_the_limit_are_refused_until_one_closes() {
        let feed = Feed::with_max_streams(2);
        let first = feed.subscribe().expect("first stream");
        let second = feed.subscribe().expect("second stream");
        assert!(feed.subscribe().is_none(), "a third is refused");
        drop(first);
        let third = feed.subscribe().expect("a closed stream's place is given back");
        assert!(feed.subscribe().is_none());
        // Refusals take no place: once both close, two open again.
        for _ in 0..3 {
            assert!(feed.subscribe().is_none());
        }
        drop((second, third));
        assert_eq!(feed.streams.load(Ordering::SeqCst), 0);
        let _both = (feed.subscribe().expect("one"), feed.subscribe().expect("two"));
    }
}
