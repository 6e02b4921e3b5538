//! The columns `kubectl get` prints for the built-in kinds, as kube-apiserver's table
//! printers (`pkg/printers/internalversion`) make them: the column definitions, and each
//! object's cells after its name.

use serde_json::{Value, json};

use crate::selector::LabelSelector;

/// One column: name, type, priority (1: only with `-o wide`), description.
pub type Column = (&'static str, &'static str, u8, &'static str);

/// A kind's table.
pub struct Columns {
    /// The columns after Name.
    pub definitions: &'static [Column],
    /// An object's cells after its name, one per definition.
    pub cells: fn(&Value) -> Vec<Value>,
}

const AGE: Column = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// How long ago `timestamp` was, as kubectl prints ages (`45s`, `3m12s`, `5h`, `12d`).
pub fn age(timestamp: &str) -> String {
    let Ok(t) = timestamp.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let s = jiff::Timestamp::now().duration_since(t).as_secs().max(0);
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..10800 => format!("{}m", s / 60),
        10800..172800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn age_of(object: &Value) -> Value {
    json!(age(object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .unwrap_or_default()))
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn count(object: &Value, key: &str) -> usize {
    object
        .get(key)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

/// A `metav1.LabelSelector` as kubectl prints it, `<none>` when it selects everything.
fn selector_text(selector: Option<&Value>) -> String {
    match selector.and_then(LabelSelector::from_object) {
        Some(s) if !s.is_empty() => s.to_string(),
        Some(_) | None => "<none>".into(),
    }
}

/// A label map as kubectl prints it (`a=b,c=d`), `<none>` when empty.
fn labels_text(labels: Option<&Value>) -> String {
    let text: Vec<String> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if text.is_empty() {
        "<none>".into()
    } else {
        text.join(",")
    }
}

pub const NAMESPACE: Columns = Columns {
    definitions: &[("Status", "string", 0, "The status of the namespace"), AGE],
    cells: |ns| {
        vec![
            ns.pointer("/status/phase").cloned().unwrap_or(json!("")),
            age_of(ns),
        ]
    },
};

pub const SECRET: Columns = Columns {
    definitions: &[
        (
            "Type",
            "string",
            0,
            "Used to facilitate programmatic handling of secret data.",
        ),
        (
            "Data",
            "string",
            0,
            "The number of entries in the secret's data.",
        ),
        AGE,
    ],
    cells: |s| {
        let data = count(s, "data") + count(s, "stringData");
        vec![
            s.get("type").cloned().unwrap_or(json!("")),
            json!(data),
            age_of(s),
        ]
    },
};

pub const CONFIG_MAP: Columns = Columns {
    definitions: &[
        (
            "Data",
            "string",
            0,
            "The number of entries in the data and binaryData.",
        ),
        AGE,
    ],
    cells: |c| vec![json!(count(c, "data") + count(c, "binaryData")), age_of(c)],
};

pub const DEPLOYMENT: Columns = Columns {
    definitions: &[
        ("Ready", "string", 0, "Number of the pod with ready state"),
        (
            "Up-to-date",
            "string",
            0,
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        (
            "Available",
            "string",
            0,
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        AGE,
        (
            "Containers",
            "string",
            1,
            "Names of each container in the template.",
        ),
        (
            "Images",
            "string",
            1,
            "Images referenced by each container in the template.",
        ),
        (
            "Selector",
            "string",
            1,
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        ),
    ],
    cells: |d| {
        let containers: Vec<&Value> = d
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let field = |k: &str| -> String {
            containers
                .iter()
                .map(|c| c.get(k).and_then(Value::as_str).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            json!(format!(
                "{}/{}",
                int(d, "/status/readyReplicas"),
                int(d, "/spec/replicas")
            )),
            json!(int(d, "/status/updatedReplicas")),
            json!(int(d, "/status/availableReplicas")),
            age_of(d),
            json!(field("name")),
            json!(field("image")),
            json!(selector_text(d.pointer("/spec/selector"))),
        ]
    },
};

pub const SERVICE: Columns = Columns {
    definitions: &[
        (
            "Type",
            "string",
            0,
            "type determines how the Service is exposed.",
        ),
        (
            "Cluster-IP",
            "string",
            0,
            "clusterIP is the IP address of the service and is usually assigned randomly.",
        ),
        (
            "External-IP",
            "string",
            0,
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
        ),
        (
            "Port(s)",
            "string",
            0,
            "The list of ports that are exposed by this service.",
        ),
        AGE,
        (
            "Selector",
            "string",
            1,
            "Route service traffic to pods with label keys and values matching this selector.",
        ),
    ],
    cells: |s| {
        let spec = &s["spec"];
        let text = |k: &str| {
            spec.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let type_ = text("type");
        let cluster_ip = match text("clusterIP") {
            ip if ip.is_empty() => "<none>".to_string(),
            ip => ip,
        };
        let external: Vec<String> = spec
            .get("externalIPs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.as_str().map(String::from))
            .collect();
        let ingress: Vec<String> = s
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| {
                i.get("ip")
                    .or_else(|| i.get("hostname"))
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        let external_ip = match type_.as_str() {
            "ExternalName" => text("externalName"),
            "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".into(),
            "LoadBalancer" => [ingress, external].concat().join(","),
            _ if external.is_empty() => "<none>".into(),
            _ => external.join(","),
        };
        let ports: Vec<String> = spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                match int(p, "/nodePort") {
                    0 => format!("{}/{protocol}", int(p, "/port")),
                    node => format!("{}:{node}/{protocol}", int(p, "/port")),
                }
            })
            .collect();
        let ports = if ports.is_empty() {
            "<none>".into()
        } else {
            ports.join(",")
        };
        vec![
            json!(type_),
            json!(cluster_ip),
            json!(external_ip),
            json!(ports),
            age_of(s),
            json!(labels_text(spec.get("selector"))),
        ]
    },
};

pub const POD: Columns = Columns {
    definitions: &[
        (
            "Ready",
            "string",
            0,
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        (
            "Status",
            "string",
            0,
            "The aggregate status of the containers in this pod.",
        ),
        (
            "Restarts",
            "string",
            0,
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        AGE,
        (
            "IP",
            "string",
            1,
            "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        ),
        (
            "Node",
            "string",
            1,
            "NodeName is a request to schedule this pod onto a specific node.",
        ),
    ],
    cells: |p| {
        let containers = p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let ready = p
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
            .count();
        let status = p
            .pointer("/status/reason")
            .or_else(|| p.pointer("/status/phase"))
            .cloned()
            .unwrap_or(json!("Pending"));
        let none = |v: Option<&Value>| v.cloned().unwrap_or(json!("<none>"));
        vec![
            json!(format!("{ready}/{containers}")),
            status,
            json!(0),
            age_of(p),
            none(p.pointer("/status/podIP")),
            none(p.pointer("/spec/nodeName")),
        ]
    },
};

pub const POD_DISRUPTION_BUDGET: Columns = Columns {
    definitions: &[
        (
            "Min Available",
            "string",
            0,
            "The minimum number or percentage of available pods this budget requires.",
        ),
        (
            "Max Unavailable",
            "string",
            0,
            "The maximum number or percentage of unavailable pods this budget requires.",
        ),
        (
            "Allowed Disruptions",
            "integer",
            0,
            "Calculated number of pods that can be disrupted at this time.",
        ),
        AGE,
    ],
    cells: |p| {
        let text = |k: &str| match p.pointer(&format!("/spec/{k}")) {
            Some(Value::String(s)) => json!(s),
            Some(Value::Number(n)) => json!(n.to_string()),
            _ => json!("N/A"),
        };
        vec![
            text("minAvailable"),
            text("maxUnavailable"),
            json!(int(p, "/status/disruptionsAllowed")),
            age_of(p),
        ]
    },
};

pub const NETWORK_POLICY: Columns = Columns {
    definitions: &[
        (
            "Pod-Selector",
            "string",
            0,
            "Selects the pods to which this NetworkPolicy object applies.",
        ),
        AGE,
    ],
    cells: |n| {
        vec![
            json!(selector_text(n.pointer("/spec/podSelector"))),
            age_of(n),
        ]
    },
};
