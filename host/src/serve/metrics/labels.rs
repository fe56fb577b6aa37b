//! The label sets of the controller's metrics, and how a label value taken from a spec or a config
//! is kept to a bounded set.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;

/// Distinct values a name label (verifier, plugin, webhook) keeps; later new names become [`OTHER`].
pub const MAX_LABEL_VALUES: usize = 64;
/// The longest name kept as a label value, in bytes; a longer one becomes [`OTHER`].
pub const MAX_LABEL_VALUE_BYTES: usize = 128;
/// The value that stands for every name past the bounds, and for an unknown phase or outcome.
pub const OTHER: &str = "other";

/// The first [`MAX_LABEL_VALUES`] distinct names seen, in the order they were seen.
#[derive(Debug, Default)]
pub(super) struct BoundedValues(Mutex<HashSet<String>>);

impl BoundedValues {
    /// `name` if it is (or can still become) one of the kept values, else [`OTHER`].
    pub(super) fn label(&self, name: &str) -> String {
        if name.len() > MAX_LABEL_VALUE_BYTES || name.is_empty() {
            return OTHER.to_string();
        }
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.contains(name) {
            return name.to_string();
        }
        if kept.len() < MAX_LABEL_VALUES {
            kept.insert(name.to_string());
            return name.to_string();
        }
        OTHER.to_string()
    }
}

/// `value` if it is one of `known`, else [`OTHER`].
pub(super) fn one_of(value: Option<&str>, known: &[&str]) -> String {
    match value {
        Some(v) if known.contains(&v) => v.to_string(),
        _ => OTHER.to_string(),
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PhaseLabels {
    pub phase: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TransitionLabels {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct VerificationLabels {
    pub verifier: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CallLabels {
    pub plugin: String,
    pub call: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LimitLabels {
    pub plugin: String,
    pub call: String,
    pub limit: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DeliveryLabels {
    pub webhook: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WebhookLabels {
    pub webhook: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_bound_fold_into_other_and_kept_names_stay() {
        let values = BoundedValues::default();
        for i in 0..MAX_LABEL_VALUES {
            assert_eq!(values.label(&format!("v{i}")), format!("v{i}"));
        }
        assert_eq!(values.label("one-too-many"), OTHER);
        assert_eq!(values.label("v0"), "v0", "a kept name keeps its label");
        assert_eq!(values.label(&"x".repeat(MAX_LABEL_VALUE_BYTES + 1)), OTHER);
    }

    #[test]
    fn an_unknown_value_of_a_fixed_set_is_other() {
        assert_eq!(one_of(Some("pass"), &["pass", "fail"]), "pass");
        assert_eq!(one_of(Some("maybe"), &["pass", "fail"]), OTHER);
        assert_eq!(one_of(None, &["pass"]), OTHER);
    }
}
