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
