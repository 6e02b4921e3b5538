//! The built-in kinds' own validation (kube-apiserver's `ValidateDeployment`,
//! `ValidateService`, ...), for the rules people run into; the schema's checks (types,
//! required fields) come first, from `crd-validation`. Errors are worded as kube-apiserver
//! words them, Go's rendering of the bad value included (`map[string]string{"app":"x"}`).

use serde_json::Value;

use super::FieldError;
use crate::selector::LabelSelector;

/// Go's `%#v` of a `map[string]string`: `map[string]string{"a":"b", "c":"d"}`, or
/// `map[string]string(nil)`.
fn go_string_map(map: Option<&Value>) -> String {
    match map.and_then(Value::as_object) {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let entries: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// The `String()` of a `metav1.LabelSelector`, as an error prints it.
fn go_label_selector(selector: &Value) -> String {
    format!(
        "&LabelSelector{{MatchLabels:{},MatchExpressions:[]LabelSelectorRequirement{{}},}}",
        go_string_map(selector.get("matchLabels"))
    )
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// The object's name, if it is not a DNS-1123 subdomain (what most kinds' names must be).
fn subdomain_name(object: &Value, errors: &mut Vec<FieldError>) {
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str)
        && !is_dns1123_subdomain(name)
    {
        errors.push(FieldError::invalid(
            "metadata.name",
            &Value::from(name),
            DNS1123_SUBDOMAIN,
        ));
    }
}

/// A field that must not be negative.
fn non_negative(object: &Value, key: &str, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(v) = object.get(key).and_then(Value::as_i64)
        && v < 0
    {
        errors.push(FieldError::invalid(
            path,
            &Value::from(v),
            "must be greater than or equal to 0",
        ));
    }
}

/// One of `supported`, or absent.
fn one_of(object: &Value, key: &str, path: &str, supported: &[&str], errors: &mut Vec<FieldError>) {
    if let Some(v) = object.get(key)
        && !v.as_str().is_some_and(|s| supported.contains(&s))
    {
        errors.push(FieldError::not_supported(path, v, supported));
    }
}

fn port_number(value: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    let n = value.and_then(Value::as_i64).unwrap_or(0);
    if !(1..=65535).contains(&n) {
        errors.push(FieldError::invalid(path, &Value::from(n), PORT_RANGE));
    }
}

/// `ValidatePodSpec`, the parts people run into: containers (names, images, ports, env) and
/// the policies' values.
fn pod_spec(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    let mut names = Vec::new();
    for key in ["initContainers", "containers"] {
        for (i, c) in spec
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{path}.{key}[{i}]");
            match c.get("name").and_then(Value::as_str).unwrap_or_default() {
                "" => errors.push(FieldError::required(&format!("{at}.name"), "")),
                name if !is_dns1123_label(name) => errors.push(FieldError::invalid(
                    &format!("{at}.name"),
                    &Value::from(name),
                    DNS1123_LABEL,
                )),
                name if names.contains(&name) => errors.push(FieldError::duplicate(
                    &format!("{at}.name"),
                    &Value::from(name),
                )),
                name => names.push(name),
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errors.push(FieldError::required(&format!("{at}.image"), ""));
            }
            for (j, p) in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let port = format!("{at}.ports[{j}]");
                port_number(
                    p.get("containerPort"),
                    &format!("{port}.containerPort"),
                    errors,
                );
                one_of(
                    p,
                    "protocol",
                    &format!("{port}.protocol"),
                    &["SCTP", "TCP", "UDP"],
                    errors,
                );
            }
            for (j, e) in c
                .get("env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if e.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(FieldError::required(&format!("{at}.env[{j}].name"), ""));
                }
            }
            one_of(
                c,
                "imagePullPolicy",
                &format!("{at}.imagePullPolicy"),
                &["Always", "IfNotPresent", "Never"],
                errors,
            );
        }
    }
    one_of(
        spec,
        "restartPolicy",
        &format!("{path}.restartPolicy"),
        &["Always", "Never", "OnFailure"],
        errors,
    );
    one_of(
        spec,
        "dnsPolicy",
        &format!("{path}.dnsPolicy"),
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        errors,
    );
}

