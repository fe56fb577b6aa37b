//! Reading the JSON Schema a plugin gives for its config (`config-schema`, contract 0.2.0) into the
//! fields `upshift plugin inspect` lists: name, type, required or default, description.
//!
//! The schema is the plugin's text, so it is untrusted: it is parsed within the answer-size bound
//! every call has, `$ref`s are followed only inside the schema (`#/$defs/...`) and only
//! [`MAX_REF_DEPTH`] deep, the whole reading visits at most [`MAX_SCHEMA_STEPS`] schema nodes (a
//! `$ref` fanned out at every level cannot make it exponential), and a schema this reader does not
//! understand yields fewer details, never an error that hides the plugin.

use serde::Serialize;
use serde_json::Value;

/// How many `$ref`s are followed to name one field's type.
pub const MAX_REF_DEPTH: usize = 8;

/// How many schema nodes one reading visits, in all; past it, types read `any` and no more fields
/// are listed.
pub const MAX_SCHEMA_STEPS: usize = 10_000;

/// How many values of an `enum` a type names before `...`.
pub const MAX_ENUM_VALUES: usize = 20;

/// One top-level field of a plugin's config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigField {
    pub name: String,
    /// As a spec author writes it: `string`, `integer`, `number`, `boolean`, `list of T`, `table`,
    /// `one of "a", "b"`, or `any`.
    #[serde(rename = "type")]
    pub ty: String,
    pub required: bool,
    /// The default as JSON text, when the schema gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// What a config schema says: its fields, and whether fields not listed are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConfigFields {
    pub fields: Vec<ConfigField>,
    /// `additionalProperties: false`: a field not listed (a typo) is an error.
    pub closed: bool,
}

/// Reads the fields of a config schema; `Err` says why the text is not a schema this reader knows.
/// The fields of a nested table are listed after it, named by path: `steps[].weight`, `tls.cert`.
pub fn fields(schema: &str) -> Result<ConfigFields, String> {
    let root: Value = serde_json::from_str(schema).map_err(|e| format!("the config schema is not JSON: {e}"))?;
    let mut fields = Vec::new();
    let mut steps = MAX_SCHEMA_STEPS;
    collect(&root, &root, "", 0, &mut steps, &mut fields);
    Ok(ConfigFields { fields, closed: closed(&root) })
}

/// Adds the fields of the object schema `table` to `out`, each named `prefix` + its name.
fn collect(root: &Value, table: &Value, prefix: &str, depth: usize, steps: &mut usize, out: &mut Vec<ConfigField>) {
    // A config with no fields (`NoConfig`) has an object schema without properties.
    let Some(properties) = table.get("properties").and_then(Value::as_object) else { return };
    if depth >= MAX_REF_DEPTH {
        return;
    }
    let required: Vec<&str> =
        table.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, field) in properties {
        if !step(steps) {
            return;
        }
        let field = resolve(root, field, 0);
        let path = format!("{prefix}{name}");
        let description = field.get("description").and_then(Value::as_str).unwrap_or_default();
        out.push(ConfigField {
            name: path.clone(),
            ty: type_name(root, field, 0, steps),
            required: required.contains(&name.as_str()),
            // `Option<T>` fields default to null: "optional" says the same.
            default: field.get("default").filter(|d| !d.is_null()).map(Value::to_string),
            description: description.split_whitespace().collect::<Vec<_>>().join(" "),
        });
        let items = field.get("items").map(|i| resolve(root, i, 0));
        match (field.get("properties"), items) {
            (Some(_), _) => collect(root, field, &format!("{path}."), depth + 1, steps, out),
            (None, Some(items)) => collect(root, items, &format!("{path}[]."), depth + 1, steps, out),
            _ => {}
        }
    }
}

/// Takes one step of the reading's budget; `false` once it is spent.
fn step(steps: &mut usize) -> bool {
    if *steps == 0 {
        return false;
    }
    *steps -= 1;
    true
}

fn closed(schema: &Value) -> bool {
    schema.get("additionalProperties") == Some(&Value::Bool(false))
}

/// Follows a local `$ref` (`#/$defs/Name`), keeping the referring schema's own description and
/// default when the target has none.
fn resolve<'a>(root: &'a Value, schema: &'a Value, depth: usize) -> &'a Value {
    let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { return schema };
    if depth >= MAX_REF_DEPTH {
        return schema;
    }
    let Some(path) = reference.strip_prefix('#') else { return schema };
    match root.pointer(path) {
        Some(target) if schema.get("description").is_none() && schema.get("default").is_none() => {
            resolve(root, target, depth + 1)
        }
        _ => schema,
    }
}

