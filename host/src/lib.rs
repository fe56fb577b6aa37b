//! upshift: progressive delivery and auto-upgrades whose targets, verifiers and strategies are
//! sandboxed WebAssembly components.
//!
//! The layers, contract first: `wit/` defines the plugin contract; [`runtime`] loads and runs
//! plugins under limits; the engine (pure), the store and the CLI build on it. [`text`] says what
//! a plugin's text may look like on a terminal.

pub mod builtin;
pub mod engine;
pub mod policy;
pub mod rollout;
pub mod runtime;
pub mod serve;
pub mod spec;
pub mod store;
pub mod text;
pub mod trust;
