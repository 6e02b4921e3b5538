//! Field ownership, as kube-apiserver keeps it in `metadata.managedFields`: every write records
//! which manager set which fields; a server-side apply that would change a field another
//! manager set is refused with a conflict (unless forced, which takes the field over), and the
//! fields an applier stops applying are removed when nobody else owns them.
//!
//! Simplified from structured-merge-diff: a field is its path of map keys, and lists are atomic
//! (owned whole), as `x-kubernetes-list-type: atomic` lists are.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

type Path = Vec<String>;

/// Metadata the server sets; no manager owns it.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Who writes, and through which endpoint.
pub struct Writer<'a> {
    /// The field manager (`fieldManager`, else the client's user-agent).
    pub manager: &'a str,
    /// `status` for writes through the status subresource.
    pub subresource: Option<&'a str>,
    /// The resource's `group/version`, recorded with each entry.
    pub api_version: &'a str,
    /// The write's time.
    pub now: &'a str,
}

/// An apply would change fields other managers own.
#[derive(Debug)]
pub struct Conflicts(pub Vec<(String, String)>);

impl Conflicts {
    /// kube-apiserver's wording, e.g. `Apply failed with 1 conflict: conflict with "kubectl-patch"
    /// using azop.dev/v1alpha1: .spec.location`.
    pub fn message(&self, api_version: &str) -> String {
        let n = self.0.len();
        let list: Vec<String> = self
            .0
            .iter()
            .map(|(manager, field)| {
                format!("conflict with \"{manager}\" using {api_version}: {field}")
            })
            .collect();
        if n == 1 {
            format!("Apply failed with 1 conflict: {}", list[0])
        } else {
            format!("Apply failed with {n} conflicts: {}", list.join("\n"))
        }
    }
}

struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: BTreeSet<Path>,
}

impl Entry {
    fn is(&self, writer: &Writer<'_>, operation: &str) -> bool {
        self.manager == writer.manager
            && self.operation == operation
            && self.subresource.as_deref() == writer.subresource
    }
}

fn leaves<'a>(value: &'a Value, path: &mut Path, out: &mut BTreeMap<Path, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone(), value);
        }
    }
}

/// The fields of an object a manager can own, with their values.
fn owned_fields(obj: &Value) -> BTreeMap<Path, &Value> {
    let mut out = BTreeMap::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        match (k.as_str(), v) {
            ("apiVersion" | "kind", _) => {}
            ("metadata", Value::Object(meta)) => {
                for (mk, mv) in meta {
                    if !SERVER_METADATA.contains(&mk.as_str()) {
                        leaves(mv, &mut vec!["metadata".into(), mk.clone()], &mut out);
                    }
                }
            }
            _ => leaves(v, &mut vec![k.clone()], &mut out),
        }
    }
    out
}

fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn encode(fields: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for seg in path {
            node = match node.entry(format!("f:{seg}")).or_insert_with(|| json!({})) {
                Value::Object(m) => m,
                _ => break,
            };
        }
    }
    Value::Object(root)
}

fn decode(value: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = value.as_object() else {
        return;
    };
    let mut leaf = true;
    for (k, v) in map {
        if let Some(seg) = k.strip_prefix("f:") {
            leaf = false;
            path.push(seg.to_string());
            decode(v, path, out);
            path.pop();
        }
    }
    if leaf && !path.is_empty() {
        out.insert(path.clone());
    }
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| {
            let s = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut fields = BTreeSet::new();
            decode(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                api_version: s("apiVersion"),
                time: s("time"),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(String::from),
                fields,
            }
        })
        .collect()
}

fn write_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": encode(&e.fields),
            });
            if let Some(s) = e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

fn entry_for<'e>(
    entries: &'e mut Vec<Entry>,
    writer: &Writer<'_>,
    operation: &str,
) -> &'e mut Entry {
    let at = match entries.iter().position(|e| e.is(writer, operation)) {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: writer.manager.to_string(),
                operation: operation.to_string(),
                api_version: writer.api_version.to_string(),
                time: writer.now.to_string(),
                subresource: writer.subresource.map(String::from),
                fields: BTreeSet::new(),
            });
            entries.len() - 1
        }
    };
    &mut entries[at]
}

/// After a create, update or non-apply patch: the writer takes the fields it changed from
/// whoever owned them (updates never conflict), and fields it removed are owned by nobody.
pub fn record_update(old: Option<&Value>, new: &mut Value, writer: &Writer<'_>) {
    let mut entries = old.map(read_entries).unwrap_or_default();
    let (changed, removed) = {
        let before = old.map(owned_fields).unwrap_or_default();
        let after = owned_fields(new);
        let changed: BTreeSet<Path> = after
            .iter()
            .filter(|(p, v)| before.get(*p) != Some(*v))
            .map(|(p, _)| p.clone())
            .collect();
        let removed: BTreeSet<Path> = before
            .keys()
            .filter(|p| !after.contains_key(*p))
            .cloned()
            .collect();
        (changed, removed)
    };
    if !changed.is_empty() || !removed.is_empty() {
        for e in entries.iter_mut() {
            e.fields
                .retain(|p| !changed.contains(p) && !removed.contains(p));
        }
        if !changed.is_empty() {
            let mine = entry_for(&mut entries, writer, "Update");
            mine.fields.extend(changed);
            mine.time = writer.now.to_string();
            mine.api_version = writer.api_version.to_string();
        }
    }
    write_entries(new, entries);
}

