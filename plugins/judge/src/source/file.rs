//! Samples from a replay file in a granted folder: JSON (what `record` writes) or CSV.
//!
//! JSON: `{"<metric>": {"baseline": [...], "canary": [...]}, ...}`, each value a number, `null`
//! (NaN) or one of the strings "NaN", "+Inf", "-Inf". CSV: a header `metric,series,value`, then one
//! sample a row, `series` being `baseline` or `canary`, an empty value NaN; fields may be
//! double-quoted. A metric the file does not hold has no samples.

use std::io::Read;

use upshift_sdk::PluginError;
use upshift_sdk::serde_json::Value;

use super::Samples;
use super::prometheus::parse_sample;
use crate::config::{MAX_SAMPLES_PER_SERIES, Metric};

/// Largest replay file read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Every metric's samples from the file at `path` (as the plugin sees it).
pub fn read(path: &str, metrics: &[Metric]) -> Result<Vec<Samples>, PluginError> {
    let text = read_text(path)?;
    let mut table: Vec<(String, Samples)> = if path.ends_with(".csv") || !text.trim_start().starts_with('{') {
        parse_csv(&text).map_err(|e| invalid(path, e))?
    } else {
        parse_json(&text).map_err(|e| invalid(path, e))?
    };
    for (name, s) in &table {
        if s.baseline.len() > MAX_SAMPLES_PER_SERIES as usize || s.canary.len() > MAX_SAMPLES_PER_SERIES as usize {
            return Err(invalid(
                path,
                format!("metric {name:?} holds more than {MAX_SAMPLES_PER_SERIES} samples a series"),
            ));
        }
    }
    Ok(metrics
        .iter()
        .map(|m| table.iter_mut().find(|(n, _)| *n == m.name).map(|(_, s)| std::mem::take(s)).unwrap_or_default())
        .collect())
}

fn invalid(path: &str, why: String) -> PluginError {
    PluginError::invalid_config(format!("judge: file {path}: {why}"))
}

fn read_text(path: &str) -> Result<String, PluginError> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::invalid_config(format!(
            "judge: file {path} not found (the path is the one the plugin sees: a folder granted in grants.files)"
        )),
        std::io::ErrorKind::PermissionDenied => PluginError::denied(format!("judge: file {path}: {e}")),
        _ => PluginError::unavailable(format!("judge: file {path}: {e}")),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| PluginError::unavailable(format!("judge: file {path}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(invalid(path, format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| invalid(path, "not UTF-8 text".into()))
}

/// The JSON replay format.
pub fn parse_json(text: &str) -> Result<Vec<(String, Samples)>, String> {
    let json: Value = upshift_sdk::serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let object = json.as_object().ok_or("the JSON must be an object of metrics")?;
    let mut out = Vec::new();
    for (name, entry) in object {
        let entry = entry
            .as_object()
            .ok_or_else(|| format!("metric {name:?} must be {{\"baseline\": [...], \"canary\": [...]}}"))?;
        if let Some(key) = entry.keys().find(|k| *k != "baseline" && *k != "canary") {
            return Err(format!("metric {name:?}: unknown key {key:?} (baseline and canary only)"));
        }
        let series = |key: &str| -> Result<Vec<f64>, String> {
            let Some(values) = entry.get(key) else { return Ok(Vec::new()) };
            let values = values.as_array().ok_or_else(|| format!("metric {name:?}: {key} must be an array"))?;
            values
                .iter()
                .map(|v| json_sample(v).ok_or_else(|| format!("metric {name:?}: {key} holds {v}, not a sample")))
                .collect()
        };
        out.push((name.clone(), Samples { baseline: series("baseline")?, canary: series("canary")? }));
    }
    Ok(out)
}

fn json_sample(v: &Value) -> Option<f64> {
    match v {
        Value::Null => Some(f64::NAN),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_sample(s),
        _ => None,
    }
}

/// The CSV replay format.
pub fn parse_csv(text: &str) -> Result<Vec<(String, Samples)>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("the file is empty")?;
    let header: Vec<String> =
        fields(header).map_err(|e| format!("line 1: {e}"))?.iter().map(|f| f.trim().to_lowercase()).collect();
    if header != ["metric", "series", "value"] {
        return Err(format!("line 1 must be the header metric,series,value, not {}", header.join(",")));
    }
    let mut out: Vec<(String, Samples)> = Vec::new();
    for (index, line) in lines {
        let at = |why: String| format!("line {}: {why}", index + 1);
        let row = fields(line).map_err(at)?;
        let [metric, series, value] =
            <[String; 3]>::try_from(row).map_err(|r| at(format!("{} fields, not 3", r.len())))?;
        let value = if value.trim().is_empty() {
            f64::NAN
        } else {
            parse_sample(&value).ok_or_else(|| at(format!("{value:?} is not a number")))?
        };
        let position = match out.iter().position(|(n, _)| *n == metric) {
            Some(p) => p,
            None => {
                out.push((metric, Samples::default()));
                out.len() - 1
            }
        };
        let samples = &mut out[position].1;
        match series.trim() {
            "baseline" => samples.baseline.push(value),
            "canary" => samples.canary.push(value),
            other => return Err(at(format!("series {other:?} is neither baseline nor canary"))),
        }
    }
    Ok(out)
}

/// The fields of one CSV line; a field in double quotes may hold commas and "" for a quote.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err("text after a closing quote".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        out.push(field);
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_holds_numbers_nulls_and_words() {
        let t = parse_json(
            r#"{"latency": {"baseline": [1, null, "NaN", "+Inf"], "canary": [2.5]}, "errors": {"canary": []}}"#,
        )
        .unwrap();
        let find = |name: &str| &t.iter().find(|(n, _)| n == name).unwrap().1;
        let s = find("latency");
        assert!(
            s.baseline[0] == 1.0 && s.baseline[1].is_nan() && s.baseline[2].is_nan() && s.baseline[3] == f64::INFINITY
        );
        assert_eq!(s.canary, vec![2.5]);
        assert_eq!(*find("errors"), Samples::default());
        assert!(parse_json(r#"{"a": {"base": []}}"#).unwrap_err().contains("unknown key"));
        assert!(parse_json(r#"{"a": {"baseline": [true]}}"#).unwrap_err().contains("not a sample"));
    }

    #[test]
    fn csv_rows_are_samples() {
        let t = parse_csv("metric,series,value\r\nlatency,baseline,0.5\n\"err, 5xx\",canary,\nlatency,canary,NaN\n")
            .unwrap();
        assert_eq!(t[0].0, "latency");
        assert_eq!(t[0].1.baseline, vec![0.5]);
        assert!(t[0].1.canary[0].is_nan());
        assert_eq!(t[1].0, "err, 5xx");
        assert!(t[1].1.canary[0].is_nan(), "an empty value is NaN");
    }

    #[test]
    fn bad_csv_names_the_line() {
        assert!(parse_csv("a,b\n").unwrap_err().contains("header"));
        assert!(parse_csv("metric,series,value\nx,control,1\n").unwrap_err().starts_with("line 2"));
        assert!(parse_csv("metric,series,value\nx,canary\n").unwrap_err().contains("2 fields"));
        assert!(parse_csv("metric,series,value\nx,canary,abc\n").unwrap_err().contains("not a number"));
        assert!(parse_csv("metric,series,value\n\"x,canary,1\n").unwrap_err().contains("not closed"));
    }
}
