//! What kube-apiserver's defaulting functions do that depends on other fields (an image's
//! pull policy on its tag, a rolling update's surge on the strategy's type), and the status a
//! registry strategy's `PrepareForCreate` gives a new object. Defaults that depend on nothing
//! are in the schema (`schemas::DEFAULTS`) and applied with pruning.

use serde_json::{Map, Value, json};

/// The object (or nothing) at `path` below `value`.
fn object_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    path.iter()
        .try_fold(value, |v, k| v.get_mut(*k))?
        .as_object_mut()
}

/// The objects of the list at `key` of `object`.
fn items<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    object
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// `SetDefaults_Deployment`: a rolling update of 25% surge and 25% unavailable unless the
/// strategy is Recreate; and the pod template's defaults.
pub fn deployment(object: &mut Value) {
    if let Some(strategy) = object_at(object, &["spec", "strategy"]) {
        let rolling = strategy
            .entry("type")
            .or_insert_with(|| json!("RollingUpdate"))
            == "RollingUpdate";
        if rolling {
            let update = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(update) = update.as_object_mut() {
                update
                    .entry("maxUnavailable")
                    .or_insert_with(|| json!("25%"));
                update.entry("maxSurge").or_insert_with(|| json!("25%"));
            }
        }
    }
    if let Some(spec) = object_at(object, &["spec", "template", "spec"]) {
        pod_spec(spec);
    }
}

/// The defaults of a pod's spec that depend on other fields.
fn pod_spec(spec: &mut Map<String, Value>) {
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items(spec, key) {
            image_pull_policy(container);
        }
    }
    for volume in items(spec, "volumes") {
        // A volume naming no source is an emptyDir.
        if volume.keys().all(|k| k == "name") {
            volume.insert("emptyDir".into(), json!({}));
        }
    }
}

/// `SetDefaults_Container`: `Always` for a `latest` (or no) tag, `IfNotPresent` otherwise.
fn image_pull_policy(container: &mut Map<String, Value>) {
    if container.contains_key("imagePullPolicy") {
        return;
    }
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    // A tag follows the last `:` after the last `/` (a registry's port comes before it).
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = match last.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if digest => "",
        None => "latest",
    };
    let policy = if tag == "latest" {
        "Always"
    } else {
        "IfNotPresent"
    };
    container.insert("imagePullPolicy".into(), json!(policy));
}

/// A Deployment starts with an empty status.
pub fn new_deployment(object: &mut Value) {
    if let Some(o) = object.as_object_mut() {
        o.insert("status".into(), json!({}));
    }
}

/// `SetDefaults_Pod`: requests default to limits, and service links are on; then the pod
/// spec's defaults. A Pod's ServiceAccount is `default` (the ServiceAccount admission plugin)
/// and its priority 0 (the Priority plugin).
pub fn pod(object: &mut Value) {
    let Some(spec) = object_at(object, &["spec"]) else {
        return;
    };
    spec.entry("enableServiceLinks").or_insert(json!(true));
    spec.entry("serviceAccountName").or_insert(json!("default"));
    let account = spec["serviceAccountName"].clone();
    spec.entry("serviceAccount").or_insert(account);
    spec.entry("priority").or_insert(json!(0));
    for key in ["containers", "initContainers"] {
        for container in items(spec, key) {
            let Some(resources) = container
                .get_mut("resources")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            if let Some(requests) = requests.as_object_mut() {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    pod_spec(spec);
}

/// A Pod nobody schedules stays Pending, with the QoS class its resources give it; the
/// admission plugins a cluster runs give it its preemption policy and the tolerations of a
/// node that is not ready or unreachable, for 300 seconds.
pub fn new_pod(object: &mut Value) {
    if let Some(spec) = object_at(object, &["spec"]) {
        spec.entry("preemptionPolicy")
            .or_insert(json!("PreemptLowerPriority"));
        let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
        if let Some(tolerations) = tolerations.as_array_mut() {
            for key in [
                "node.kubernetes.io/not-ready",
                "node.kubernetes.io/unreachable",
            ] {
                if !tolerations.iter().any(|t| t["key"] == key) {
                    tolerations.push(json!({"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}));
                }
            }
        }
    }
    let containers: Vec<Value> = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let resources = |c: &Value, what: &str| {
        c.pointer(&format!("/resources/{what}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let none = containers
        .iter()
        .all(|c| resources(c, "limits").is_empty() && resources(c, "requests").is_empty());
    let guaranteed = containers.iter().all(|c| {
        let (limits, requests) = (resources(c, "limits"), resources(c, "requests"));
        ["cpu", "memory"]
            .iter()
            .all(|r| limits.get(*r).is_some() && limits.get(*r) == requests.get(*r))
    });
    let class = match (none, guaranteed) {
        (true, _) => "BestEffort",
        (false, true) => "Guaranteed",
        (false, false) => "Burstable",
    };
    if let Some(o) = object.as_object_mut() {
        o.insert(
            "status".into(),
            json!({"phase": "Pending", "qosClass": class}),
        );
    }
}

/// `SetDefaults_Service`: a port's target is the port itself; traffic policies and the
/// session affinity's timeout as the type asks.
pub fn service(object: &mut Value) {
    let Some(spec) = object_at(object, &["spec"]) else {
        return;
    };
    let type_ = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"));
            if timeout.is_none() {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    for port in items(spec, "ports") {
        let unset = match port.get("targetPort") {
            None => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if unset && let Some(p) = port.get("port").cloned() {
            port.insert("targetPort".into(), p);
        }
    }
    let external = matches!(type_.as_str(), "NodePort" | "LoadBalancer");
    if external {
        spec.entry("externalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if external || type_ == "ClusterIP" {
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if type_ == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert(json!(true));
    }
}

/// A Service starts with an empty load balancer status.
pub fn new_service(object: &mut Value) {
    if let Some(o) = object.as_object_mut() {
        o.insert("status".into(), json!({"loadBalancer": {}}));
    }
}

/// A PodDisruptionBudget starts with a zero status (its counts are not optional).
pub fn new_pod_disruption_budget(object: &mut Value) {
    if let Some(o) = object.as_object_mut() {
        o.insert(
            "status".into(),
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
        );
    }
}

/// `SetDefaults_NetworkPolicy`: a policy naming no types is an Ingress policy, and an Egress
/// one too if it has egress rules.
pub fn network_policy(object: &mut Value) {
    let Some(spec) = object_at(object, &["spec"]) else {
        return;
    };
    let named = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if !named {
        let egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        let types = if egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".into(), types);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(image: &str) -> Value {
        let mut container = Map::new();
        container.insert("image".into(), json!(image));
        image_pull_policy(&mut container);
        container["imagePullPolicy"].clone()
    }

    #[test]
    fn the_pull_policy_follows_the_images_tag() {
        assert_eq!(policy("nginx"), "Always");
        assert_eq!(policy("nginx:latest"), "Always");
        assert_eq!(policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(policy("localhost:5000/app"), "Always");
        assert_eq!(policy("localhost:5000/app:v1"), "IfNotPresent");
        assert_eq!(policy("app@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn a_deployment_rolls_25_percent_at_a_time_unless_recreated() {
        let mut d = json!({"spec": {"strategy": {}}});
        deployment(&mut d);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        deployment(&mut d);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn a_service_port_targets_itself_and_traffic_stays_in_the_cluster() {
        let mut s = json!({"spec": {"type": "ClusterIP", "sessionAffinity": "None", "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}});
        service(&mut s);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][1]["targetPort"], "https");
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert!(s["spec"].get("externalTrafficPolicy").is_none());
    }
}
