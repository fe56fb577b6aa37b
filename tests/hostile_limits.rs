//! Hostile plugins against the limits the host enforces on its own side (issue #11, classes 3 and
//! 4): memories and tables counted together against one memory limit (hand-written components,
//! tests/hostile-wat/), a plugin waiting inside the host held to its call deadline
//! (tests/hostile/wait-in-host), and loading bounded before anything is compiled (an oversized
//! file, a device, components that are small but expensive to compile). Each attack ends refused or
//! rolled back with the limit named; a good rollout in the same process succeeds afterwards.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use upshift::engine::Phase;
use upshift::runtime::load_limits::{MAX_COMPONENT_BYTES, MAX_CONTROL_DEPTH, MAX_FUNCTION_LOCALS, MAX_FUNCTION_WORK};
use upshift::runtime::{LoadError, Runtime};
use wasm_encoder::{BlockType, CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType};

use common::fixtures::wat_component;
use common::lab::{Ended, Lab};

/// The memory limit the memory attacks run under: each of their memories stays just under it.
const MEMORY: &str = "memory_mib = 16";
const MEMORY_STOPPER: &str = "memory limit of 16 MiB";

/// Runs the hand-written attack `name` under [`MEMORY`]. With `room` (a `memory_mib` that holds
/// everything it asks for), first shows that the same component, given that much, runs to the end
/// of its call: what stops it below is the limit, nothing else.
fn memory_attack(name: &str, room: Option<&str>) {
    let mut lab = Lab::new();
    let pinned = lab.install(name, &wat_component(name));
    if let Some(room) = room {
        let ended = lab.run(&lab.spec(&format!("{pinned}\n{room}"), None)).expect("loads");
        assert_eq!(ended.phase, Phase::Succeeded, "{}", ended.text());
        assert!(ended.text().contains("ESCAPED"), "{}", ended.text());
    }
    lab.attack_pinned(name, &pinned, MEMORY, MEMORY_STOPPER);
}

#[test]
fn several_memories_grown_in_a_call_share_one_limit() {
    memory_attack("memories-grown", Some("memory_mib = 128"));
}

#[test]
fn several_memories_declared_at_their_largest_share_one_limit() {
    memory_attack("memories-initial", Some("memory_mib = 128"));
}

#[test]
fn tables_count_against_the_memory_limit() {
    memory_attack("tables-many", Some("memory_mib = 32"));
}

#[test]
fn a_huge_table_grow_is_stopped_by_the_memory_limit() {
    // 16 GiB is more than any spec may grant: there is no room to show it running.
    memory_attack("table-grow", None);
}

/// The call deadline of the waiting attacks.
const LIMIT: Duration = Duration::from_secs(1);
/// How long a peer keeps a connection before giving up on its own: a host that let the plugin wait
/// this long would see its verdict (`ESCAPED`) rather than hang the test.
const WATCHDOG: Duration = Duration::from_secs(30);

/// A TCP peer on an ephemeral port: accepts one connection and never sends a byte. With `drain`
/// it reads what comes (and reports when the host closed the connection); without, it never reads.
fn silent_peer(drain: bool) -> (SocketAddr, std::thread::JoinHandle<Option<Duration>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().ok()?;
        let accepted = Instant::now();
        if !drain {
            std::thread::sleep(WATCHDOG.saturating_sub(accepted.elapsed()));
            return None;
        }
        stream.set_read_timeout(Some(WATCHDOG)).ok()?;
        let mut buf = [0u8; 64 << 10];
        // Zero bytes: the host closed the plugin's socket.
        while stream.read(&mut buf).ok()? > 0 {}
        Some(accepted.elapsed())
    });
    (address, peer)
}

/// Runs `wait-in-host` in `mode` (with `peer` granted, if any) under [`LIMIT`]; asserts it ends at
/// its time limit, the call within a generous bound of it.
fn wait_attack(mode: &str, peer: Option<SocketAddr>, config: &str) -> Ended {
    let mut lab = Lab::new();
    let address = peer.map_or(String::new(), |p| format!(", address = \"{p}\""));
    let grant = peer.map_or(String::new(), |p| format!("\"{p}\""));
    let extra = format!(
        "timeout_seconds = {}\nconfig = {{ mode = \"{mode}\"{address}{config} }}\ngrants.network.tcp = [{grant}]",
        LIMIT.as_secs_f64()
    );
    let pinned = lab.plugin("wait-in-host");
    let ended = lab.attack_pinned("wait-in-host", &pinned, &extra, "time limit");
    let call = call_time(&ended);
    println!("wait-in-host ({mode}): the verify call took {call:?} against its {LIMIT:?} limit");
    assert!(call < LIMIT + Duration::from_secs(2), "the call outlived its deadline: {call:?}");
    ended
}

