//! Verifier `sql-check`: runs SQL checks on every upgraded database of a granted connection: a
//! query whose first value must equal an expected text, lie within bounds, or (with neither) simply
//! succeed against the new schema. A database that cannot be reached is an error, never a pass.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Check, ErrorKind, PluginError, Verdict, Verifier};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub connection: String,
    pub checks: Vec<SqlCheck>,
}

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct SqlCheck {
    pub name: String,
    pub query: String,
    /// The first value of the first row, as text, must equal this.
    #[serde(default)]
    pub expect: Option<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// Why one check failed on one database, if it did.
pub fn judge(check: &SqlCheck, value: Option<&sql::Value>) -> Option<String> {
    let text = value.map_or_else(|| "no row".to_string(), |v| v.to_text());
    if let Some(expect) = &check.expect
        && &text != expect
    {
        return Some(format!("got {text}, expected {expect}"));
    }
    if check.min.is_some() || check.max.is_some() {
        let Some(n) = value.and_then(|v| v.as_f64()) else {
            return Some(format!("got {text}, expected a number"));
        };
        if check.min.is_some_and(|min| n < min) || check.max.is_some_and(|max| n > max) {
            let bounds = format!(
                "{}..{}",
                check.min.map_or(String::new(), |m| m.to_string()),
                check.max.map_or(String::new(), |m| m.to_string())
            );
            return Some(format!("got {n}, expected within {bounds}"));
        }
    }
    None
}

pub struct SqlChecks;

impl Verifier for SqlChecks {
    type Config = Config;

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        if config.checks.is_empty() {
            return Err(PluginError::invalid_config("sql-check: `checks` is empty"));
        }
        if check.units.is_empty() {
            return Ok(Verdict::inconclusive("no upgraded database to check yet"));
        }
        let mut failures = Vec::new();
        let mut passed = vec![0usize; config.checks.len()];
        for unit in &check.units {
            let db = format!("{}/{unit}", config.connection);
            for (i, c) in config.checks.iter().enumerate() {
                match sql::query_value(&db, &c.query, &[]) {
                    Ok(value) => match judge(c, value.as_ref()) {
                        None => passed[i] += 1,
                        Some(why) => failures.push(format!("{} on {unit}: {why}", c.name)),
                    },
                    // Unreachable data is no judgement: report an error, never a pass or a fail.
                    Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Denied) => return Err(e),
                    Err(e) => failures.push(format!("{} on {unit}: query failed: {}", c.name, e.message)),
                }
            }
        }
        let total = check.units.len();
        let mut verdict = if failures.is_empty() {
            Verdict::pass(format!("{} checks passed on {total} databases", config.checks.len()))
        } else {
            Verdict::fail(failures.join("; "))
        };
        for (c, n) in config.checks.iter().zip(passed) {
            verdict = verdict.measure(format!("{}.passed", c.name), n as f64, "databases");
        }
        Ok(verdict.measure("databases", total as f64, ""))
    }
}

upshift_sdk::export_verifier!(SqlChecks);

#[cfg(test)]
mod tests {
    use super::*;
    use upshift_sdk::sql::Value;

    fn check(expect: Option<&str>, min: Option<f64>, max: Option<f64>) -> SqlCheck {
        SqlCheck { name: "c".into(), query: "SELECT 1".into(), expect: expect.map(String::from), min, max }
    }

    #[test]
    fn expected_text_must_match() {
        assert_eq!(judge(&check(Some("ok"), None, None), Some(&Value::Text("ok".into()))), None);
        let why = judge(&check(Some("ok"), None, None), Some(&Value::Text("row 3 missing".into()))).unwrap();
        assert!(why.contains("row 3 missing"), "{why}");
    }

    #[test]
    fn bounds_apply_to_numbers() {
        assert_eq!(judge(&check(None, Some(1.0), Some(10.0)), Some(&Value::Integer(5))), None);
        assert!(judge(&check(None, Some(1.0), None), Some(&Value::Integer(0))).is_some());
        assert!(judge(&check(None, None, Some(1.0)), Some(&Value::Text("x".into()))).is_some());
    }

    #[test]
    fn a_check_without_expectations_only_needs_the_query_to_succeed() {
        assert_eq!(judge(&check(None, None, None), None), None);
    }
}
upshift_sdk::capabilities!(sql);
