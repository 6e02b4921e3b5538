//! The built-in kinds' OpenAPI schemas.
//!
//! They come from k8s-openapi's `schemars` implementations (the workspace builds k8s-openapi
//! with that feature), which k8s-openapi generates from upstream's OpenAPI document for the
//! Kubernetes version it targets: the definition names kube-apiserver publishes
//! (`io.k8s.api.apps.v1.Deployment`), their descriptions, types, formats and required fields.
//! That was chosen over a checked-in copy of upstream's `api/openapi-spec/v3` documents
//! (megabytes of JSON, to keep in step with the k8s-openapi version the JSON and protobuf types
//! already pin) and over schemas written here: it is the same source, with nothing to keep in
//! step, and a kind is one line. What the generated definitions lack is added here: each
//! kind's `x-kubernetes-group-version-kind`, and (for validation only) the defaults
//! kube-apiserver's defaulting functions give whatever the other fields say, and the `{}` Go
//! writes for an unset non-pointer struct.
//!
//! The definitions are used three ways:
//! - published: `/openapi/v3/<group-version>` lists them under `components.schemas`, with
//!   `$ref`s, as kube-apiserver does (what `kubectl explain` walks);
//! - structural: a kind's definition with its references inlined, its defaults added and its
//!   free-form objects marked `x-kubernetes-preserve-unknown-fields`, compiled by
//!   `crd-validation`: one validator (pruning, defaults, unknown fields under
//!   `fieldValidation=Strict`, required fields) for custom and built-in kinds alike;
//! - decoding: the published definitions walked along a value, to refuse a value of the wrong
//!   type with the message of Go's JSON decoder, which is what kube-apiserver answers.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::Kind;

/// Where a `$ref` points.
const REF_PREFIX: &str = "#/components/schemas/";

/// The defaults kube-apiserver gives whatever the other fields say (its `SetDefaults_<Type>`
/// functions), and the `{}` Go writes for a non-pointer struct field left unset, by
/// definition and property, as JSON. Defaults that depend on other fields are in `defaults`.
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.apps.v1.Deployment", "spec", "{}"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "replicas", "1"),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        "revisionHistoryLimit",
        "10",
    ),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        "progressDeadlineSeconds",
        "600",
    ),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "{}"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "template", "{}"),
    ("io.k8s.api.core.v1.PodTemplateSpec", "spec", "{}"),
    ("io.k8s.api.core.v1.Pod", "spec", "{}"),
    ("io.k8s.api.core.v1.PodSpec", "restartPolicy", "\"Always\""),
    (
        "io.k8s.api.core.v1.PodSpec",
        "dnsPolicy",
        "\"ClusterFirst\"",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulerName",
        "\"default-scheduler\"",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "terminationGracePeriodSeconds",
        "30",
    ),
    ("io.k8s.api.core.v1.PodSpec", "securityContext", "{}"),
    (
        "io.k8s.api.core.v1.Container",
        "terminationMessagePath",
        "\"/dev/termination-log\"",
    ),
    (
        "io.k8s.api.core.v1.Container",
        "terminationMessagePolicy",
        "\"File\"",
    ),
    ("io.k8s.api.core.v1.Container", "resources", "{}"),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "terminationMessagePath",
        "\"/dev/termination-log\"",
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "terminationMessagePolicy",
        "\"File\"",
    ),
    ("io.k8s.api.core.v1.EphemeralContainer", "resources", "{}"),
    ("io.k8s.api.core.v1.ContainerPort", "protocol", "\"TCP\""),
    ("io.k8s.api.core.v1.Probe", "timeoutSeconds", "1"),
    ("io.k8s.api.core.v1.Probe", "periodSeconds", "10"),
    ("io.k8s.api.core.v1.Probe", "successThreshold", "1"),
    ("io.k8s.api.core.v1.Probe", "failureThreshold", "3"),
    ("io.k8s.api.core.v1.HTTPGetAction", "path", "\"/\""),
    ("io.k8s.api.core.v1.HTTPGetAction", "scheme", "\"HTTP\""),
    (
        "io.k8s.api.core.v1.ObjectFieldSelector",
        "apiVersion",
        "\"v1\"",
    ),
    (
        "io.k8s.api.core.v1.SecretVolumeSource",
        "defaultMode",
        "420",
    ),
    (
        "io.k8s.api.core.v1.ConfigMapVolumeSource",
        "defaultMode",
        "420",
    ),
    (
        "io.k8s.api.core.v1.DownwardAPIVolumeSource",
        "defaultMode",
        "420",
    ),
    (
        "io.k8s.api.core.v1.ProjectedVolumeSource",
        "defaultMode",
        "420",
    ),
    ("io.k8s.api.core.v1.HostPathVolumeSource", "type", "\"\""),
    (
        "io.k8s.api.core.v1.ServiceAccountTokenProjection",
        "expirationSeconds",
        "3600",
    ),
    ("io.k8s.api.core.v1.Service", "spec", "{}"),
    ("io.k8s.api.core.v1.ServiceSpec", "type", "\"ClusterIP\""),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "sessionAffinity",
        "\"None\"",
    ),
    ("io.k8s.api.core.v1.ServicePort", "protocol", "\"TCP\""),
    ("io.k8s.api.core.v1.Secret", "type", "\"Opaque\""),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", "spec", "{}"),
    ("io.k8s.api.networking.v1.NetworkPolicy", "spec", "{}"),
    (
        "io.k8s.api.networking.v1.NetworkPolicySpec",
        "podSelector",
        "{}",
    ),
    (
        "io.k8s.api.networking.v1.NetworkPolicyPort",
        "protocol",
        "\"TCP\"",
    ),
];

