//! Validates objects against a CustomResourceDefinition's `openAPIV3Schema` the way
//! kube-apiserver does: unknown fields are pruned, schema defaults applied, the structural
//! constraints checked (type, required, enum, pattern, lengths, item counts, bounds) and the
//! `x-kubernetes-validations` CEL rules evaluated, transition rules (`oldSelf`) included.
//!
//! Error texts follow the apiserver's `field.Error` format, so a message a test or a user sees
//! here reads the same as one from a real cluster:
//! `spec.azureName: Invalid value: "x": spec.azureName in body should match '^[a-z]+$'`.
//!
//! The CEL evaluation is [`kube_cel`]'s (the kube-rs project's port of the Kubernetes CEL
//! libraries); this crate adds the structural half and the apiserver's error wording.

use std::collections::HashMap;
use std::fmt;

use kube_cel::{CompiledSchema, Validator};
use regex::Regex;
use serde_json::{Map, Value};

/// A schema that could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema is not a JSON object.
    #[error("openAPIV3Schema must be an object")]
    NotAnObject,
    /// A `pattern` is not a valid regular expression.
    #[error("invalid pattern {pattern:?} at {path}: {source}")]
    Pattern {
        /// Where in the schema.
        path: String,
        /// The pattern as written.
        pattern: String,
        /// Why it does not compile.
        source: regex::Error,
    },
    /// A rule uses `oldSelf` where old and new values cannot be paired up: below a list that
    /// is not `x-kubernetes-list-type: map` (the apiserver refuses such a CRD).
    #[error(
        "{path}: oldSelf cannot be used on the uncorrelatable portion of the schema (below a list that is not x-kubernetes-list-type: map)"
    )]
    UncorrelatableTransitionRule {
        /// Where in the schema.
        path: String,
    },
    /// An `x-kubernetes-validations` rule does not compile.
    #[error("invalid CEL rule: {0}")]
    Rule(String),
}

/// One refused field, worded as kube-apiserver words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `spec.azureName` or `spec.nodePools[1].name`; empty for the root.
    pub field: String,
    /// The apiserver's cause reason, e.g. `FieldValueInvalid`.
    pub reason: &'static str,
    /// The whole text: `spec.azureName: Invalid value: "x": detail`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Constructors for the apiserver's field errors, for validation written by hand (a built-in
/// kind's `ValidateDeployment` and the like), so their wording matches the schema's errors.
impl FieldError {
    /// `field: Required value` (and `: detail` if any).
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(field, Kind::Required, None, detail)
    }

    /// `field: Invalid value: <value>: detail`, the value printed as the apiserver prints a
    /// string, number or boolean.
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        Self::new(field, Kind::Invalid, Some(value), detail)
    }

    /// `field: Invalid value: <rendered>: detail`, for a value the apiserver prints with Go's
    /// `%#v` (a map: `map[string]string{"app":"x"}`).
    pub fn invalid_rendered(field: &str, rendered: &str, detail: &str) -> Self {
        let mut e = Self::new(field, Kind::Invalid, None, "");
        e.message = format!("{}: {rendered}", e.message);
        if !detail.is_empty() {
            e.message = format!("{}: {detail}", e.message);
        }
        e
    }

    /// `field: Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            field,
            Kind::NotSupported,
            Some(value),
            &format!("supported values: {}", list.join(", ")),
        )
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(field, Kind::Forbidden, None, detail)
    }

    /// `field: Duplicate value: <value>`.
    pub fn duplicate(field: &str, value: &Value) -> Self {
        Self::new(field, Kind::Duplicate, Some(value), "")
    }

    fn new(field: &str, kind: Kind, value: Option<&Value>, detail: &str) -> Self {
        let (reason, label) = kind.reason_and_label();
        let mut message = String::new();
        if !field.is_empty() {
            message.push_str(field);
            message.push_str(": ");
        }
        message.push_str(label);
        if let Some(v) = value {
            message.push_str(": ");
            message.push_str(&display_value(v));
        }
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        FieldError {
            field: field.to_string(),
            reason,
            message,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Invalid,
    TypeInvalid,
    Required,
    NotSupported,
    TooLong,
    TooMany,
    Forbidden,
    Duplicate,
}

impl Kind {
    fn reason_and_label(self) -> (&'static str, &'static str) {
        match self {
            Kind::Invalid => ("FieldValueInvalid", "Invalid value"),
            Kind::TypeInvalid => ("FieldValueTypeInvalid", "Invalid value"),
            Kind::Required => ("FieldValueRequired", "Required value"),
            Kind::NotSupported => ("FieldValueNotSupported", "Unsupported value"),
            Kind::TooLong => ("FieldValueTooLong", "Too long"),
            Kind::TooMany => ("FieldValueTooMany", "Too many"),
            Kind::Forbidden => ("FieldValueForbidden", "Forbidden"),
            Kind::Duplicate => ("FieldValueDuplicate", "Duplicate value"),
        }
    }

    fn from_rule_reason(reason: Option<&str>) -> Kind {
        match reason {
            Some("FieldValueForbidden") => Kind::Forbidden,
            Some("FieldValueRequired") => Kind::Required,
            Some("FieldValueDuplicate") => Kind::Duplicate,
            _ => Kind::Invalid,
        }
    }
}

/// Go's `%#v`-like rendering the apiserver uses for a bad value: strings quoted, numbers bare.
fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => "\"array\"".to_string(),
        Value::Object(_) => "\"object\"".to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One CRD version's schema, compiled once and used for every object of that version.
pub struct Schema {
    root: Value,
    patterns: HashMap<String, Regex>,
    rules: CompiledSchema,
    /// The same rules by the schema node they sit on, for updates ([`RuleNode`]).
    rule_tree: Option<RuleNode>,
    validator: Validator,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema").finish_non_exhaustive()
    }
}

