//! The compiled-plugin cache: components compiled once, kept on disk, loaded in milliseconds by
//! every later process (a Python component takes seconds to compile; a first-party one ~100 ms).
//!
//! An entry is the host's own compilation of one component, never a plugin's file: the source
//! component is still read and checked (its sha256 against the spec, its signature) before the cache
//! is asked for it, and the entry is found by that digest. What makes an entry trusted is where it
//! lives, checked at every load:
//!
//! - the cache folder is made owner-only (0700) and an entry must be a regular file (not a link)
//!   owned by this user and writable by nobody else; anything else is skipped and compiled again;
//! - an entry is wasmtime's serialized component followed by a trailer: the digest of the component
//!   it was compiled from, the engine's compatibility key (wasmtime's precompile compatibility hash
//!   with upshift's version and this format's), the length and a CRC-32 of the compiled bytes. A
//!   truncated, corrupted, foreign or incompatible entry is detected before wasmtime reads it, and
//!   wasmtime checks compatibility again;
//! - the check reads the entry through a mapping of the file and wasmtime then maps the file itself
//!   (`Component::deserialize_file`), so nothing is copied: a 36 MB Python entry loads in ~8 ms
//!   where reading it into memory took ~110 ms;
//! - entries are written to a temporary file and renamed into place, so a reader never sees half of
//!   one, and two processes compiling the same plugin both end with a whole entry.
//!
//! Every failure of the cache is a miss: the plugin is compiled as if there were no cache, and the
//! entry is written again. The cache never makes a load fail.

use std::fs::{self, OpenOptions};
use std::hash::Hasher;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::artifact::Digest;

/// What an entry's trailer starts with: the format, which a change of layout bumps.
const MAGIC: &[u8; 8] = b"upshc002";
/// The trailer after the compiled bytes: magic, source digest, compatibility key, CRC-32, length.
/// (At the end, so the file stays one wasmtime can map as it is; ELF ignores what follows its parts.)
const TRAILER: usize = 8 + 32 + 32 + 4 + 8;
/// The file name's extension.
const EXTENSION: &str = "cwasm";
/// The largest entry read: compiled code is a few times its component.
pub const MAX_ENTRY_BYTES: u64 = 8 * super::load_limits::MAX_COMPONENT_BYTES;
/// The environment variable that names the cache folder (`--cache`).
pub const CACHE_ENV: &str = "UPSHIFT_CACHE";

/// The default cache folder: `upshift/compiled` under the user's cache folder
/// (`$XDG_CACHE_HOME`, else `~/.cache`).
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("upshift").join("compiled"))
}

/// Where this process keeps compiled plugins: set once by the CLI (`--cache`, `UPSHIFT_CACHE`,
/// `--no-cache`) or `serve.toml` (`cache`), before any runtime is made. Unset: no cache (library
/// users, tests and benchmarks compile in memory unless they ask).
static CONFIGURED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets the cache folder every later [`super::Runtime::new`] of this process uses; `None` turns it off.
pub fn set_dir(dir: Option<PathBuf>) {
    *CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()) = dir;
}

/// The configured folder, if any.
pub fn configured_dir() -> Option<PathBuf> {
    CONFIGURED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The configured cache, opened; a folder that cannot be used is a warning, and no cache.
pub fn configured() -> Option<CompiledCache> {
    let dir = configured_dir()?;
    CompiledCache::open(&dir)
        .map_err(|e| tracing::warn!("{e}; plugins are compiled without the cache (`--cache DIR` names another)"))
        .ok()
}

/// Why an entry was not used (a miss is never an error of the load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// There is no entry for this component and engine.
    Absent,
    /// The entry is not a regular file of this user's that nobody else may write.
    Untrusted(String),
    /// The entry's bytes are not a whole entry of this component (truncated, corrupted, foreign).
    Damaged(String),
    /// wasmtime refused it (another engine configuration or version).
    Incompatible(String),
    /// It could not be read.
    Io(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Absent => write!(f, "no entry"),
            Miss::Untrusted(why) => write!(f, "not trusted: {why}"),
            Miss::Damaged(why) => write!(f, "damaged: {why}"),
            Miss::Incompatible(why) => write!(f, "incompatible: {why}"),
            Miss::Io(why) => write!(f, "unreadable: {why}"),
        }
    }
}

/// One entry, as `upshift plugin cache list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    /// The sha256 of the component it was compiled from.
    pub source: String,
    pub bytes: u64,
    /// Compiled by an engine like this one (this build of upshift, this configuration).
    pub current: bool,
}

/// A cache folder.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

/// A `Hasher` that feeds sha256, so the compatibility key is the same in every process.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The compatibility key of `engine`: wasmtime's precompile compatibility hash (its version and every
/// setting that changes compiled code), upshift's version and this format.
pub fn compatibility_key(engine: &Engine) -> [u8; 32] {
    let mut h = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
    h.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.0.update(MAGIC);
    h.0.finalize().into()
}

impl CompiledCache {
    /// The cache in `dir`, created owner-only if missing. An existing folder that another user owns
    /// or others may write is refused: entries in it could have been planted.
    pub fn open(dir: impl Into<PathBuf>) -> Result<CompiledCache, String> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create the plugin cache {}: {e}", dir.display()))?;
        let meta = fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !meta.is_dir() {
            return Err(format!("the plugin cache {} is not a folder", dir.display()));
        }
        if meta.uid() != current_uid() {
            return Err(format!("the plugin cache {} belongs to another user (uid {})", dir.display(), meta.uid()));
        }
        if meta.mode() & 0o077 != 0 {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make the plugin cache {} owner-only: {e}", dir.display()))?;
        }
        Ok(CompiledCache { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, digest: &Digest, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}-{}.{EXTENSION}", digest.to_hex(), &hex::encode(key)[..16]))
    }