/// Required fields whose absence kube-apiserver reports otherwise than `Required value`:
/// Go decodes them as their zero value and the kind's validation words the error (a Service
/// port of 0: `must be between 1 and 65535, inclusive`).
const NOT_REQUIRED: &[(&str, &str)] = &[("io.k8s.api.core.v1.ServicePort", "port")];

/// Fields of Go's non-pointer scalar types with `omitempty`: Go's protobuf encoding writes
/// them even when zero, and its JSON leaves a zero out. A body kubectl sends in protobuf
/// (`kubectl create deployment`) carries them; they are dropped so the object reads as it
/// would from kube-apiserver. (A pointer field's zero is a value, and is kept.)
const OMITTED_WHEN_ZERO: &[(&str, &[&str])] = &[
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &["generation"],
    ),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        &["minReadySeconds", "paused"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        &["hostNetwork", "hostPID", "hostIPC"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        &["stdin", "stdinOnce", "tty"],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        &["stdin", "stdinOnce", "tty"],
    ),
    ("io.k8s.api.core.v1.ContainerPort", &["hostPort"]),
    ("io.k8s.api.core.v1.VolumeMount", &["readOnly"]),
    (
        "io.k8s.api.core.v1.Probe",
        &[
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        &["publishNotReadyAddresses", "healthCheckNodePort"],
    ),
    ("io.k8s.api.core.v1.ServicePort", &["nodePort"]),
    ("io.k8s.api.autoscaling.v1.ScaleSpec", &["replicas"]),
];

/// The definition of a value that can be any JSON.
const ANY_JSON: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";

/// Every built-in kind's schema, made once per process.
pub struct Catalog {
    /// The definitions as `/openapi/v3` publishes them.
    definitions: Map<String, Value>,
    /// Per kind (`apiVersion`, `kind`): its definition's name and its structural schema.
    kinds: HashMap<(&'static str, &'static str), (String, Arc<crd_validation::Schema>)>,
}

/// The catalog (made on first use).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl Catalog {
    fn build() -> Catalog {
        let mut generator = SchemaSettings::openapi3()
            .with(|s| s.meta_schema = None)
            .into_generator();
        let names: Vec<(&Kind, String)> = super::all()
            .map(|kind| (kind, (kind.register)(&mut generator)))
            .collect();
        // With the transforms: `{"$ref", "description"}` becomes `{"allOf": [{"$ref"}],
        // "description"}`, the form kube-apiserver publishes.
        let mut definitions = generator.take_definitions(true);
        // Any JSON value (a CRD schema's `default`, `enum` and `example`), which k8s-openapi
        // types as an object; kube-apiserver publishes no type for it.
        if let Some(Value::Object(any)) = definitions.get_mut(ANY_JSON) {
            any.remove("type");
        }
        for (kind, name) in &names {
            let (group, version) = group_version(kind.api_version);
            if let Some(Value::Object(d)) = definitions.get_mut(name) {
                d.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": group, "kind": kind.kind, "version": version}]),
                );
            }
        }
        let kinds = names
            .into_iter()
            .filter_map(|(kind, name)| {
                let structural = inline(&definitions, &name, &mut Vec::new());
                // The generated schemas have no patterns and no CEL rules: compiling them
                // cannot fail (a unit test makes sure).
                let schema = crd_validation::Schema::new(&structural).ok()?;
                Some(((kind.api_version, kind.kind), (name, Arc::new(schema))))
            })
            .collect();
        Catalog { definitions, kinds }
    }

    /// The structural schema of a kind, compiled.
    pub fn schema(&self, api_version: &str, kind: &str) -> Option<Arc<crd_validation::Schema>> {
        self.kinds
            .get(&(api_version, kind))
            .map(|(_, schema)| schema.clone())
    }

    /// The definitions `/openapi/v3` publishes for these kinds (`apiVersion`, `kind`): theirs
    /// and every one they refer to.
    pub fn published<'a>(
        &self,
        kinds: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Map<String, Value> {
        let names: Vec<&str> = kinds
            .into_iter()
            .filter_map(|k| self.kinds.get(&k).map(|(name, _)| name.as_str()))
            .collect();
        self.definitions_under(names)
    }

    /// The definitions `names` and every one they refer to.
    pub fn definitions_under<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Map<String, Value> {
        let mut todo: Vec<String> = names.into_iter().map(String::from).collect();
        let mut seen = BTreeSet::new();
        let mut out = Map::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(definition) = self.definitions.get(&name) else {
                continue;
            };
            references(definition, &mut todo);
            out.insert(name, definition.clone());
        }
        out
    }

    /// The name of the definition a kind's objects follow.
    pub(super) fn definition_of(&self, api_version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|((v, k), _)| *v == api_version && *k == kind)
            .map(|(_, (name, _))| name.as_str())
    }

    /// The definition a property of `definition` refers to (for a list or a map, its items'
    /// or values'), if it refers to one.
    pub(super) fn property_definition(&self, definition: &str, property: &str) -> Option<&str> {
        let schema = self
            .definitions
            .get(definition)?
            .get("properties")?
            .get(property)?;
        let schema = schema
            .get("items")
            .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
            .unwrap_or(schema);
        schema
            .as_object()
            .and_then(reference)
            .map(|r| r.trim_start_matches(REF_PREFIX))
    }

    /// Drops the empty maps and lists Go's JSON leaves out (`omitempty`: every optional map
    /// and list), as a built-in object reads back from kube-apiserver whatever it was
    /// written with (`annotations: {}` after the last annotation is removed).
    pub fn omit_empty(&self, api_version: &str, kind: &str, object: &mut Value) {
        if let Some((name, _)) = self.kinds.get(&(api_version, kind)) {
            self.omit_empty_in(name, object);
        }
    }

    fn omit_empty_in(&self, definition: &str, value: &mut Value) {
        let (Some(schema), Value::Object(fields)) = (self.definitions.get(definition), value)
        else {
            return;
        };
        let properties = schema.get("properties").and_then(Value::as_object);
        let required = |k: &str| {
            schema
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(k)))
        };
        fields.retain(|k, v| {
            let Some(property) = properties.and_then(|p| p.get(k)) else {
                return true;
            };
            let map = property
                .get("additionalProperties")
                .is_some_and(Value::is_object);
            let empty = match v {
                Value::Object(m) => m.is_empty() && map,
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            !empty || required(k)
        });
        for (k, v) in fields.iter_mut() {
            let Some(name) = self.property_definition(definition, k) else {
                continue;
            };
            match v {
                Value::Array(items) => items.iter_mut().for_each(|i| self.omit_empty_in(name, i)),
                v => self.omit_empty_in(name, v),
            }
        }
    }

    /// Drops the zero values Go's JSON would leave out ([`OMITTED_WHEN_ZERO`]) from an object
    /// read from protobuf.
    pub fn omit_zero_values(&self, api_version: &str, kind: &str, object: &mut Value) {
        if let Some((name, _)) = self.kinds.get(&(api_version, kind)) {
            self.omit_zeros_in(name, object);
        }
    }

    fn omit_zeros_in(&self, definition: &str, value: &mut Value) {
        let Some(schema) = self.definitions.get(definition) else {
            return;
        };
        let omitted = OMITTED_WHEN_ZERO
            .iter()
            .find(|(d, _)| *d == definition)
            .map_or(&[][..], |(_, fields)| *fields);
        let Value::Object(fields) = value else {
            return;
        };
        fields.retain(|k, v| {
            let zero = v.as_i64() == Some(0) || v.as_bool() == Some(false);
            !(zero && omitted.contains(&k.as_str()))
        });
        let properties = schema.get("properties").and_then(Value::as_object);
        for (k, v) in fields.iter_mut() {
            let Some(property) = properties.and_then(|p| p.get(k)) else {
                continue;
            };
            let item = property.get("items").unwrap_or(property);
            let Some(name) = item.as_object().and_then(reference) else {
                continue;
            };
            let name = name.trim_start_matches(REF_PREFIX);
            match v {
                Value::Array(items) => items.iter_mut().for_each(|i| self.omit_zeros_in(name, i)),
                v => self.omit_zeros_in(name, v),
            }
        }
    }

    /// The first value of `object` that is not of its field's type, in the words of Go's JSON
    /// decoder (what kube-apiserver answers before anything else).
    pub fn decode_error(&self, kind: &Kind, object: &Value) -> Option<String> {
        let (name, _) = self.kinds.get(&(kind.api_version, kind.kind))?;
        let root = json!({"$ref": format!("{REF_PREFIX}{name}")});
        Decoder {
            definitions: &self.definitions,
        }
        .first_error(&root, object, kind.kind, &mut Vec::new())
    }
}