/// A field's type in a spec author's words.
fn type_name(root: &Value, schema: &Value, depth: usize, steps: &mut usize) -> String {
    if depth >= MAX_REF_DEPTH || !step(steps) {
        return "any".into();
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return match reference.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(target) => type_name(root, target, depth + 1, steps),
            None => "any".into(),
        };
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let mut names: Vec<String> = values.iter().take(MAX_ENUM_VALUES).map(Value::to_string).collect();
        if values.len() > MAX_ENUM_VALUES {
            names.push("...".into());
        }
        return format!("one of {}", names.join(", "));
    }
    if let Some(value) = schema.get("const") {
        return value.to_string();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let mut names: Vec<String> = options.iter().map(|o| type_name(root, o, depth + 1, steps)).collect();
            names.dedup();
            return names.join(" or ");
        }
    }
    let mut one = |ty: &str| match ty {
        "array" => match schema.get("items") {
            Some(items) => format!("list of {}", type_name(root, items, depth + 1, steps)),
            None => "list".into(),
        },
        "object" => "table".into(),
        "null" => "null".into(),
        other => other.to_string(),
    };
    match schema.get("type") {
        Some(Value::String(ty)) => one(ty),
        // `Option<T>` is `["T", "null"]`: the field may be left out.
        Some(Value::Array(types)) => {
            let names: Vec<String> = types.iter().filter_map(Value::as_str).filter(|t| *t != "null").map(one).collect();
            if names.is_empty() { "null".into() } else { names.join(" or ") }
        }
        _ => "any".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape schemars gives a struct with a doc comment, a default, an option, a list, an enum.
    const SCHEMA: &str = r##"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Config",
        "type": "object",
        "properties": {
            "max_error_rate": { "description": "Errors per request above which the stage fails.", "type": "number" },
            "steps": { "type": "array", "items": { "type": "integer", "format": "uint8" }, "default": [5, 25] },
            "query": { "type": ["string", "null"] },
            "mode": { "$ref": "#/$defs/Mode" }
        },
        "required": ["max_error_rate"],
        "additionalProperties": false,
        "$defs": { "Mode": { "type": "string", "enum": ["fast", "safe"], "description": "How." } }
    }"##;

    #[test]
    fn lists_fields_with_types_defaults_and_descriptions() {
        let read = fields(SCHEMA).unwrap();
        assert!(read.closed);
        let field = |n: &str| read.fields.iter().find(|f| f.name == n).unwrap().clone();
        let rate = field("max_error_rate");
        assert_eq!((rate.ty.as_str(), rate.required), ("number", true));
        assert_eq!(rate.description, "Errors per request above which the stage fails.");
        let steps = field("steps");
        assert_eq!(
            (steps.ty.as_str(), steps.required, steps.default.as_deref()),
            ("list of integer", false, Some("[5,25]"))
        );
        assert_eq!(field("query").ty, "string");
        let mode = field("mode");
        assert_eq!((mode.ty.as_str(), mode.description.as_str()), (r#"one of "fast", "safe""#, "How."));
    }

    #[test]
    fn fields_of_nested_tables_are_named_by_path() {
        let nested = r##"{"properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
            "$defs": {"Step": {"type": "object", "properties": {"weight": {"type": "integer"}}, "required": ["weight"]}}}"##;
        let read = fields(nested).unwrap();
        let names: Vec<(&str, &str, bool)> =
            read.fields.iter().map(|f| (f.name.as_str(), f.ty.as_str(), f.required)).collect();
        assert_eq!(names, [("steps", "list of table", false), ("steps[].weight", "integer", true)]);
    }

    #[test]
    fn an_optional_field_has_no_default_and_a_description_is_one_line() {
        let schema = r#"{"properties": {"q": {"type": ["string", "null"], "default": null, "description": "a\n  b"}}}"#;
        let read = fields(schema).unwrap();
        assert_eq!((read.fields[0].default.as_deref(), read.fields[0].description.as_str()), (None, "a b"));
    }

    #[test]
    fn a_config_without_fields_and_text_that_is_not_a_schema() {
        let none = fields(r#"{"type": "object", "additionalProperties": false}"#).unwrap();
        assert!(none.fields.is_empty() && none.closed);
        assert!(fields("not json").unwrap_err().contains("not JSON"));
    }

    /// A hostile schema: every level refers to the next one 50 times, 8 levels deep (50^8 paths),
    /// in a few kilobytes. The reading stops at its step budget instead of walking every path.
    #[test]
    fn a_schema_that_fans_out_at_every_level_is_read_within_the_step_budget() {
        let mut defs = serde_json::Map::new();
        for level in 0..8 {
            let next = serde_json::json!({ "$ref": format!("#/$defs/L{}", level + 1) });
            let options: Vec<Value> = (0..50).map(|_| next.clone()).collect();
            let props: serde_json::Map<String, Value> = (0..50).map(|i| (format!("f{i}"), next.clone())).collect();
            defs.insert(format!("L{level}"), serde_json::json!({ "oneOf": options, "properties": props }));
        }
        defs.insert("L8".into(), serde_json::json!({ "type": "string" }));
        let schema = serde_json::json!({ "properties": { "root": { "$ref": "#/$defs/L0" } }, "$defs": defs });
        let text = schema.to_string();
        assert!(text.len() < 64 * 1024, "{}", text.len());
        let started = std::time::Instant::now();
        let read = fields(&text).unwrap();
        assert!(read.fields.len() <= MAX_SCHEMA_STEPS, "{}", read.fields.len());
        assert!(!read.fields.is_empty());
        // Not a timing test: a generous bound that only an exponential walk could exceed.
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }

    #[test]
    fn a_long_enum_is_named_by_its_first_values() {
        let values: Vec<Value> = (0..1000).map(Value::from).collect();
        let schema = serde_json::json!({ "properties": { "x": { "enum": values } } }).to_string();
        let ty = &fields(&schema).unwrap().fields[0].ty;
        assert!(ty.ends_with(", ...") && ty.matches(", ").count() == MAX_ENUM_VALUES, "{ty}");
    }

    #[test]
    fn a_ref_cycle_is_followed_only_so_deep() {
        let cycle = r##"{"properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"$ref": "#/$defs/A"}}}"##;
        let read = fields(cycle).unwrap();
        assert_eq!(read.fields[0].ty, "any");
        let outside = r#"{"properties": {"a": {"$ref": "https://example.com/x.json"}}}"#;
        assert_eq!(fields(outside).unwrap().fields[0].ty, "any");
    }
}
