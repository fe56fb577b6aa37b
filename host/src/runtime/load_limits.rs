//! Bounds on loading a plugin, checked before the compiler sees it: the size of a component file
//! (refused from its metadata, then read through a reader that stops past the limit), and what the
//! component may contain (functions, body sizes, locals, modules, nesting), so that compiling it
//! takes bounded time and memory.
//!
//! The compiler cannot be interrupted and a compile thread cannot be killed, so the cost is bounded
//! up front, from counts a single pass of `wasmparser` reads without validating or compiling
//! anything. Every limit sits far above what real plugins need (first-party Rust plugins: 100 KB to
//! 2 MB, a few thousand functions; a Python component built with componentize-py: 18 MB) and far
//! below what hurts the host; the worst case they allow is measured in `tests/hostile_limits.rs`.

use std::io::Read;
use std::path::Path;

use wasmparser::{Parser, Payload};

/// The largest plugin file read. First-party plugins are 100 KB to 2 MB; an interpreter compiled
/// into a component (Python, JavaScript) with its standard library is 10 to 40 MB. 100 MiB leaves
/// room for those and their dependencies while keeping a stray multi-gigabyte file (or a device
/// such as `/dev/zero`) from being read into memory.
pub const MAX_COMPONENT_BYTES: u64 = 100 << 20;

/// Functions with a body, over all core modules of a component. A Rust plugin defines 1,000 to
/// 5,000; CPython with its extension modules about 30,000.
pub const MAX_FUNCTIONS: u64 = 100_000;

/// Bytes of one function body. Code generation is superlinear in the size of a single function;
/// the largest functions compilers emit (an interpreter's dispatch loop) are a few hundred KB.
pub const MAX_FUNCTION_BODY_BYTES: u64 = 1 << 20;

/// Locals one function declares. Register allocation is superlinear in live values; compiled Rust
/// and C functions declare at most a few thousand.
pub const MAX_FUNCTION_LOCALS: u64 = 10_000;

/// Bytes of code (every function body) over all core modules of a component: what compile time
/// grows with.
pub const MAX_CODE_BYTES: u64 = 64 << 20;

/// Core modules, counted over the component and every component nested in it. A Rust plugin has
/// three (the program and two small shims); no more than the core instances a store may create
/// ([`super::limits::MAX_INSTANCES`]) can ever run.
pub const MAX_MODULES: u64 = super::limits::MAX_INSTANCES as u64;

/// Core and component instances a component declares, counted like modules.
pub const MAX_DECLARED_INSTANCES: u64 = 1_000;

/// Components nested inside one another (a composed plugin nests a few).
pub const MAX_COMPONENT_NESTING: u64 = 8;

/// What a component holds past a load limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OverLimit {
    #[error("{found} functions, more than the limit of {limit} (MAX_FUNCTIONS)")]
    Functions { found: u64, limit: u64 },
    #[error("a function body of {found} bytes, more than the limit of {limit} bytes (MAX_FUNCTION_BODY_BYTES)")]
    FunctionBody { found: u64, limit: u64 },
    #[error("a function with {found} locals, more than the limit of {limit} (MAX_FUNCTION_LOCALS)")]
    Locals { found: u64, limit: u64 },
    #[error("{found} bytes of code, more than the limit of {limit} bytes (MAX_CODE_BYTES)")]
    Code { found: u64, limit: u64 },
    #[error("{found} core modules, more than the limit of {limit} (MAX_MODULES)")]
    Modules { found: u64, limit: u64 },
    #[error("{found} declared instances, more than the limit of {limit} (MAX_DECLARED_INSTANCES)")]
    Instances { found: u64, limit: u64 },
    #[error("components nested {found} deep, more than the limit of {limit} (MAX_COMPONENT_NESTING)")]
    Nesting { found: u64, limit: u64 },
}

/// A plugin file past [`MAX_COMPONENT_BYTES`], or one that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `size` is what the file holds, or at least what was read before stopping.
    #[error("the file is {size} bytes, more than the {limit}-byte limit (MAX_COMPONENT_BYTES, {} MiB)", limit >> 20)]
    TooLarge { size: u64, limit: u64 },
}

/// Reads a plugin file, refusing one larger than `limit` without reading it whole: the size on disk
/// is checked first, then the read stops one byte past the limit (a file that grows meanwhile, or a
/// device whose size is not known, is caught there).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ReadError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

/// Running counts of one component, as [`check`] reads it.
#[derive(Debug, Default)]
struct Counts {
    functions: u64,
    code: u64,
    modules: u64,
    instances: u64,
    /// Enclosing modules and components of the section being read.
    depth: u64,
}

/// Refuses a component whose contents pass a load limit. Bytes that do not parse are left for the
/// compiler to refuse with its own, more precise, message: nothing is compiled before everything
/// has been parsed and validated.
pub fn check(bytes: &[u8]) -> Result<(), OverLimit> {
    let mut counts = Counts::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return Ok(()) };
        counts.add(&payload)?;
    }
    Ok(())
}

fn at_most(found: u64, limit: u64, over: fn(u64, u64) -> OverLimit) -> Result<(), OverLimit> {
    if found > limit { Err(over(found, limit)) } else { Ok(()) }
}

