//! What a rollout transition costs: (1) the pure engine's `step` alone, (2) a journaled transition
//! (step, state serialized to JSON, one durable `Store::commit` with its journal entry, as the
//! runner does it) and (3) the floor under (2): one bare SQLite insert-and-commit with the same
//! durability pragmas. (2) and (3) alternate call by call so machine noise affects both alike; the
//! median across rounds is reported. (4) and (5) are (2) and (3) with the store on PostgreSQL (a
//! cluster this benchmark starts in a temporary folder with `fsync=on`, as in production; over TCP
//! on 127.0.0.1). (6) is group commit: [`GROUP_ROLLOUTS`] rollouts whose transitions are ready at
//! once, driven by [`GROUP_THREADS`] threads through one `GroupCommitter` (each transition still its
//! own compare-and-swap, each durable before its thread makes the next), and (7) a lone rollout's
//! transition through the committer against (3). Prints a table; writes
//! target/upshift-bench/engine.json.
//!
//! Run: `cargo bench -p upshift --bench engine`. `UPSHIFT_BENCH_ONLY=group` runs (6) and (7) alone
//! and prints one line, without the JSON: for a profiler, or to compare two versions of the store.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use rusqlite::Connection;
use upshift::engine::{Context, Decision, Event, FailurePolicy, Phase, StagePlan, State, start};
use upshift::store::{Commit, EntryKind, GroupCommitter, Location, NewEntry, NewRollout, Store};

#[path = "../../tests/common/postgres.rs"]
mod postgres_cluster;

/// Stages of the benchmark rollout: with one verification round, a rollout is 1 + 4 × 10 + 1 = 42
/// transitions.
const STAGES: usize = 10;
/// Transitions per sample of the pure engine, and samples taken (the median is reported).
const PURE_BATCH: u64 = 1_000_000;
const PURE_SAMPLES: usize = 7;
/// Durable commits: rounds of `PER_ROUND` commits of (2) and of (3), one by one in turn.
const ROUNDS: usize = 7;
const PER_ROUND: usize = 100;
/// Commits of each kind made before measuring (page cache, statement cache, WAL file growth).
const WARM_UP: usize = 10;
/// Pages written to grow each write-ahead log past SQLite's auto-checkpoint threshold (1000 pages).
const WAL_PRESIZE_PAGES: usize = 1200;

const PURE_TARGET_PER_S: f64 = 1_000_000.0;
const RATIO_TARGET: f64 = 1.5;
/// Group commit: rollouts, the threads driving them, and transitions each rollout makes.
const GROUP_ROLLOUTS: usize = 1_024;
const GROUP_THREADS: usize = 128;
const GROUP_TRANSITIONS: usize = 40;
const GROUP_TARGET_PER_S: f64 = 20_000.0;
const LONE_RATIO_TARGET: f64 = 1.2;

