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
            // A null, empty or off value azop sets is satisfied by ARM leaving the field out.
            None => is_unset(dv),
        }),
        (Value::Array(d), Value::Array(a)) => {
            d.len() == a.len() && d.iter().zip(a).all(|(dv, av)| subset(dv, av, key))
        }
        (Value::String(d), Value::String(a)) if case_insensitive(key) || is_arm_id(d) => {
            d.eq_ignore_ascii_case(a)
        }
        (d, a) => d == a || (is_unset(d) && is_unset(a)),
    }
}

/// What ARM answers for a feature that is off: null, empty, `false`, or an object of nothing
/// but those. AKS answers `"disableLocalAccounts": null` and `"securityProfile": {}` for a
/// cluster sent `false` for both (recorded), so `false` against null or a missing field is not
/// a difference; `true` against either still is.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_unset),
        _ => false,
    }
}

/// A resource id wherever it stands (AKS's `privateDNSZone` is one, and comes back in
/// another case).
fn is_arm_id(v: &str) -> bool {
    v.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
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
    fn a_feature_left_off_matches_what_arm_answers_for_it() {
        // Sent for a cluster without workload identity, with local accounts on; answered as
        // AKS answers (recorded).
        let desired = json!({"properties": {"disableLocalAccounts": false,
            "securityProfile": {"workloadIdentity": {"enabled": false}}}});
        let actual = json!({"properties": {"disableLocalAccounts": null, "securityProfile": {}}});
        assert!(in_sync(&desired, &actual));
        assert!(in_sync(&desired, &json!({"properties": {}})));
        // Switched on, it must be on in Azure.
        let on = json!({"properties": {"disableLocalAccounts": true,
            "securityProfile": {"workloadIdentity": {"enabled": true}}}});
        assert!(!in_sync(&on, &actual));
        // And switched off, off in Azure.
        let was_on = json!({"properties": {"disableLocalAccounts": true,
            "securityProfile": {"workloadIdentity": {"enabled": true}}}});
        assert!(!in_sync(&desired, &was_on));
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
