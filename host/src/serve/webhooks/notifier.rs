//! The notifier: per webhook, one dispatcher thread that follows the journal and queues events
//! (durably, in the store), and [`DELIVERY_WORKERS`] threads that POST them, retry, and record
//! each attempt. Nothing here runs on a rollout's thread, and it only reads the journal and writes
//! its own rows and notes, so a dead or slow endpoint never delays a rollout.
//!
//! Order: of each rollout's pending deliveries only the oldest may be attempted, and only one
//! attempt per rollout is in flight at a time; a later event of that rollout waits until the one
//! before is delivered or given up. Other rollouts' events are not held up by it.
//!
//! Delivery is at least once: an attempt cut short by a crash, or one whose outcome could not be
//! recorded, is made again with the same `X-Upshift-Delivery` id.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WebhookConfig, WebhookConfigError, events, sign};
use crate::rollout::now_ms;
use crate::serve::metrics::Metrics;
use crate::store::{Attempt, AttemptOutcome, Delivery, NewDelivery, Store, StoreError};

/// How often a dispatcher looks for new journal entries and due retries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Threads per webhook making attempts: how many rollouts' events can be in flight to one
/// endpoint at once (one slow answer holds one of them, not the others).
pub const DELIVERY_WORKERS: usize = 4;
/// Journal entries a dispatcher reads per query.
pub const ENQUEUE_BATCH: usize = 500;
/// The longest error text an attempt keeps (an endpoint's answer is not ours to store whole).
pub const MAX_ERROR_BYTES: usize = 512;

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Config(#[from] WebhookConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start a webhook thread: {0}")]
    Thread(std::io::Error),
}

/// Starts notifiers.
#[derive(Debug)]
pub struct Notifier;

/// The running notifier; [`NotifierHandle::shutdown`] (or dropping it) stops it.
#[derive(Debug)]
pub struct NotifierHandle {
    stop: Arc<AtomicBool>,
    wakers: Vec<Sender<Wake>>,
    threads: Vec<JoinHandle<()>>,
}

enum Wake {
    /// A worker finished an attempt: the rollout's next event may go.
    Done,
    Stop,
}

/// What a webhook's threads share.
struct Webhook {
    config: WebhookConfig,
    agent: ureq::Agent,
    /// Rollouts with an attempt in flight.
    busy: Mutex<HashSet<String>>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Checks `webhooks`, opens the store at `store_path` (creating the webhook tables if needed)
    /// and starts each webhook's threads. A webhook seen for the first time starts at the end of
    /// the journal; one seen before resumes after the last entry it queued, with its pending
    /// deliveries. Every event committed after this returns is delivered.
    pub fn start(
        store_path: &Path,
        webhooks: Vec<WebhookConfig>,
        metrics: Arc<Metrics>,
    ) -> Result<NotifierHandle, NotifierError> {
        WebhookConfig::validate_all(&webhooks)?;
        let mut store = Store::open(store_path)?;
        let mut cursors = Vec::new();
        for w in &webhooks {
            let cursor = match store.webhook_cursor(&w.name)? {
                Some(c) => c,
                None => {
                    let end = store.journal_end()?;
                    store.enqueue_deliveries(&w.name, end, &[], now_ms())?;
                    end
                }
            };
            cursors.push(cursor);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut handle = NotifierHandle { stop: stop.clone(), wakers: vec![], threads: vec![] };
        for (config, cursor) in webhooks.into_iter().zip(cursors) {
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_millis(config.timeout_ms)))
                .http_status_as_error(false)
                .max_redirects(0)
                .user_agent(concat!("upshift/", env!("CARGO_PKG_VERSION")))
                .build()
                .into();
            let hook = Arc::new(Webhook { config, agent, busy: Mutex::default(), metrics: metrics.clone() });
            let (wake_tx, wake_rx) = std::sync::mpsc::channel();
            let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<Delivery>(DELIVERY_WORKERS);
            let job_rx = Arc::new(Mutex::new(job_rx));
            for i in 0..DELIVERY_WORKERS {
                let (hook, jobs, wake, path) =
                    (hook.clone(), job_rx.clone(), wake_tx.clone(), store_path.to_path_buf());
                let name = format!("webhook-{}-{i}", hook.config.name);
                let t = std::thread::Builder::new().name(name).spawn(move || worker(&hook, &path, &jobs, &wake));
                handle.threads.push(t.map_err(NotifierError::Thread)?);
            }
            let dispatcher = Dispatcher { hook: hook.clone(), store: Store::open(store_path)?, cursor, jobs: job_tx };
            let stop = stop.clone();
            let t = std::thread::Builder::new()
                .name(format!("webhook-{}", hook.config.name))
                .spawn(move || dispatcher.run(&wake_rx, &stop));
            handle.threads.push(t.map_err(NotifierError::Thread)?);
            handle.wakers.push(wake_tx);
        }
        Ok(handle)
    }
}

