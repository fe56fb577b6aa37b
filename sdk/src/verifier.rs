//! The [`Verifier`] trait and its export macro.

pub use crate::bindings::verifier::exports::upshift::plugin::verifier::Check;
use crate::config::with_config;
use crate::types::{PluginError, Verdict};

/// A check that judges one stage of a rollout.
pub trait Verifier {
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

    /// A verdict is a judgement (pass, fail, inconclusive); an `Err` means no judgement could be made.
    fn verify(check: Check, config: &Self::Config) -> Result<Verdict, PluginError>;
}

impl Check {
    /// The first verification of stage 0 (`canary`) of rollout `example-1` from version 1 to 2,
    /// with one unit (`unit0`) upgraded and no traffic weight, for verifier unit tests. Change what a
    /// test is about with struct update syntax:
    /// `Check { to_version: "1.2.3".into(), ..Check::example() }`.
    pub fn example() -> Self {
        Check {
            rollout_id: "example-1".into(),
            stage_index: 0,
            stage_name: "canary".into(),
            from_version: "1".into(),
            to_version: "2".into(),
            weight: None,
            units: vec!["unit0".into()],
            attempt: 1,
        }
    }
}

/// Why `value` of the check `name` breaks its bounds, if it does: `name = 0.0300, above the maximum
/// 0.01`. Both bounds are inclusive; `None` is no bound.
pub fn outside_bounds(name: &str, value: f64, min: Option<f64>, max: Option<f64>) -> Option<String> {
    if let Some(max) = max.filter(|max| value > *max) {
        return Some(format!("{name} = {value:.4}, above the maximum {max}"));
    }
    if let Some(min) = min.filter(|min| value < *min) {
        return Some(format!("{name} = {value:.4}, below the minimum {min}"));
    }
    None
}

#[doc(hidden)]
pub fn dispatch_verify<V: Verifier>(check: Check, config: String) -> Result<Verdict, PluginError> {
    with_config(&config, |c| V::verify(check, c))?
}

/// Exports a type implementing [`Verifier`] as this component's verifier.
#[macro_export]
macro_rules! export_verifier {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __UpshiftVerifierExport;

        impl $crate::bindings::verifier::exports::upshift::plugin::verifier::Guest
            for __UpshiftVerifierExport
        {
            fn config_schema() -> ::std::string::String {
                $crate::config_schema::<<$ty as $crate::Verifier>::Config>()
            }

            fn validate_config(config: ::std::string::String) -> ::std::result::Result<(), $crate::PluginError> {
                $crate::validate_config::<<$ty as $crate::Verifier>::Config>(&config, <$ty as $crate::Verifier>::check_config)
            }

            fn verify(
                check: $crate::Check,
                config: ::std::string::String,
            ) -> ::std::result::Result<$crate::Verdict, $crate::PluginError> {
                $crate::__private_dispatch_verify::<$ty>(check, config)
            }
        }

        // Only a wasm32 build exports the component ABI: the export names (`upshift:plugin/...`) are
        // not valid native symbol names, and native builds exist for unit tests.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::verifier::__export_verifier_world!(__UpshiftVerifierExport with_types_in $crate::bindings::verifier);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_the_first_check_of_the_canary_stage_and_takes_struct_updates() {
        let check = Check { to_version: "1.2.3".into(), ..Check::example() };
        assert_eq!(
            (check.rollout_id.as_str(), check.stage_index, check.stage_name.as_str()),
            ("example-1", 0, "canary")
        );
        assert_eq!((check.from_version.as_str(), check.to_version.as_str()), ("1", "1.2.3"));
        assert_eq!(check.units, vec!["unit0".to_string()]);
        assert_eq!((check.weight, check.attempt), (None, 1), "attempts count from 1");
    }
}
