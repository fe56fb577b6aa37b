//! A spec submitted through the API (`POST /v1/rollouts`): placed at a path under the server's
//! `spec_root`, refused if anything it names (the spec itself, plugin files, databases, a release
//! index, granted folders) lies outside that root or if it grants a host variable the server does
//! not allow; then started on the one path the CLI's `run` takes (`rollout::start`).

use std::path::{Component, Path, PathBuf};

use super::config::ServeConfig;
use crate::rollout::start::{self, StartError, Started};
use crate::runtime::Runtime;
use crate::spec::RolloutSpec;
use crate::store::Store;
use crate::trust::TrustPolicy;

/// Where a submitted spec is placed when the request names no `path`.
pub const DEFAULT_SPEC_PATH: &str = "rollout.toml";

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("this server has no spec_root in its config, so it takes no specs: set spec_root in serve.toml")]
    NoRoot,
    #[error("spec path {0:?} must be a plain relative path under the server's spec_root (no '..', no leading '/')")]
    BadPath(String),
    #[error("{what} {} lies outside the server's spec_root {}; keep every file the spec names under it", path.display(), root.display())]
    Outside { what: String, path: PathBuf, root: PathBuf },
    #[error(
        "environment variable {name:?} (in grants.env or a connection's password_env) is not allowed on this \
         server: add it to env_allowed in serve.toml"
    )]
    Env { name: String },
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Parses `text` as the spec at `rel` under the config's spec root, checks that it stays inside the
/// root, loads its plugins, runs the preflight and starts it (or finds the rollout of the same name
/// that has not ended), journaling `actor` as its creator. Warnings (the preflight's) are returned.
pub fn submit(
    config: &ServeConfig,
    runtime: &Runtime,
    trust: &TrustPolicy,
    store: &mut Store,
    rel: &str,
    text: &str,
    actor: &str,
) -> Result<(Started, Vec<String>), SubmitError> {
    let root = config.spec_root.as_deref().ok_or(SubmitError::NoRoot)?;
    let rel_path = Path::new(rel);
    if rel.is_empty() || rel_path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(SubmitError::BadPath(rel.to_string()));
    }
    let spec_path = root.join(rel_path);
    let spec = RolloutSpec::parse(&spec_path, text).map_err(StartError::from)?;
    confine(&spec, &spec_path, root, &config.env_allowed)?;
    let mut warnings = vec![];
    let loaded = start::load(runtime, &spec_path, spec, trust, false, &mut |w| warnings.push(w.to_string()))?;
    let started = start::start(store, loaded, &spec_path, actor, jiff::Timestamp::now())?;
    Ok((started, warnings))
}

/// Refuses a spec that names anything outside `root`.
fn confine(spec: &RolloutSpec, spec_path: &Path, root: &Path, env_allowed: &[String]) -> Result<(), SubmitError> {
    inside("the spec's folder", &spec.folder, root)?;
    let _ = spec_path;
    for plugin in spec.plugins() {
        if let Some(file) = &plugin.file {
            inside(&format!("plugin file of {}", plugin.display_name()), file, root)?;
        }
        if let Some(name) = plugin.grants.env.iter().find(|n| !env_allowed.contains(n)) {
            return Err(SubmitError::Env { name: name.clone() });
        }
    }
    for (name, connection) in &spec.connections {
        for db in connection.files() {
            inside(&format!("database of connection {name}"), &db.1, root)?;
        }
        // A PostgreSQL password is sent to the connection's server: only a variable the server allows.
        if let Some(var) = connection.password_env.as_ref().filter(|v| !env_allowed.contains(v)) {
            return Err(SubmitError::Env { name: var.clone() });
        }
    }
    if let Some(index) = spec.policy.version.as_ref().map(|v| &v.index)
        && !(index.starts_with("http://") || index.starts_with("https://"))
    {
        inside("release index", &spec.folder.join(index), root)?;
    }
    Ok(())
}

/// Checks that `path` is under `root` (canonical): by its text with `..` resolved, and, for the
/// deepest part of it that exists, after following symlinks.
fn inside(what: &str, path: &Path, root: &Path) -> Result<(), SubmitError> {
    let outside =
        || SubmitError::Outside { what: what.to_string(), path: path.to_path_buf(), root: root.to_path_buf() };
    let mut lexical = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    if !lexical.starts_with(root) {
        return Err(outside());
    }
    let existing = lexical.ancestors().find(|a| a.exists()).map(Path::to_path_buf).unwrap_or_default();
    match existing.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(()),
        _ => Err(outside()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_climbs_out_of_the_root_or_through_a_symlink_is_outside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        assert!(inside("x", &root.join("a/f.db"), &root).is_ok());
        assert!(inside("x", &root.join("a/new/f.db"), &root).is_ok());
        assert!(inside("x", &root.join("a/../../f.db"), &root).is_err());
        assert!(inside("x", Path::new("/etc/passwd"), &root).is_err());
        assert!(inside("x", &root.join("link/passwd"), &root).is_err());
    }

    #[test]
    fn a_postgres_password_comes_only_from_a_variable_the_server_allows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let text = "name = \"p\"\nfrom = \"1\"\nto = \"2\"\n[target]\nplugin = \"sql-migrator\"\n\
                    [strategy]\nplugin = \"all-at-once\"\n[connections.shop]\ndriver = \"postgres\"\n\
                    url = \"postgresql://app@db.example/shop\"\npassword_env = \"AWS_SECRET_ACCESS_KEY\"\n";
        let path = root.join("p.toml");
        let spec = RolloutSpec::parse(&path, text).unwrap();
        let refused = confine(&spec, &path, &root, &[]).unwrap_err().to_string();
        assert!(refused.contains("\"AWS_SECRET_ACCESS_KEY\"") && refused.contains("env_allowed"), "{refused}");
        assert!(confine(&spec, &path, &root, &["AWS_SECRET_ACCESS_KEY".into()]).is_ok());
    }
}
