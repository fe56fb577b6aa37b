//! The config half of the preflight: every plugin is asked whether it accepts the config the spec
//! gives it (`validate-config`, contract 0.2.0) before anything is planned or applied. A refusal is
//! a problem on the spec's line of that plugin's `config` (of the field the plugin names, when the
//! spec has it). A plugin of contract 0.1.0 cannot be asked: a warning says its config is checked at
//! its first call.
//!
//! The check runs in an instance of its own with the plugin's limits and nothing else: no grants,
//! no state. So whatever a plugin does in `validate-config`, `upshift validate` changes nothing.

use std::path::Path;
use std::sync::Arc;

use super::{Findings, Problem};
use crate::rollout::plugins::RolloutPlugins;
use crate::runtime::bindings::worlds::{StrategyWorld, TargetWorld, VerifierWorld, World};
use crate::runtime::{CallError, Plugin, PluginInstance, Scope};
use crate::spec::{PluginSpec, Role, RolloutSpec, SpecLines};

/// Asks every plugin of `spec` to validate its config; adds what it finds to `findings`.
pub fn check(
    spec: &RolloutSpec,
    spec_path: &Path,
    lines: &SpecLines,
    plugins: &RolloutPlugins,
    findings: &mut Findings,
) {
    let mut ask = |role: Role, plugin: &PluginSpec, answer: Result<bool, CallError>| {
        let who = format!("{} {}", role.kind(), plugin.display_name());
        let at = |line: Option<usize>, message: String| Problem { spec: spec_path.to_path_buf(), line, message };
        match answer {
            Ok(true) => {}
            Ok(false) => findings.warnings.push(at(
                lines.plugin(role),
                format!(
                    "{who} is a plugin of contract upshift:plugin@0.1.0, which cannot check a config in advance: \
                     its config is checked at its first call (rebuild it with the current upshift-sdk to have it \
                     checked here)"
                ),
            )),
            Err(CallError::Plugin { message, .. }) => {
                let message = without_json_position(&message);
                let message = message.strip_prefix("config: ").unwrap_or(message);
                let field = named_field(message);
                let line = lines.config(role, field).or_else(|| lines.plugin(role));
                let fields = match &plugin.plugin {
                    Some(name) => format!("`upshift plugin inspect {name}` lists the fields it accepts"),
                    None => "`upshift plugin inspect FILE` lists the fields it accepts".to_string(),
                };
                findings.problems.push(at(
                    line,
                    format!("{who} refuses its config: {message}; fix `config` in {}; {fields}", role.table()),
                ));
            }
            Err(other) => {
                findings.problems.push(at(lines.plugin(role), format!("{who} could not check its config: {other}")))
            }
        }
    };
    let answer = validate::<TargetWorld>(plugins.target.plugin(), &spec.target, &plugins.target_config);
    ask(Role::Target, &spec.target, answer);
    let answer = validate::<StrategyWorld>(plugins.strategy.plugin(), &spec.strategy, &plugins.strategy_config);
    ask(Role::Strategy, &spec.strategy, answer);
    for (i, v) in plugins.verifiers.iter().enumerate() {
        let answer = validate::<VerifierWorld>(v.instance.plugin(), &v.spec, &v.config);
        ask(Role::Verifier(i), &v.spec, answer);
    }
}

/// Asks `plugin` to check `config` in an instance of its own: the plugin's limits, no grants, no
/// state.
fn validate<W: World>(plugin: &Arc<Plugin>, spec: &PluginSpec, config: &str) -> Result<bool, CallError> {
    let scope = Scope { limits: spec.limits(), ..Scope::default() };
    PluginInstance::<W>::new(plugin.clone(), scope).validate_config(config)
}

/// The field a config error names: the first `` `word` `` of serde's messages ("unknown field
/// `max_eror_rate`, expected ...", "missing field `url`", "invalid type ... for key `steps`").
pub fn named_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let field = &message[start..start + len];
    let plain = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then_some(field)
}

/// `message` without serde_json's " at line 1 column 45", which points into the host's JSON, not
/// the spec the operator edits.
pub fn without_json_position(message: &str) -> &str {
    let Some(at) = message.rfind(" at line ") else { return message };
    let tail = &message[at + " at line ".len()..];
    let numbers = tail.split_once(" column ").is_some_and(|(line, column)| {
        !line.is_empty() && !column.is_empty() && line.chars().chain(column.chars()).all(|c| c.is_ascii_digit())
    });
    if numbers { &message[..at] } else { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_a_serde_message_names() {
        assert_eq!(
            named_field("config: unknown field `max_eror_rate`, expected `max_error_rate`"),
            Some("max_eror_rate")
        );
        assert_eq!(named_field("config: missing field `url`"), Some("url"));
        assert_eq!(named_field("config: invalid type: string \"x\", expected u32"), None);
        assert_eq!(named_field("config: `` empty"), None);
        assert_eq!(named_field("config: unknown field `a b`"), None);
    }

    #[test]
    fn the_json_position_goes_and_nothing_else() {
        assert_eq!(without_json_position("config: unknown field `x` at line 1 column 45"), "config: unknown field `x`");
        assert_eq!(without_json_position("config: at line 3 of the file"), "config: at line 3 of the file");
        assert_eq!(without_json_position("no position"), "no position");
    }
}