fn main() {
    if std::env::var("UPSHIFT_BENCH_ONLY").is_ok_and(|only| only == "group") {
        return group_only();
    }
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the host crate sits in the workspace").to_path_buf();
    let ctx = context();

    let pure_per_s = pure_transitions_per_s(&ctx);

    // On the same filesystem as the workspace, so each fsync costs what it costs in real use.
    let scratch_parent = root.join("target");
    std::fs::create_dir_all(&scratch_parent).expect("create target/");
    let scratch = tempfile::tempdir_in(&scratch_parent).expect("temporary folder in target/");
    let (store_path, floor_path) = (scratch.path().join("upshift.db"), scratch.path().join("floor.db"));
    let payload_len = state_json_len(&ctx);
    let mut journaled = Journaled::new(&store_path, ctx);
    let mut floor = Floor::new(&floor_path, payload_len);
    presize_wal(&store_path);
    presize_wal(&floor_path);

    let (journaled_us, floor_us) = paired(|| journaled.transition(), || floor.commit());
    let commits = WARM_UP + ROUNDS * PER_ROUND;
    assert_eq!(journaled.journal_len(), commits, "one journal entry per transition");
    let ratio = journaled_us / floor_us;
    let journaled_per_s = 1e6 / journaled_us;
    let floor_per_s = 1e6 / floor_us;

    // (6) Many rollouts at once through the group committer, and (7) a lone one against the floor.
    let group = group_rows(scratch.path(), &context());
    let Group { per_s: grouped_per_s, per_group, busy_share, lone_us, lone_floor_us } = group;
    let lone_ratio = lone_us / lone_floor_us;

    // The same on PostgreSQL.
    let cluster = postgres_cluster::Cluster::start_with(true);
    cluster.admin("postgres").batch_execute("CREATE DATABASE bench").expect("create the bench database");
    let mut pg_journaled =
        Journaled::new(Location::Postgres(cluster.url(postgres_cluster::SUPERUSER, "bench")), context());
    let mut pg_floor = PgFloor::new(cluster.admin("bench"), payload_len);
    let (pg_journaled_us, pg_floor_us) = paired(|| pg_journaled.transition(), || pg_floor.commit());
    assert_eq!(pg_journaled.journal_len(), commits, "one journal entry per transition");
    let pg_ratio = pg_journaled_us / pg_floor_us;

    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!();
    println!("rollout transitions ({STAGES} stages, 1 round; durable: median of {ROUNDS} rounds of {PER_ROUND})");
    println!(
        "  (1) pure engine step          {pure_per_s:>14.0} transitions/s   target >= {PURE_TARGET_PER_S:.0}  {}",
        verdict(pure_per_s >= PURE_TARGET_PER_S)
    );
    println!("  (2) journaled transition      {journaled_per_s:>14.1} transitions/s   {journaled_us:>9.1} us each");
    println!("  (3) floor: SQLite insert+commit {floor_per_s:>12.1} commits/s       {floor_us:>9.1} us each");
    println!(
        "  (2)/(3) time ratio            {ratio:>14.2}                 target <= {RATIO_TARGET}  {}",
        verdict(ratio <= RATIO_TARGET)
    );
    println!(
        "  (4) journaled, PostgreSQL     {:>14.1} transitions/s   {pg_journaled_us:>9.1} us each",
        1e6 / pg_journaled_us
    );
    println!(
        "  (5) floor: PostgreSQL insert+commit {:>8.1} commits/s       {pg_floor_us:>9.1} us each",
        1e6 / pg_floor_us
    );
    println!("  (4)/(5) time ratio            {pg_ratio:>14.2}");
    println!(
        "  (6) group commit, SQLite      {grouped_per_s:>14.0} transitions/s   target >= {GROUP_TARGET_PER_S:.0}  {}   ({GROUP_ROLLOUTS} rollouts, {GROUP_THREADS} threads, {per_group:.1} commits per transaction, {:.0} us each; the committer in a transaction {:.0} % of the time)",
        verdict(grouped_per_s >= GROUP_TARGET_PER_S),
        busy_share * 1e6 / grouped_per_s * per_group,
        busy_share * 100.0
    );
    println!(
        "  (7) lone transition through the committer {lone_us:>6.1} us vs floor {lone_floor_us:.1} us: ratio {lone_ratio:.2}   target <= {LONE_RATIO_TARGET}  {}",
        verdict(lone_ratio <= LONE_RATIO_TARGET)
    );

    let out_dir = root.join("target").join("upshift-bench");
    std::fs::create_dir_all(&out_dir).expect("create target/upshift-bench");
    let json = serde_json::json!({
        "pure_transitions_per_s": pure_per_s,
        "journaled_transitions_per_s": journaled_per_s,
        "floor_commits_per_s": floor_per_s,
        "journaled_us": journaled_us,
        "floor_us": floor_us,
        "ratio_journal_to_floor": ratio,
        "postgres_journaled_transitions_per_s": 1e6 / pg_journaled_us,
        "postgres_floor_commits_per_s": 1e6 / pg_floor_us,
        "postgres_journaled_us": pg_journaled_us,
        "postgres_floor_us": pg_floor_us,
        "postgres_ratio_journal_to_floor": pg_ratio,
        "grouped_transitions_per_s": grouped_per_s,
        "grouped_commits_per_transaction": per_group,
        "grouped_committer_busy_share": busy_share,
        "lone_grouped_us": lone_us,
        "lone_floor_us": lone_floor_us,
        "lone_ratio_to_floor": lone_ratio,
    });
    let path = out_dir.join("engine.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write engine.json");
    println!("wrote {}", path.display());
}

