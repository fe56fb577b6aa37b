//! Reading a migrations folder: `NNNN_name.up.sql` with an optional `NNNN_name.down.sql`; a
//! migration without a down script is irreversible.

use std::collections::BTreeMap;

use upshift_sdk::PluginError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub up: String,
    pub down: Option<String>,
}

/// Parses a version as the spec writes it: `3`, `v3`, `0003`.
pub fn parse_version(text: &str) -> Result<u32, PluginError> {
    text.trim()
        .trim_start_matches(['v', 'V'])
        .parse()
        .map_err(|_| PluginError::invalid_config(format!("version {text:?} is not a migration number (like 3 or v3)")))
}

/// Builds the migration list from `(file name, contents)` pairs.
pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Vec<Migration>, PluginError> {
    let mut ups: BTreeMap<u32, (String, String)> = BTreeMap::new();
    let mut downs: BTreeMap<u32, String> = BTreeMap::new();
    for (file, text) in files {
        let (stem, up) = if let Some(stem) = file.strip_suffix(".up.sql") {
            (stem, true)
        } else if let Some(stem) = file.strip_suffix(".down.sql") {
            (stem, false)
        } else {
            continue;
        };
        let (number, name) = stem.split_once('_').unwrap_or((stem, ""));
        let version: u32 = number.parse().map_err(|_| {
            PluginError::invalid_config(format!(
                "migration file {file:?} must start with its number, like 0002_add_email"
            ))
        })?;
        if up {
            if ups.insert(version, (name.to_string(), text)).is_some() {
                return Err(PluginError::invalid_config(format!("two up scripts for migration {version}")));
            }
        } else if downs.insert(version, text).is_some() {
            return Err(PluginError::invalid_config(format!("two down scripts for migration {version}")));
        }
    }
    if let Some(orphan) = downs.keys().find(|v| !ups.contains_key(v)) {
        return Err(PluginError::invalid_config(format!("migration {orphan} has a down script but no up script")));
    }
    Ok(ups
        .into_iter()
        .map(|(version, (name, up))| Migration { version, name, down: downs.remove(&version), up })
        .collect())
}

/// Reads every migration in `folder` (a folder granted to the plugin).
pub fn read(folder: &str) -> Result<Vec<Migration>, PluginError> {
    let entries = std::fs::read_dir(folder).map_err(|e| {
        PluginError::invalid_config(format!(
            "cannot read the migrations folder {folder}: {e}; grant it to the plugin with `grants.files`"
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PluginError::unavailable(format!("reading {folder}: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") {
            let text = std::fs::read_to_string(entry.path())
                .map_err(|e| PluginError::unavailable(format!("reading {folder}/{name}: {e}")))?;
            files.push((name, text));
        }
    }
    from_files(files)
}

/// The migrations between two versions, ascending: those with `from < version <= to`.
pub fn between(all: &[Migration], from: u32, to: u32) -> Vec<&Migration> {
    all.iter().filter(|m| m.version > from && m.version <= to).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn ups_and_downs_pair_by_number() {
        let m = from_files(files(&[
            ("0002_email.down.sql", "D2"),
            ("0001_init.up.sql", "U1"),
            ("0002_email.up.sql", "U2"),
            ("README.md", "ignored"),
        ]))
        .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].version, m[0].name.as_str(), m[0].down.as_deref()), (1, "init", None));
        assert_eq!(m[1].down.as_deref(), Some("D2"));
    }

    #[test]
    fn a_down_without_an_up_is_invalid() {
        assert!(from_files(files(&[("0003_x.down.sql", "")])).is_err());
    }

    #[test]
    fn versions_parse_with_or_without_v() {
        assert_eq!(parse_version("v3").unwrap(), 3);
        assert_eq!(parse_version("0003").unwrap(), 3);
        assert!(parse_version("three").is_err());
    }

    #[test]
    fn between_is_exclusive_of_from_and_inclusive_of_to() {
        let m = from_files(files(&[("1_a.up.sql", ""), ("2_b.up.sql", ""), ("3_c.up.sql", "")])).unwrap();
        let v: Vec<u32> = between(&m, 1, 3).iter().map(|m| m.version).collect();
        assert_eq!(v, vec![2, 3]);
    }
}
