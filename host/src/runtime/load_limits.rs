//! Bounds on loading a plugin, checked before the compiler sees it: the size of a component file
//! (refused from its metadata, then read through a reader that stops past the limit), and what the
//! component holds, so that compiling it takes bounded time and memory.
//!
//! The compiler cannot be interrupted and a compile thread cannot be killed, so the cost is bounded
//! up front, from what one pass of `wasmparser` reads without validating or compiling anything.
//! Compile time grows with the bytes of code and the number of functions, and superlinearly inside
//! a function: with its nesting depth, and with its locals times its blocks (every local live across
//! a merge of control flow becomes a value the compiler threads through it). Measured on this
//! machine, one 170 KB function of 10,000 locals across 10,000 blocks took six minutes to compile,
//! and 100,000 nested blocks (a 700 KB body) took 110 s. [`MAX_COMPILE_WORK`] bounds an estimate of
//! all of it; the per-function limits stop single pathological functions early.
//!
//! First-party Rust plugins (release builds) are 160 to 260 KB with at most 600 functions, 35 locals,
//! 280 blocks, 62 deep and under 200,000 units of work; a debug build has 156 locals at most. Every
//! limit sits one to several orders of magnitude above that.

use std::io::Read;
use std::path::Path;

use wasmparser::{CompositeInnerType, FunctionBody, Operator, Parser, Payload};

/// The largest plugin file read. First-party plugins are 100 KB to 2 MB; an interpreter compiled
/// into a component (Python, JavaScript) with its standard library is 10 to 40 MB. 100 MiB leaves
/// room for those while keeping a stray multi-gigabyte file (or a device such as `/dev/zero`) from
/// being read into memory.
pub const MAX_COMPONENT_BYTES: u64 = 100 << 20;

/// Functions with a body, over all core modules of a component. A Rust plugin defines hundreds to a
/// few thousand; CPython with its extension modules about 30,000.
pub const MAX_FUNCTIONS: u64 = 100_000;

/// Bytes of one function body; an interpreter's dispatch loop, the largest function compilers emit,
/// is a few hundred KB.
pub const MAX_FUNCTION_BODY_BYTES: u64 = 1 << 20;

/// Locals one function declares (wasmparser allows 50,000); compiled Rust and C declare at most a
/// few hundred.
pub const MAX_FUNCTION_LOCALS: u64 = 10_000;

/// How deep blocks, loops and `if`s nest in one function. A `match` or `switch` of N arms nests N
/// blocks, so generated code goes deep; compile time grows with the square of it (10,000 deep: 1.8 s).
pub const MAX_CONTROL_DEPTH: u64 = 10_000;

/// The compile work one component may ask for, in units of about one byte of ordinary code:
/// for every function, [`WORK_PER_FUNCTION`] plus its body's bytes, plus its locals (parameters
/// included) times its blocks, plus its nesting depth squared over 100. One unit cost 1 to 4 µs of
/// compile time in every pattern measured, so this is one to four minutes of one core at worst
/// (spread over the cores: functions compile in parallel); an 18 MB Python component (about 10 s to
/// compile) is estimated at 15 to 20 million units.
pub const MAX_COMPILE_WORK: u64 = 64 << 20;

/// The compile work one function may ask for. A function is compiled on one core, all of it in
/// memory: at the locals-times-blocks pattern, 10 million units took 17 s and 400 MB, so this keeps
/// one function to about 15 s and 350 MB.
pub const MAX_FUNCTION_WORK: u64 = 8 << 20;

/// The work counted for a function whatever its size: compiling 100,000 two-instruction functions
/// took 19 s, about 190 µs each.
pub const WORK_PER_FUNCTION: u64 = 128;

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
    #[error("a function nesting blocks {found} deep, more than the limit of {limit} (MAX_CONTROL_DEPTH)")]
    Depth { found: u64, limit: u64 },
    #[error(
        "a function needing an estimated {found} units of compile work (its bytes, plus its locals times its \
         blocks and its nesting depth), more than the limit of {limit} (MAX_FUNCTION_WORK)"
    )]
    FunctionWork { found: u64, limit: u64 },
    #[error(
        "code needing an estimated {found} units of compile work (bytes of code, plus locals times blocks and \
         nesting depth in each function), more than the limit of {limit} (MAX_COMPILE_WORK)"
    )]
    Work { found: u64, limit: u64 },
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

/// Refuses a component whose contents pass a load limit. Bytes that do not parse are left for the
/// compiler to refuse with its own, more precise, message: wasmtime parses a whole module before it
/// compiles any function, and a body that stops parsing part-way fails its own compilation there.
pub fn check(bytes: &[u8]) -> Result<(), OverLimit> {
    let mut tally = Tally::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return Ok(()) };
        tally.add(payload)?;
    }
    Ok(())
}

