//! Opening a granted folder for a plugin without following a symlink on the way.
//!
//! The spec's check ([`crate::spec`]'s `check_granted_folder`) refuses a grant that goes through a
//! symlink, but a check by path and a later open by path are two lookups: between them, anything
//! that can write under the spec's folder (another rollout's plugin with a writable grant there,
//! running in the same `upshift serve`) could swap a checked folder for a symlink to `/etc`, and
//! the open would follow it. So the open itself refuses symlinks: the grant's own part of the path
//! is walked one folder at a time with `openat(O_NOFOLLOW | O_DIRECTORY)` from the folder above it,
//! and WASI preopens the folder that walk ended on, through its descriptor (`/proc/self/fd/N`
//! names the open folder itself, not a path looked up again).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// A granted folder, open: pass [`OpenFolder::path`] to WASI's preopen while this is alive.
#[derive(Debug)]
pub(crate) struct OpenFolder {
    file: File,
}

impl OpenFolder {
    /// A path that names this open folder and nothing else, as long as it is open.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

/// Opens `host`, the folder a plugin sees at `guest`. The folders of `host` that the guest path
/// names (its last `guest` components: the grant's own part, under the spec's folder) must each
/// be a real folder, not a symlink; the folders above them are the operator's choice and may be
/// reached through symlinks. A `host` that does not end with `guest`'s folders is opened with its
/// last component not followed.
pub(crate) fn open_granted(host: &Path, guest: &str) -> std::io::Result<OpenFolder> {
    let rel: PathBuf = Path::new(guest).components().filter(|c| matches!(c, Component::Normal(_))).collect();
    let (base, walk) = match strip_tail(host, &rel) {
        Some(base) if !rel.as_os_str().is_empty() => (base, rel),
        _ => match (host.parent(), host.file_name()) {
            (Some(parent), Some(name)) => (parent.to_path_buf(), PathBuf::from(name)),
            _ => (host.to_path_buf(), PathBuf::new()),
        },
    };
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let mut at =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(&base)?;
    for component in walk.components() {
        let name = CString::new(component.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: `at` is an open folder and `name` a NUL-terminated string, both alive for the call.
        let fd = unsafe {
            libc::openat(
                at.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            // ELOOP (a symlink, not followed) or ENOTDIR: say which, in words.
            return Err(match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => std::io::Error::other(format!(
                    "{} is a symlink or not a folder, and a grant never follows a symlink",
                    component.as_os_str().to_string_lossy()
                )),
                _ => e,
            });
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        at = unsafe { File::from_raw_fd(fd) };
    }
    Ok(OpenFolder { file: at })
}

/// `path` without its last components `tail`, if it ends with them.
fn strip_tail(path: &Path, tail: &Path) -> Option<PathBuf> {
    if !path.ends_with(tail) {
        return None;
    }
    let mut base = path.to_path_buf();
    for _ in tail.components() {
        base.pop();
    }
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_folder_opens_and_its_descriptor_path_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/inner")).unwrap();
        std::fs::write(dir.path().join("data/inner/f"), "x").unwrap();
        let open = open_granted(&dir.path().join("data/inner"), "/data/inner").unwrap();
        assert_eq!(std::fs::read_to_string(open.path().join("f")).unwrap(), "x");
    }

    #[test]
    fn a_folder_swapped_for_a_symlink_after_the_check_is_refused_at_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("secret"), "s").unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        // The spec's check passed on the real folder; then it is replaced by a symlink.
        std::fs::remove_dir(dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data")).unwrap();
        let err = open_granted(&dir.path().join("data"), "/data").unwrap_err().to_string();
        assert!(err.contains("data is a symlink or not a folder"), "{err}");
    }

    #[test]
    fn a_symlinked_parent_inside_the_grant_is_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir(elsewhere.path().join("inner")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data")).unwrap();
        let err = open_granted(&dir.path().join("data/inner"), "/data/inner").unwrap_err().to_string();
        assert!(err.contains("data is a symlink"), "{err}");
    }

    #[test]
    fn the_operators_folders_above_the_grant_may_be_symlinks() {
        let real = tempfile::tempdir().unwrap();
        std::fs::create_dir(real.path().join("data")).unwrap();
        let links = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(real.path(), links.path().join("spec-folder")).unwrap();
        open_granted(&links.path().join("spec-folder/data"), "/data").unwrap();
    }

    #[test]
    fn a_host_path_that_does_not_end_with_the_guest_path_does_not_follow_its_last_component() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("m")).unwrap();
        assert!(open_granted(&dir.path().join("m"), "/other").is_err());
        std::fs::create_dir(dir.path().join("real")).unwrap();
        open_granted(&dir.path().join("real"), "/other").unwrap();
    }
}
