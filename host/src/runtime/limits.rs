//! Resource limits for one plugin instance: the documented defaults and the limiter that enforces
//! them inside a store. The memory limit is one budget for the whole component: every linear memory
//! and every table of every core instance it creates count against it together.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// How long one plugin call may run before it is stopped. Plugins doing real I/O (a database
/// migration, a metrics query) may need more; the spec can raise it per plugin.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest timeout a spec may set: a call that needs longer should be split into stages.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Memory one plugin instance may use: all its linear memories and tables together. Rust plugins
/// doing JSON and SQL work fit in a few MiB; 64 MiB leaves ample headroom while keeping a hostile
/// plugin from hurting the host.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;

/// The largest memory limit a spec may grant; also the size of each slot the pooling allocator reserves.
pub const MAX_MEMORY_LIMIT: usize = 1 << 30;

/// The largest answer (strings and lists, summed) a plugin call may return to the host. An answer
/// is a verdict, a stage list, a change report: kilobytes. Anything past this is refused; anything
/// past the memory limit cannot even be built.
pub const MAX_RETURN_BYTES: usize = 1 << 20;

/// Table elements per table: far above what compiled Rust needs, far below what hurts the host. It
/// is also the size of each table slot the pooling allocator reserves; a `table.grow` past it fails
/// (returns -1) as the Wasm spec allows. Elements count against the memory limit as well.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What one table element costs the host, counted against the memory limit: wasmtime keeps a
/// pointer per element (see `ResourceLimiter::table_growing`).
pub const TABLE_ELEMENT_BYTES: usize = size_of::<usize>();

/// Host resources (open files and folders, streams, pollables, HTTP requests and responses) one
/// plugin instance may hold at once. They live in the host's memory, outside the plugin's memory
/// limit, and an open file is one of the host process's file descriptors: without a bound a plugin
/// opening a granted file in a loop would take every descriptor the controller has. A plugin needs
/// a few dozen (each granted folder, stdio, a request in flight); past this a call traps, and the
/// instance, dropped, gives every one back.
pub const MAX_HOST_RESOURCES: usize = 256;

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

/// Marker error raised inside a plugin call when its memories and tables would together grow past
/// the limit; the instance layer recognises it in the trap's cause chain.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded: the component's memories and tables would hold {total} bytes")]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    /// What all memories and tables of the store would hold after the refused growth.
    pub total: usize,
}

/// Enforces [`Limits::memory_bytes`] over every memory and table of one store, and the fixed table
/// and instance limits.
///
/// wasmtime asks before every allocation: a new memory or table is reported as growing from 0 to its
/// initial size, a `memory.grow` or `table.grow` from its current to its desired size. Each approved
/// growth is added to one running total. When a growth this limiter approved then fails anyway (past
/// the memory's declared maximum, say), wasmtime says so, and that growth is taken back out.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    /// Bytes held by all memories and tables of the store.
    used: usize,
    /// The last approved memory growth, in bytes: what to take back if wasmtime reports it failed.
    pending_memory: usize,
    /// Same for tables.
    pending_table: usize,
}

impl Limiter {
    pub fn new(memory_bytes: usize) -> Self {
        Limiter { memory_bytes, used: 0, pending_memory: 0, pending_table: 0 }
    }

