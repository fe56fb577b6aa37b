use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub denied: Vec<String>,
}

pub struct DenyVersions;

impl Verifier for DenyVersions {
    type Config = Config;

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        let verdict = match config.denied.contains(&check.to_version) {
            true => Verdict::fail(format!("{} is on the deny list", check.to_version)),
            false => Verdict::pass(format!("{} is allowed", check.to_version)),
        };
        Ok(verdict.measure("denied_versions", config.denied.len() as f64, ""))
    }
}

upshift_sdk::export_verifier!(DenyVersions);

#[cfg(test)]
mod tests {
    use super::*;
    use upshift_sdk::Outcome;

    fn check(to_version: &str) -> Check {
        Check {
            rollout_id: "r".into(),
            stage_index: 0,
            stage_name: "canary".into(),
            from_version: "1.0.0".into(),
            to_version: to_version.into(),
            weight: None,
            units: vec![],
            attempt: 1,
        }
    }

    fn config() -> Config {
        Config {
            denied: vec!["1.2.3".into()],
        }
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
}
