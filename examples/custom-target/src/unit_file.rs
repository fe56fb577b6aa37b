//! One unit's version file: what it says, and replacing it in one atomic step with the new version
//! and the operation that wrote it.
//!
//! The file is two lines of text, the version and the operation id that set it:
//!
//! ```text
//! 2
//! changed-by quickstart-1/apply/0
//! ```
//!
//! A file written by hand (or by the system's own tooling) may hold just the version.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use upshift_sdk::PluginError;

/// What a unit's file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// The version the unit runs; `None` when the file does not exist or is empty.
    pub version: Option<String>,
    /// The operation that wrote the file, when upshift wrote it.
    pub changed_by: Option<String>,
}

const CHANGED_BY: &str = "changed-by ";

/// Where unit `unit` lives in `folder`: `<folder>/<unit>.version`. A unit name is a plain file
/// name, so a config cannot point the plugin at another file of the grant.
pub fn path(folder: &str, unit: &str) -> Result<PathBuf, PluginError> {
    let plain = !unit.is_empty() && unit != "." && unit != ".." && !unit.contains(['/', '\\', '\0']);
    match plain {
        true => Ok(Path::new(folder).join(format!("{unit}.version"))),
        false => Err(PluginError::invalid_config(format!("unit {unit:?} is not a plain file name"))),
    }
}

/// Reads the file at `path`; a missing file is a unit with no version yet.
pub fn read(path: &Path) -> Result<UnitFile, PluginError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_error("read", path, e)),
    };
    let mut lines = text.lines().map(str::trim);
    let version = lines.next().filter(|v| !v.is_empty()).map(str::to_string);
    let changed_by = lines.find_map(|l| l.strip_prefix(CHANGED_BY)).map(|op| op.trim().to_string());
    Ok(UnitFile { version, changed_by })
}

/// Replaces the file at `path` with `version`, written by operation `op_id`: the new text goes to
/// a temporary file that is synced and then renamed over the old one, so a crash leaves either the
/// old file or the new one, never half of it, and the version never changes without its operation.
pub fn write(path: &Path, version: &str, op_id: &str) -> Result<(), PluginError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = format!("{version}\n{CHANGED_BY}{op_id}\n");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    written.map_err(|e| io_error("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error("replace", path, e))
}

/// An I/O error as the plugin error that says what to do about it.
fn io_error(action: &str, path: &Path, e: std::io::Error) -> PluginError {
    let message = format!("cannot {action} {}: {e}", path.display());
    match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            PluginError::denied(format!("{message} (grant the folder with write = true)"))
        }
        ErrorKind::NotFound => PluginError::denied(format!("{message} (is the folder granted?)")),
        _ => PluginError::unavailable(message),
    }
}
