//! Plugin files already read and checked by this process: a long-running host (`upshift serve`
//! steps each rollout many times) loads the same files again and again, and reading and hashing a
//! component on every step cost more than the step itself. A file's digest is reused while the file
//! is the one that was read: same device, inode, size, modification and change time (the change
//! time is set by the kernel on every write, rename or metadata change, and no user can set it), and
//! for at most [`FILE_RECHECK`], after which it is read and hashed again. A file changed less than
//! [`RACY`] before it was read is not remembered at all: the kernel stamps changes with a coarse
//! clock, so a second write within the same tick could leave every field above as it was (git's
//! "racily clean" files). The pin and the signature are still checked against that digest at every
//! load.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::artifact::Digest;
use super::{LoadError, read_plugin_file};

/// The longest a file's digest is reused without reading the file again.
pub const FILE_RECHECK: Duration = Duration::from_secs(1);
/// A file changed this recently when it was read is read again next time.
pub const RACY: Duration = Duration::from_millis(50);
/// The most files remembered (a host with more forgets them all and starts again).
const MAX_FILES: usize = 1024;

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

struct Seen {
    identity: Identity,
    digest: Digest,
    at: Instant,
}

/// A file's digest, and its bytes when they were read for it.
pub struct FileDigest {
    pub digest: Digest,
    /// `None` when the digest was remembered (the file was not read again).
    pub bytes: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct Files(Mutex<HashMap<PathBuf, Seen>>);

impl Files {
    /// The digest of the plugin file at `path`: remembered if the file is unchanged since it was
    /// read less than [`FILE_RECHECK`] ago, else read (bounded like every plugin file) and hashed.
    pub fn digest(&self, path: &Path) -> Result<FileDigest, LoadError> {
        let stat = |path: &Path| {
            std::fs::metadata(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })
        };
        // Taken before anything is looked at, so a slow read cannot make a fresh change look old.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let before = Identity::of(&stat(path)?);
        {
            let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = seen.get(path).filter(|s| s.identity == before && s.at.elapsed() < FILE_RECHECK) {
                return Ok(FileDigest { digest: s.digest, bytes: None });
            }
        }
        let bytes = read_plugin_file(path)?;
        let digest = Digest::of(&bytes);
        // Remembered only if the file did not change while it was read, nor just before. A
        // filesystem that keeps whole seconds (no nanoseconds) must show a change two seconds old.
        let changed = Duration::new(before.ctime.0.max(0) as u64, before.ctime.1.clamp(0, 999_999_999) as u32);
        let racy = if before.ctime.1 == 0 { Duration::from_secs(2) } else { RACY };
        let settled = changed + racy < now;
        if settled && Identity::of(&stat(path)?) == before && before.size == bytes.len() as u64 {
            let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= MAX_FILES {
                seen.clear();
            }
            seen.insert(path.to_path_buf(), Seen { identity: before, digest, at: Instant::now() });
        }
        Ok(FileDigest { digest, bytes: Some(bytes) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `bytes` at `path` and waits until the write is no longer racy.
    fn write(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).unwrap();
        std::thread::sleep(RACY * 2);
    }

    #[test]
    fn a_file_just_changed_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.wasm");
        std::fs::write(&path, b"first").unwrap();
        let files = Files::default();
        assert!(files.digest(&path).unwrap().bytes.is_some());
        // Rewritten at once with the same size: whatever the clock's tick, it is read again.
        std::fs::write(&path, b"other").unwrap();
        assert_eq!(files.digest(&path).unwrap().digest, Digest::of(b"other"));
    }

    #[test]
    fn a_changed_file_is_read_again_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.wasm");
        write(&path, b"first");
        let files = Files::default();
        let first = files.digest(&path).unwrap();
        assert_eq!((first.digest, first.bytes.as_deref()), (Digest::of(b"first"), Some(&b"first"[..])));
        let again = files.digest(&path).unwrap();
        assert_eq!((again.digest, again.bytes), (first.digest, None), "unchanged: remembered");
        // Rewritten in place with the same size, and replaced by a rename: both are read again.
        write(&path, b"other");
        assert_eq!(files.digest(&path).unwrap().digest, Digest::of(b"other"));
        let next = dir.path().join("next");
        write(&next, b"third!");
        std::fs::rename(&next, &path).unwrap();
        std::thread::sleep(RACY * 2);
        assert_eq!(files.digest(&path).unwrap().digest, Digest::of(b"third!"));
        // And after FILE_RECHECK, even an unchanged file is read.
        files.0.lock().unwrap().values_mut().for_each(|s| s.at -= FILE_RECHECK);
        assert!(files.digest(&path).unwrap().bytes.is_some());
        assert!(matches!(files.digest(&dir.path().join("gone")), Err(LoadError::Read { .. })));
    }
}
