//! `record`: each verification's samples written into a granted writable folder, in the JSON
//! format `file` replays, so an incident's data can be judged again offline (another config,
//! another threshold) exactly as this verification saw it.

use upshift_sdk::Check;
use upshift_sdk::serde_json::{Map, Number, Value};

use crate::config::Metric;
use crate::source::Samples;

/// Writes the samples to `<dir>/<rollout>-<stage index>-<stage>-<attempt>.json`; the path, or why not.
pub fn write(dir: &str, check: &Check, metrics: &[Metric], samples: &[Samples]) -> Result<String, String> {
    let name = format!("{}-{}-{}-{}.json", check.rollout_id, check.stage_index, check.stage_name, check.attempt);
    let path = format!("{}/{}", dir.trim_end_matches('/'), safe(&name));
    let text = upshift_sdk::serde_json::to_string(&document(metrics, samples)).map_err(|e| e.to_string())?;
    std::fs::write(&path, text)
        .map_err(|e| format!("cannot write {path}: {e} (grant the folder with write = true)"))?;
    Ok(path)
}

/// `{"<metric>": {"baseline": [...], "canary": [...]}}`, NaN as null, infinities as "+Inf"/"-Inf".
pub fn document(metrics: &[Metric], samples: &[Samples]) -> Value {
    let series = |values: &[f64]| Value::Array(values.iter().map(|v| sample(*v)).collect());
    let mut out = Map::new();
    for (m, s) in metrics.iter().zip(samples) {
        let mut entry = Map::new();
        entry.insert("baseline".into(), series(&s.baseline));
        entry.insert("canary".into(), series(&s.canary));
        out.insert(m.name.clone(), Value::Object(entry));
    }
    Value::Object(out)
}

fn sample(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::Null,
        None if v > 0.0 => Value::String("+Inf".into()),
        None => Value::String("-Inf".into()),
    }
}

/// A file name of letters, digits, `.`, `-` and `_` only (stage names are free text).
fn safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::file::parse_json;

    #[test]
    fn a_recording_replays_to_the_same_samples() {
        let metrics: Vec<Metric> = upshift_sdk::parse_config::<crate::config::Config>(
            r#"{"file": "/x.json", "metrics": [{"name": "latency"}, {"name": "errors"}]}"#,
        )
        .unwrap()
        .metrics;
        let samples = vec![
            Samples { baseline: vec![1.0, f64::NAN], canary: vec![f64::INFINITY, 0.25] },
            Samples { baseline: vec![], canary: vec![f64::NEG_INFINITY] },
        ];
        let text = document(&metrics, &samples).to_string();
        let back = parse_json(&text).unwrap();
        let latency = &back.iter().find(|(n, _)| n == "latency").unwrap().1;
        assert!(latency.baseline[0] == 1.0 && latency.baseline[1].is_nan());
        assert_eq!(latency.canary, vec![f64::INFINITY, 0.25]);
        let errors = &back.iter().find(|(n, _)| n == "errors").unwrap().1;
        assert_eq!(errors.canary, vec![f64::NEG_INFINITY]);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(safe("web-3-1-canary 10%/x-2.json"), "web-3-1-canary_10__x-2.json");
    }
}
