//! The [`Strategy`] trait and its export macro.

pub use crate::bindings::strategy::exports::upshift::plugin::strategy::{Decision, Progress};
use crate::config::with_config;
use crate::types::{PluginError, RolloutInfo, Stage, Verdict};

/// Plans the stages of a rollout and decides what follows each one.
pub trait Strategy {
    /// The plugin's config from the spec: derive `Deserialize` and `JsonSchema` (re-exported as
    /// `upshift_sdk::serde` and `upshift_sdk::schemars`) so the host can check it and show its fields.
    type Config: crate::PluginConfig;

    /// Checks a parsed config beyond its types (a percentage above 100, an empty list), touching
    /// nothing: the host calls it before anything is applied (`validate-config`). The default accepts
    /// every config that parses.
    fn check_config(config: &Self::Config) -> Result<(), PluginError> {
        let _ = config;
        Ok(())
    }

    /// The stages, in order. An empty plan is an error.
    fn plan(config: &Self::Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError>;

    /// Called after a stage has baked and passed verification. The default goes on.
    fn next(config: &Self::Config, progress: Progress) -> Result<Decision, PluginError> {
        let _ = (config, progress);
        Ok(Decision::Continue)
    }
}

impl Progress {
    /// Stage 0 of a rollout of four units (`RolloutInfo::example("unit", 4, false)`) planned as
    /// `canary` (`unit0`) then `rest` (`unit1` to `unit3`), both verified, just baked and verified
    /// once with a pass and never extended, for unit tests of [`Strategy::next`]. Change what a
    /// test is about with struct update syntax:
    /// `Progress { verdicts: vec![Verdict::fail("slow")], ..Progress::example() }`.
    pub fn example() -> Self {
        let rollout = RolloutInfo::example("unit", 4, false);
        let stages = vec![
            Stage::new("canary").units(rollout.units[..1].to_vec()).verified(),
            Stage::new("rest").units(rollout.units[1..].to_vec()).verified(),
        ];
        Progress { rollout, stages, stage_index: 0, verdicts: vec![Verdict::pass("example")], bake_extensions: 0 }
    }
}

#[doc(hidden)]
pub fn dispatch_plan<S: Strategy>(config: String, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
    with_config(&config, |c| S::plan(c, rollout))?
}

#[doc(hidden)]
pub fn dispatch_next<S: Strategy>(config: String, progress: Progress) -> Result<Decision, PluginError> {
    with_config(&config, |c| S::next(c, progress))?
}

/// Exports a type implementing [`Strategy`] as this component's strategy.
#[macro_export]
macro_rules! export_strategy {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __UpshiftStrategyExport;

        impl $crate::bindings::strategy::exports::upshift::plugin::strategy::Guest for __UpshiftStrategyExport {
            fn config_schema() -> ::std::string::String {
                $crate::config_schema::<<$ty as $crate::Strategy>::Config>()
            }

            fn validate_config(config: ::std::string::String) -> ::std::result::Result<(), $crate::PluginError> {
                $crate::validate_config::<<$ty as $crate::Strategy>::Config>(&config, <$ty as $crate::Strategy>::check_config)
            }

            fn plan(
                config: ::std::string::String,
                rollout: $crate::RolloutInfo,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Stage>, $crate::PluginError> {
                $crate::__private_dispatch_plan::<$ty>(config, rollout)
            }
            fn next(
                config: ::std::string::String,
                progress: $crate::Progress,
            ) -> ::std::result::Result<$crate::Decision, $crate::PluginError> {
                $crate::__private_dispatch_next::<$ty>(config, progress)
            }
        }

        // Only a wasm32 build exports the component ABI: the export names (`upshift:plugin/...`) are
        // not valid native symbol names, and native builds exist for unit tests.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::strategy::__export_strategy_world!(__UpshiftStrategyExport with_types_in $crate::bindings::strategy);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    #[test]
    fn example_is_a_passed_canary_before_the_rest_and_takes_struct_updates() {
        let progress = Progress { bake_extensions: 2, ..Progress::example() };
        assert_eq!(progress.rollout.units.len(), 4);
        let names: Vec<&str> = progress.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["canary", "rest"]);
        let moved: Vec<String> = progress.stages.iter().flat_map(|s| s.units.clone()).collect();
        assert_eq!(moved, progress.rollout.units, "the two stages move every unit once, in order");
        assert!(progress.stages.iter().all(|s| s.verify));
        assert_eq!(progress.stage_index, 0);
        assert_eq!(progress.verdicts.iter().map(|v| v.outcome).collect::<Vec<_>>(), [Outcome::Pass]);
        assert_eq!(progress.bake_extensions, 2);
    }
}