impl NotifierHandle {
    /// Stops queueing and dispatching, lets attempts in flight finish (each within its
    /// `timeout_ms`) and record their outcome, and waits for every thread. Pending deliveries stay
    /// in the store for the next start.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in self.wakers.drain(..) {
            let _ = w.send(Wake::Stop);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for NotifierHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct Dispatcher {
    hook: Arc<Webhook>,
    store: Store,
    /// The last journal entry read; persisted whenever it queues deliveries.
    cursor: i64,
    jobs: SyncSender<Delivery>,
}

impl Dispatcher {
    fn run(mut self, wake: &Receiver<Wake>, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = self.step() {
                tracing::warn!(webhook = %self.hook.config.name, "webhook dispatcher: {e}; trying again");
            }
            match wake.recv_timeout(POLL_INTERVAL) {
                Ok(Wake::Done) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Dropping `jobs` ends the workers once their attempt in flight is recorded.
    }

    /// Queues the events of new journal entries, then hands due deliveries to free workers.
    fn step(&mut self) -> Result<(), StoreError> {
        let name = self.hook.config.name.clone();
        loop {
            let batch = self.store.journal_after(self.cursor, ENQUEUE_BATCH)?;
            let Some(last) = batch.last().map(|t| t.entry.seq) else { break };
            let mut queued = Vec::new();
            for t in &batch {
                for kind in events::events_of(t).into_iter().filter(|k| self.hook.config.wants(*k)) {
                    let id = delivery_id();
                    let body = events::body(&id, kind, t);
                    queued.push(NewDelivery {
                        id,
                        rollout_id: t.rollout_id.clone(),
                        seq: t.entry.seq,
                        event: kind.name().to_string(),
                        body,
                    });
                }
            }
            // Entries with no event for this webhook (most of them, its own notes included) move
            // the cursor in memory only; after a restart they are read again and yield nothing.
            if !queued.is_empty() {
                self.store.enqueue_deliveries(&name, last, &queued, now_ms())?;
            }
            self.cursor = last;
            if batch.len() < ENQUEUE_BATCH {
                break;
            }
        }
        let busy: Vec<String> = self.hook.busy.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        let free = DELIVERY_WORKERS.saturating_sub(busy.len());
        if free > 0 {
            for d in self.store.due_deliveries(&name, now_ms(), &busy, free)? {
                self.hook.busy.lock().unwrap_or_else(|p| p.into_inner()).insert(d.rollout_id.clone());
                if self.jobs.send(d).is_err() {
                    break;
                }
            }
        }
        self.hook.metrics.set_webhook_pending(&name, self.store.pending_deliveries(&name)?);
        Ok(())
    }
}

/// A worker: takes deliveries until the dispatcher stops, attempts each once and records it.
fn worker(hook: &Webhook, path: &Path, jobs: &Mutex<Receiver<Delivery>>, wake: &Sender<Wake>) {
    let mut store = None;
    loop {
        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(delivery) = job else { return };
        let recorded = attempt(hook, &delivery).and_then(|a| {
            let store = match &mut store {
                Some(s) => s,
                None => store.insert(Store::open_existing(path)?),
            };
            store.record_attempt(&a)
        });
        if let Err(e) = recorded {
            // The delivery stays pending as it was: it is attempted again (same id) when due.
            tracing::warn!(webhook = %hook.config.name, delivery = %delivery.id, "cannot record a webhook attempt: {e}");
        }
        // The gauge follows each recorded attempt: the dispatcher's next pass may never come (the
        // server stopping), and the last delivery would stay counted as pending.
        if let Some(Ok(pending)) = store.as_ref().map(|s| s.pending_deliveries(&hook.config.name)) {
            hook.metrics.set_webhook_pending(&hook.config.name, pending);
        }
        hook.busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&delivery.rollout_id);
        let _ = wake.send(Wake::Done);
    }
}

/// Makes one attempt of `d` and says how it went.
fn attempt<'a>(hook: &Webhook, d: &'a Delivery) -> Result<Attempt<'a>, StoreError> {
    let number = d.attempts.saturating_add(1);
    let started = Instant::now();
    let result = post(hook, d);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let at = now_ms();
    let outcome = match result {
        Ok(status) => AttemptOutcome::Delivered { status },
        Err(error) if number >= hook.config.max_attempts => AttemptOutcome::GivenUp { error },
        Err(error) => {
            let wait = hook.config.backoff(number, jitter());
            let retry_at = at.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            AttemptOutcome::Retry { error, retry_at }
        }
    };
    Ok(Attempt { delivery: d, number, duration_ms, outcome, at })
}

/// POSTs `d`'s body, signed; `Ok` with the status of a 2xx answer, else why not.
fn post(hook: &Webhook, d: &Delivery) -> Result<u16, String> {
    let c = &hook.config;
    let answer = hook
        .agent
        .post(&c.url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, sign::signature(c.secret.as_bytes(), d.body.as_bytes()))
        .header(DELIVERY_HEADER, &d.id)
        .header(EVENT_HEADER, &d.event)
        .send(d.body.as_bytes());
    match answer {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(crate::text::cut(&e.to_string(), MAX_ERROR_BYTES).into_owned()),
    }
}

/// A fresh delivery id: 128 random bits as a UUID-shaped hex string. Random, not derived from the
/// journal position, so a new store never reuses an id a receiver has already seen.
fn delivery_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No randomness (a broken system): the time and a counter still give a unique id here.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        b[..8].copy_from_slice(&now_ms().to_be_bytes());
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A number in `[0, 1)` for the backoff's jitter.
fn jitter() -> f64 {
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}
