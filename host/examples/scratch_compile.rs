use std::time::Instant;
use wasm_encoder::*;

fn component(module: &[u8]) -> Vec<u8> {
    let mut c = Component::new();
    c.section(&RawSection { id: ComponentSectionId::CoreModule as u8, data: module });
    c.finish()
}

fn module(funcs: Vec<Function>) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut fs = FunctionSection::new();
    let mut code = CodeSection::new();
    for f in &funcs {
        fs.function(0);
        code.function(f);
    }
    let mut m = Module::new();
    m.section(&types).section(&fs).section(&code);
    m.finish()
}

fn locals_chain(n: u32, rounds: u32) -> Function {
    let mut f = Function::new([(n, ValType::I32)]);
    for _ in 0..rounds {
        for i in 0..n {
            f.instruction(&Instruction::LocalGet(i));
            f.instruction(&Instruction::I32Const(1));
            f.instruction(&Instruction::I32Add);
            f.instruction(&Instruction::LocalSet(1 + (i + 1) % n));
        }
    }
    f.instruction(&Instruction::LocalGet(1));
    f.instruction(&Instruction::End);
    f
}

// locals live across a loop with many blocks: every local read in the loop and written after.
fn locals_loop(n: u32, blocks: u32) -> Function {
    let mut f = Function::new([(n, ValType::I32)]);
    f.instruction(&Instruction::Loop(BlockType::Empty));
    for b in 0..blocks {
        f.instruction(&Instruction::Block(BlockType::Empty));
        f.instruction(&Instruction::LocalGet(0));
        f.instruction(&Instruction::BrIf(0));
        let i = 1 + (b % n);
        f.instruction(&Instruction::LocalGet(i));
        f.instruction(&Instruction::LocalGet(1 + ((b * 7919) % n)));
        f.instruction(&Instruction::I32Add);
        f.instruction(&Instruction::LocalSet(i));
        f.instruction(&Instruction::End);
    }
    f.instruction(&Instruction::LocalGet(0));
    f.instruction(&Instruction::BrIf(0));
    f.instruction(&Instruction::End);
    f.instruction(&Instruction::LocalGet(1));
    f.instruction(&Instruction::End);
    f
}

fn nested_blocks(depth: u32) -> Function {
    let mut f = Function::new([]);
    for _ in 0..depth {
        f.instruction(&Instruction::Block(BlockType::Empty));
    }
    for _ in 0..depth {
        f.instruction(&Instruction::LocalGet(0));
        f.instruction(&Instruction::BrIf(0));
        f.instruction(&Instruction::End);
    }
    f.instruction(&Instruction::LocalGet(0));
    f.instruction(&Instruction::End);
    f
}

fn br_table(targets: u32, depth: u32) -> Function {
    let mut f = Function::new([]);
    for _ in 0..depth {
        f.instruction(&Instruction::Block(BlockType::Empty));
    }
    f.instruction(&Instruction::LocalGet(0));
    let t: Vec<u32> = (0..targets).map(|i| i % depth).collect();
    f.instruction(&Instruction::BrTable(t.into(), 0));
    for _ in 0..depth {
        f.instruction(&Instruction::End);
    }
    f.instruction(&Instruction::LocalGet(0));
    f.instruction(&Instruction::End);
    f
}

fn time(name: &str, bytes: Vec<u8>) {
    let engine = wasmtime::Engine::default();
    let start = Instant::now();
    let r = wasmtime::component::Component::new(&engine, &component(&bytes));
    println!(
        "{name:40} {:>9} bytes  {:>8.2?}  {}",
        bytes.len(),
        start.elapsed(),
        r.err().map(|e| format!("{e:#}").chars().take(100).collect::<String>()).unwrap_or_default()
    );
}

fn analyze(path: &str) {
    use wasmparser::{Operator, Parser, Payload};
    let bytes = std::fs::read(path).unwrap();
    let (mut n, mut max_locals, mut max_blocks, mut max_depth, mut max_prod, mut sum_prod, mut max_body, mut code) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut worst = (0u64, 0u64, 0u64);
    for p in Parser::new(0).parse_all(&bytes) {
        if let Ok(Payload::CodeSectionEntry(body)) = p {
            n += 1;
            let size = body.range().len() as u64;
            code += size;
            max_body = max_body.max(size);
            let mut locals = 0u64;
            let mut r = body.get_locals_reader().unwrap();
            for _ in 0..r.get_count() {
                locals += r.read().unwrap().0 as u64;
            }
            let mut ops = body.get_operators_reader().unwrap();
            let (mut blocks, mut depth, mut md) = (0u64, 0u64, 0u64);
            while !ops.eof() {
                match ops.read().unwrap() {
                    Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                        blocks += 1;
                        depth += 1;
                        md = md.max(depth);
                    }
                    Operator::Else => blocks += 1,
                    Operator::End => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            let prod = locals * blocks;
            if prod > worst.0 {
                worst = (prod, locals, blocks);
            }
            max_locals = max_locals.max(locals);
            max_blocks = max_blocks.max(blocks);
            max_depth = max_depth.max(md);
            max_prod = max_prod.max(prod);
            sum_prod += prod;
        }
    }
    let engine = wasmtime::Engine::default();
    let start = Instant::now();
    let _ = wasmtime::component::Component::new(&engine, &bytes).unwrap();
    println!(
        "{path}: {} bytes, {n} functions, code {code}, max body {max_body}, max locals {max_locals}, max blocks {max_blocks}, max depth {max_depth}, max locals*blocks {max_prod} (locals {} blocks {}), sum locals*blocks {sum_prod}; compile {:?}",
        bytes.len(),
        worst.1,
        worst.2,
        start.elapsed()
    );
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).collect();
    if which.first().map(String::as_str) == Some("analyze") {
        for p in &which[1..] {
            analyze(p);
        }
        return;
    }
    let on = |s: &str| which.is_empty() || which.iter().any(|w| s.starts_with(w.as_str()));
    if which.first().map(String::as_str) == Some("one") {
        let l: u32 = which[1].parse().unwrap();
        let b: u32 = which[2].parse().unwrap();
        time(&format!("loop locals={l} blocks={b}"), module(vec![locals_loop(l, b)]));
        return;
    }
    if which.first().map(String::as_str) == Some("nest1") {
        let d: u32 = which[1].parse().unwrap();
        time(&format!("nested depth={d}"), module(vec![nested_blocks(d)]));
        return;
    }
    if on("chain") {
        for n in [1000, 10_000, 50_000] {
            time(&format!("chain locals={n}"), module(vec![locals_chain(n, 1)]));
        }
    }
    if on("loop") {
        for (n, b) in [(1000, 10_000), (10_000, 10_000), (10_000, 40_000), (50_000, 20_000), (2000, 80_000)] {
            time(&format!("loop locals={n} blocks={b}"), module(vec![locals_loop(n, b)]));
        }
    }
    if on("nest") {
        for d in [10_000, 100_000, 300_000] {
            time(&format!("nested depth={d}"), module(vec![nested_blocks(d)]));
        }
    }
    if on("brtable") {
        for (t, d) in [(100_000, 100), (1_000_000, 1000)] {
            time(&format!("br_table targets={t} depth={d}"), module(vec![br_table(t, d)]));
        }
    }
    if on("many") {
        for n in [10_000, 100_000] {
            time(&format!("functions={n}"), module((0..n).map(|_| locals_chain(4, 4)).collect()));
        }
    }
}