/// The names of the definitions `schema` refers to, added to `found`.
fn references(schema: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        found.push(r.trim_start_matches(REF_PREFIX).to_string())
                    }
                    _ => references(v, found),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// A schema's reference: `$ref`, or the single entry of `allOf` beside a description.
fn reference(schema: &Map<String, Value>) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str).or_else(|| {
        schema
            .get("allOf")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 1)
            .and_then(|a| a[0].get("$ref"))
            .and_then(Value::as_str)
    })
}

/// The definition `name` with its references inlined, its defaults added, and its free-form
/// objects marked as keeping unknown fields. A definition met again below itself (only
/// `JSONSchemaProps`, in CRDs) keeps whatever it holds.
fn inline(definitions: &Map<String, Value>, name: &str, stack: &mut Vec<String>) -> Value {
    let free_form = || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    if stack.iter().any(|n| n == name) {
        return free_form();
    }
    let Some(definition) = definitions.get(name) else {
        return free_form();
    };
    stack.push(name.to_string());
    let mut schema = structural(definitions, definition, stack);
    stack.pop();
    if let Value::Object(s) = &mut schema {
        for (_, property, default) in DEFAULTS.iter().filter(|(d, _, _)| *d == name) {
            if let (Some(Value::Object(p)), Ok(default)) = (
                s.get_mut("properties").and_then(|p| p.get_mut(*property)),
                serde_json::from_str::<Value>(default),
            ) {
                p.insert("default".into(), default);
            }
        }
        if let Some(Value::Array(required)) = s.get_mut("required") {
            required.retain(|r| {
                !NOT_REQUIRED
                    .iter()
                    .any(|(d, p)| *d == name && r.as_str() == Some(p))
            });
        }
    }
    schema
}