impl Schema {
    /// Compiles a CRD version's `openAPIV3Schema`: its patterns and its CEL rules.
    pub fn new(open_api_v3_schema: &Value) -> Result<Schema, SchemaError> {
        if !open_api_v3_schema.is_object() {
            return Err(SchemaError::NotAnObject);
        }
        let mut patterns = HashMap::new();
        collect_patterns(open_api_v3_schema, "", &mut patterns)?;
        check_transition_rules(open_api_v3_schema, "", true)?;
        let rules = kube_cel::compile_schema(open_api_v3_schema);
        let validator = Validator::new();
        // A rule that does not compile refuses every object; say so at registration instead,
        // as the apiserver refuses such a CRD.
        if let Some(e) = rules.compilation_errors().first() {
            return Err(SchemaError::Rule(e.to_string()));
        }
        Ok(Schema {
            root: open_api_v3_schema.clone(),
            patterns,
            rules,
            rule_tree: RuleNode::build(open_api_v3_schema),
            validator,
        })
    }

    /// The schema as it was given.
    pub fn open_api_v3_schema(&self) -> &Value {
        &self.root
    }

    /// Drops the fields the schema does not know (keeping `apiVersion`, `kind` and `metadata`
    /// at the root, and everything under `x-kubernetes-preserve-unknown-fields`), drops `null`
    /// values of non-nullable fields, then applies the schema's defaults — what the apiserver
    /// does to an object before validating it.
    pub fn prune_and_default(&self, object: &mut Value) {
        prune_and_default(&self.root, object, true);
    }

    /// The fields of `object` that pruning would drop, as dotted paths (`spec.foo.bar`), in
    /// document order: what a `fieldValidation=Strict` request is refused for.
    pub fn unknown_fields(&self, object: &Value) -> Vec<String> {
        let mut found = Vec::new();
        unknown_fields(&self.root, object, true, "", &mut found);
        found
    }

    /// Checks an object (already pruned and defaulted) against the schema's structure and its
    /// CEL rules. `old` is the stored object on an update: it turns on transition rules, and
    /// ratcheting as kube-apiserver does since 1.30 (`CRDValidationRatcheting`, GA in 1.33):
    /// an error in a value the update left as it was is not reported, so an object stored
    /// before a rule existed can still get its status written or its finalizers changed.
    /// An empty answer means the object is admitted.
    pub fn validate(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let errors = self.ratchet(self.validate_structure(object), object, old);
        // The apiserver reports structural errors first; CEL over a mistyped value would only
        // add noise, so rules run on a structurally valid object.
        if !errors.is_empty() {
            return errors;
        }
        self.ratchet(self.validate_rules(object, old), object, old)
    }

    /// Drops the errors an update did not cause: those about a value equal to the old object's
    /// at the same path (for a missing required field, its parent object unchanged). The old
    /// object is compared as the apiserver reads it from storage: defaulted by today's schema.
    fn ratchet(
        &self,
        errors: Vec<FieldError>,
        object: &Value,
        old: Option<&Value>,
    ) -> Vec<FieldError> {
        let Some(old) = old.filter(|_| !errors.is_empty()) else {
            return errors;
        };
        let mut old = old.clone();
        self.prune_and_default(&mut old);
        errors
            .into_iter()
            .filter(|e| {
                let path = if e.reason == "FieldValueRequired" {
                    parent_path(&e.field)
                } else {
                    e.field.as_str()
                };
                // The root is never unchanged on an update worth validating.
                path.is_empty() || lookup(object, path) != lookup(&old, path)
            })
            .collect()
    }