/// How long the verify call took, from the journal: the time between the entry before its error
/// and the error itself.
fn call_time(ended: &Ended) -> Duration {
    let at = ended.history.iter().position(|e| e.message.contains("time limit")).expect("the call's error");
    let before = at.checked_sub(1).map_or(ended.history[at].at, |i| ended.history[i].at);
    Duration::from_millis(u64::try_from(ended.history[at].at - before).unwrap_or(0))
}

#[test]
fn a_peer_that_never_answers_cannot_hold_a_read_past_the_deadline() {
    let (address, peer) = silent_peer(true);
    wait_attack("read", Some(address), "");
    let held = peer.join().unwrap().expect("the host closed the connection");
    println!("wait-in-host (read): the peer saw the connection closed {held:?} after accepting it");
    assert!(held < LIMIT + Duration::from_secs(2), "the connection was held {held:?}");
}

#[test]
fn a_peer_that_never_reads_cannot_hold_a_write_past_the_deadline() {
    let (address, _peer) = silent_peer(false);
    wait_attack("write", Some(address), "");
}

#[test]
fn a_sleep_in_the_host_is_cut_at_the_deadline() {
    wait_attack("sleep", None, &format!(", seconds = {}", WATCHDOG.as_secs()));
}

/// A core module of one function (`params` i32 parameters, `locals` i32 locals) whose body `body`
/// writes, inside a component: what the load limits read before anything is compiled.
fn component(params: usize, locals: u32, body: impl Fn(&mut Function)) -> Vec<u8> {
    component_of(1, params, locals, body)
}

/// [`component`] with `functions` such functions.
fn component_of(functions: u32, params: usize, locals: u32, body: impl Fn(&mut Function)) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function(vec![ValType::I32; params], []);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..functions {
        funcs.function(0);
        let mut f = Function::new([(locals, ValType::I32)]);
        body(&mut f);
        f.instruction(&Instruction::End);
        code.function(&f);
    }
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&code);
    let module = module.finish();
    let mut c = wasm_encoder::Component::new();
    c.section(&wasm_encoder::RawSection { id: wasm_encoder::ComponentSectionId::CoreModule as u8, data: &module });
    c.finish()
}

/// A loop of `blocks` blocks, each leaving early on the first parameter and adding two of the
/// `locals` into one: every local is live across every merge of control flow, the pattern whose
/// compile time grows with locals times blocks.
fn live_locals(locals: u32, blocks: u32) -> impl Fn(&mut Function) {
    move |f| {
        f.instruction(&Instruction::Loop(BlockType::Empty));
        for b in 0..blocks {
            let local = 1 + b % locals;
            f.instruction(&Instruction::Block(BlockType::Empty));
            f.instruction(&Instruction::LocalGet(0));
            f.instruction(&Instruction::BrIf(0));
            f.instruction(&Instruction::LocalGet(local));
            f.instruction(&Instruction::LocalGet(1 + (b * 7919) % locals));
            f.instruction(&Instruction::I32Add);
            f.instruction(&Instruction::LocalSet(local));
            f.instruction(&Instruction::End);
        }
        f.instruction(&Instruction::LocalGet(0));
        f.instruction(&Instruction::BrIf(0));
        f.instruction(&Instruction::End);
    }
}

/// `depth` blocks nested inside one another, each left early on the first parameter.
fn nested_blocks(depth: u32) -> impl Fn(&mut Function) {
    move |f| {
        for _ in 0..depth {
            f.instruction(&Instruction::Block(BlockType::Empty));
        }
        for _ in 0..depth {
            f.instruction(&Instruction::LocalGet(0));
            f.instruction(&Instruction::BrIf(0));
            f.instruction(&Instruction::End);
        }
    }
}

/// Loads `bytes` as a verifier in a lab; asserts it is refused naming `limit`, and that a good
/// rollout then runs in the same process. Returns the refusal and how long it took.
fn refused_at_load(name: &str, bytes: &[u8], limit: &str) -> (String, Duration) {
    let mut lab = Lab::new();
    let pinned = lab.install(name, bytes);
    let started = Instant::now();
    let err = lab.run(&lab.spec(&pinned, None)).err().expect("refused at load");
    let took = started.elapsed();
    assert!(err.contains(&format!("{name}.wasm")) && err.contains(limit), "{err}");
    println!("{name} ({} bytes): refused in {took:?}: {err}", bytes.len());
    lab.assert_next_rollout_runs();
    (err, took)
}

