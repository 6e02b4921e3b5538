//! Drift is judged on the fields azop owns: those in the desired body. ARM adds read-only
//! fields (provisioningState, ids, systemData, defaults) and people add tags; none of that is
//! drift. A field azop sets that differs, or is missing, is.

use serde_json::Value;

/// Whether `actual` still holds everything `desired` sets.
pub fn in_sync(desired: &Value, actual: &Value) -> bool {
    subset(desired, actual, "")
}

fn subset(desired: &Value, actual: &Value, key: &str) -> bool {
    match (desired, actual) {
        (Value::Object(d), Value::Object(a)) => d.iter().all(|(k, dv)| match a.get(k) {
            Some(av) => subset(dv, av, k),
            // A null or empty value azop sets is satisfied by ARM leaving the field out.
            None => is_empty(dv),
        }),
        (Value::Array(d), Value::Array(a)) => {
            d.len() == a.len() && d.iter().zip(a).all(|(dv, av)| subset(dv, av, key))
        }
        (Value::String(d), Value::String(a)) if case_insensitive(key) => d.eq_ignore_ascii_case(a),
        (d, a) => d == a || (is_empty(d) && is_empty(a)),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// ARM compares ids and locations case-insensitively and sometimes answers in another case
/// (`/resourcegroups/`, `WestEurope`).
fn case_insensitive(key: &str) -> bool {
    key == "location" || key == "id" || key.ends_with("Id") || key.ends_with("ID")
}

/// A JSON merge patch (RFC 7386) turning `old` into `new`: changed keys, and `null` for removed
/// ones. Lists are replaced whole, as merge patches do.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if ov == nv => {}
                    Some(ov) if ov.is_object() && nv.is_object() => {
                        patch.insert(k.clone(), merge_patch(ov, nv));
                    }
                    _ => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        (_, n) => n.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn read_only_fields_and_extra_tags_are_not_drift() {
        let desired =
            json!({"location": "westeurope", "tags": {"azop.dev/owner": "c/ns/ResourceGroup/rg"}});
        let actual = json!({"id": "/subscriptions/s/resourceGroups/rg", "location": "WestEurope",
            "tags": {"azop.dev/owner": "c/ns/ResourceGroup/rg", "added-by": "a person"},
            "properties": {"provisioningState": "Succeeded"}});
        assert!(in_sync(&desired, &actual));
    }

    #[test]
    fn a_changed_or_removed_owned_field_is_drift() {
        let desired = json!({"location": "westeurope", "tags": {"env": "prod"}});
        assert!(!in_sync(
            &desired,
            &json!({"location": "westeurope", "tags": {"env": "dev"}})
        ));
        assert!(!in_sync(
            &desired,
            &json!({"location": "westeurope", "tags": {}})
        ));
    }

    #[test]
    fn merge_patch_nulls_removed_keys_and_keeps_unchanged_ones_out() {
        let old = json!({"a": 1, "b": {"c": 1, "d": 2}, "e": [1]});
        let new = json!({"a": 1, "b": {"c": 2}, "e": [1, 2]});
        assert_eq!(
            merge_patch(&old, &new),
            json!({"b": {"c": 2, "d": null}, "e": [1, 2]})
        );
    }
}
