//! Turning the JSON config the host passes into the author's typed config struct.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::types::PluginError;

/// The config type of a plugin that takes no configuration: accepts `{}` and `null`, refuses any field.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Parses the host's JSON config into `T`; an empty string or `null` counts as `{}`.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    let json = match json.trim() {
        "" | "null" => "{}",
        other => other,
    };
    serde_json::from_str(json).map_err(|e| PluginError::invalid_config(format!("config: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        max: u32,
    }

    #[test]
    fn parses_typed_config() {
        assert_eq!(parse_config::<Limits>(r#"{"max": 3}"#).unwrap(), Limits { max: 3 });
    }

    #[test]
    fn unknown_field_is_invalid_config_naming_the_field() {
        let err = parse_config::<Limits>(r#"{"max": 3, "mx": 4}"#).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::InvalidConfig);
        assert!(err.message.contains("mx"), "{}", err.message);
    }

    #[test]
    fn no_config_accepts_empty_and_refuses_fields() {
        assert!(parse_config::<NoConfig>("").is_ok());
        assert!(parse_config::<NoConfig>("null").is_ok());
        assert!(parse_config::<NoConfig>(r#"{"x": 1}"#).is_err());
    }
}
