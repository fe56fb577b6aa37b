//! Turning the JSON config the host passes into the author's typed config struct.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::types::PluginError;

/// The config type of a plugin that takes no configuration: accepts `{}` and `null`, refuses any field.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// What every plugin's `Config` type is: read from the host's JSON, and described by a JSON Schema
/// (`#[derive(upshift_sdk::serde::Deserialize, upshift_sdk::schemars::JsonSchema)]`).
pub trait PluginConfig: DeserializeOwned + JsonSchema + 'static {}

impl<T: DeserializeOwned + JsonSchema + 'static> PluginConfig for T {}

/// The JSON Schema of `C`, as JSON text (`config-schema`). Doc comments on the fields become their
/// descriptions; `#[serde(default)]` values become their defaults.
pub fn config_schema<C: PluginConfig>() -> String {
    serde_json::to_string(&schemars::schema_for!(C)).unwrap_or_default()
}

/// `validate-config`: parses `json` into `C` exactly as every later call will, then runs the
/// plugin's own `check` of the parsed value.
pub fn validate_config<C: PluginConfig>(
    json: &str,
    check: fn(&C) -> Result<(), PluginError>,
) -> Result<(), PluginError> {
    check(&parse_config::<C>(json)?)
}

/// Parses the host's JSON config into `T`; an empty string or `null` counts as `{}`.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    let json = match json.trim() {
        "" | "null" => "{}",
        other => other,
    };
    serde_json::from_str(json).map_err(|e| {
        // serde_json's position ("at line 1 column 45") points into the host's JSON, not the spec.
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) if e.line() > 0 => &text[..at],
            _ => text.as_str(),
        };
        PluginError::invalid_config(format!("config: {message}"))
    })
}

/// One parsed config: its type, the JSON it came from, the value.
type Parsed = (TypeId, String, Rc<dyn Any>);

thread_local! {
    /// The last config parsed for each config type: the host passes the same JSON on every call of
    /// a rollout, so it is parsed once. One entry per type bounds the memory this keeps.
    static PARSED: RefCell<Vec<Parsed>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `json` parsed into `T`, parsing only when `json` differs from the last config of
/// type `T` seen by this plugin instance.
pub fn with_config<T: DeserializeOwned + 'static, R>(json: &str, f: impl FnOnce(&T) -> R) -> Result<R, PluginError> {
    let id = TypeId::of::<T>();
    let cached = PARSED.with(|p| p.borrow().iter().find(|(t, j, _)| *t == id && j == json).map(|(_, _, v)| v.clone()));
    let value: Rc<dyn Any> = match cached {
        Some(v) => v,
        None => {
            let parsed: Rc<dyn Any> = Rc::new(parse_config::<T>(json)?);
            PARSED.with(|p| {
                let mut p = p.borrow_mut();
                p.retain(|(t, _, _)| *t != id);
                p.push((id, json.to_string(), parsed.clone()));
            });
            parsed
        }
    };
    match value.downcast_ref::<T>() {
        Some(config) => Ok(f(config)),
        None => Err(PluginError::internal("config cache holds a value of another type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        /// The most there may be.
        max: u32,
        #[serde(default = "five")]
        min: u32,
    }

    fn five() -> u32 {
        5
    }

    #[test]
    fn schema_names_fields_types_docs_and_defaults() {
        let schema: serde_json::Value = serde_json::from_str(&config_schema::<Limits>()).unwrap();
        assert_eq!(schema["properties"]["max"]["type"], "integer", "{schema}");
        assert_eq!(schema["properties"]["max"]["description"], "The most there may be.", "{schema}");
        assert_eq!(schema["properties"]["min"]["default"], 5, "{schema}");
        assert_eq!(schema["required"], serde_json::json!(["max"]), "{schema}");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
    }

    #[test]
    fn validate_config_parses_then_runs_the_plugins_check() {
        let positive =
            |l: &Limits| if l.max > 0 { Ok(()) } else { Err(PluginError::invalid_config("max must be above 0")) };
        assert!(validate_config::<Limits>(r#"{"max": 3}"#, positive).is_ok());
        let typo = validate_config::<Limits>(r#"{"mx": 3}"#, positive).unwrap_err();
        assert_eq!(typo.kind, crate::ErrorKind::InvalidConfig);
        assert!(typo.message.contains("mx"), "{}", typo.message);
        let zero = validate_config::<Limits>(r#"{"max": 0}"#, positive).unwrap_err();
        assert!(zero.message.contains("above 0"), "{}", zero.message);
    }

    #[test]
    fn parses_typed_config() {
        assert_eq!(parse_config::<Limits>(r#"{"max": 3}"#).unwrap(), Limits { max: 3, min: 5 });
    }

    #[test]
    fn unknown_field_is_invalid_config_naming_the_field() {
        let err = parse_config::<Limits>(r#"{"max": 3, "mx": 4}"#).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::InvalidConfig);
        assert!(err.message.contains("mx"), "{}", err.message);
        assert!(!err.message.contains("column"), "the host's JSON position is left out: {}", err.message);
    }

    #[test]
    fn with_config_parses_once_per_distinct_json() {
        let a = with_config::<Limits, _>(r#"{"max": 1}"#, |l| l.max).unwrap();
        let b = with_config::<Limits, _>(r#"{"max": 2}"#, |l| l.max).unwrap();
        let again = with_config::<Limits, _>(r#"{"max": 2}"#, |l| l as *const Limits as usize).unwrap();
        let same = with_config::<Limits, _>(r#"{"max": 2}"#, |l| l as *const Limits as usize).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(again, same, "the second call reuses the parsed value");
        assert!(with_config::<Limits, _>(r#"{"max": "x"}"#, |l| l.max).is_err());
    }

    #[test]
    fn no_config_accepts_empty_and_refuses_fields() {
        assert!(parse_config::<NoConfig>("").is_ok());
        assert!(parse_config::<NoConfig>("null").is_ok());
        assert!(parse_config::<NoConfig>(r#"{"x": 1}"#).is_err());
    }
}
