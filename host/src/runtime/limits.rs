//! Resource limits for one plugin instance: the documented defaults and the limiter that enforces
//! memory, table and instance counts inside a store.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// How long one plugin call may run before it is stopped. Plugins doing real I/O (a database
/// migration, a metrics query) may need more; the spec can raise it per plugin.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest timeout a spec may set: a call that needs longer should be split into stages.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Linear memory one plugin instance may use. Rust plugins doing JSON and SQL work fit in a few MiB;
/// 64 MiB leaves ample headroom while keeping a hostile plugin from hurting the host.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;

/// The largest memory limit a spec may grant; also the size of each slot the pooling allocator reserves.
pub const MAX_MEMORY_LIMIT: usize = 1 << 30;

/// The largest answer (strings and lists, summed) a plugin call may return to the host. An answer
/// is a verdict, a stage list, a change report: kilobytes. Anything past this is refused; anything
/// past the memory limit cannot even be built.
pub const MAX_RETURN_BYTES: usize = 1 << 20;

/// Table elements per table: far above what compiled Rust needs, far below what hurts the host.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Core instances, tables and memories one component instance may create. A Rust `wasm32-wasip2`
/// component uses a handful of each.
pub const MAX_INSTANCES: usize = 32;
pub const MAX_TABLES: usize = 32;
pub const MAX_MEMORIES: usize = 8;

/// The limits applied to one plugin in one rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub call_timeout: Duration,
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { call_timeout: DEFAULT_CALL_TIMEOUT, memory_bytes: DEFAULT_MEMORY_LIMIT }
    }
}

/// Marker error raised inside a plugin call when it tries to grow memory past its limit; the
/// instance layer recognises it in the trap's cause chain.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (asked for {desired} bytes)")]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

/// Enforces [`Limits::memory_bytes`] and the fixed table and instance limits for one store.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
}

impl Limiter {
    pub fn new(memory_bytes: usize) -> Self {
        Limiter { memory_bytes }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            // Trap at once rather than let `memory.grow` fail: a Rust plugin would abort anyway,
            // and the trap carries the reason.
            return Err(MemoryLimitExceeded { limit: self.memory_bytes, desired }.into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_within_the_limit_is_allowed() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
    }

    #[test]
    fn growth_past_the_limit_is_an_error_that_names_both_sizes() {
        let mut l = Limiter::new(1 << 20);
        let err = l.memory_growing(1 << 20, 2 << 20, None).unwrap_err();
        let hit = err.downcast_ref::<MemoryLimitExceeded>().expect("marker error");
        assert_eq!((hit.limit, hit.desired), (1 << 20, 2 << 20));
    }

    #[test]
    fn tables_are_capped() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!l.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
    }
}