/// Running counts over one component, as [`check`] reads it.
#[derive(Debug, Default)]
struct Tally {
    functions: u64,
    work: u64,
    modules: u64,
    instances: u64,
    /// Components enclosing the section being read, the outermost one not counted.
    nesting: u64,
    /// Whether the section being read is inside a nested core module.
    in_module: bool,
    /// The nested core module being read.
    module: ModuleShape,
}

/// What the code entries of one core module need from its earlier sections: each function's
/// parameter count, so that parameters count as locals.
#[derive(Debug, Default)]
struct ModuleShape {
    /// Parameters of each type, by type index (0 for types that are not functions).
    params: Vec<u64>,
    /// The type index of each function with a body, in order.
    functions: Vec<u32>,
    /// Code entries read so far.
    bodies: usize,
}

impl ModuleShape {
    /// Parameters of the next function body.
    fn next_params(&mut self) -> u64 {
        let ty = self.functions.get(self.bodies).copied();
        self.bodies += 1;
        ty.and_then(|t| self.params.get(t as usize)).copied().unwrap_or(0)
    }
}

fn at_most(found: u64, limit: u64, over: fn(u64, u64) -> OverLimit) -> Result<(), OverLimit> {
    if found > limit { Err(over(found, limit)) } else { Ok(()) }
}

