//! `upshift plugin ...`: inspect a component file, list the built-in plugins, and sign, verify and
//! make keys. What a component says about itself (`describe()`, its declared capabilities) is
//! plugin text: printed through `say!`, like every line of the CLI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;
use upshift::runtime::{CompiledCache, Inspection, PluginSource, Runtime, config_schema};
use upshift::trust::{self, SecretKey, TrustedKeys};

use super::exit;
use super::output::{name, print_json, say};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show what a plugin is: its kind and world, sha256, the capabilities it asks for, imports, and
    /// for targets describe().
    Inspect {
        /// A component file (.wasm), or the name of a built-in plugin (`upshift plugin list`).
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the first-party plugins built into this binary, by the name a spec uses.
    List {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create an Ed25519 signing key: KEY (secret, owner-only) and KEY.pub (to trust it elsewhere).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, default_value = "upshift-signing.key")]
        out: PathBuf,
    },
    /// Sign a component: writes FILE.sig next to it (the component's bytes stay as they are).
    Sign {
        /// The component file.
        file: PathBuf,
        /// The secret key from `upshift plugin keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a component's signature against the trusted keys (--trusted-keys).
    Verify {
        /// The component file.
        file: PathBuf,
    },
    /// Declare the capabilities a component built without the Rust SDK needs (a Python or
    /// JavaScript plugin): writes them into the component as its `upshift:capabilities` section.
    /// A spec must still grant each; a plugin that declares nothing is given nothing.
    Declare {
        /// The component file, as its build wrote it.
        file: PathBuf,
        /// It queries or changes SQL databases (`grants.sql`).
        #[arg(long)]
        sql: bool,
        /// It reads or writes folders (`grants.files`).
        #[arg(long)]
        files: bool,
        /// It connects to network peers (`grants.network`).
        #[arg(long)]
        network: bool,
        /// It reads this environment variable (`grants.env`); repeat for more.
        #[arg(long, value_name = "NAME")]
        env: Vec<String>,
        /// Write the declared component here instead of replacing FILE.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// The compiled-plugin cache (--cache): list its entries, or clear it.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the compiled plugins kept in the cache: the sha256 of the component each was compiled
    /// from, its size, and whether this build of upshift can use it.
    List {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove every compiled plugin from the cache (each is compiled again at its next use).
    Clear,
}

pub fn run(cmd: PluginCommand, trusted_keys: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Keygen { out } => {
            let key = SecretKey::generate()?;
            let public = key.save(&out)?;
            say!("secret key: {} (keep it private)", out.display());
            say!("public key: {} ({})", key.public(), public.display());
            say!("to trust it on a host: append `{} <name>` to {}", key.public(), trusted_keys.display());
            return Ok(ExitCode::from(exit::SUCCESS));
        }
        PluginCommand::Sign { file, key } => {
            let key = SecretKey::load(&key)?;
            let bytes = upshift::runtime::read_plugin_file(&file)?;
            let signature = trust::sign(&bytes, &key);
            let path = trust::signature_path(&file);
            std::fs::write(&path, serde_json::to_string_pretty(&signature)? + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            say!("signed {} (sha256 {}) with {}: {}", file.display(), signature.sha256, key.public(), path.display());
            return Ok(ExitCode::from(exit::SUCCESS));
        }
        PluginCommand::Verify { file } => {
            let trusted = TrustedKeys::load(trusted_keys)?;
            let bytes = upshift::runtime::read_plugin_file(&file)?;
            let (key, name) = trust::verify(&file, &bytes, &trusted)?;
            say!("{}: signed by {key} ({name}), trusted", file.display());
            return Ok(ExitCode::from(exit::SUCCESS));
        }
        PluginCommand::Cache(cmd) => return cache(cmd),
        PluginCommand::Declare { file, sql, files, network, env, out } => {
            let declared = upshift::runtime::Declared { sql, files, network, env, unknown: vec![] };
            let bytes = upshift::runtime::read_plugin_file(&file)?;
            let with = declared.append_to(&file.display().to_string(), &bytes)?;
            let out = out.unwrap_or(file);
            let tmp = out.with_extension("declaring");
            std::fs::write(&tmp, &with)
                .and_then(|()| std::fs::rename(&tmp, &out))
                .with_context(|| format!("cannot write {}", out.display()))?;
            let digest = upshift::runtime::Digest::of(&with);
            say!("{}: declares {declared}; sha256 {digest} (pin this in the spec, sign it after)", out.display());
            return Ok(ExitCode::from(exit::SUCCESS));
        }
        _ => {}
    }
    let runtime = Runtime::new()?;
    match cmd {
        PluginCommand::Inspect { file, json } => {
            // A name that is not a file but is a built-in plugin's name means the built-in one.
            let builtin = file.to_str().filter(|n| !file.exists() && runtime.builtin_names().contains(n));
            let source = match builtin {
                Some(name) => PluginSource::Builtin(name.to_string()),
                None if !file.exists() => {
                    let why = format!(
                        "no such file, and no built-in plugin of that name (built in: {})",
                        runtime.builtin_names().join(", ")
                    );
                    let source = std::io::Error::new(std::io::ErrorKind::NotFound, why);
                    return Err(upshift::runtime::LoadError::Read { path: file, source }.into());
                }
                None => PluginSource::File { path: file, sha256: None },
            };
            let inspection = runtime.inspect(&source)?;
            if json {
                print_json(&inspection_json(&inspection))?;
            } else {
                print_inspection(&inspection);
            }
        }
        PluginCommand::List { json } => {
            let mut rows = Vec::new();
            for name in runtime.builtin_names() {
                let inspection = runtime.inspect(&PluginSource::Builtin(name.to_string()))?;
                rows.push(inspection);
            }
            if json {
                let list: Vec<_> = rows.iter().map(inspection_json).collect();
                print_json(&list)?;
            } else {
                for i in &rows {
                    let kind = i.kind.map_or("?".to_string(), |k| k.to_string());
                    say!("{:<16} {:<9} sha256:{}", i.name, kind, &i.sha256[..16]);
                }
            }
        }
        PluginCommand::Keygen { .. }
        | PluginCommand::Sign { .. }
        | PluginCommand::Verify { .. }
        | PluginCommand::Cache(_)
        | PluginCommand::Declare { .. } => {}
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

/// Refused: a cache command with the cache turned off.
#[derive(Debug, thiserror::Error)]
#[error("no plugin cache: --no-cache was given (name one with --cache DIR or UPSHIFT_CACHE)")]
pub struct NoCache;

fn cache(cmd: CacheCommand) -> anyhow::Result<ExitCode> {
    let dir = upshift::runtime::cache::configured_dir().ok_or(NoCache)?;
    let cache = CompiledCache::open(&dir).map_err(anyhow::Error::msg)?;
    match cmd {
        CacheCommand::List { json } => {
            // The engine whose compatibility the entries are checked against: this build's.
            let runtime = Runtime::new()?.with_cache(None);
            let entries = cache.list(runtime.engine()).map_err(anyhow::Error::msg)?;
            if json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| json!({ "path": e.path, "sha256": e.source, "bytes": e.bytes, "current": e.current }))
                    .collect();
                print_json(&list)?;
            } else {
                say!(
                    "{}: {} compiled plugin{}",
                    dir.display(),
                    entries.len(),
                    if entries.len() == 1 { "" } else { "s" }
                );
                for e in &entries {
                    let usable = if e.current { "" } else { "  (another build: unused, replaced at next use)" };
                    say!("  sha256:{}  {:>9} bytes{usable}", e.source, e.bytes);
                }
            }
        }
        CacheCommand::Clear => {
            let removed = cache.clear().map_err(anyhow::Error::msg)?;
            say!("{}: removed {removed} compiled plugin{}", dir.display(), if removed == 1 { "" } else { "s" });
        }
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

fn print_inspection(i: &Inspection) {
    say!("plugin:   {}", i.name);
    say!("sha256:   {}", i.sha256);
    say!("size:     {} bytes", i.size);
    match (i.kind, &i.world, i.contract) {
        (Some(kind), Some(world), Some(contract)) => {
            say!("kind:     {kind} (world {world})");
            say!("contract: {contract}{}", if contract.checks_config() { "" } else { OLD_CONTRACT });
        }
        _ => say!("kind:     none: exports no upshift plugin interface"),
    }
    let asks = if i.declared.is_empty() { "nothing".to_string() } else { i.declared.to_string() };
    say!("asks for: {asks}");
    if let Some(d) = &i.description {
        let c = &d.capabilities;
        say!("target:   {} {}: {}", name(&d.name), name(&d.version), d.summary);
        say!("can:      traffic-split={} unit-batches={} rollback={}", c.traffic_split, c.unit_batches, c.rollback);
        for step in &c.irreversible {
            say!("irreversible: {step}");
        }
    }
    print_config(i);
    say!("exports:");
    for e in &i.exports {
        say!("  {e}");
    }
    say!("imports:");
    for e in &i.imports {
        say!("  {e}");
    }
}

/// What `inspect` adds for a plugin of a contract without `config-schema`.
const OLD_CONTRACT: &str =
    " (no config check: its config is read only at its first call; rebuild it with the current SDK)";

/// The config fields a plugin describes (`config-schema`), one line each.
fn print_config(i: &Inspection) {
    let Some(schema) = &i.config_schema else { return };
    if schema.is_empty() {
        say!("config:   not described by the plugin");
        return;
    }
    match config_schema::fields(schema) {
        Err(e) => say!("config:   {e}"),
        Ok(read) if read.fields.is_empty() => say!("config:   none (leave `config` out)"),
        Ok(read) => {
            let closed = if read.closed { "; any other field is an error" } else { "" };
            say!("config:   {} fields{closed}", read.fields.len());
            for f in &read.fields {
                let need = match (&f.default, f.required) {
                    (_, true) => "required".to_string(),
                    (Some(d), false) => format!("default {d}"),
                    (None, false) => "optional".to_string(),
                };
                let about = if f.description.is_empty() { String::new() } else { format!(": {}", f.description) };
                say!("  {} ({}, {need}){about}", name(&f.name), f.ty);
            }
        }
    }
}

fn inspection_json(i: &Inspection) -> serde_json::Value {
    let config = i.config_schema.as_deref().filter(|s| !s.is_empty());
    json!({
        "name": i.name,
        "sha256": i.sha256,
        "size": i.size,
        "kind": i.kind,
        "contract": i.contract.map(|c| c.version()),
        "world": i.world,
        "config_schema": config.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()),
        "config_fields": config.and_then(|s| config_schema::fields(s).ok()),
        "exports": i.exports,
        "imports": i.imports,
        "asks_for": i.declared,
        "describe": i.description.as_ref().map(|d| json!({
            "name": d.name,
            "version": d.version,
            "summary": d.summary,
            "capabilities": {
                "traffic_split": d.capabilities.traffic_split,
                "unit_batches": d.capabilities.unit_batches,
                "rollback": d.capabilities.rollback,
                "irreversible": d.capabilities.irreversible,
            },
        })),
    })
}
