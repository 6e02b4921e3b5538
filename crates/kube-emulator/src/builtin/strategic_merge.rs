//! Strategic merge patches (`application/strategic-merge-patch+json`) on built-in kinds, as
//! apimachinery's `strategicpatch` applies them: maps merge, a list with a merge key (a
//! Deployment's containers by name, their env by name and ports by containerPort) merges its
//! items by that key, other lists are replaced; and the directives `$patch` (`replace`,
//! `delete`), `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
//!
//! kubectl sends these for built-in kinds: a client-side `apply` to an existing object,
//! `set image`, `rollout restart`, `label`. A merge patch in their place would replace a
//! Deployment's whole container list with the one changed field.
//!
//! The merge keys are the Go types' `patchMergeKey` tags (k8s-openapi's schemas do not carry
//! them), by definition and property.

use serde_json::{Map, Value};

use super::schemas::Catalog;

/// `(definition, list, merge key)`: the lists whose items merge by a key. A key of `""` is a
/// list of scalars that merges as a set (`finalizers`).
const MERGE_KEYS: &[(&str, &str, &str)] = &[
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        "",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
    ),
    ("io.k8s.api.core.v1.PodSpec", "containers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "name"),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "name"),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "ip"),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "topologyKey",
    ),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", "name"),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", "name"),
    ("io.k8s.api.core.v1.Container", "ports", "containerPort"),
    ("io.k8s.api.core.v1.Container", "env", "name"),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "mountPath"),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "devicePath",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "containerPort",
    ),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", "name"),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "mountPath",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "devicePath",
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "port"),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", "name"),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "type"),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", "type"),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "type"),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        "type",
    ),
];

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

fn merge_key(definition: Option<&str>, list: &str) -> Option<&'static str> {
    let definition = definition?;
    MERGE_KEYS
        .iter()
        .find(|(d, l, _)| *d == definition && *l == list)
        .map(|(_, _, k)| *k)
}

/// A patch's value without its directives, for a field the target does not have yet.
fn without_directives(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| i.get(PATCH).and_then(Value::as_str) != Some("delete"))
                .map(without_directives)
                .collect(),
        ),
        v => v.clone(),
    }
}

/// Applies `patch` to `target`, an object of the kind whose definition is `definition`.
pub fn apply(catalog: &Catalog, definition: &str, target: &mut Value, patch: &Value) {
    merge_map(catalog, Some(definition), target, patch);
}

fn merge_map(catalog: &Catalog, definition: Option<&str>, target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = without_directives(patch);
        return;
    };
    match patch.get(PATCH).and_then(Value::as_str) {
        Some("replace") => {
            *target = without_directives(&Value::Object(patch.clone()));
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    if let Some(Value::Array(keep)) = patch.get(RETAIN_KEYS) {
        fields.retain(|k, _| keep.iter().any(|kept| kept.as_str() == Some(k)));
    }
    for (k, v) in patch {
        if let Some(list) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            if let (Some(Value::Array(items)), Value::Array(doomed)) = (fields.get_mut(list), v) {
                items.retain(|i| !doomed.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            fields.remove(k);
            continue;
        }
        let below = definition.and_then(|d| catalog.property_definition(d, k));
        match (fields.get_mut(k), v) {
            (Some(current @ Value::Object(_)), Value::Object(_)) => {
                merge_map(catalog, below, current, v)
            }
            (Some(Value::Array(current)), Value::Array(items)) => {
                let order = patch.get(&format!("{SET_ELEMENT_ORDER}{k}"));
                match merge_key(definition, k) {
                    Some("") => merge_set(current, items),
                    Some(key) => merge_list(catalog, below, current, items, key, order),
                    None => *current = items.iter().map(without_directives).collect(),
                }
            }
            _ => {
                fields.insert(k.clone(), without_directives(v));
            }
        }
    }
}

/// A list of scalars merged as a set (new values appended).
fn merge_set(current: &mut Vec<Value>, items: &[Value]) {
    for item in items {
        if !current.contains(item) {
            current.push(item.clone());
        }
    }
}

/// A list of objects merged by `key`: an item naming a key the list has merges into that
/// item, a new key is appended, `$patch: delete` removes it, `$patch: replace` replaces the
/// list; then `$setElementOrder` orders the items it names.
fn merge_list(
    catalog: &Catalog,
    definition: Option<&str>,
    current: &mut Vec<Value>,
    items: &[Value],
    key: &str,
    order: Option<&Value>,
) {
    if items
        .iter()
        .any(|i| i.get(PATCH).and_then(Value::as_str) == Some("replace"))
    {
        *current = items
            .iter()
            .filter(|i| i.get(PATCH).is_none())
            .map(without_directives)
            .collect();
        return;
    }
    for item in items {
        let id = item.get(key);
        let at = current
            .iter()
            .position(|c| c.get(key) == id && id.is_some());
        match (item.get(PATCH).and_then(Value::as_str), at) {
            (Some("delete"), Some(at)) => {
                current.remove(at);
            }
            (Some("delete"), None) => {}
            (_, Some(at)) => merge_map(catalog, definition, &mut current[at], item),
            (_, None) => current.push(without_directives(item)),
        }
    }
    if let Some(Value::Array(order)) = order {
        let rank = |item: &Value| {
            order
                .iter()
                .position(|o| o.get(key) == item.get(key))
                .unwrap_or(order.len())
        };
        current.sort_by_key(rank);
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog;
    use super::*;
    use serde_json::json;

    fn patched(target: Value, patch: Value) -> Value {
        let mut target = target;
        apply(
            catalog(),
            "io.k8s.api.apps.v1.Deployment",
            &mut target,
            &patch,
        );
        target
    }

    #[test]
    fn set_image_changes_one_container_and_keeps_the_rest() {
        let deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "args": ["run"], "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "proxy:1"}]}}}});
        let after = patched(
            deployment,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}),
        );
        let containers = &after["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "app:2");
        assert_eq!(containers[0]["args"], json!(["run"]));
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["image"], "proxy:1");
    }

    #[test]
    fn apply_deletes_items_and_orders_the_list_as_told() {
        let deployment = json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}});
        let after = patched(
            deployment,
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "init"}, {"name": "app"}],
                "containers": [
                    {"name": "app", "$setElementOrder/env": [{"name": "A"}],
                        "env": [{"$patch": "delete", "name": "B"}]},
                    {"name": "init", "image": "init:1"}]}}}}),
        );
        let containers = &after["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["name"], "init");
        assert_eq!(containers[1]["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(after["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced_and_retain_keys_drops_the_rest() {
        let deployment = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "app", "args": ["a", "b"]}]}}}});
        let after = patched(
            deployment,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null},
                "template": {"spec": {"containers": [{"name": "app", "args": ["c"]}]}}}}),
        );
        assert_eq!(after["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            after["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["c"])
        );
    }
}