fn in_scope(path: &[String], writer: &Writer<'_>, status_subresource: bool) -> bool {
    let status = path.first().is_some_and(|k| k == "status");
    if writer.subresource == Some("status") {
        status
    } else {
        !(status_subresource && status)
    }
}

/// Removes `path` from `obj`, then the maps it leaves empty that the applied configuration
/// does not mention (never a top-level field).
fn remove_path(obj: &mut Value, path: &[String], applied: &BTreeMap<Path, &Value>) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    if let Some(Value::Object(m)) = value_at_mut(obj, parent) {
        m.remove(last);
    }
    for depth in (2..path.len()).rev() {
        let prefix = &path[..depth];
        let mentioned = applied.keys().any(|p| p.starts_with(prefix));
        let empty = matches!(value_at(obj, prefix), Some(Value::Object(m)) if m.is_empty());
        if mentioned || !empty {
            break;
        }
        if let Some(Value::Object(m)) = value_at_mut(obj, &prefix[..depth - 1]) {
            m.remove(&prefix[depth - 1]);
        }
    }
}

fn value_at_mut<'a>(obj: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(obj, |v, k| v.get_mut(k))
}

/// Server-side apply of `config` by `writer` to `current` (`None` when the object does not
/// exist yet): the merged object with its managedFields, or the conflicts when `force` is
/// false. Parts outside the endpoint's scope (status through the main resource of a type with
/// a status subresource, anything but status through `/status`) are not owned by the applier.
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    writer: &Writer<'_>,
    status_subresource: bool,
    force: bool,
) -> Result<Value, Conflicts> {
    let mut obj = current.cloned().unwrap_or_else(|| json!({"metadata": {}}));
    let mut entries = current.map(read_entries).unwrap_or_default();
    let mut config = config.clone();
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    let applied: BTreeMap<Path, &Value> = owned_fields(&config)
        .into_iter()
        .filter(|(p, _)| in_scope(p, writer, status_subresource))
        .collect();

    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.is(writer, "Apply")) {
        for p in e.fields.iter().filter(|p| applied.contains_key(*p)) {
            if value_at(&obj, p) != applied.get(p).copied() {
                conflicts.push((e.manager.clone(), format!(".{}", p.join("."))));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            conflicts.sort();
            conflicts.dedup();
            return Err(Conflicts(conflicts));
        }
        // Forced: the applier takes the fields over.
        for e in entries.iter_mut().filter(|e| !e.is(writer, "Apply")) {
            e.fields.retain(|p| {
                !applied.contains_key(p) || value_at(&obj, p) == applied.get(p).copied()
            });
        }
    }

    let before: BTreeSet<Path> = entries
        .iter()
        .find(|e| e.is(writer, "Apply"))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for p in before.iter().filter(|p| !applied.contains_key(*p)) {
        let owned_elsewhere = entries
            .iter()
            .any(|e| !e.is(writer, "Apply") && e.fields.contains(p));
        if !owned_elsewhere {
            remove_path(&mut obj, p, &applied);
        }
    }
    crate::store::merge_patch(&mut obj, &config);

    let now_owned: BTreeSet<Path> = applied.keys().cloned().collect();
    let changed = current != Some(&obj) || before != now_owned;
    let mine = entry_for(&mut entries, writer, "Apply");
    if changed {
        mine.time = writer.now.to_string();
        mine.api_version = writer.api_version.to_string();
    }
    mine.fields = now_owned;
    write_entries(&mut obj, entries);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            subresource: None,
            api_version: "example.com/v1",
            now: "2026-01-01T00:00:00Z",
        }
    }

    #[test]
    fn an_apply_changing_another_managers_field_conflicts_unless_forced() {
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"size": 1}});
        record_update(None, &mut obj, &writer("creator"));
        let config = json!({"metadata": {"name": "a"}, "spec": {"size": 2, "color": "red"}});
        let err = apply(Some(&obj), &config, &writer("alice"), true, false)
            .expect_err("size belongs to creator");
        assert_eq!(
            err.0,
            vec![("creator".to_string(), ".spec.size".to_string())]
        );
        assert!(
            err.message("example.com/v1")
                .contains("conflict with \"creator\"")
        );
        let forced = apply(Some(&obj), &config, &writer("alice"), true, true).expect("forced");
        assert_eq!(forced["spec"], json!({"size": 2, "color": "red"}));
        let managers: Vec<&str> = forced["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(managers, vec!["alice"], "creator lost its only field");
    }

    #[test]
    fn the_same_value_is_shared_and_a_dropped_field_is_removed() {
        let config = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"size": 1, "color": "red"}});
        let obj = apply(None, &config, &writer("alice"), true, false).expect("created");
        let same = apply(
            Some(&obj),
            &json!({"spec": {"size": 1}}),
            &writer("bob"),
            true,
            false,
        )
        .expect("no conflict when the value agrees");
        let dropped = apply(
            Some(&same),
            &json!({"metadata": {"name": "a"}, "spec": {"size": 1}}),
            &writer("alice"),
            true,
            false,
        )
        .expect("applied");
        assert_eq!(dropped["spec"], json!({"size": 1}), "color removed");
        assert!(dropped["metadata"].get("labels").is_none(), "{dropped}");
        // size stays: bob still applies it even once alice lets go of it.
        let released = apply(
            Some(&dropped),
            &json!({"spec": {}}),
            &writer("alice"),
            true,
            false,
        )
        .expect("applied");
        assert_eq!(released["spec"]["size"], 1);
    }
}
