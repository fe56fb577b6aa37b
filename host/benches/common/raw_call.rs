//! The same verifier call with nothing of upshift's around it: wasmtime's own component call of the
//! `verify` export, on a reused instance, with every import a trap (`verify` of this fixture calls
//! none: WASI included, so the store needs no WASI context). Two
//! forms: synchronous (no fiber: a store that may not wait) and asynchronous (the form the host
//! uses, so that a plugin may wait in a host function under a deadline: each call runs on a fiber).
//! What (b) costs above these is the host's own work per call; what these cost above the native
//! call is the component model's and the guest's.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

mod sync_bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "upshift:plugin/verifier-plugin@0.2.0" });
}

mod async_bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "upshift:plugin/verifier-plugin@0.2.0",
        exports: { default: async },
    });
}

struct Host;

/// An engine (with wasmtime's default pool if `pooling`), the component at `wasm` compiled for it,
/// and a linker that traps every import.
fn linked(wasm: &std::path::Path, pooling: bool) -> (Engine, Component, Linker<Host>) {
    let mut config = Config::new();
    config.wasm_component_model(true);
    if pooling {
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(Default::default()));
    }
    let engine = Engine::new(&config).expect("engine");
    let component = Component::from_file(&engine, wasm).expect("compile the component");
    let mut linker = Linker::new(&engine);
    linker.define_unknown_imports_as_traps(&component).expect("trap the imports");
    (engine, component, linker)
}

fn store(engine: &Engine) -> Store<Host> {
    Store::new(engine, Host)
}

/// The check of the benchmark, as the synchronous bindings spell it.
fn sync_check(c: &upshift::runtime::Check) -> sync_bindings::exports::upshift::plugin::verifier::Check {
    sync_bindings::exports::upshift::plugin::verifier::Check {
        rollout_id: c.rollout_id.clone(),
        stage_index: c.stage_index,
        stage_name: c.stage_name.clone(),
        from_version: c.from_version.clone(),
        to_version: c.to_version.clone(),
        weight: c.weight,
        units: c.units.clone(),
        attempt: c.attempt,
    }
}

/// A reused instance of the component at `wasm`, called synchronously.
pub struct SyncCall {
    store: Store<Host>,
    bindings: sync_bindings::VerifierPlugin,
    check: sync_bindings::exports::upshift::plugin::verifier::Check,
}

impl SyncCall {
    pub fn new(wasm: &std::path::Path, check: &upshift::runtime::Check) -> Self {
        let (engine, component, linker) = linked(wasm, false);
        let mut store = store(&engine);
        let bindings =
            sync_bindings::VerifierPlugin::instantiate(&mut store, &component, &linker).expect("instantiate");
        SyncCall { store, bindings, check: sync_check(check) }
    }

    pub fn call(&mut self, config: &str) -> bool {
        let verdict = self.bindings.upshift_plugin_verifier().call_verify(&mut self.store, &self.check, config);
        verdict.expect("no trap").is_ok()
    }
}

/// A reused instance of the component at `wasm`, called as the host calls it: asynchronously,
/// each call on a fiber, its future polled once (it never waits).
pub struct AsyncCall {
    store: Store<Host>,
    bindings: async_bindings::VerifierPlugin,
    check: async_bindings::exports::upshift::plugin::verifier::Check,
}

impl AsyncCall {
    pub fn new(wasm: &std::path::Path, check: &upshift::runtime::Check) -> Self {
        let (engine, component, linker) = linked(wasm, false);
        let mut store = store(&engine);
        let bindings = ready(async_bindings::VerifierPlugin::instantiate_async(&mut store, &component, &linker))
            .expect("instantiate");
        let c = sync_check(check);
        let check = async_bindings::exports::upshift::plugin::verifier::Check {
            rollout_id: c.rollout_id,
            stage_index: c.stage_index,
            stage_name: c.stage_name,
            from_version: c.from_version,
            to_version: c.to_version,
            weight: c.weight,
            units: c.units,
            attempt: c.attempt,
        };
        AsyncCall { store, bindings, check }
    }

    pub fn call(&mut self, config: &str) -> bool {
        let call = self.bindings.upshift_plugin_verifier().call_verify(&mut self.store, &self.check, config);
        ready(call).expect("no trap").is_ok()
    }
}

/// The output of a future that completes at its first poll (these calls never wait).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the call waited, and this benchmark has nothing to wake it"),
    }
}

/// A fresh instance of the component at `wasm` for every call, instantiated and called
/// synchronously by wasmtime alone: from a pre-linked component, with the pooling allocator (as the
/// host, with wasmtime's default pool settings) or allocating on demand.
pub struct SyncFresh {
    engine: Engine,
    pre: sync_bindings::VerifierPluginPre<Host>,
    check: sync_bindings::exports::upshift::plugin::verifier::Check,
}

impl SyncFresh {
    pub fn new(wasm: &std::path::Path, check: &upshift::runtime::Check, pooling: bool) -> Self {
        let (engine, component, linker) = linked(wasm, pooling);
        let pre = linker.instantiate_pre(&component).expect("link");
        let pre = sync_bindings::VerifierPluginPre::new(pre).expect("the verifier's exports");
        SyncFresh { engine, pre, check: sync_check(check) }
    }

    pub fn call(&mut self, config: &str) -> bool {
        let mut store = store(&self.engine);
        let bindings = self.pre.instantiate(&mut store).expect("instantiate");
        let verdict = bindings.upshift_plugin_verifier().call_verify(&mut store, &self.check, config);
        verdict.expect("no trap").is_ok()
    }
}
