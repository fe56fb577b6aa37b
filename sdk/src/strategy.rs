//! The [`Strategy`] trait and its export macro.

pub use crate::bindings::strategy::exports::upshift::plugin::strategy::{Decision, Progress};
use crate::config::with_config;
use crate::types::{PluginError, RolloutInfo, Stage};

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
