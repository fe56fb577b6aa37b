//! The [`Target`] trait and its export macro.

pub use crate::bindings::target::exports::upshift::plugin::target::{
    Capabilities, Change, Description, Observation, Operation, UnitVersion,
};
use crate::config::with_config;
use crate::types::PluginError;

/// The thing being upgraded.
///
/// Mutating calls carry [`Operation::id`]; the host re-sends the same id after a crash, so an
/// implementation must answer an id it already completed without doing the work again.
pub trait Target {
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

    /// Static facts: name, version, what the target can do. Must not touch anything.
    fn describe() -> Description;
    /// What is live now. Must not change anything.
    fn observe(config: &Self::Config, from_version: String, to_version: String) -> Result<Observation, PluginError>;
    /// Moves this stage's slice (`op.weight`, `op.units`) to the new version.
    fn apply(op: Operation, config: &Self::Config) -> Result<Change, PluginError>;
    /// Moves everything in `op.units` (and the weight) back to the old version.
    fn rollback(op: Operation, config: &Self::Config) -> Result<Change, PluginError>;
    /// Promotes the new version fully and cleans up.
    fn finalize(op: Operation, config: &Self::Config) -> Result<Change, PluginError>;
}

impl Operation {
    /// The `apply` of stage 0 (`canary`) of rollout `example-1` from version 1 to 2, moving unit
    /// `unit0` with no traffic weight and an empty config, with the operation id the host would
    /// send (`example-1/apply/0`), for target unit tests. Change what a test is about with struct
    /// update syntax: `Operation { units: vec!["a".into(), "b".into()], ..Operation::example() }`.
    pub fn example() -> Self {
        Operation {
            id: "example-1/apply/0".into(),
            rollout_id: "example-1".into(),
            config: "{}".into(),
            from_version: "1".into(),
            to_version: "2".into(),
            stage_index: 0,
            stage_name: "canary".into(),
            weight: None,
            units: vec!["unit0".into()],
        }
    }
}

#[doc(hidden)]
pub fn dispatch_observe<T: Target>(config: String, from: String, to: String) -> Result<Observation, PluginError> {
    with_config(&config, |c| T::observe(c, from, to))?
}

#[doc(hidden)]
pub fn dispatch_apply<T: Target>(op: Operation) -> Result<Change, PluginError> {
    let json = op.config.clone();
    with_config(&json, |c| T::apply(op, c))?
}

#[doc(hidden)]
pub fn dispatch_rollback<T: Target>(op: Operation) -> Result<Change, PluginError> {
    let json = op.config.clone();
    with_config(&json, |c| T::rollback(op, c))?
}

#[doc(hidden)]
pub fn dispatch_finalize<T: Target>(op: Operation) -> Result<Change, PluginError> {
    let json = op.config.clone();
    with_config(&json, |c| T::finalize(op, c))?
}

/// Exports a type implementing [`Target`] as this component's target.
#[macro_export]
macro_rules! export_target {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __UpshiftTargetExport;

        impl $crate::bindings::target::exports::upshift::plugin::target::Guest for __UpshiftTargetExport {
            fn config_schema() -> ::std::string::String {
                $crate::config_schema::<<$ty as $crate::Target>::Config>()
            }

            fn validate_config(config: ::std::string::String) -> ::std::result::Result<(), $crate::PluginError> {
                $crate::validate_config::<<$ty as $crate::Target>::Config>(&config, <$ty as $crate::Target>::check_config)
            }

            fn describe() -> $crate::Description {
                <$ty as $crate::Target>::describe()
            }
            fn observe(
                config: ::std::string::String,
                from_version: ::std::string::String,
                to_version: ::std::string::String,
            ) -> ::std::result::Result<$crate::Observation, $crate::PluginError> {
                $crate::__private_dispatch_observe::<$ty>(config, from_version, to_version)
            }
            fn apply(op: $crate::Operation) -> ::std::result::Result<$crate::Change, $crate::PluginError> {
                $crate::__private_dispatch_apply::<$ty>(op)
            }
            fn rollback(op: $crate::Operation) -> ::std::result::Result<$crate::Change, $crate::PluginError> {
                $crate::__private_dispatch_rollback::<$ty>(op)
            }
            fn finalize(op: $crate::Operation) -> ::std::result::Result<$crate::Change, $crate::PluginError> {
                $crate::__private_dispatch_finalize::<$ty>(op)
            }
        }

        // Only a wasm32 build exports the component ABI: the export names (`upshift:plugin/...`) are
        // not valid native symbol names, and native builds exist for unit tests.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::target::__export_target_world!(__UpshiftTargetExport with_types_in $crate::bindings::target);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_the_canary_apply_with_the_hosts_operation_id_and_takes_struct_updates() {
        let op = Operation { units: vec!["a".into(), "b".into()], ..Operation::example() };
        assert_eq!(op.id, format!("{}/apply/{}", op.rollout_id, op.stage_index));
        assert_eq!((op.from_version.as_str(), op.to_version.as_str()), ("1", "2"));
        assert_eq!((op.stage_name.as_str(), op.weight), ("canary", None));
        assert_eq!(op.units, vec!["a".to_string(), "b".to_string()]);
        assert!(crate::parse_config::<crate::NoConfig>(&op.config).is_ok(), "the config is an empty object");
    }
}
