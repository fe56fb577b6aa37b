//! The controller's Prometheus metrics: one [`Metrics`] per process, fed from the journal (every
//! counter is a count of journal entries, so it can be checked against the journal), from the
//! runtime's call observer (plugin call durations, limit hits) and from the store's commit hook
//! (journal commit durations), rendered in the Prometheus text format (0.0.4).
//!
//! Label values are bounded: phases, calls, limits and outcomes come from fixed sets; names that
//! come from specs or config (verifiers, plugins, webhooks) keep their first [`MAX_LABEL_VALUES`]
//! distinct values and fold the rest into [`OTHER`]. No metric carries a rollout id.

mod labels;

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::engine::Phase;
use crate::runtime::CallObserver;
use crate::store::{CommitObserver, EntryKind, JournalEntry, Store, StoreError};

use labels::{
    BoundedValues, CallLabels, DeliveryLabels, LimitLabels, PhaseLabels, TransitionLabels, VerificationLabels,
    WebhookLabels, one_of,
};
pub use labels::{MAX_LABEL_VALUE_BYTES, MAX_LABEL_VALUES, OTHER};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// Journal entries read per query while catching up.
pub const CATCH_UP_BATCH: usize = 1_000;
/// Upper bounds of the plugin call duration buckets: 1 ms doubling to about 9 minutes (the longest
/// call `timeout_seconds` allows is 600 s; slower calls land in `+Inf`).
const CALL_BUCKETS: (f64, f64, u16) = (0.001, 2.0, 20);
/// Upper bounds of the journal commit duration buckets: 0.1 ms doubling to about 3.3 s.
const COMMIT_BUCKETS: (f64, f64, u16) = (0.0001, 2.0, 16);