    fn validate_structure(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Value::Object(map) = object {
            let props = self.root.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                if k == "metadata" {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    self.check(s, v, k, &mut errors);
                }
            }
            check_required(&self.root, map, "", &mut errors);
        } else {
            errors.push(FieldError::new(
                "",
                Kind::TypeInvalid,
                Some(object),
                "must be of type object",
            ));
        }
        errors
    }

    fn validate_rules(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        self.rule_errors(object, old, true)
    }

    /// `by_node`: an update's rules node by node ([`RuleNode`]); else in one walk of the whole
    /// object, as on a create (the tests compare the two).
    fn rule_errors(&self, object: &Value, old: Option<&Value>, by_node: bool) -> Vec<FieldError> {
        let tree = self.rule_tree.as_ref().filter(|_| by_node);
        let failures: Vec<(String, Option<String>, String)> = match (old, tree) {
            // An update evaluates only the rules whose errors ratcheting would keep (a status
            // or metadata write evaluates none of the spec's): the same answer, without
            // converting the whole object to CEL at every schema node.
            (Some(old), Some(tree)) => {
                let mut old = old.clone();
                self.prune_and_default(&mut old);
                let mut found = Vec::new();
                let root = Update {
                    object,
                    old: &old,
                    validator: &self.validator,
                };
                root.walk(tree, object, Some(&old), String::new(), &mut found);
                found
            }
            (Some(_), None) if by_node => Vec::new(),
            _ => match self.validator.validate_compiled(&self.rules, object, old) {
                Ok(()) => Vec::new(),
                Err(e) => e
                    .into_vec()
                    .into_iter()
                    .map(|e| (e.field_path, e.reason, e.message))
                    .collect(),
            },
        };
        failures
            .into_iter()
            .map(|(field_path, reason, message)| {
                let field = field_path.trim_start_matches('.').to_string();
                let kind = Kind::from_rule_reason(reason.as_deref());
                let value = match kind {
                    Kind::Invalid => {
                        let v = lookup(object, &field).unwrap_or(&Value::Null);
                        Some(Value::String(type_name(v).to_string()))
                    }
                    _ => None,
                };
                FieldError::new(&field, kind, value.as_ref(), &message)
            })
            .collect()
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        if value.is_null() {
            if !nullable(Some(schema)) {
                errors.push(FieldError::new(
                    path,
                    Kind::TypeInvalid,
                    Some(value),
                    &format!(
                        "{path} in body must be of type {}: \"null\"",
                        schema
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("object")
                    ),
                ));
            }
            return;
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str) {
            let int_or_string = schema
                .get("x-kubernetes-int-or-string")
                .and_then(Value::as_bool)
                == Some(true);
            let actual = type_name(value);
            let ok = actual == ty
                || (ty == "number" && actual == "integer")
                || (int_or_string && matches!(actual, "integer" | "string"));
            if !ok {
                errors.push(FieldError::new(
                    path,
                    Kind::TypeInvalid,
                    Some(&Value::String(actual.to_string())),
                    &format!("{path} in body must be of type {ty}: \"{actual}\""),
                ));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(display_value).collect();
            errors.push(FieldError::new(
                path,
                Kind::NotSupported,
                Some(value),
                &format!("supported values: {}", list.join(", ")),
            ));
        }
        match value {
            Value::String(s) => self.check_string(schema, s, value, path, errors),
            Value::Number(n) => check_number(schema, n, value, path, errors),
            Value::Array(items) => {
                let len = items.len() as u64;
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                    && len > max
                {
                    errors.push(FieldError::new(
                        path,
                        Kind::TooMany,
                        Some(&Value::from(len)),
                        &format!("must have at most {max} items"),
                    ));
                }
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                    && len < min
                {
                    errors.push(FieldError::new(
                        path,
                        Kind::Invalid,
                        Some(&Value::from(len)),
                        &format!("{path} in body should have at least {min} items"),
                    ));
                }
                if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
                    let keys: Vec<&str> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| k.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let key_of = |item: &Value| -> Value {
                        Value::Object(
                            keys.iter()
                                .map(|k| {
                                    (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null))
                                })
                                .collect(),
                        )
                    };
                    for (i, item) in items.iter().enumerate() {
                        let key = key_of(item);
                        if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                            errors.push(FieldError::new(
                                &format!("{path}[{i}]"),
                                Kind::Duplicate,
                                None,
                                &key.to_string(),
                            ));
                        }
                    }
                }
                if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set") {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            errors.push(FieldError::new(
                                &format!("{path}[{i}]"),
                                Kind::Duplicate,
                                Some(item),
                                "",
                            ));
                        }
                    }
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            Value::Object(map) => {
                let count = map.len() as u64;
                if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
                    && count > max
                {
                    errors.push(FieldError::new(
                        path,
                        Kind::TooMany,
                        Some(&Value::from(count)),
                        &format!("must have at most {max} items"),
                    ));
                }
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (k, v) in map {
                    let child = join(path, k);
                    if let Some(s) = props.and_then(|p| p.get(k)) {
                        self.check(s, v, &child, errors);
                    } else if let Some(s) = additional {
                        self.check(s, v, &child, errors);
                    }
                }
                check_required(schema, map, path, errors);
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn check_string(
        &self,
        schema: &Value,
        s: &str,
        value: &Value,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let len = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            errors.push(FieldError::new(
                path,
                Kind::TooLong,
                None,
                &format!("may not be more than {max} bytes"),
            ));
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            errors.push(FieldError::new(
                path,
                Kind::Invalid,
                Some(value),
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(p) = schema.get("pattern").and_then(Value::as_str)
            && let Some(re) = self.patterns.get(p)
            && !re.is_match(s)
        {
            errors.push(FieldError::new(
                path,
                Kind::Invalid,
                Some(value),
                &format!("{path} in body should match '{p}'"),
            ));
        }
    }
}

fn check_number(
    schema: &Value,
    n: &serde_json::Number,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let Some(x) = n.as_f64() else { return };
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
        if x < min || (exclusive && x == min) {
            let op = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(FieldError::new(
                path,
                Kind::Invalid,
                Some(value),
                &format!("{path} in body should be {op} {}", number_text(min)),
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
        if x > max || (exclusive && x == max) {
            let op = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(FieldError::new(
                path,
                Kind::Invalid,
                Some(value),
                &format!("{path} in body should be {op} {}", number_text(max)),
            ));
        }
    }
}

fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

fn check_required(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                errors.push(FieldError::new(&join(path, r), Kind::Required, None, ""));
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `spec.pools[1].name` → `spec.pools[1]`; `spec.pools[1]` → `spec.pools`; `spec` → ``.
fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Finds the value at a `a.b[2].c` path, as kube-cel reports paths.
fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = root;
    if path.is_empty() {
        return Some(cur);
    }
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let idx = idx.trim_end_matches(']');
            cur = match idx.parse::<usize>() {
                Ok(i) => cur.get(i)?,
                Err(_) => cur.get(idx.trim_matches('"'))?,
            };
        }
    }
    Some(cur)
}

/// The CEL rules of a schema by the node they sit on: only the subtrees that hold rules. An
/// update is checked node by node, so that a node whose every error ratcheting would drop (its
/// value unchanged, or each rule's `fieldPath` pointing at an unchanged value) is not evaluated.
struct RuleNode {
    /// This node's own rules, compiled from the node's schema with its descendants' rules
    /// taken out (the descendants' types stay: they shape the CEL value of `self`).
    own: Option<CompiledSchema>,
    /// Each own rule's `fieldPath`, if it has one.
    field_paths: Vec<Option<String>>,
    properties: Vec<(String, RuleNode)>,
    /// Every property the schema declares here: `additionalProperties` covers the others.
    declared: Vec<String>,
    items: Option<Box<RuleNode>>,
    additional: Option<Box<RuleNode>>,
    preserve_unknown: bool,
    /// `allOf`, `oneOf` and `anyOf` branches, applied to the same value.
    branches: Vec<RuleNode>,
}

impl RuleNode {
    /// `None` when no rule sits on `schema` or below it.
    fn build(schema: &Value) -> Option<RuleNode> {
        let rules = schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty());
        let own = rules.map(|_| {
            let mut node = schema.clone();
            if let Some(props) = node.get_mut("properties").and_then(Value::as_object_mut) {
                props.values_mut().for_each(strip_rules);
            }
            for key in ["items", "additionalProperties"] {
                if let Some(child) = node.get_mut(key) {
                    strip_rules(child);
                }
            }
            for key in ["allOf", "oneOf", "anyOf"] {
                if let Some(branches) = node.get_mut(key).and_then(Value::as_array_mut) {
                    branches.iter_mut().for_each(strip_rules);
                }
            }
            kube_cel::compile_schema(&node)
        });
        let field_paths = rules
            .into_iter()
            .flatten()
            .map(|r| {
                r.get("fieldPath")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let props = schema.get("properties").and_then(Value::as_object);
        let properties: Vec<(String, RuleNode)> = props
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), RuleNode::build(v)?)))
            .collect();
        let items = schema.get("items").and_then(RuleNode::build).map(Box::new);
        let additional = schema
            .get("additionalProperties")
            .filter(|a| a.is_object())
            .and_then(RuleNode::build)
            .map(Box::new);
        let branches: Vec<RuleNode> = ["allOf", "oneOf", "anyOf"]
            .iter()
            .filter_map(|k| schema.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(RuleNode::build)
            .collect();
        if own.is_none()
            && properties.is_empty()
            && items.is_none()
            && additional.is_none()
            && branches.is_empty()
        {
            return None;
        }
        Some(RuleNode {
            own,
            field_paths,
            properties,
            declared: props
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect(),
            items,
            additional,
            preserve_unknown: preserves_unknown(schema),
            branches,
        })
    }
}