/// `ValidateDeployment`.
pub fn deployment(object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    subdomain_name(object, &mut errors);
    let spec = &object["spec"];
    non_negative(spec, "replicas", "spec.replicas", &mut errors);
    // A missing selector selects nothing, so the template's labels never match it; an
    // invalid one is reported as such, and the template is not checked against it.
    let labels = spec.pointer("/template/metadata/labels");
    let matches = match spec.get("selector").filter(|s| !s.is_null()) {
        None => {
            errors.push(FieldError::required("spec.selector", ""));
            false
        }
        Some(s) => match LabelSelector::from_object(s) {
            Some(selector) if selector.is_empty() => {
                errors.push(FieldError::invalid_rendered(
                    "spec.selector",
                    &go_label_selector(s),
                    "empty selector is invalid for deployment",
                ));
                true
            }
            Some(selector) => selector.matches_labels(labels.unwrap_or(&Value::Null)),
            None => {
                errors.push(FieldError::invalid_rendered(
                    "spec.selector",
                    &go_label_selector(s),
                    "invalid label selector",
                ));
                true
            }
        },
    };
    if !matches {
        errors.push(FieldError::invalid_rendered(
            "spec.template.metadata.labels",
            &go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    let template_spec = spec.pointer("/template/spec").unwrap_or(&Value::Null);
    pod_spec(template_spec, "spec.template.spec", &mut errors);
    if let Some(policy) = template_spec.get("restartPolicy")
        && policy != "Always"
    {
        errors.retain(|e| e.field != "spec.template.spec.restartPolicy");
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
    if template_spec.get("activeDeadlineSeconds").is_some() {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    let strategy = &spec["strategy"];
    match strategy.get("type").and_then(Value::as_str) {
        Some("Recreate") if strategy.get("rollingUpdate").is_some() => {
            errors.push(FieldError::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ))
        }
        Some("Recreate" | "RollingUpdate") | None => {}
        Some(_) => one_of(
            strategy,
            "type",
            "spec.strategy.type",
            &["Recreate", "RollingUpdate"],
            &mut errors,
        ),
    }
    non_negative(spec, "minReadySeconds", "spec.minReadySeconds", &mut errors);
    non_negative(
        spec,
        "revisionHistoryLimit",
        "spec.revisionHistoryLimit",
        &mut errors,
    );
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if deadline <= min_ready {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                &Value::from(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(old) = old
        && old.pointer("/spec/selector") != spec.get("selector")
    {
        errors.push(FieldError::invalid_rendered(
            "spec.selector",
            &go_label_selector(&spec["selector"]),
            "field is immutable",
        ));
    }
    errors
}

/// `ValidatePod`.
pub fn pod(object: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    subdomain_name(object, &mut errors);
    pod_spec(&object["spec"], "spec", &mut errors);
    errors
}

/// `ValidateService`: its name, type, ports and session affinity, and a cluster IP that
/// does not change.
pub fn service(object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str)
        && !is_dns1035_label(name)
    {
        errors.push(FieldError::invalid(
            "metadata.name",
            &Value::from(name),
            DNS1035_LABEL,
        ));
    }
    let spec = &object["spec"];
    let type_ = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    one_of(
        spec,
        "type",
        "spec.type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        &mut errors,
    );
    let ports = spec.get("ports").and_then(Value::as_array);
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if type_ == "ExternalName" {
        if spec
            .get("externalName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errors.push(FieldError::required("spec.externalName", ""));
        }
    } else if !headless && ports.is_none_or(|p| p.is_empty()) {
        errors.push(FieldError::required("spec.ports", ""));
    }
    let ports = ports.map(Vec::as_slice).unwrap_or_default();
    let mut names = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match p.get("name").and_then(Value::as_str).unwrap_or_default() {
            "" if ports.len() > 1 => errors.push(FieldError::required(&format!("{at}.name"), "")),
            "" => {}
            name if !is_dns1123_label(name) => errors.push(FieldError::invalid(
                &format!("{at}.name"),
                &Value::from(name),
                DNS1123_LABEL,
            )),
            name if names.contains(&name) => errors.push(FieldError::duplicate(
                &format!("{at}.name"),
                &Value::from(name),
            )),
            name => names.push(name),
        }
        port_number(p.get("port"), &format!("{at}.port"), &mut errors);
        one_of(
            p,
            "protocol",
            &format!("{at}.protocol"),
            &["SCTP", "TCP", "UDP"],
            &mut errors,
        );
        if let Some(Value::Number(n)) = p.get("targetPort")
            && !(1..=65535).contains(&n.as_i64().unwrap_or(0))
        {
            errors.push(FieldError::invalid(
                &format!("{at}.targetPort"),
                &Value::Number(n.clone()),
                PORT_RANGE,
            ));
        }
    }
    one_of(
        spec,
        "sessionAffinity",
        "spec.sessionAffinity",
        &["ClientIP", "None"],
        &mut errors,
    );
    if let Some(ip) = spec.get("clusterIP").and_then(Value::as_str)
        && !ip.is_empty()
        && ip != "None"
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            &Value::from(ip),
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP"));
    if let Some(old_ip) = old_ip
        && spec.get("clusterIP").is_some_and(|ip| ip != old_ip)
    {
        errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            &spec["clusterIP"],
            "may not change once set",
        ));
    }
    errors
}

/// An `IntOrString` that must be a count (not negative) or a percentage up to 100%.
fn count_or_percent(spec: &Value, key: &str, errors: &mut Vec<FieldError>) {
    let path = format!("spec.{key}");
    match spec.get(key) {
        Some(Value::Number(n)) if n.as_i64().unwrap_or(0) < 0 => errors.push(FieldError::invalid(
            &path,
            &Value::Number(n.clone()),
            "must be greater than or equal to 0",
        )),
        Some(Value::String(s)) => match s.strip_suffix('%').map(str::parse::<u64>) {
            Some(Ok(p)) if p > 100 => errors.push(FieldError::invalid(
                &path,
                &Value::from(s.as_str()),
                "must not be greater than 100%",
            )),
            Some(Ok(_)) => {}
            _ => errors.push(FieldError::invalid(
                &path,
                &Value::from(s.as_str()),
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )),
        },
        _ => {}
    }
}

/// `ValidatePodDisruptionBudget`.
pub fn pod_disruption_budget(object: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    subdomain_name(object, &mut errors);
    let spec = &object["spec"];
    if spec.get("minAvailable").is_some() && spec.get("maxUnavailable").is_some() {
        errors.push(FieldError::invalid_rendered(
            "spec",
            &spec.to_string(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    count_or_percent(spec, "minAvailable", &mut errors);
    count_or_percent(spec, "maxUnavailable", &mut errors);
    one_of(
        spec,
        "unhealthyPodEvictionPolicy",
        "spec.unhealthyPodEvictionPolicy",
        &["AlwaysAllow", "IfHealthyBudget"],
        &mut errors,
    );
    errors
}

/// `ValidateNetworkPolicy`: the policy types and the ports' protocols.
pub fn network_policy(object: &Value, _old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    subdomain_name(object, &mut errors);
    let spec = &object["spec"];
    for (i, t) in spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !matches!(t.as_str(), Some("Ingress" | "Egress")) {
            errors.push(FieldError::not_supported(
                &format!("spec.policyTypes[{i}]"),
                t,
                &["Egress", "Ingress"],
            ));
        }
    }
    for direction in ["ingress", "egress"] {
        for (i, rule) in spec
            .get(direction)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (j, p) in rule
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                one_of(
                    p,
                    "protocol",
                    &format!("spec.{direction}[{i}].ports[{j}].protocol"),
                    &["SCTP", "TCP", "UDP"],
                    &mut errors,
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn a_deployment_whose_selector_misses_its_template_is_refused() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}}}});
        assert_eq!(
            messages(deployment(&d, None)),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn a_deployment_without_selector_or_image_names_both() {
        let d = json!({"metadata": {"name": "web"}, "spec": {
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}}});
        assert_eq!(
            messages(deployment(&d, None)),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.template.spec.containers[0].image: Required value",
            ]
        );
    }

    #[test]
    fn service_ports_need_a_port_and_names_when_there_are_several() {
        let s = json!({"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "ports": [{"protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]}});
        assert_eq!(
            messages(service(&s, None)),
            [
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].name: Required value",
            ]
        );
        let s = json!({"metadata": {"name": "Web"}, "spec": {"type": "ClusterIP"}});
        assert_eq!(messages(service(&s, None)).len(), 2);
    }
}