/// Verification outcomes as the journal names them.
const OUTCOMES: [&str; 4] = ["pass", "fail", "inconclusive", "error"];
/// Webhook attempt outcomes as the journal names them (`store::AttemptOutcome::name`).
const DELIVERY_OUTCOMES: [&str; 3] = ["delivered", "failed", "given-up"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the controller. Share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    rollouts: Family<PhaseLabels, Gauge>,
    transitions: Family<TransitionLabels, Counter>,
    verifications: Family<VerificationLabels, Counter>,
    call_duration: HistogramFamily<CallLabels>,
    limit_hits: Family<LimitLabels, Counter>,
    commit_duration: Histogram,
    deliveries: Family<DeliveryLabels, Counter>,
    pending: Family<WebhookLabels, Gauge>,
    verifiers: BoundedValues,
    plugins: BoundedValues,
    webhooks: BoundedValues,
    /// The `seq` of the last journal entry observed by [`Metrics::catch_up`]; held while catching
    /// up so two scrapes never count an entry twice.
    observed: Mutex<i64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let rollouts = Family::<PhaseLabels, Gauge>::default();
        registry.register("upshift_rollouts", "Rollouts in the store, by phase", rollouts.clone());
        let transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "upshift_transitions",
            "State machine transitions journaled, by phase before and after",
            transitions.clone(),
        );
        let verifications = Family::<VerificationLabels, Counter>::default();
        registry.register(
            "upshift_verifications",
            "Verifier calls journaled, by verifier name and outcome",
            verifications.clone(),
        );
        let call_duration: HistogramFamily<CallLabels> = Family::new_with_constructor(|| {
            let (start, factor, n) = CALL_BUCKETS;
            Histogram::new(exponential_buckets(start, factor, n))
        });
        registry.register(
            "upshift_plugin_call_duration_seconds",
            "Duration of plugin calls, by plugin and call",
            call_duration.clone(),
        );
        let limit_hits = Family::<LimitLabels, Counter>::default();
        registry.register(
            "upshift_plugin_limit_hits",
            "Plugin calls stopped by a limit, by plugin, call and limit",
            limit_hits.clone(),
        );
        let commit_duration = Histogram::new(exponential_buckets(COMMIT_BUCKETS.0, COMMIT_BUCKETS.1, COMMIT_BUCKETS.2));
        registry.register(
            "upshift_journal_commit_duration_seconds",
            "Duration of store transactions that append to the journal, fsync included",
            commit_duration.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "upshift_webhook_deliveries",
            "Webhook delivery attempts journaled, by webhook and outcome",
            deliveries.clone(),
        );
        let pending = Family::<WebhookLabels, Gauge>::default();
        registry.register(
            "upshift_webhook_pending",
            "Webhook deliveries not yet delivered or given up, by webhook",
            pending.clone(),
        );
        let metrics = Metrics {
            registry,
            rollouts,
            transitions,
            verifications,
            call_duration,
            limit_hits,
            commit_duration,
            deliveries,
            pending,
            verifiers: BoundedValues::default(),
            plugins: BoundedValues::default(),
            webhooks: BoundedValues::default(),
            observed: Mutex::new(0),
        };
        for phase in Phase::ALL {
            metrics.rollouts.get_or_create(&PhaseLabels { phase: phase.name().to_string() }).set(0);
        }
        metrics
    }

    /// Counts one journal entry: a transition, a verifier's verdict or error, a webhook attempt.
    /// Anything else is ignored. [`Metrics::catch_up`] calls it for every entry in order.
    pub fn observe(&self, entry: &JournalEntry) {
        let detail = entry.detail.as_ref();
        let field = |k: &str| detail.and_then(|d| d.get(k)).and_then(|v| v.as_str());
        match entry.kind {
            EntryKind::Transition => {
                let phase = |p: Option<&String>| one_of(p.map(String::as_str), &Phase::ALL.map(Phase::name));
                let labels = TransitionLabels { from: phase(entry.from.as_ref()), to: phase(entry.to.as_ref()) };
                self.transitions.get_or_create(&labels).inc();
            }
            // The error-budget check is a verifier call too, but its detail has a purpose and no outcome.
            EntryKind::Call if field("call") == Some("verify") && field("purpose").is_none() => {
                if let (Some(verifier), Some(outcome)) = (field("plugin"), field("outcome")) {
                    let labels = VerificationLabels {
                        verifier: self.verifiers.label(verifier),
                        outcome: one_of(Some(outcome), &OUTCOMES),
                    };
                    self.verifications.get_or_create(&labels).inc();
                }
            }
            EntryKind::Note if entry.actor.starts_with("webhook ") => {
                if let (Some(webhook), Some(outcome)) = (field("webhook"), field("outcome")) {
                    let labels = DeliveryLabels {
                        webhook: self.webhooks.label(webhook),
                        outcome: one_of(Some(outcome), &DELIVERY_OUTCOMES),
                    };
                    self.deliveries.get_or_create(&labels).inc();
                }
            }
            _ => {}
        }
    }

    /// Observes every journal entry committed since the last call (all of them at the first call,
    /// so a restarted controller counts the whole journal again), and sets the rollouts-by-phase
    /// gauge from the store. Call it before [`Metrics::render`] when serving `/metrics`: the
    /// counters then equal the journal's counts at that moment. Returns how many entries it read.
    pub fn catch_up(&self, store: &Store) -> Result<usize, StoreError> {
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        let mut read = 0;
        loop {
            let batch = store.journal_after(*observed, CATCH_UP_BATCH)?;
            for t in &batch {
                self.observe(&t.entry);
                *observed = t.entry.seq;
            }
            read += batch.len();
            if batch.len() < CATCH_UP_BATCH {
                break;
            }
        }
        self.set_phases(&store.phase_counts()?);
        Ok(read)
    }

    /// Sets the rollouts-by-phase gauge: every phase not in `counts` is 0.
    pub fn set_phases(&self, counts: &[(String, u64)]) {
        let mut by_phase: std::collections::BTreeMap<String, i64> =
            Phase::ALL.iter().map(|p| (p.name().to_string(), 0)).collect();
        for (phase, n) in counts {
            let label = one_of(Some(phase), &Phase::ALL.map(Phase::name));
            *by_phase.entry(label).or_default() += i64::try_from(*n).unwrap_or(i64::MAX);
        }
        for (phase, n) in by_phase {
            self.rollouts.get_or_create(&PhaseLabels { phase }).set(n);
        }
    }

    /// Sets how many deliveries of `webhook` are pending (the notifier calls it as it goes).
    pub fn set_webhook_pending(&self, webhook: &str, pending: u64) {
        let labels = WebhookLabels { webhook: self.webhooks.label(webhook) };
        self.pending.get_or_create(&labels).set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Every metric in the Prometheus text format (0.0.4); serve it with [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        // Writing into a String cannot fail; an encoding error would leave a partial text, which
        // `promtool` and Prometheus reject loudly rather than misread.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

impl CallObserver for Metrics {
    fn call_finished(&self, plugin: &str, call: &'static str, duration: Duration) {
        let labels = CallLabels { plugin: self.plugins.label(plugin), call: call.to_string() };
        self.call_duration.get_or_create(&labels).observe(duration.as_secs_f64());
    }

    fn limit_hit(&self, plugin: &str, call: &'static str, limit: &'static str) {
        let labels =
            LimitLabels { plugin: self.plugins.label(plugin), call: call.to_string(), limit: limit.to_string() };
        self.limit_hits.get_or_create(&labels).inc();
    }
}

impl CommitObserver for Metrics {
    fn journal_committed(&self, _entries: usize, duration: Duration) {
        self.commit_duration.observe(duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests;
