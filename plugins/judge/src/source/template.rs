//! Placeholders in a metric's queries, replaced from where the rollout stands (`Check`) before
//! the query is sent: `{from}`, `{to}`, `{stage}`, `{stage_index}`, `{rollout}`, `{attempt}`,
//! `{weight}`, `{window}` and `{step}`. Text between other braces (PromQL's label matchers) is left
//! alone. Values are escaped for a double-quoted PromQL string (`\`, `"`, newline), since a version
//! may come from a release index: put placeholders inside double quotes.

use upshift_sdk::Check;

/// What the placeholders stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub from: String,
    pub to: String,
    pub stage: String,
    pub stage_index: u32,
    pub rollout: String,
    pub attempt: u32,
    pub weight: Option<u8>,
    pub window_seconds: u32,
    pub step_seconds: u32,
}

impl Context {
    pub fn new(check: &Check, window_seconds: u32, step_seconds: u32) -> Self {
        Context {
            from: check.from_version.clone(),
            to: check.to_version.clone(),
            stage: check.stage_name.clone(),
            stage_index: check.stage_index,
            rollout: check.rollout_id.clone(),
            attempt: check.attempt,
            weight: check.weight,
            window_seconds,
            step_seconds,
        }
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "from" => escape(&self.from),
            "to" => escape(&self.to),
            "stage" => escape(&self.stage),
            "stage_index" => self.stage_index.to_string(),
            "rollout" => escape(&self.rollout),
            "attempt" => self.attempt.to_string(),
            "weight" => self.weight.map(|w| w.to_string()).unwrap_or_default(),
            "window" => format!("{}s", self.window_seconds),
            "step" => format!("{}s", self.step_seconds),
            _ => return None,
        })
    }
}

/// `template` with every known placeholder replaced, in one pass (a value is never expanded again).
pub fn render(template: &str, context: &Context) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let replaced = (after[name_len..].starts_with('}')).then(|| context.value(&after[..name_len])).flatten();
        match replaced {
            Some(value) => {
                out.push_str(&value);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::new(&Check { weight: Some(10), ..Check::example() }, 60, 1)
    }

    #[test]
    fn placeholders_are_replaced_and_matchers_kept() {
        let q = r#"histogram_quantile(0.99, sum by (le) (rate(x_bucket{version="{to}",stage="{stage}"}[{step}])))"#;
        assert_eq!(
            render(q, &context()),
            r#"histogram_quantile(0.99, sum by (le) (rate(x_bucket{version="2",stage="canary"}[1s])))"#
        );
        assert_eq!(
            render("{from}/{weight}/{window}/{attempt}/{stage_index}/{rollout}", &context()),
            "1/10/60s/1/0/example-1"
        );
        assert_eq!(render("{unknown} { {to", &context()), "{unknown} { {to");
    }

    #[test]
    fn values_cannot_break_out_of_a_string_literal() {
        let c = Context { to: "2\"} or vector(1) or x{a=\"".into(), ..context() };
        assert_eq!(render(r#"x{v="{to}"}"#, &c), r#"x{v="2\"} or vector(1) or x{a=\""}"#);
    }

    #[test]
    fn a_value_is_not_expanded_twice() {
        let c = Context { to: "{from}".into(), ..context() };
        assert_eq!(render("{to}", &c), "{from}");
    }
}
