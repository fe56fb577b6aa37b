//! Strategy `blue-green`: two stages on a target that splits traffic.
//! 1. `preview` (weight 0): green is up with no user traffic. Only a route the target keeps reaches
//!    it (the `preview` header of `haproxy-split`); the verifiers judge it there after the bake.
//! 2. `switch` (weight 100): all traffic moves to green at once. Blue stays ready while the switch is
//!    verified: the rollback window is this stage's bake plus the verifiers' `count` ×
//!    `interval_seconds`, and a failed verification in it sends everything back to blue. `finalize`
//!    follows the last passing verification.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{PluginError, RolloutInfo, Stage, Strategy};

/// How long green is previewed before its first verification, when the config does not say.
pub const DEFAULT_PREVIEW_BAKE_SECONDS: u32 = 60;

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Seconds green is previewed before it is verified.
    #[serde(default = "default_preview_bake")]
    pub preview_bake_seconds: u32,
    /// Seconds after the switch before its first verification (failures inside it are caught only
    /// when it ends; 0 verifies at once).
    #[serde(default)]
    pub switch_bake_seconds: u32,
    /// Hold for a manual `upshift approve` before the switch.
    #[serde(default)]
    pub approval: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { preview_bake_seconds: DEFAULT_PREVIEW_BAKE_SECONDS, switch_bake_seconds: 0, approval: false }
    }
}

fn default_preview_bake() -> u32 {
    DEFAULT_PREVIEW_BAKE_SECONDS
}

pub struct BlueGreen;

impl Strategy for BlueGreen {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        if !rollout.traffic_split {
            return Err(PluginError::invalid_config(
                "blue-green: the target cannot split traffic; use a target that routes by weight (haproxy-split, lambda-alias) or the `batches` strategy",
            ));
        }
        let preview = Stage::new("preview").weight(0).bake(config.preview_bake_seconds).verified();
        let mut switch = Stage::new("switch").weight(100).bake(config.switch_bake_seconds).verified();
        if config.approval {
            switch = switch.with_approval();
        }
        Ok(vec![preview, switch])
    }
}

upshift_sdk::export_strategy!(BlueGreen);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_with_no_traffic_then_everything_at_once() {
        let c: Config = upshift_sdk::parse_config(r#"{"preview_bake_seconds": 5, "approval": true}"#).unwrap();
        let stages = BlueGreen::plan(&c, RolloutInfo::example("", 0, true)).unwrap();
        let shape: Vec<_> = stages.iter().map(|s| (s.name.as_str(), s.weight, s.bake_seconds, s.verify)).collect();
        assert_eq!(shape, vec![("preview", Some(0), 5, true), ("switch", Some(100), 0, true)]);
        assert!(!stages[0].approval && stages[1].approval);
        assert_eq!(
            upshift_sdk::parse_config::<Config>("{}").unwrap().preview_bake_seconds,
            DEFAULT_PREVIEW_BAKE_SECONDS
        );
    }

    #[test]
    fn a_target_without_traffic_split_is_refused() {
        let err = BlueGreen::plan(&Config::default(), RolloutInfo::example("host-", 3, false)).unwrap_err();
        assert!(err.message.contains("cannot split traffic"), "{}", err.message);
    }
}