/// Takes every `x-kubernetes-validations` out of a schema subtree.
fn strip_rules(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.remove("x-kubernetes-validations");
            map.values_mut().for_each(strip_rules);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_rules),
        _ => {}
    }
}

/// One update's rule check: the whole new and old objects (the old one pruned and defaulted),
/// against which each error's path is compared as [`Schema::ratchet`] compares it.
struct Update<'a> {
    object: &'a Value,
    old: &'a Value,
    validator: &'a Validator,
}

impl Update<'_> {
    /// Walks the nodes as kube-cel's validator does (properties present in the value, list
    /// items by index, other keys under `additionalProperties`, branches on the same value),
    /// collecting `(path, reason, message)` of each failed rule.
    fn walk(
        &self,
        node: &RuleNode,
        value: &Value,
        old: Option<&Value>,
        path: String,
        found: &mut Vec<(String, Option<String>, String)>,
    ) {
        // Every error below an unchanged value would be ratcheted away (never the root's).
        if !path.is_empty() && old == Some(value) {
            return;
        }
        if let Some(own) = &node.own {
            let kept = |fp: &Option<String>| match fp {
                // An error at the node itself: the node changed (or is the root).
                None => true,
                Some(fp) => {
                    let at = effective_path(&path, fp);
                    let at = at.trim_start_matches('.');
                    at.is_empty() || lookup(self.object, at) != lookup(self.old, at)
                }
            };
            if node.field_paths.iter().any(kept)
                && let Err(e) = self.validator.validate_compiled(own, value, old)
            {
                for e in e.into_vec() {
                    let rel = e.field_path;
                    let at = if rel.is_empty() {
                        path.clone()
                    } else {
                        effective_path(&path, &rel)
                    };
                    found.push((at, e.reason, e.message));
                }
            }
        }
        if let Some(obj) = value.as_object() {
            for (k, child) in &node.properties {
                if let Some(v) = obj.get(k) {
                    self.walk(child, v, old.and_then(|o| o.get(k)), join(&path, k), found);
                }
            }
            if let Some(child) = node
                .additional
                .as_deref()
                .filter(|_| !node.preserve_unknown)
            {
                for (k, v) in obj {
                    if node.declared.contains(k) {
                        continue;
                    }
                    self.walk(child, v, old.and_then(|o| o.get(k)), join(&path, k), found);
                }
            }
        }
        if let (Some(child), Some(items)) = (node.items.as_deref(), value.as_array()) {
            for (i, v) in items.iter().enumerate() {
                let old_item = old.and_then(Value::as_array).and_then(|a| a.get(i));
                self.walk(child, v, old_item, format!("{path}[{i}]"), found);
            }
        }
        for branch in &node.branches {
            self.walk(branch, value, old, path.clone(), found);
        }
    }
}

