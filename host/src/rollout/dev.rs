//! Development mode (`upshift run --dev`): a plugin author's loop of rebuild and run without
//! re-pinning and re-signing. Every plugin file of the spec is pinned again to the digest of the
//! file as it is now, and unsigned or untrusted files are allowed; the digests actually loaded and
//! the dev mode are recorded in the rollout's audit trail, and the plan remembers it (`Plan::dev`).
//!
//! Never the default, and never silently extended: a dev rollout is continued only by a caller that
//! says `--dev` again ([`crate::rollout::RunOptions::dev`]; `abort` may always roll it back), and
//! only with the builds it recorded at its start. A later rebuild is refused by the recorded
//! digest like any changed file; running it is a new `run --dev`.

use crate::runtime::{Digest, LoadError, read_plugin_file};
use crate::spec::RolloutSpec;

/// The first line of the audit trail of a dev rollout.
pub const DEV_NOTE: &str = "dev mode (upshift run --dev): plugin files run as built, whatever their sha256 pin and signature; not for production";

/// Pins every plugin file of `spec` to the digest of its bytes now; returns the audit notes (one
/// per file: the digest loaded, and the pin it replaced). Built-in plugins are left as they are.
pub fn repin(spec: &mut RolloutSpec) -> Result<Vec<String>, LoadError> {
    let mut notes = vec![DEV_NOTE.to_string()];
    for plugin in [&mut spec.target, &mut spec.strategy].into_iter().chain(spec.verifiers.iter_mut()) {
        let Some(path) = &plugin.file else { continue };
        let actual = Digest::of(&read_plugin_file(path)?).to_hex();
        let pinned = plugin.sha256.as_deref().and_then(Digest::parse).map(|d| d.to_hex());
        let note = match pinned {
            Some(p) if p == actual => {
                format!("dev mode: plugin {} loaded with sha256 {actual}, as the spec pins", path.display())
            }
            Some(p) => format!("dev mode: plugin {} loaded with sha256 {actual}; the spec pins {p}", path.display()),
            None => format!("dev mode: plugin {} loaded with sha256 {actual}; the spec pins none", path.display()),
        };
        notes.push(note);
        plugin.sha256 = Some(actual);
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_plugins_are_pinned_to_their_bytes_and_the_notes_name_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.wasm"), b"rebuilt").unwrap();
        let pinned = Digest::of(b"old build").to_hex();
        let text = format!(
            "name = \"d\"\nfrom = \"1\"\nto = \"2\"\n[target]\nfile = \"t.wasm\"\nsha256 = \"{pinned}\"\n\
             [strategy]\nplugin = \"canary\"\n"
        );
        let path = dir.path().join("rollout.toml");
        let mut spec = RolloutSpec::parse(&path, &text).unwrap();
        let notes = repin(&mut spec).unwrap();
        let actual = Digest::of(b"rebuilt").to_hex();
        assert_eq!(spec.target.sha256.as_deref(), Some(actual.as_str()));
        assert_eq!(spec.strategy.sha256, None, "built-in plugins need no pin");
        assert_eq!(notes[0], DEV_NOTE);
        assert!(
            notes[1].ends_with(&format!("t.wasm loaded with sha256 {actual}; the spec pins {pinned}")),
            "{notes:?}"
        );
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn a_missing_file_is_the_load_error_it_always_is() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name = \"d\"\nfrom = \"1\"\nto = \"2\"\n[target]\nfile = \"gone.wasm\"\nsha256 = \"{}\"\n\
             [strategy]\nplugin = \"canary\"\n",
            Digest::of(b"x")
        );
        let mut spec = RolloutSpec::parse(&dir.path().join("r.toml"), &text).unwrap();
        assert!(matches!(repin(&mut spec), Err(LoadError::Read { .. })));
    }
}
