//! The `meta.k8s.io/v1` Table format `kubectl get` asks for, with printer columns.

use serde_json::{Value, json};

use crate::registry::ResourceType;

/// Evaluates the small JSONPath subset printer columns use:
/// `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.type=="Ready")].status`.
pub(crate) fn json_path(obj: &Value, path: &str) -> Vec<Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('$');
    let mut current = vec![obj.clone()];
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            current = current.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { return vec![] };
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                current = current.iter().flat_map(|v| v.as_array().cloned().unwrap_or_default()).collect();
            } else if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, want) = filter.split_once("==").unwrap_or((filter, ""));
                let want = want.trim().trim_matches(['"', '\'']);
                let key = key.trim();
                current = current
                    .iter()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .filter(|item| match &item[key] {
                        Value::String(s) => s == want,
                        Value::Null => false,
                        other => other.to_string() == want,
                    })
                    .collect();
            } else if let Ok(i) = inner.parse::<usize>() {
                current = current.iter().filter_map(|v| v.get(i).cloned()).collect();
            } else {
                let key = inner.trim_matches(['"', '\'']);
                current = current.iter().filter_map(|v| v.get(key).cloned()).collect();
            }
        } else {
            return vec![];
        }
    }
    current
}

/// Formats a duration as kubectl does (`5s`, `3m20s`, `4h`, `2d`).
pub(crate) fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s}s")
    } else if s < 600 {
        format!("{}m{}s", s / 60, s % 60)
    } else if s < 3 * 3600 {
        format!("{}m", s / 60)
    } else if s < 8 * 3600 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 { format!("{h}h") } else { format!("{h}h{m}m") }
    } else if s < 48 * 3600 {
        format!("{}h", s / 3600)
    } else if s < 8 * 86400 {
        let (d, h) = (s / 86400, (s % 86400) / 3600);
        if h == 0 { format!("{d}d") } else { format!("{d}d{h}h") }
    } else if s < 730 * 86400 {
        format!("{}d", s / 86400)
    } else {
        format!("{}y", s / (365 * 86400))
    }
}

fn cell(column_type: &str, values: Vec<Value>) -> Value {
    let Some(first) = values.into_iter().next() else { return Value::Null };
    if column_type == "date"
        && let Some(ts) = first.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok())
    {
        return json!(human_duration(jiff::Timestamp::now().as_second() - ts.as_second()));
    }
    match (column_type, first) {
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Null) => Value::Null,
        ("string", other) => json!(other.to_string()),
        (_, v) => v,
    }
}

/// Renders objects as a Table with the type's columns for `version`.
pub(crate) fn to_table(rt: &ResourceType, version: &str, objects: &[Value], resource_version: &str, include_object: &str) -> Value {
    let columns = rt.columns_for(version);
    let mut defs = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0})];
    for c in &columns {
        defs.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            for c in &columns {
                cells.push(cell(&c.type_, json_path(o, &c.json_path)));
            }
            let object = match include_object {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_filters_conditions_by_type() {
        let o = json!({"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(json_path(&o, r#".status.conditions[?(@.type=="Ready")].status"#), vec![json!("True")]);
        assert_eq!(json_path(&o, ".status.conditions[0].type"), vec![json!("A")]);
        assert!(json_path(&o, ".spec.missing").is_empty());
    }

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(3 * 86400), "3d");
    }
}