/// A rule's error path from its node's path and its `fieldPath`, as kube-cel joins them.
fn effective_path(base: &str, field_path: &str) -> String {
    if field_path.starts_with('.') {
        format!("{base}{field_path}")
    } else if base.is_empty() {
        field_path.to_string()
    } else {
        format!("{base}.{field_path}")
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn embedded_resource(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true)
}

fn nullable(schema: Option<&Value>) -> bool {
    schema
        .and_then(|s| s.get("nullable"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// Prunes and defaults `value`; `type_meta` keeps `apiVersion`, `kind` and `metadata` whatever
/// the schema says (true at the root and for embedded resources).
fn prune_and_default(schema: &Value, value: &mut Value, type_meta: bool) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = preserves_unknown(schema)
                || schema.get("additionalProperties").and_then(Value::as_bool) == Some(true);
            let is_type_meta =
                |k: &str| type_meta && matches!(k, "apiVersion" | "kind" | "metadata");
            for (k, v) in map.iter_mut() {
                if is_type_meta(k) {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)).or(additional) {
                    prune_and_default(s, v, embedded_resource(s));
                }
            }
            map.retain(|k, v| {
                if is_type_meta(k) {
                    return true;
                }
                let known = props.and_then(|p| p.get(k)).or(additional);
                let kept = known.is_some() || preserve;
                // The apiserver drops nulls of non-nullable fields before defaulting.
                kept && (known.is_none() || !v.is_null() || nullable(known))
            });
            apply_property_defaults(schema, map);
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for item in items.iter_mut() {
                    prune_and_default(s, item, embedded_resource(s));
                }
            }
        }
        _ => {}
    }
}