#[test]
fn a_small_component_with_locals_live_across_many_blocks_is_refused_before_compiling() {
    // 10,000 locals live across 10,000 blocks: 170 KB that took six minutes to compile here.
    let bytes = component(1, 10_000, live_locals(10_000, 10_000));
    let (_, took) = refused_at_load("live-locals", &bytes, "MAX_FUNCTION_WORK");
    assert!(took < Duration::from_secs(30), "refusing it took {took:?}");
    const { assert!(MAX_FUNCTION_WORK < 10_000 * 10_000) };
}

#[test]
fn many_functions_each_under_its_own_limit_are_refused_together() {
    // 20 functions of 2,000 locals live across 2,000 blocks: 4 million units each, 80 million
    // together (16 of them, just under the limit, took 90 s to compile here).
    let bytes = component_of(20, 1, 2_000, live_locals(2_000, 2_000));
    refused_at_load("many-functions", &bytes, "MAX_COMPILE_WORK");
}

#[test]
fn a_function_of_deeply_nested_blocks_is_refused_before_compiling() {
    // 100,000 nested blocks: a 700 KB body that took 110 s to compile here.
    let bytes = component(1, 0, nested_blocks(100_000));
    refused_at_load("nested-blocks", &bytes, "MAX_CONTROL_DEPTH");
    const { assert!(MAX_CONTROL_DEPTH < 100_000) };
}

#[test]
fn a_function_with_too_many_locals_is_refused_before_compiling() {
    let bytes = component(0, 40_000, |_| {});
    let (err, _) = refused_at_load("many-locals", &bytes, "MAX_FUNCTION_LOCALS");
    assert!(err.contains(&MAX_FUNCTION_LOCALS.to_string()), "{err}");
}

#[test]
fn an_oversized_plugin_file_is_refused_unread() {
    let mut lab = Lab::new();
    let file = lab.path("huge.wasm");
    // Sparse: nothing is written, nothing is read.
    std::fs::File::create(&file).unwrap().set_len(MAX_COMPONENT_BYTES + 1).unwrap();
    let spec = lab.spec(&format!("file = \"huge.wasm\"\nsha256 = \"{}\"", "0".repeat(64)), None);
    let err = lab.run(&spec).err().expect("refused");
    assert!(err.contains("huge.wasm") && err.contains("MAX_COMPONENT_BYTES"), "{err}");
    assert!(err.contains(&(MAX_COMPONENT_BYTES + 1).to_string()), "the size is named: {err}");
    println!("huge.wasm: refused: {err}");
    lab.assert_next_rollout_runs();
}

#[test]
fn a_device_given_as_a_plugin_is_read_only_to_the_limit() {
    let mut lab = Lab::new();
    std::os::unix::fs::symlink("/dev/zero", lab.path("zero.wasm")).unwrap();
    let spec = lab.spec(&format!("file = \"zero.wasm\"\nsha256 = \"{}\"", "0".repeat(64)), None);
    let started = Instant::now();
    let err = lab.run(&spec).err().expect("refused");
    assert!(err.contains("zero.wasm") && err.contains("MAX_COMPONENT_BYTES"), "{err}");
    println!("zero.wasm -> /dev/zero: refused in {:?}: {err}", started.elapsed());
    lab.assert_next_rollout_runs();
}

#[test]
fn recognising_bytes_goes_through_the_same_limits() {
    // The plugin-loading fuzz target's entry point.
    let runtime = Runtime::new().unwrap();
    let expensive = component(1, 10_000, live_locals(10_000, 10_000));
    match runtime.recognise("fuzz.wasm", &expensive) {
        Err(LoadError::OverLimit { plugin, over }) => {
            assert_eq!(plugin, "fuzz.wasm");
            assert!(over.to_string().contains("MAX_FUNCTION_WORK"), "{over}");
        }
        other => panic!("not refused at the limit: {other:?}"),
    }
    let mut oversized = vec![0u8; MAX_COMPONENT_BYTES as usize + 1];
    oversized[..8].copy_from_slice(b"\0asm\x0d\0\x01\0");
    match runtime.recognise("fuzz.wasm", &oversized) {
        Err(e @ LoadError::TooLarge { .. }) => assert!(e.to_string().contains("MAX_COMPONENT_BYTES"), "{e}"),
        other => panic!("not refused at the limit: {other:?}"),
    }
    let good = std::fs::read(common::fixture("threshold")).unwrap();
    assert!(runtime.recognise("threshold.wasm", &good).unwrap().is_some(), "a good plugin is still recognised");
}

#[test]
fn the_limits_leave_room_for_real_plugins() {
    // Every first-party plugin loads under the same limits, with a wide margin.
    let runtime = Runtime::new().unwrap();
    for name in runtime.builtin_names() {
        let source = upshift::runtime::PluginSource::Builtin(name.to_string());
        runtime.inspect(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
