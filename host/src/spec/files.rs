//! The host files a spec names, checked when it is parsed: a plugin file is pinned by its sha256,
//! and a granted folder is a real folder under the spec's folder, reached through no symlink.

use std::path::{Component, Path, PathBuf};

use super::{FileGrantSpec, RolloutSpec, SpecError};
use crate::runtime::{Digest, LoadError};

impl RolloutSpec {
    /// Refuses a plugin `file` without `sha256`, naming the digest the file has now (for the
    /// operator to add once they have checked the file is the one they mean). A file that cannot
    /// be read as a regular file is left for loading to report.
    pub(super) fn require_pins(&self, path: &Path) -> Result<(), SpecError> {
        for plugin in self.plugins() {
            let (Some(file), None) = (&plugin.file, &plugin.sha256) else { continue };
            // Only a regular file is read: a device or a pipe could stall parsing.
            if !std::fs::metadata(file).is_ok_and(|m| m.is_file()) {
                continue;
            }
            // Bounded like every read of a plugin file; one past the limit is left for loading to refuse.
            let Ok(bytes) = crate::runtime::read_plugin_file(file) else { continue };
            let source =
                LoadError::MissingDigest { plugin: file.display().to_string(), actual: Digest::of(&bytes).to_hex() };
            return Err(SpecError::Unpinned { path: path.to_path_buf(), source });
        }
        Ok(())
    }

    /// Checks every granted folder (see [`check_granted_folder`]) and records it as a table (the
    /// guest path stays as written).
    pub(super) fn resolve_file_grants(&mut self, folder: &Path, path: &Path) -> Result<(), SpecError> {
        let invalid = |message: String| SpecError::Invalid { path: path.to_path_buf(), message };
        for plugin in self.plugins_mut() {
            let who = plugin.display_name();
            for g in &mut plugin.grants.files {
                let (rel, write) = g.parts();
                if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                    return Err(invalid(format!(
                        "grants.files entry {:?} must be a plain relative folder (no '/', '..' or '.' at its start)",
                        rel.display()
                    )));
                }
                check_granted_folder(folder, rel, &who).map_err(invalid)?;
                if write {
                    check_clear_of_cache(folder, rel, &who).map_err(invalid)?;
                }
                *g = FileGrantSpec::Table { path: rel.to_path_buf(), write };
            }
        }
        Ok(())
    }

    /// Checks every granted folder again, as the host finds it now: a stored spec (a rollout
    /// resumed later) is not parsed again, and a folder may have been replaced by a symlink since.
    pub fn check_file_grants(&self) -> Result<(), String> {
        self.plugins().try_for_each(|p| {
            p.grants.files.iter().try_for_each(|g| {
                let (rel, write) = g.parts();
                check_granted_folder(&self.folder, rel, &p.display_name())?;
                if write { check_clear_of_cache(&self.folder, rel, &p.display_name()) } else { Ok(()) }
            })
        })
    }
}

/// Checks that `rel` (plain and relative) names a real folder under `folder`: neither it nor any
/// folder on the way to it is a symlink, so the preopen the runtime makes of it is exactly the
/// folder the spec's author sees next to the spec. (The spec's own folder may be reached through
/// symlinks: that is where the operator chose to keep it.)
pub(super) fn check_granted_folder(folder: &Path, rel: &Path, who: &str) -> Result<(), String> {
    let mut at = folder.to_path_buf();
    for component in rel.components() {
        at.push(component);
        let meta = std::fs::symlink_metadata(&at)
            .map_err(|_| format!("{who}: granted folder {} does not exist", at.display()))?;
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(&at).map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            return Err(format!(
                "{who}: grants.files entry {:?} goes through the symlink {} (→ {to}), and a grant never follows a symlink; \
                 grant a real folder under {} instead (move or copy the files there)",
                rel.display(),
                at.display(),
                folder.display()
            ));
        }
        if !meta.is_dir() {
            return Err(format!("{who}: granted folder {} is not a folder", at.display()));
        }
    }
    Ok(())
}

/// Checks that the writable folder `rel` neither holds nor lies inside this process's
/// compiled-plugin cache (`runtime::cache`). Its entries are native code the host runs: a plugin
/// that could write there could plant code for another plugin's digest, which no check of the
/// entry's own bytes can tell from the host's. The cache need not exist yet (a plugin could
/// create it), so both paths are resolved through their nearest existing folder.
pub(super) fn check_clear_of_cache(folder: &Path, rel: &Path, who: &str) -> Result<(), String> {
    let Some(cache) = crate::runtime::cache::configured_dir() else { return Ok(()) };
    let (granted, cache) = (resolved(&folder.join(rel)), resolved(&cache));
    if cache.starts_with(&granted) || granted.starts_with(&cache) {
        return Err(format!(
            "{who}: grants.files entry {:?} ({}) is writable and holds upshift's compiled-plugin cache {}, whose \
             entries the host runs as native code; grant a folder outside it, or move the cache with --cache DIR",
            rel.display(),
            granted.display(),
            cache.display()
        ));
    }
    Ok(())
}

/// `path` made absolute, its nearest existing ancestor with symlinks resolved.
fn resolved(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path,
        }
    }
}