/// What [`prune_and_default`] would drop, collected as paths instead.
fn unknown_fields(
    schema: &Value,
    value: &Value,
    type_meta: bool,
    at: &str,
    found: &mut Vec<String>,
) {
    let path = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = preserves_unknown(schema)
                || schema.get("additionalProperties").and_then(Value::as_bool) == Some(true);
            for (k, v) in map {
                if type_meta && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match props.and_then(|p| p.get(k)).or(additional) {
                    Some(s) => unknown_fields(s, v, embedded_resource(s), &path(k), found),
                    None if !preserve => found.push(path(k)),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(s, item, embedded_resource(s), &format!("{at}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

fn apply_property_defaults(schema: &Value, map: &mut Map<String, Value>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            if !map.contains_key(k)
                && let Some(d) = s.get("default")
            {
                let mut d = d.clone();
                prune_and_default(s, &mut d, embedded_resource(s));
                map.insert(k.clone(), d);
            }
        }
    }
}

/// kube-cel's estimate of each rule's cost against the apiserver's budget: the rules whose
/// estimate is too high, or that iterate over a list, map or string with no declared bound (the
/// apiserver assumes the worst for those and may refuse the CRD). Empty when all is well.
pub fn rule_cost_warnings(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_rule_costs(schema, "", &mut out);
    out
}

fn walk_rule_costs(schema: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(rules) = map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        let compiled = kube_cel::compile_schema(schema);
        for rule in rules
            .iter()
            .filter_map(|r| r.get("rule").and_then(Value::as_str))
        {
            for w in kube_cel::estimate_rule_cost(rule, &compiled) {
                out.push(format!("{path}: {rule}: {}", w.message));
            }
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            walk_rule_costs(s, &join(path, k), out);
        }
    }
    for (key, suffix) in [("items", "[*]"), ("additionalProperties", ".*")] {
        if let Some(s) = map.get(key) {
            walk_rule_costs(s, &format!("{path}{suffix}"), out);
        }
    }
}

/// Walks the schema refusing transition rules (`oldSelf`) where the apiserver cannot correlate
/// old and new values: below arrays, unless the array is a map-list keyed by its items' keys.
fn check_transition_rules(
    schema: &Value,
    path: &str,
    correlatable: bool,
) -> Result<(), SchemaError> {
    let Value::Object(map) = schema else {
        return Ok(());
    };
    if !correlatable
        && let Some(rules) = map
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        && rules.iter().any(|r| {
            r.get("rule")
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("oldSelf"))
        })
    {
        return Err(SchemaError::UncorrelatableTransitionRule {
            path: path.to_string(),
        });
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            check_transition_rules(s, &join(path, k), correlatable)?;
        }
    }
    if let Some(s) = map.get("additionalProperties") {
        check_transition_rules(s, &join(path, "*"), correlatable)?;
    }
    if let Some(s) = map.get("items") {
        let map_list = map.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
        check_transition_rules(s, &format!("{path}[*]"), correlatable && map_list)?;
    }
    Ok(())
}

