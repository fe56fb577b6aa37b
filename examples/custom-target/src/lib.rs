//! `version-files`: an upshift target for a fleet of units, each recorded as a version file
//! (`<unit>.version`) in a folder the spec grants. Each call is idempotent against the files
//! themselves: a unit already at the version a call wants is left alone, and every write records
//! the operation that made it, so a rollback undoes only what this rollout changed.

mod unit_file;

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, log};

pub use unit_file::UnitFile;

/// What the spec's `config = { ... }` gives this target.
#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The folder of the unit files as the plugin sees it: a folder the spec grants with
    /// `write = true` appears at `/` followed by its path (`grants.files = [{ path = "fleet",
    /// write = true }]` is `/fleet`).
    pub folder: String,
    /// The units of the fleet, in the order a strategy should move them. Unit `web-1` is the file
    /// `<folder>/web-1.version`; each name must be a plain file name.
    pub units: Vec<String>,
}

pub struct VersionFiles;

impl Target for VersionFiles {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "version-files".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "a fleet of units, each a version file in a granted folder".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, _from: String, _to: String) -> Result<Observation, PluginError> {
        check_folder(config)?;
        let units = config
            .units
            .iter()
            .map(|unit| Ok(UnitVersion { unit: unit.clone(), version: read(config, unit)?.version }))
            .collect::<Result<_, PluginError>>()?;
        Ok(Observation { units, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        upgrade(&op, config, "apply")
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        // The host sends only the units whose version changed since the rollout began; the files
        // say whether it was this rollout that changed them. Everything is checked before anything
        // is written, so a refusal leaves every file as it was.
        let mut todo = Vec::new();
        for unit in &op.units {
            let file = read(config, unit)?;
            if file.version.as_deref() == Some(op.from_version.as_str()) {
                continue; // already back, by an earlier send of this rollback
            }
            let ours = file.changed_by.as_deref().is_some_and(|by| by.starts_with(&format!("{}/", op.rollout_id)));
            if file.version.as_deref() != Some(op.to_version.as_str()) || !ours {
                return Err(PluginError::conflict(format!(
                    "unit {unit} is at {} ({}), which rollout {} did not set; left as it is",
                    file.version.as_deref().unwrap_or("no version"),
                    file.changed_by.map_or("written outside upshift".to_string(), |by| format!("changed by {by}")),
                    op.rollout_id,
                )));
            }
            todo.push(unit);
        }
        for unit in &todo {
            unit_file::write(&unit_file::path(&config.folder, unit)?, &op.from_version, &op.id)?;
        }
        report(&op, config, "rollback", &todo, &op.from_version)
    }

    fn finalize(op: Operation, config: &Config) -> Result<Change, PluginError> {
        // `op.units` is every unit: those no stage moved reach the new version here. There is
        // nothing else to clean up.
        upgrade(&op, config, "finalize")
    }
}

upshift_sdk::export_target!(VersionFiles);
upshift_sdk::capabilities!(files);

/// Moves `op.units` to `op.to_version`. A unit already there is skipped: that is what makes a
/// re-sent operation (after a crash, or a retry) safe. A unit at neither version is refused before
/// anything is written: this rollout does not know what put it there.
fn upgrade(op: &Operation, config: &Config, call: &str) -> Result<Change, PluginError> {
    let mut todo = Vec::new();
    for unit in &op.units {
        match read(config, unit)?.version {
            Some(v) if v == op.to_version => {}
            Some(v) if v == op.from_version => todo.push(unit),
            other => {
                return Err(PluginError::conflict(format!(
                    "unit {unit} is at {}, neither {} nor {}; left as it is",
                    other.as_deref().unwrap_or("no version"),
                    op.from_version,
                    op.to_version
                )));
            }
        }
    }
    for unit in &todo {
        unit_file::write(&unit_file::path(&config.folder, unit)?, &op.to_version, &op.id)?;
    }
    report(op, config, call, &todo, &op.to_version)
}

/// The change report: every unit of the call as its file now reads, and what this send wrote.
fn report(
    op: &Operation,
    config: &Config,
    call: &str,
    wrote: &[&String],
    version: &str,
) -> Result<Change, PluginError> {
    let units = op
        .units
        .iter()
        .map(|u| Ok(UnitVersion { unit: u.clone(), version: read(config, u)?.version }))
        .collect::<Result<Vec<_>, PluginError>>()?;
    let moved = wrote.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(",");
    let message = format!("{call} {}: {} of {} units written to {version}", op.id, wrote.len(), op.units.len());
    log::emit(log::Level::Info, &message, &[("written", &moved)]);
    Ok(Change { message, weight: None, units })
}

fn read(config: &Config, unit: &str) -> Result<UnitFile, PluginError> {
    unit_file::read(&unit_file::path(&config.folder, unit)?)
}

/// Without the grant (or the capability) the folder does not exist inside the sandbox: say so
/// instead of reporting every unit as having no version.
fn check_folder(config: &Config) -> Result<(), PluginError> {
    match std::fs::metadata(&config.folder) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(PluginError::denied(format!(
            "folder {} is not reachable: grant it in the spec (grants.files = [{{ path = \"...\", write = true }}]) \
             and set `folder` to where it appears (\"/\" + its path)",
            config.folder
        ))),
    }
}

#[cfg(test)]
mod tests;
