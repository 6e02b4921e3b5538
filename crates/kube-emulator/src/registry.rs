//! The resource types the emulator serves: the built-in kinds and those registered by CRDs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

/// One additional printer column of a CRD version (or a default column).
#[derive(Debug, Clone)]
pub(crate) struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// A served resource: one (group, plural) with its served versions.
pub(crate) struct ResourceType {
    pub group: String,
    pub versions: Vec<String>,
    pub resource: String,
    pub kind: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    /// Compiled schemas per version (custom resources only).
    pub schemas: HashMap<String, Arc<crd_validation::Schema>>,
    /// The raw openAPIV3Schema per version, for the OpenAPI documents.
    pub raw_schemas: HashMap<String, Value>,
    /// Printer columns per version (custom resources only; empty means Name + Age).
    pub columns: HashMap<String, Vec<PrinterColumn>>,
    /// True for a kind served from a CRD.
    pub custom: bool,
}

impl ResourceType {
    /// `resource.group`, or `resource` for the core group: how the apiserver names it in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) }
    }

    /// `Kind.group` as used in 422 messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) }
    }

    /// `group/version` or `version` for the core group.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() { version.to_string() } else { format!("{}/{}", self.group, version) }
    }

    /// The verbs the resource supports.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    /// The printer columns for a version, defaulting to Age.
    pub fn columns_for(&self, version: &str) -> Vec<PrinterColumn> {
        match self.columns.get(version) {
            Some(c) if !c.is_empty() => c.clone(),
            _ => vec![PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            }],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(group: &str, version: &str, resource: &str, kind: &str, namespaced: bool, short: &[&str], status: bool) -> ResourceType {
    ResourceType {
        group: group.into(),
        versions: vec![version.into()],
        resource: resource.into(),
        kind: kind.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: vec![],
        has_status: status,
        schemas: HashMap::new(),
        raw_schemas: HashMap::new(),
        columns: HashMap::new(),
        custom: false,
    }
}

/// The built-in kinds the emulator serves.
pub(crate) fn builtins() -> Vec<ResourceType> {
    vec![
        builtin("", "v1", "namespaces", "Namespace", false, &["ns"], true),
        builtin("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
        builtin("", "v1", "secrets", "Secret", true, &[], false),
        builtin("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"], false),
        builtin("", "v1", "events", "Event", true, &["ev"], false),
        builtin("events.k8s.io", "v1", "events", "Event", true, &["ev"], false),
        builtin("coordination.k8s.io", "v1", "leases", "Lease", true, &[], false),
        builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"], true),
    ]
}

/// Why a CRD could not be registered.
#[derive(Debug)]
pub(crate) struct CrdProblem(pub String);

/// Builds the served type for a CRD object.
pub(crate) fn from_crd(crd: &Value) -> Result<ResourceType, CrdProblem> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().ok_or_else(|| CrdProblem("spec.group: Required value".into()))?;
    let names = &spec["names"];
    let plural = names["plural"].as_str().ok_or_else(|| CrdProblem("spec.names.plural: Required value".into()))?;
    let kind = names["kind"].as_str().ok_or_else(|| CrdProblem("spec.names.kind: Required value".into()))?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    let mut rt = ResourceType {
        group: group.into(),
        versions: vec![],
        resource: plural.into(),
        kind: kind.into(),
        singular: names["singular"].as_str().map(String::from).unwrap_or_else(|| kind.to_lowercase()),
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        has_status: false,
        schemas: HashMap::new(),
        raw_schemas: HashMap::new(),
        columns: HashMap::new(),
        custom: true,
    };
    for v in spec["versions"].as_array().into_iter().flatten() {
        let Some(name) = v["name"].as_str() else { continue };
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        rt.versions.push(name.into());
        if v["subresources"]["status"].is_object() {
            rt.has_status = true;
        }
        let schema = &v["schema"]["openAPIV3Schema"];
        if schema.is_object() {
            let compiled = crd_validation::Schema::new(schema)
                .map_err(|e| CrdProblem(format!("spec.versions[{name}].schema.openAPIV3Schema: Invalid value: {e}")))?;
            rt.schemas.insert(name.into(), Arc::new(compiled));
            rt.raw_schemas.insert(name.into(), schema.clone());
        }
        let cols = v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| PrinterColumn {
                name: c["name"].as_str().unwrap_or_default().into(),
                type_: c["type"].as_str().unwrap_or("string").into(),
                format: c["format"].as_str().unwrap_or_default().into(),
                description: c["description"].as_str().unwrap_or_default().into(),
                priority: c["priority"].as_i64().unwrap_or(0),
                json_path: c["jsonPath"].as_str().unwrap_or_default().into(),
            })
            .collect();
        rt.columns.insert(name.into(), cols);
    }
    if rt.versions.is_empty() {
        return Err(CrdProblem("spec.versions: Invalid value: no served versions".into()));
    }
    Ok(rt)
}

/// The status a CRD gets once registered: names accepted, established.
pub(crate) fn crd_status(crd: &Value, now: &str) -> Value {
    let stored: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .filter_map(|v| v["name"].as_str().map(|s| json!(s)))
        .collect();
    json!({
        "acceptedNames": crd["spec"]["names"].clone(),
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
    })
}