impl Tally {
    fn add(&mut self, payload: Payload<'_>) -> Result<(), OverLimit> {
        match payload {
            Payload::ModuleSection { .. } => {
                self.modules += 1;
                at_most(self.modules, MAX_MODULES, |found, limit| OverLimit::Modules { found, limit })?;
                self.module = ModuleShape::default();
                self.in_module = true;
            }
            Payload::ComponentSection { .. } => {
                self.nesting += 1;
                at_most(self.nesting, MAX_COMPONENT_NESTING, |found, limit| OverLimit::Nesting { found, limit })?;
            }
            // Nothing nests inside a module: an end is the module's if one is open, else a component's.
            Payload::End(_) if self.in_module => self.in_module = false,
            Payload::End(_) => self.nesting = self.nesting.saturating_sub(1),
            Payload::InstanceSection(section) => self.instances(section.count())?,
            Payload::ComponentInstanceSection(section) => self.instances(section.count())?,
            Payload::TypeSection(section) => {
                for group in section.into_iter().flatten() {
                    for ty in group.into_types() {
                        let params = match &ty.composite_type.inner {
                            CompositeInnerType::Func(f) => f.params().len() as u64,
                            _ => 0,
                        };
                        self.module.params.push(params);
                    }
                }
            }
            Payload::FunctionSection(section) => self.module.functions.extend(section.into_iter().flatten()),
            Payload::CodeSectionStart { count, .. } => {
                self.functions += u64::from(count);
                at_most(self.functions, MAX_FUNCTIONS, |found, limit| OverLimit::Functions { found, limit })?;
            }
            Payload::CodeSectionEntry(body) => {
                let params = self.module.next_params();
                self.work = self.work.saturating_add(function_work(&body, params)?);
                at_most(self.work, MAX_COMPILE_WORK, |found, limit| OverLimit::Work { found, limit })?;
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

/// The estimated compile work of one function (see [`MAX_COMPILE_WORK`]), refusing it past a
/// per-function limit. What does not parse is counted up to there: the compiler stops at the same
/// place.
fn function_work(body: &FunctionBody<'_>, params: u64) -> Result<u64, OverLimit> {
    let bytes = body.range().len() as u64;
    at_most(bytes, MAX_FUNCTION_BODY_BYTES, |found, limit| OverLimit::FunctionBody { found, limit })?;
    let declared = locals(body);
    at_most(declared, MAX_FUNCTION_LOCALS, |found, limit| OverLimit::Locals { found, limit })?;
    let (mut blocks, mut depth, mut deepest) = (0u64, 0u64, 0u64);
    if let Ok(mut operators) = body.get_operators_reader() {
        while let Ok(op) = operators.read() {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                    blocks += 1;
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                Operator::Else => blocks += 1,
                Operator::End if depth == 0 => break,
                Operator::End => depth -= 1,
                _ => {}
            }
        }
    }
    at_most(deepest, MAX_CONTROL_DEPTH, |found, limit| OverLimit::Depth { found, limit })?;
    let work = WORK_PER_FUNCTION + bytes + (declared + params) * blocks + deepest * deepest / 100;
    at_most(work, MAX_FUNCTION_WORK, |found, limit| OverLimit::FunctionWork { found, limit })?;
    Ok(work)
}

/// The locals a function body declares (its parameters not included); what does not parse counts
/// as none, for the compiler to refuse.
fn locals(body: &FunctionBody<'_>) -> u64 {
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
    use wasm_encoder::{BlockType, CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType};

    /// A core module of `functions` functions taking `params` i32s, each declaring `locals` i32
    /// locals, with a body written by `body`.
    fn module(functions: u32, params: usize, locals: u32, body: impl Fn(&mut Function)) -> Vec<u8> {
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
        let mut m = Module::new();
        m.section(&types).section(&funcs).section(&code);
        m.finish()
    }

    fn nops(n: usize) -> impl Fn(&mut Function) {
        move |f| {
            for _ in 0..n {
                f.instruction(&Instruction::Nop);
            }
        }
    }

    /// `n` blocks one after the other, or nested inside one another.
    fn blocks(n: usize, nested: bool) -> impl Fn(&mut Function) {
        move |f| {
            for _ in 0..n {
                f.instruction(&Instruction::Block(BlockType::Empty));
                if !nested {
                    f.instruction(&Instruction::End);
                }
            }
            if nested {
                for _ in 0..n {
                    f.instruction(&Instruction::End);
                }
            }
        }
    }

    /// `module` inside a component, itself wrapped until components are nested `depth` deep.
    fn component(module: &[u8], depth: u32) -> Vec<u8> {
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
        assert_eq!(check(&component(&module(10, 2, 10, blocks(10, true)), 1)), Ok(()));
    }

    #[test]
    fn too_many_locals_are_refused_naming_the_limit() {
        let err = check(&component(&module(1, 0, 50_000, nops(0)), 1)).unwrap_err();
        assert_eq!(err, OverLimit::Locals { found: 50_000, limit: MAX_FUNCTION_LOCALS });
        assert!(err.to_string().contains("MAX_FUNCTION_LOCALS"), "{err}");
    }

    #[test]
    fn a_huge_function_body_is_refused() {
        let err = check(&component(&module(1, 0, 0, nops(MAX_FUNCTION_BODY_BYTES as usize + 1)), 1)).unwrap_err();
        assert!(matches!(err, OverLimit::FunctionBody { .. }), "{err}");
    }

    #[test]
    fn deeply_nested_blocks_are_refused() {
        let depth = MAX_CONTROL_DEPTH as usize;
        assert_eq!(check(&component(&module(1, 0, 0, blocks(depth, true)), 1)), Ok(()));
        let err = check(&component(&module(1, 0, 0, blocks(depth + 1, true)), 1)).unwrap_err();
        assert_eq!(err, OverLimit::Depth { found: MAX_CONTROL_DEPTH + 1, limit: MAX_CONTROL_DEPTH });
    }

    #[test]
    fn locals_times_blocks_count_as_the_work_of_a_function() {
        // 10,000 locals across 1,000 blocks: a 2 KB body, 10 million units of work.
        let err = check(&component(&module(1, 0, 10_000, blocks(1_000, false)), 1)).unwrap_err();
        assert!(matches!(err, OverLimit::FunctionWork { found, limit: MAX_FUNCTION_WORK } if found > 10_000_000));
        assert!(err.to_string().contains("MAX_FUNCTION_WORK"), "{err}");
        // The same blocks with few locals are cheap.
        assert_eq!(check(&component(&module(1, 0, 10, blocks(1_000, false)), 1)), Ok(()));
    }

    #[test]
    fn parameters_count_as_locals() {
        let body = || blocks(10_000, false);
        assert_eq!(check(&component(&module(1, 0, 0, body()), 1)), Ok(()));
        let err = check(&component(&module(1, 1_000, 0, body()), 1)).unwrap_err();
        assert!(matches!(err, OverLimit::FunctionWork { .. }), "{err}");
    }

    #[test]
    fn the_work_of_all_functions_is_bounded_together() {
        // Each function under its own limit (5 million units); twenty of them are 100 million.
        let m = module(20, 0, 5_000, blocks(1_000, false));
        let err = check(&component(&m, 1)).unwrap_err();
        assert!(matches!(err, OverLimit::Work { limit: MAX_COMPILE_WORK, .. }), "{err}");
        assert!(err.to_string().contains("MAX_COMPILE_WORK"), "{err}");
    }

    #[test]
    fn functions_are_counted_over_all_modules() {
        let mut c = wasm_encoder::Component::new();
        let m = module(60_000, 0, 0, nops(0));
        for _ in 0..2 {
            c.section(&wasm_encoder::RawSection { id: wasm_encoder::ComponentSectionId::CoreModule as u8, data: &m });
        }
        assert_eq!(check(&c.finish()), Err(OverLimit::Functions { found: 120_000, limit: MAX_FUNCTIONS }));
    }

    #[test]
    fn deep_component_nesting_is_refused() {
        let m = module(1, 0, 0, nops(0));
        assert_eq!(check(&component(&m, MAX_COMPONENT_NESTING as u32 + 1)), Ok(()));
        let err = check(&component(&m, MAX_COMPONENT_NESTING as u32 + 2)).unwrap_err();
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