    /// Bytes the store's memories and tables hold.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The total after adding `growth` bytes, or the marker error past the limit. Trapping at once
    /// rather than letting the growth fail: a Rust plugin would abort anyway, and the trap carries the
    /// reason.
    fn within_budget(&self, growth: usize) -> wasmtime::Result<usize> {
        let total = self.used.saturating_add(growth);
        if total > self.memory_bytes {
            return Err(MemoryLimitExceeded { limit: self.memory_bytes, total }.into());
        }
        Ok(total)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.pending_memory = 0;
        let growth = desired.saturating_sub(current);
        self.used = self.within_budget(growth)?;
        self.pending_memory = growth;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // Only called after `memory_growing` approved the growth (the other caller, a growth past what
        // the memory's page size can address, needs custom page sizes, which the engine leaves off).
        self.used -= std::mem::take(&mut self.pending_memory);
        Ok(())
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.pending_table = 0;
        let growth = desired.saturating_sub(current).saturating_mul(TABLE_ELEMENT_BYTES);
        // The budget first: a huge `table.grow` is a memory bomb and is stopped as one.
        let total = self.within_budget(growth)?;
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.used = total;
        self.pending_table = growth;
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // Only called after `table_growing` approved the growth (the other caller, a size overflowing
        // `usize`, needs 64-bit tables, which the engine leaves off).
        self.used -= std::mem::take(&mut self.pending_table);
        Ok(())
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

    const MIB: usize = 1 << 20;

    fn refused(result: wasmtime::Result<bool>) -> (usize, usize) {
        let err = result.unwrap_err();
        let hit = err.downcast_ref::<MemoryLimitExceeded>().expect("marker error");
        (hit.limit, hit.total)
    }

    #[test]
    fn growth_within_the_limit_is_allowed() {
        let mut l = Limiter::new(MIB);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert_eq!(l.used(), MIB);
    }

    #[test]
    fn growth_past_the_limit_is_an_error_that_names_the_limit_and_the_total() {
        let mut l = Limiter::new(MIB);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert_eq!(refused(l.memory_growing(MIB, 2 * MIB, None)), (MIB, 2 * MIB));
        assert_eq!(l.used(), MIB, "a refused growth is not counted");
    }

    #[test]
    fn several_memories_share_one_budget() {
        // Each memory alone stays under the limit; together they do not.
        let mut l = Limiter::new(4 * MIB);
        assert!(l.memory_growing(0, 3 * MIB, None).unwrap());
        assert_eq!(refused(l.memory_growing(0, 3 * MIB, None)), (4 * MIB, 6 * MIB));
        assert!(l.memory_growing(0, MIB, None).unwrap(), "what is left can still be used");
        assert_eq!(l.used(), 4 * MIB);
    }

    #[test]
    fn growth_counts_only_the_new_bytes() {
        let mut l = Limiter::new(4 * MIB);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert!(l.memory_growing(MIB, 3 * MIB, None).unwrap());
        assert_eq!(l.used(), 3 * MIB);
    }

    #[test]
    fn a_growth_that_failed_after_approval_is_taken_back() {
        let mut l = Limiter::new(4 * MIB);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert!(l.memory_growing(MIB, 3 * MIB, Some(2 * MIB)).unwrap());
        l.memory_grow_failed(wasmtime::format_err!("Memory maximum size exceeded")).unwrap();
        assert_eq!(l.used(), MIB);
        // Reported twice, it is taken back once.
        l.memory_grow_failed(wasmtime::format_err!("again")).unwrap();
        assert_eq!(l.used(), MIB);
    }

    #[test]
    fn tables_count_against_the_memory_limit() {
        let mut l = Limiter::new(MIB);
        assert!(l.memory_growing(0, MIB - 64 * 1024, None).unwrap());
        // 8,192 elements are 64 KiB: exactly what is left.
        assert!(l.table_growing(0, 64 * 1024 / TABLE_ELEMENT_BYTES, None).unwrap());
        assert_eq!(l.used(), MIB);
        assert_eq!(refused(l.table_growing(8192, 8193, None)), (MIB, MIB + TABLE_ELEMENT_BYTES));
    }

    #[test]
    fn a_huge_table_grow_is_stopped_by_the_memory_limit() {
        let mut l = Limiter::new(MIB);
        assert_eq!(refused(l.table_growing(0, u32::MAX as usize, None)).0, MIB);
    }

    #[test]
    fn tables_are_capped_per_table() {
        let mut l = Limiter::new(1 << 30);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!l.table_growing(MAX_TABLE_ELEMENTS, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert_eq!(l.used(), MAX_TABLE_ELEMENTS * TABLE_ELEMENT_BYTES, "a refused growth is not counted");
    }

    #[test]
    fn a_table_growth_that_failed_is_taken_back() {
        let mut l = Limiter::new(MIB);
        assert!(l.table_growing(0, 10, Some(10)).unwrap());
        assert!(l.table_growing(10, 20, Some(10)).unwrap());
        l.table_grow_failed(wasmtime::format_err!("Table maximum size exceeded")).unwrap();
        assert_eq!(l.used(), 10 * TABLE_ELEMENT_BYTES);
    }
}