impl Counts {
    fn add(&mut self, payload: &Payload<'_>) -> Result<(), OverLimit> {
        match payload {
            Payload::ModuleSection { .. } => {
                self.modules += 1;
                self.depth += 1;
                at_most(self.modules, MAX_MODULES, |found, limit| OverLimit::Modules { found, limit })?;
            }
            Payload::ComponentSection { .. } => {
                self.depth += 1;
                // The outermost component is depth 0: its nested components start at 1.
                at_most(self.depth, MAX_COMPONENT_NESTING, |found, limit| OverLimit::Nesting { found, limit })?;
            }
            Payload::End(_) => self.depth = self.depth.saturating_sub(1),
            Payload::InstanceSection(section) => self.instances(section.count())?,
            Payload::ComponentInstanceSection(section) => self.instances(section.count())?,
            Payload::CodeSectionStart { count, size, .. } => {
                self.functions += u64::from(*count);
                self.code += u64::from(*size);
                at_most(self.functions, MAX_FUNCTIONS, |found, limit| OverLimit::Functions { found, limit })?;
                at_most(self.code, MAX_CODE_BYTES, |found, limit| OverLimit::Code { found, limit })?;
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                at_most(size, MAX_FUNCTION_BODY_BYTES, |found, limit| OverLimit::FunctionBody { found, limit })?;
                at_most(locals(body), MAX_FUNCTION_LOCALS, |found, limit| OverLimit::Locals { found, limit })?;
            }
            _ => {}
        }
        Ok(())
    }

    fn instances(&mut self, count: u32) -> Result<(), OverLimit> {
        self.instances += u64::from(count);
        at_most(self.instances, MAX_DECLARED_INSTANCES, |found, limit| OverLimit::Instances { found, limit })
    }
}

/// The locals a function body declares (its parameters not included); what does not parse counts
/// as none, for the compiler to refuse.
fn locals(body: &wasmparser::FunctionBody<'_>) -> u64 {
    let Ok(mut reader) = body.get_locals_reader() else { return 0 };
    let mut total = 0u64;
    for _ in 0..reader.get_count() {
        let Ok((count, _)) = reader.read() else { return total };
        total = total.saturating_add(u64::from(count));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType};

    /// A core module of `functions` functions, each declaring `locals` i32 locals and padded with
    /// `nops` no-ops.
    fn module(functions: u32, locals: u32, nops: usize) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for _ in 0..functions {
            funcs.function(0);
            let mut f = Function::new([(locals, ValType::I32)]);
            for _ in 0..nops {
                f.instruction(&Instruction::Nop);
            }
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        let mut m = Module::new();
        m.section(&types).section(&funcs).section(&code);
        m.finish()
    }

    /// `module` inside a component, itself wrapped until components are nested `depth` deep.
    fn nested(module: &[u8], depth: u32) -> Vec<u8> {
        let section = |id: wasm_encoder::ComponentSectionId, data: &[u8]| {
            let mut c = wasm_encoder::Component::new();
            c.section(&wasm_encoder::RawSection { id: id as u8, data });
            c.finish()
        };
        let mut bytes = section(wasm_encoder::ComponentSectionId::CoreModule, module);
        for _ in 1..depth {
            bytes = section(wasm_encoder::ComponentSectionId::Component, &bytes);
        }
        bytes
    }

    #[test]
    fn a_small_component_passes() {
        assert_eq!(check(&nested(&module(10, 10, 10), 1)), Ok(()));
    }

    #[test]
    fn too_many_locals_are_refused_naming_the_limit() {
        let err = check(&nested(&module(1, 50_000, 0), 1)).unwrap_err();
        assert_eq!(err, OverLimit::Locals { found: 50_000, limit: MAX_FUNCTION_LOCALS });
        assert!(err.to_string().contains("MAX_FUNCTION_LOCALS"), "{err}");
    }

    #[test]
    fn a_huge_function_body_is_refused() {
        let err = check(&nested(&module(1, 0, MAX_FUNCTION_BODY_BYTES as usize + 1), 1)).unwrap_err();
        assert!(matches!(err, OverLimit::FunctionBody { .. }), "{err}");
    }

    #[test]
    fn functions_are_counted_over_all_modules() {
        let mut c = wasm_encoder::Component::new();
        let m = module(60_000, 0, 0);
        for _ in 0..2 {
            c.section(&wasm_encoder::RawSection { id: wasm_encoder::ComponentSectionId::CoreModule as u8, data: &m });
        }
        assert_eq!(check(&c.finish()), Err(OverLimit::Functions { found: 120_000, limit: MAX_FUNCTIONS }));
    }

    #[test]
    fn deep_nesting_is_refused() {
        assert_eq!(check(&nested(&module(1, 0, 0), MAX_COMPONENT_NESTING as u32 + 1)), Ok(()));
        let err = check(&nested(&module(1, 0, 0), MAX_COMPONENT_NESTING as u32 + 2)).unwrap_err();
        assert!(matches!(err, OverLimit::Nesting { .. }), "{err}");
    }

    #[test]
    fn bytes_that_do_not_parse_are_left_to_the_compiler() {
        assert_eq!(check(b"\0asm\x0d\0\x01\0garbage"), Ok(()));
    }

    #[test]
    fn a_file_past_the_limit_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.wasm");
        std::fs::File::create(&path).unwrap().set_len(1 << 40).unwrap();
        match read_bounded(&path, MAX_COMPONENT_BYTES) {
            Err(ReadError::TooLarge { size, limit }) => assert_eq!((size, limit), (1 << 40, MAX_COMPONENT_BYTES)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_device_of_unknown_size_is_read_only_to_the_limit() {
        match read_bounded(Path::new("/dev/zero"), 1 << 20) {
            Err(ReadError::TooLarge { size, limit }) => assert_eq!((size, limit), ((1 << 20) + 1, 1 << 20)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.wasm");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap(), b"0123456789");
    }
}