fn structural(definitions: &Map<String, Value>, schema: &Value, stack: &mut Vec<String>) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = match reference(map)
        .map(|r| inline(definitions, r.trim_start_matches(REF_PREFIX), stack))
    {
        Some(Value::Object(referred)) => referred,
        _ => Map::new(),
    };
    for (k, v) in map {
        match k.as_str() {
            "$ref" | "allOf" | "description" => {}
            "properties" => {
                let properties = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), structural(definitions, p, stack)))
                    .collect();
                out.insert(k.clone(), Value::Object(properties));
            }
            "items" | "additionalProperties" if v.is_object() => {
                out.insert(k.clone(), structural(definitions, v, stack));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let free_form = matches!(
        out.get("type").and_then(Value::as_str),
        Some("object") | None
    ) && ![
        "properties",
        "additionalProperties",
        "items",
        "x-kubernetes-int-or-string",
    ]
    .iter()
    .any(|k| out.contains_key(*k));
    if free_form {
        out.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    Value::Object(out)
}

/// Walks a value along the published definitions as Go's `encoding/json` decodes it into the
/// kind's struct.
struct Decoder<'a> {
    definitions: &'a Map<String, Value>,
}

impl Decoder<'_> {
    /// The schema a node stands for (its reference's definition, if it has one) and the
    /// definition's name.
    fn resolve<'s>(&'s self, schema: &'s Value) -> (&'s Value, Option<&'s str>) {
        let name = schema
            .as_object()
            .and_then(reference)
            .map(|r| r.trim_start_matches(REF_PREFIX));
        match name.and_then(|n| self.definitions.get(n)) {
            Some(definition) => (definition, name),
            None => (schema, None),
        }
    }

    /// The Go type of a schema, as Go's errors print it: `int32`, `[]v1.Container`,
    /// `map[string]string`, `v1.DeploymentSpec`.
    fn go_type(&self, schema: &Value) -> String {
        let (schema, name) = self.resolve(schema);
        if let Some(name) = name {
            let mut parts = name.rsplit('.');
            let (kind, package) = (parts.next().unwrap_or(name), parts.next().unwrap_or(""));
            return format!("{package}.{kind}");
        }
        match (
            schema.get("type").and_then(Value::as_str),
            schema.get("format").and_then(Value::as_str),
        ) {
            (Some("string"), _) => "string".into(),
            (Some("boolean"), _) => "bool".into(),
            (Some("integer"), Some(f @ ("int32" | "int64"))) => f.into(),
            (Some("integer"), _) => "int".into(),
            (Some("number"), _) => "float64".into(),
            (Some("array"), _) => format!(
                "[]{}",
                self.go_type(schema.get("items").unwrap_or(&Value::Null))
            ),
            (Some("object"), _) => {
                match schema.get("additionalProperties").filter(|a| a.is_object()) {
                    Some(values) => format!("map[string]{}", self.go_type(values)),
                    None => "map[string]interface {}".into(),
                }
            }
            _ => "interface {}".into(),
        }
    }

    /// The first mistyped value under `value`, `path` being the field names from the root
    /// (Go leaves list indexes and map keys out) and `owner` the struct holding the field.
    fn first_error(
        &self,
        schema: &Value,
        value: &Value,
        owner: &str,
        path: &mut Vec<String>,
    ) -> Option<String> {
        if value.is_null() {
            return None;
        }
        let (resolved, name) = self.resolve(schema);
        let integer = resolved.get("type").and_then(Value::as_str) == Some("integer");
        // Go names the number itself when it does not fit the integer it was meant for.
        let json_kind = match value {
            Value::String(_) => "string".to_string(),
            Value::Bool(_) => "bool".to_string(),
            Value::Array(_) => "array".to_string(),
            Value::Object(_) => "object".to_string(),
            Value::Number(n) if integer => format!("number {n}"),
            Value::Number(_) => "number".to_string(),
            Value::Null => "null".to_string(),
        };
        let mismatch = || {
            Some(format!(
                "json: cannot unmarshal {json_kind} into Go struct field {owner}.{} of type {}",
                path.join("."),
                self.go_type(schema)
            ))
        };
        if resolved
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return match value {
                Value::String(_) => None,
                Value::Number(n) if n.is_i64() || n.is_u64() => None,
                _ => mismatch(),
            };
        }
        let fits_int = |format: Option<&str>| match (value.as_i64(), format) {
            (Some(i), Some("int32")) => i32::try_from(i).is_ok(),
            (Some(_), _) => true,
            (None, _) => false,
        };
        match resolved.get("type").and_then(Value::as_str) {
            Some("string") if !value.is_string() => mismatch(),
            Some("boolean") if !value.is_boolean() => mismatch(),
            Some("integer") if !fits_int(resolved.get("format").and_then(Value::as_str)) => {
                mismatch()
            }
            Some("number") if !value.is_number() => mismatch(),
            Some("array") => {
                let Value::Array(items) = value else {
                    return mismatch();
                };
                let item_schema = resolved.get("items")?;
                items
                    .iter()
                    .find_map(|item| self.first_error(item_schema, item, owner, path))
            }
            Some("object") => {
                let Value::Object(fields) = value else {
                    return mismatch();
                };
                let owner = name
                    .map(|n| n.rsplit('.').next().unwrap_or(n))
                    .unwrap_or(owner);
                if let Some(Value::Object(properties)) = resolved.get("properties") {
                    fields.iter().find_map(|(k, v)| {
                        let property = properties.get(k)?;
                        path.push(k.clone());
                        let error = self.first_error(property, v, owner, path);
                        path.pop();
                        error
                    })
                } else if let Some(values) = resolved
                    .get("additionalProperties")
                    .filter(|a| a.is_object())
                {
                    fields
                        .values()
                        .find_map(|v| self.first_error(values, v, owner, path))
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_compiled_schema_and_a_published_definition() {
        let catalog = catalog();
        for kind in super::super::all() {
            assert!(
                catalog.schema(kind.api_version, kind.kind).is_some(),
                "{} {}",
                kind.api_version,
                kind.kind
            );
        }
        let published = catalog.published([("apps/v1", "Deployment")]);
        let deployment = &published["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert!(published.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(published.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        let replicas = &published["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"];
        assert_eq!(replicas["type"], "integer");
    }

    #[test]
    fn a_mistyped_value_is_named_as_gos_decoder_names_it() {
        let deployment = super::super::kind("apps/v1", "Deployment").expect("a kind");
        let error = |object: Value| catalog().decode_error(deployment, &object);
        assert_eq!(
            error(json!({"spec": {"replicas": "two"}})).as_deref(),
            Some(
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
            )
        );
        assert_eq!(
            error(json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "x", "value": 1}]}]}}}})).as_deref(),
            Some("json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string")
        );
        assert_eq!(
            error(json!({"spec": {"template": {"spec": {"containers": {"name": "a"}}}}}))
                .as_deref(),
            Some(
                "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
            )
        );
        assert_eq!(
            error(json!({"metadata": {"labels": {"a": 1}}})).as_deref(),
            Some(
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"
            )
        );
        assert_eq!(
            error(json!({"spec": {"replicas": 1.5, "strategy": {"rollingUpdate": {"maxSurge": "25%"}}}})).as_deref(),
            Some("json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32")
        );
        assert_eq!(
            error(json!({"spec": {"replicas": 2, "strategy": {"rollingUpdate": {"maxSurge": 1}}}})),
            None
        );
    }

    #[test]
    fn defaults_and_pruning_follow_the_structural_schema() {
        let schema = catalog().schema("apps/v1", "Deployment").expect("a schema");
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "unknown": 1,
                "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}}});
        assert_eq!(schema.unknown_fields(&deployment), ["spec.unknown"]);
        schema.prune_and_default(&mut deployment);
        let spec = &deployment["spec"];
        assert!(spec.get("unknown").is_none());
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["template"]["spec"]["securityContext"], json!({}));
        let container = &spec["template"]["spec"]["containers"][0];
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(container["ports"][0]["protocol"], "TCP");
        assert!(schema.validate(&deployment, None).is_empty());
    }
}