/// A plan of [`STAGES`] verified stages, no approvals, one verification round.
fn context() -> Context {
    Context {
        stages: (0..STAGES)
            .map(|i| StagePlan {
                name: format!("stage-{}", i + 1),
                bake_seconds: 60,
                verify: true,
                approval: false,
                approval_reason: None,
            })
            .collect(),
        policy: FailurePolicy::default(),
        rounds: 1,
        round_interval_seconds: 30,
    }
}

/// The event that answers what `state` waits for: every command succeeds, every stage continues.
/// `None` once the rollout has ended.
fn answer(state: &State) -> Option<Event> {
    use upshift::engine::Command as C;
    Some(match (&state.outstanding, state.phase) {
        (None, Phase::Pending) => Event::Start,
        (Some(C::Apply { .. }), _) => Event::ApplyOk,
        (Some(C::Wait { .. }), _) => Event::TimerElapsed,
        (Some(C::Verify { .. }), _) => Event::VerdictPass,
        (Some(C::Decide { .. }), _) => Event::Decided { decision: Decision::Continue },
        (Some(C::Finalize), _) => Event::FinalizeOk,
        (None, phase) if phase.is_terminal() => return None,
        (outstanding, phase) => panic!("the benchmark rollout never waits in {phase} with {outstanding:?}"),
    })
}

/// The next event of whole rollouts run back to back: restarts `state` once the rollout has ended.
fn next_event(state: &mut State) -> Event {
    answer(state).unwrap_or_else(|| {
        *state = start();
        Event::Start
    })
}