    /// The compiled component of the component whose sha256 is `digest`, if a trusted, whole and
    /// compatible entry holds it.
    pub fn load(&self, engine: &Engine, digest: &Digest) -> Result<Component, Miss> {
        let key = compatibility_key(engine);
        let path = self.path(digest, &key);
        let file = open_trusted(&path)?;
        // SAFETY: a read-only mapping of a regular file of this user's in an owner-only folder (checked
        // by `open_trusted`); only another upshift of this user writes there, and only by renaming a
        // whole new file into place, which leaves this mapping's file unchanged.
        let mapped = unsafe { memmap2::MmapOptions::new().populate().map(&file) }
            .map_err(|e| Miss::Io(format!("{}: {e}", path.display())))?;
        check(&mapped, digest, &key)?;
        drop(mapped);
        // SAFETY: the file is an entry this user's upshift wrote (owner-only folder, a file only this
        // user may write, not a link), for this component and this engine (digest and key in the
        // trailer), whole (length and CRC-32): the conditions under which wasmtime's deserialization
        // is sound. wasmtime also checks its own compatibility section. Between the check and
        // wasmtime's open only this user could replace the file, and this user's upshift only ever
        // renames whole entries of the same digest and key into its place.
        unsafe { Component::deserialize_file(engine, &path) }.map_err(|e| Miss::Incompatible(format!("{e:#}")))
    }

    /// Writes the entry of `component`, compiled from the component whose sha256 is `digest`.
    /// Failures are returned for the caller to log; nothing depends on the entry being written.
    pub fn store(&self, engine: &Engine, digest: &Digest, component: &Component) -> Result<PathBuf, String> {
        let key = compatibility_key(engine);
        let code = component.serialize().map_err(|e| format!("cannot serialize: {e:#}"))?;
        let path = self.path(digest, &key);
        let mut suffix = [0u8; 8];
        let _ = getrandom::fill(&mut suffix);
        let tmp = self.dir.join(format!(".tmp-{}-{}", std::process::id(), hex::encode(suffix)));
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&code)?;
            f.write_all(&trailer(digest, &key, &code))?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(format!("cannot write {}: {e}", path.display()));
        }
        Ok(path)
    }

    /// Every entry in the folder, by file name.
    pub fn list(&self, engine: &Engine) -> Result<Vec<Entry>, String> {
        let key = hex::encode(compatibility_key(engine));
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", self.dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(&format!(".{EXTENSION}")) else { continue };
            let Some((source, compat)) = stem.split_once('-') else { continue };
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(Entry { path: entry.path(), source: source.to_string(), bytes, current: key.starts_with(compat) });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Removes every entry (and any temporary file a crashed writer left); returns how many entries.
    pub fn clear(&self) -> Result<usize, String> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", self.dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(&format!(".{EXTENSION}"));
            if ours || name.starts_with(".tmp-") {
                fs::remove_file(entry.path()).map_err(|e| format!("cannot remove {}: {e}", entry.path().display()))?;
                removed += usize::from(ours);
            }
        }
        Ok(removed)
    }
}

/// The owner of the files this process creates.
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The entry's file, if it is a regular file of this user's that nobody else may write.
fn open_trusted(path: &Path) -> Result<fs::File, Miss> {
    // O_NOFOLLOW: a link is refused, not followed.
    let file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
        Err(e) => return Err(Miss::Untrusted(format!("{}: {e}", path.display()))),
    };
    let meta = file.metadata().map_err(|e| Miss::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(Miss::Untrusted(format!("{} is not a regular file", path.display())));
    }
    if meta.uid() != current_uid() {
        return Err(Miss::Untrusted(format!("{} belongs to uid {}", path.display(), meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Miss::Untrusted(format!(
            "{} is writable by others (mode {:o})",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(Miss::Damaged(format!("{} bytes, more than an entry may hold", meta.len())));
    }
    Ok(file)
}

/// The trailer of the entry holding `code`, compiled from `digest` under compatibility `key`.
fn trailer(digest: &Digest, key: &[u8; 32], code: &[u8]) -> Vec<u8> {
    let mut trailer = Vec::with_capacity(TRAILER);
    trailer.extend_from_slice(MAGIC);
    trailer.extend_from_slice(digest.as_bytes());
    trailer.extend_from_slice(key);
    trailer.extend_from_slice(&crc32fast::hash(code).to_le_bytes());
    trailer.extend_from_slice(&(code.len() as u64).to_le_bytes());
    trailer
}

/// Whether `bytes` is a whole entry of `digest` under compatibility `key`.
fn check(bytes: &[u8], digest: &Digest, key: &[u8; 32]) -> Result<(), Miss> {
    let damaged = |why: &str| Err(Miss::Damaged(why.to_string()));
    if bytes.len() < TRAILER {
        return damaged("shorter than its trailer");
    }
    let (code, trailer) = bytes.split_at(bytes.len() - TRAILER);
    if &trailer[..8] != MAGIC {
        return damaged("not a whole entry of this format");
    }
    if trailer[8..40] != digest.as_bytes()[..] {
        return damaged("compiled from another component");
    }
    if &trailer[40..72] != key {
        return Err(Miss::Incompatible("compiled by another build or configuration of upshift".into()));
    }
    let crc = u32::from_le_bytes(trailer[72..76].try_into().unwrap_or_default());
    let len = u64::from_le_bytes(trailer[76..84].try_into().unwrap_or_default());
    if code.len() as u64 != len {
        return damaged(&format!("{} bytes of compiled code, its trailer says {len}", code.len()));
    }
    if crc32fast::hash(code) != crc {
        return damaged("its compiled code does not match its checksum");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