fn collect_patterns(
    schema: &Value,
    path: &str,
    out: &mut HashMap<String, Regex>,
) -> Result<(), SchemaError> {
    let Value::Object(map) = schema else {
        return Ok(());
    };
    if let Some(p) = map.get("pattern").and_then(Value::as_str)
        && !out.contains_key(p)
    {
        let re = Regex::new(p).map_err(|source| SchemaError::Pattern {
            path: path.to_string(),
            pattern: p.to_string(),
            source,
        })?;
        out.insert(p.to_string(), re);
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            collect_patterns(s, &join(path, k), out)?;
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = map.get(key) {
            collect_patterns(s, path, out)?;
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = map.get(key).and_then(Value::as_array) {
            for s in list {
                collect_patterns(s, path, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{2,23}$",
                                 "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]},
                        "sku": {"type": "string", "enum": ["standard", "premium"], "default": "standard"},
                        "count": {"type": "integer", "minimum": 1, "maximum": 10},
                        "audiences": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                        "a": {"type": "string"},
                        "b": {"type": "string"}
                    },
                    "x-kubernetes-validations": [{"rule": "!(has(self.a) && has(self.b))", "message": "a and b are mutually exclusive"}]
                },
                "status": {"type": "object", "properties": {"observedGeneration": {"type": "integer", "default": -1}}}
            }
        }))
        .expect("schema compiles")
    }

    /// An update's rules checked node by node answer exactly what one walk of the whole object
    /// answers once ratcheting has dropped the errors the update did not cause.
    #[test]
    fn rules_checked_node_by_node_answer_as_one_walk_with_ratcheting() {
        let s = Schema::new(&json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.metadata.name.size() < 8", "fieldPath": ".metadata.name", "message": "short names"}],
            "properties": {
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "!(has(self.a) && has(self.b))", "message": "a and b are mutually exclusive"}],
                    "allOf": [{"x-kubernetes-validations": [{"rule": "!has(self.a) || self.a != 'x'", "fieldPath": ".a", "message": "a is not x"}]}],
                    "properties": {
                        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]},
                        "a": {"type": "string"},
                        "b": {"type": "string"},
                        "pools": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"],
                                "x-kubernetes-validations": [{"rule": "!has(self.count) || self.count <= 5", "fieldPath": ".count", "message": "at most 5"}],
                                "properties": {"name": {"type": "string"}, "count": {"type": "integer"}}}},
                        "tags": {"type": "object", "additionalProperties": {"type": "string",
                            "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "short tags"}]}}
                    }
                },
                "status": {"type": "object",
                    "x-kubernetes-validations": [{"rule": "!has(self.phase) || self.phase != 'bad'", "message": "no bad phase"}],
                    "properties": {"phase": {"type": "string"}, "note": {"type": "string"}}}
            }
        }))
        .expect("schema compiles");
        // A small deterministic generator: each field set, changed or removed at random, from
        // values that pass and values that break a rule.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let object = |next: &mut dyn FnMut(u64) -> u64| {
            let pick = |next: &mut dyn FnMut(u64) -> u64, values: &[Value]| {
                values[next(values.len() as u64) as usize].clone()
            };
            let mut spec = serde_json::Map::new();
            for (key, values) in [
                ("name", vec![json!("n1"), json!("n2")]),
                ("a", vec![json!("ok"), json!("x")]),
                ("b", vec![json!("ok")]),
            ] {
                if next(2) == 0 {
                    spec.insert(key.into(), pick(next, &values));
                }
            }
            let pools: Vec<Value> = (0..next(3))
                .map(|i| json!({"name": format!("p{i}"), "count": next(8)}))
                .collect();
            spec.insert("pools".into(), json!(pools));
            let tags: serde_json::Map<String, Value> = (0..next(3))
                .map(|i| {
                    (
                        format!("t{i}"),
                        pick(next, &[json!("abc"), json!("abcdef")]),
                    )
                })
                .collect();
            spec.insert("tags".into(), Value::Object(tags));
            let mut status = serde_json::Map::new();
            if next(2) == 0 {
                status.insert("phase".into(), pick(next, &[json!("good"), json!("bad")]));
            }
            if next(2) == 0 {
                status.insert("note".into(), json!(next(3)));
            }
            let name = pick(next, &[json!("short"), json!("much-too-long")]);
            json!({"metadata": {"name": name}, "spec": spec, "status": status})
        };
        let sorted = |mut v: Vec<FieldError>| {
            v.sort_by(|a, b| a.message.cmp(&b.message));
            v
        };
        let mut compared = 0;
        let mut refused = 0;
        for _ in 0..400 {
            let old = object(&mut next);
            let mut new = object(&mut next);
            // Often only one part changes, as in a status or metadata write.
            match next(4) {
                0 => new["spec"] = old["spec"].clone(),
                1 => {
                    new["spec"] = old["spec"].clone();
                    new["metadata"] = old["metadata"].clone();
                }
                _ => {}
            }
            let by_node = s.ratchet(s.rule_errors(&new, Some(&old), true), &new, Some(&old));
            let whole = s.ratchet(s.rule_errors(&new, Some(&old), false), &new, Some(&old));
            refused += usize::from(!whole.is_empty());
            assert_eq!(sorted(by_node), sorted(whole), "old {old}\nnew {new}");
            compared += 1;
        }
        assert_eq!(compared, 400);
        // Both kinds of answer were compared, not only admissions.
        assert!(refused > 50 && refused < 350, "{refused} of 400 refused");
    }

    #[test]
    fn an_update_is_not_refused_for_what_it_left_unchanged() {
        let s = schema();
        // Stored before the rules: a count out of range, a mistyped tag, no name, a and b.
        let stored = json!({"spec": {"count": 99, "tags": {"t": 1}, "a": "x", "b": "y"}});
        let mut status_written = stored.clone();
        status_written["status"] = json!({"observedGeneration": 3});
        assert_eq!(
            admit(&s, status_written, Some(&stored)).err(),
            None,
            "nothing the update touched is wrong"
        );
        let mut count_changed = stored.clone();
        count_changed["spec"]["count"] = json!(98);
        let errors = admit(&s, count_changed, Some(&stored)).expect_err("refused");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("spec.count"), "{errors:?}");
        assert!(
            errors[1].contains("spec.name: Required value"),
            "the spec changed, so its missing field counts again: {errors:?}"
        );
        assert!(
            admit(&s, stored, None).is_err(),
            "a create is checked whole"
        );
    }

    fn admit(s: &Schema, mut obj: Value, old: Option<&Value>) -> Result<Value, Vec<String>> {
        s.prune_and_default(&mut obj);
        let errs = s.validate(&obj, old);
        if errs.is_empty() {
            Ok(obj)
        } else {
            Err(errs.into_iter().map(|e| e.message).collect())
        }
    }

    #[test]
    fn unknown_fields_are_named_by_path() {
        let s = Schema::new(
            &json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}},
                           "list": {"type": "array", "items": {"type": "object", "properties": {}}}}}}}),
        )
        .expect("schema");
        let obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "n"},
            "spec": {"a": {"b": "ok", "c": 1}, "list": [{"d": 1}], "e": true}});
        assert_eq!(
            s.unknown_fields(&obj),
            vec![
                "spec.a.c".to_string(),
                "spec.e".to_string(),
                "spec.list[0].d".to_string()
            ]
        );
    }

    #[test]
    fn defaults_are_applied_and_unknown_fields_pruned() {
        let s = schema();
        let obj = admit(
            &s,
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
                   "spec": {"name": "abc", "bogus": 1}, "status": {}}),
            None,
        )
        .expect("admitted");
        assert_eq!(obj["spec"]["sku"], "standard");
        assert_eq!(obj["status"]["observedGeneration"], -1);
        assert!(obj["spec"].get("bogus").is_none());
        assert_eq!(obj["metadata"]["name"], "n");
    }

    #[test]
    fn structural_errors_name_the_field_as_the_apiserver_does() {
        let s = schema();
        let errs = admit(
            &s,
            json!({"spec": {"name": "1ab", "sku": "gold", "count": 0, "audiences": ["a", "b", "c"], "tags": {"x": 1}}}),
            None,
        )
        .expect_err("refused");
        assert!(errs.contains(&"spec.name: Invalid value: \"1ab\": spec.name in body should match '^[a-z][a-z0-9-]{2,23}$'".to_string()), "{errs:?}");
        assert!(errs.contains(&"spec.sku: Unsupported value: \"gold\": supported values: \"standard\", \"premium\"".to_string()), "{errs:?}");
        assert!(errs.contains(&"spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1".to_string()), "{errs:?}");
        assert!(
            errs.contains(&"spec.audiences: Too many: 3: must have at most 2 items".to_string()),
            "{errs:?}"
        );
        assert!(errs.contains(&"spec.tags.x: Invalid value: \"integer\": spec.tags.x in body must be of type string: \"integer\"".to_string()), "{errs:?}");
    }

    #[test]
    fn missing_required_field_is_refused() {
        let errs = admit(&schema(), json!({"spec": {}}), None).expect_err("refused");
        assert_eq!(errs, vec!["spec.name: Required value".to_string()]);
    }

    #[test]
    fn cel_rules_are_evaluated_with_their_message() {
        let errs = admit(
            &schema(),
            json!({"spec": {"name": "abc", "a": "1", "b": "2"}}),
            None,
        )
        .expect_err("refused");
        assert_eq!(
            errs,
            vec!["spec: Invalid value: \"object\": a and b are mutually exclusive".to_string()]
        );
    }

    #[test]
    fn transition_rules_run_only_on_update() {
        let s = schema();
        let old = admit(&s, json!({"spec": {"name": "abc"}}), None).expect("created");
        let errs = admit(&s, json!({"spec": {"name": "abd"}}), Some(&old)).expect_err("refused");
        assert_eq!(
            errs,
            vec!["spec.name: Invalid value: \"string\": name is immutable".to_string()]
        );
        admit(&s, json!({"spec": {"name": "abc", "count": 2}}), Some(&old))
            .expect("unchanged name");
    }

    #[test]
    fn map_lists_refuse_duplicate_keys() {
        let s = Schema::new(&json!({"type": "object", "properties": {"pools": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}}}}))
        .expect("schema compiles");
        let errs = admit(
            &s,
            json!({"pools": [{"name": "a", "n": 1}, {"name": "a", "n": 2}]}),
            None,
        )
        .expect_err("refused");
        assert_eq!(
            errs,
            vec!["pools[1]: Duplicate value: {\"name\":\"a\"}".to_string()]
        );
    }

    #[test]
    fn transition_rules_below_plain_lists_are_refused_at_registration() {
        let err = Schema::new(&json!({"type": "object", "properties": {"pools": {
            "type": "array",
            "items": {"type": "object", "properties": {"size": {"type": "string",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]}}}}}}));
        assert!(
            matches!(err, Err(SchemaError::UncorrelatableTransitionRule { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn an_unbounded_comprehension_gets_a_cost_warning() {
        let unbounded = json!({"type": "object", "properties": {"xs": {"type": "array",
            "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self.all(x, self.exists_one(y, y == x))"}]}}});
        assert!(!rule_cost_warnings(&unbounded).is_empty());
        let mut bounded = unbounded.clone();
        bounded["properties"]["xs"]["maxItems"] = json!(10);
        bounded["properties"]["xs"]["items"]["maxLength"] = json!(10);
        assert_eq!(rule_cost_warnings(&bounded), Vec::<String>::new());
    }

    #[test]
    fn a_rule_that_does_not_compile_is_refused_at_registration() {
        let err = Schema::new(
            &json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a ==", "message": "m"}]}),
        );
        assert!(matches!(err, Err(SchemaError::Rule(_))), "{err:?}");
    }
}