/// Median over [`PURE_SAMPLES`] samples of [`PURE_BATCH`] transitions each.
fn pure_transitions_per_s(ctx: &Context) -> f64 {
    let mut state = start();
    let mut run = |n: u64| {
        for _ in 0..n {
            let event = next_event(&mut state);
            let t = black_box(&state).step(black_box(ctx), black_box(&event)).expect("an allowed transition");
            black_box(&t.commands);
            state = t.state;
        }
    };
    run(PURE_BATCH / 10);
    let mut samples: Vec<f64> = (0..PURE_SAMPLES)
        .map(|_| {
            let start = Instant::now();
            run(PURE_BATCH);
            PURE_BATCH as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    median(&mut samples)
}

/// (6): [`GROUP_ROLLOUTS`] rollouts in a new store at `path`, [`GROUP_TRANSITIONS`] transitions
/// each, made by [`GROUP_THREADS`] threads (each driving its share of the rollouts one transition
/// at a time, as a controller's runners do) through one committer. Durable transitions per second,
/// and commits per transaction.
/// Time spent inside commit transactions (taking the write lock to the end of the commit).
#[derive(Default)]
struct Busy(std::sync::atomic::AtomicU64);

impl upshift::store::CommitObserver for Busy {
    fn journal_committed(&self, _entries: usize, duration: Duration) {
        self.0.fetch_add(duration.as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

fn grouped_transitions_per_s(path: &Path, ctx: &Context) -> (f64, f64, f64) {
    let mut store = Store::open(path).expect("open the store");
    let mut rollouts: Vec<(String, i64, State)> =
        (0..GROUP_ROLLOUTS).map(|_| (create(&mut store, ctx), 1, start())).collect();
    presize_wal(path);
    let committer = GroupCommitter::start(path).expect("start the committer");
    let per_thread = GROUP_ROLLOUTS.div_ceil(GROUP_THREADS);
    let busy = Arc::new(Busy::default());
    upshift::store::set_commit_observer(Some(busy.clone()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for share in rollouts.chunks_mut(per_thread) {
            let committer = &committer;
            scope.spawn(move || {
                for _ in 0..GROUP_TRANSITIONS {
                    for (id, version, state) in share.iter_mut() {
                        let (commit, next) = transition_commit(ctx, state);
                        *version = committer.commit(id, *version, commit).expect("commit");
                        *state = next;
                    }
                }
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    upshift::store::set_commit_observer(None);
    let busy_share = busy.0.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9 / seconds;
    let (commits, groups) = committer.stats();
    assert_eq!(commits as usize, GROUP_ROLLOUTS * GROUP_TRANSITIONS, "every transition committed once");
    assert_eq!(store.history(&rollouts[0].0).expect("journal").len(), GROUP_TRANSITIONS, "one entry per transition");
    (commits as f64 / seconds, commits as f64 / groups.max(1) as f64, busy_share)
}

/// What (6) and (7) measured.
struct Group {
    per_s: f64,
    per_group: f64,
    busy_share: f64,
    lone_us: f64,
    lone_floor_us: f64,
}

/// (6) and (7), in databases under `scratch`.
fn group_rows(scratch: &Path, ctx: &Context) -> Group {
    let group_path = scratch.join("group.db");
    let (per_s, per_group, busy_share) = grouped_transitions_per_s(&group_path, ctx);
    let committer = Arc::new(GroupCommitter::start(&group_path).expect("start the committer"));
    let mut lone = Journaled::new(&group_path, ctx.clone());
    lone.committer = Some(committer.clone());
    let floor_path = scratch.join("floor-lone.db");
    let mut lone_floor = Floor::new(&floor_path, state_json_len(ctx));
    presize_wal(&floor_path);
    let (lone_us, lone_floor_us) = paired(|| lone.transition(), || lone_floor.commit());
    Group { per_s, per_group, busy_share, lone_us, lone_floor_us }
}

/// `UPSHIFT_BENCH_ONLY=group`: (6) and (7) alone, printed, no JSON (for profiling and quick
/// comparisons while working on the store).
fn group_only() {
    let scratch =
        tempfile::tempdir_in(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")).expect("temporary folder");
    let g = group_rows(scratch.path(), &context());
    println!(
        "(6) {:.0} transitions/s, {:.1} per transaction, committer busy {:.0} %;  (7) lone {:.1} us vs floor {:.1} us: ratio {:.2}",
        g.per_s,
        g.per_group,
        g.busy_share * 100.0,
        g.lone_us,
        g.lone_floor_us,
        g.lone_us / g.lone_floor_us
    );
}

/// A new rollout of the benchmark's plan in `store`; its id.
fn create(store: &mut Store, ctx: &Context) -> String {
    let id = store.next_id("bench").expect("next id");
    let state = start();
    let plan = serde_json::to_string(ctx).expect("plan json");
    let state_json = serde_json::to_string(&state).expect("state json");
    store
        .create(
            NewRollout {
                id: &id,
                name: "bench",
                spec_path: &PathBuf::from("bench.toml"),
                spec: "{}",
                plan: &plan,
                state: &state_json,
                phase: state.phase.name(),
                at: now_ms(),
                leased: false,
            },
            vec![],
            vec![],
        )
        .expect("create the rollout");
    id
}

/// The next transition of `state` as the runner makes it (step, serialize, the journal entry): the
/// commit, and the state it leads to.
fn transition_commit(ctx: &Context, state: &mut State) -> (Commit<'static>, State) {
    let event = next_event(state);
    let t = state.step(ctx, &event).expect("an allowed transition");
    let entry = NewEntry {
        actor: "bench".into(),
        kind: EntryKind::Transition,
        event: Some(event.name().to_string()),
        from: Some(state.phase.name().to_string()),
        to: Some(t.state.phase.name().to_string()),
        stage: Some(t.state.stage),
        message: format!("{} at stage {}", t.state.phase, t.state.stage + 1),
        detail: serde_json::to_value(&event).ok(),
    };
    let json = serde_json::to_string(&t.state).expect("state json");
    let commit = Commit {
        state: Some((json, t.state.phase.name())),
        entries: vec![entry],
        plugin_states: vec![],
        at: now_ms(),
        fence: None,
        timer: None,
    };
    (commit, t.state)
}

/// A rollout driven through the real store: every transition is committed before the next, on
/// the rollout's own connection or through a group committer.
struct Journaled {
    store: Store,
    ctx: Context,
    id: String,
    version: i64,
    state: State,
    committer: Option<Arc<GroupCommitter>>,
}

impl Journaled {
    fn new(location: impl Into<Location>, ctx: Context) -> Self {
        let mut store = Store::open(location).expect("open the store");
        let id = create(&mut store, &ctx);
        Journaled { store, ctx, id, version: 1, state: start(), committer: None }
    }

    fn journal_len(&self) -> usize {
        self.store.history(&self.id).expect("read the journal").len()
    }

    /// One transition as the runner makes it: step, serialize, commit with its journal entry.
    fn transition(&mut self) {
        let (commit, next) = transition_commit(&self.ctx, &mut self.state);
        self.version = match &self.committer {
            Some(group) => group.commit(&self.id, self.version, commit),
            None => self.store.commit(&self.id, self.version, commit),
        }
        .expect("commit");
        self.state = next;
    }
}

/// The size of a mid-rollout state's JSON, for the floors' payload.
fn state_json_len(ctx: &Context) -> usize {
    let mut state = start();
    for _ in 0..STAGES * 2 {
        let event = next_event(&mut state);
        state = state.step(ctx, &event).expect("an allowed transition").state;
    }
    serde_json::to_string(&state).expect("state json").len()
}

/// The least a durable transition could cost: one row inserted and committed, same pragmas.
struct Floor {
    conn: Connection,
    payload: String,
}

impl Floor {
    fn new(path: &Path, payload_len: usize) -> Self {
        let conn = open_durable(path);
        conn.execute_batch("CREATE TABLE rows (payload TEXT NOT NULL)").expect("create table");
        Floor { conn, payload: "x".repeat(payload_len) }
    }

    fn commit(&mut self) {
        let tx = self.conn.transaction().expect("begin");
        tx.prepare_cached("INSERT INTO rows (payload) VALUES (?1)")
            .expect("prepare")
            .execute([&self.payload])
            .expect("insert");
        tx.commit().expect("commit");
    }
}

/// The least a durable transition costs on PostgreSQL: one row inserted and committed.
struct PgFloor {
    client: postgres::Client,
    insert: postgres::Statement,
    payload: String,
}

impl PgFloor {
    fn new(mut client: postgres::Client, payload_len: usize) -> Self {
        client.batch_execute("CREATE TABLE rows (payload TEXT NOT NULL)").expect("create table");
        let insert = client.prepare("INSERT INTO rows (payload) VALUES ($1)").expect("prepare");
        PgFloor { client, insert, payload: "x".repeat(payload_len) }
    }

    fn commit(&mut self) {
        let mut tx = self.client.transaction().expect("begin");
        tx.execute(&self.insert, &[&self.payload]).expect("insert");
        tx.commit().expect("commit");
    }
}

/// Grows the write-ahead log of the database at `path` to its steady-state size and has it
/// checkpointed, so the commits measured next overwrite the log in place, as in a long-lived store.
/// Otherwise whichever database wraps its log first (the store writes more pages per commit) stops
/// growing its file, and its fsyncs get cheaper than the other's for a reason that is not its own.
fn presize_wal(path: &Path) {
    let conn = open_durable(path);
    conn.execute_batch(&format!(
        "CREATE TABLE wal_presize (filler BLOB NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {WAL_PRESIZE_PAGES})
         INSERT INTO wal_presize SELECT zeroblob(4000) FROM n;
         DROP TABLE wal_presize;
         PRAGMA wal_checkpoint(PASSIVE);"
    ))
    .expect("presize the write-ahead log");
}

/// A connection with the store's durability pragmas.
fn open_durable(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open a database");
    conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    conn.pragma_update(None, "synchronous", "FULL").expect("synchronous=FULL");
    conn
}

/// `a` and `b` warmed up ([`WARM_UP`] calls each), then [`ROUNDS`] rounds of [`alternate`]: the
/// median microseconds per call of each.
fn paired(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    for _ in 0..WARM_UP {
        a();
        b();
    }
    let (mut a_us, mut b_us) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        let (x, y) = alternate(PER_ROUND, &mut a, &mut b);
        a_us.push(x);
        b_us.push(y);
    }
    (median(&mut a_us), median(&mut b_us))
}

/// Microseconds per call of `a` and of `b`, over `n` calls of each. The calls alternate one by one
/// (and which of the pair goes first alternates too), so a burst of someone else's disk traffic
/// lands on both alike rather than on whichever block of calls it happened to overlap.
fn alternate(n: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut in_a, mut in_b) = (Duration::ZERO, Duration::ZERO);
    let timed = |f: &mut dyn FnMut(), total: &mut Duration| {
        let start = Instant::now();
        f();
        *total += start.elapsed();
    };
    for i in 0..n {
        if i % 2 == 0 {
            timed(&mut a, &mut in_a);
            timed(&mut b, &mut in_b);
        } else {
            timed(&mut b, &mut in_b);
            timed(&mut a, &mut in_a);
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    (us(in_a), us(in_b))
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
}
