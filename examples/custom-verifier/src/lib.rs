//! `deny-versions`: an upshift verifier that fails any rollout to a version on a deny list, taken
//! from the spec, from a file in a granted folder, or from a granted environment variable.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

/// What the spec's `config = { ... }` gives this verifier.
#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Versions denied, written in the spec.
    #[serde(default)]
    pub denied: Vec<String>,
    /// A file of more denied versions, one a line (blank lines and lines starting with `#` are
    /// skipped), as the plugin sees it: inside a folder the spec grants (`grants.files =
    /// ["policy"]` is `/policy`).
    #[serde(default)]
    pub denied_file: Option<String>,
    /// Also deny the comma-separated versions of the environment variable `DENIED_VERSIONS`,
    /// which the spec must grant (`grants.env = ["DENIED_VERSIONS"]`).
    #[serde(default)]
    pub denied_from_env: bool,
}

/// The environment variable `denied_from_env` reads; the plugin declares it below.
pub const DENIED_VERSIONS_VAR: &str = "DENIED_VERSIONS";

pub struct DenyVersions;

impl Verifier for DenyVersions {
    type Config = Config;

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        let denied = denied_versions(config)?;
        let verdict = match denied.contains(&check.to_version) {
            true => Verdict::fail(format!("{} is on the deny list", check.to_version)),
            false => Verdict::pass(format!("{} is allowed", check.to_version)),
        };
        Ok(verdict.measure("denied_versions", denied.len() as f64, ""))
    }
}

upshift_sdk::export_verifier!(DenyVersions);
upshift_sdk::capabilities!(files, env = ["DENIED_VERSIONS"]);

/// Every denied version: the spec's, the file's, the variable's. A source the config names but the
/// sandbox does not have is an error, never an empty list: a deny list that silently shrank would
/// let a denied version pass.
pub fn denied_versions(config: &Config) -> Result<Vec<String>, PluginError> {
    let mut denied = config.denied.clone();
    if let Some(path) = &config.denied_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PluginError::denied(format!(
                "cannot read denied_file {path}: {e} (grant its folder: grants.files = [\"<folder>\"] makes it /<folder>)"
            ))
        })?;
        let lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        denied.extend(lines.map(str::to_string));
    }
    if config.denied_from_env {
        let value = std::env::var(DENIED_VERSIONS_VAR).map_err(|_| {
            PluginError::denied(format!(
                "{DENIED_VERSIONS_VAR} is not set for this plugin: grant it with grants.env = [\"{DENIED_VERSIONS_VAR}\"] \
                 and set it where upshift runs"
            ))
        })?;
        denied.extend(value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string));
    }
    Ok(denied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use upshift_sdk::{ErrorKind, Outcome};

    fn check(to_version: &str) -> Check {
        Check { to_version: to_version.into(), ..Check::example() }
    }

    fn config() -> Config {
        Config { denied: vec!["1.2.3".into()], denied_file: None, denied_from_env: false }
    }

    #[test]
    fn a_denied_version_fails() {
        let v = DenyVersions::verify(check("1.2.3"), &config()).unwrap();
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("deny list"));
    }

    #[test]
    fn other_versions_pass() {
        let v = DenyVersions::verify(check("1.2.4"), &config()).unwrap();
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.measurements[0].value, 1.0);
    }

    #[test]
    fn a_denied_file_adds_its_versions_skipping_blanks_and_comments() {
        let path = std::env::temp_dir().join(format!("deny-versions-test-{}.txt", std::process::id()));
        std::fs::write(&path, "# known bad\n2.0.0\n\n  2.0.1  \n").unwrap();
        let config = Config { denied_file: Some(path.to_string_lossy().into_owned()), ..config() };
        let denied = denied_versions(&config);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(denied.unwrap(), ["1.2.3", "2.0.0", "2.0.1"]);
    }

    #[test]
    fn a_denied_file_the_sandbox_cannot_read_is_an_error_naming_the_grant_not_a_pass() {
        let config = Config { denied_file: Some("/policy/denied.txt".into()), ..config() };
        let err = DenyVersions::verify(check("2.0.0"), &config).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied);
        assert!(err.message.contains("/policy/denied.txt") && err.message.contains("grants.files"), "{}", err.message);
    }

    #[test]
    fn the_environment_variable_adds_its_versions_and_its_absence_is_an_error_naming_the_grant() {
        let config = Config { denied_from_env: true, ..config() };
        // The only test that touches the variable, so no other test sees it change.
        unsafe { std::env::set_var(DENIED_VERSIONS_VAR, "3.0.0, 3.0.1") };
        let denied = denied_versions(&config);
        unsafe { std::env::remove_var(DENIED_VERSIONS_VAR) };
        assert_eq!(denied.unwrap(), ["1.2.3", "3.0.0", "3.0.1"]);
        let err = denied_versions(&config).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Denied);
        assert!(err.message.contains("grants.env = [\"DENIED_VERSIONS\"]"), "{}", err.message);
    }

    #[test]
    fn a_config_typo_is_an_invalid_config_naming_the_field() {
        let err = upshift_sdk::parse_config::<Config>(r#"{"denied_fle": "/policy/x"}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
        assert!(err.message.contains("denied_fle"), "{}", err.message);
    }
}
