//! Services' cluster IPs and node ports, allocated as kube-apiserver's Service registry
//! allocates them: from the service CIDR (10.96.0.0/12, a kubeadm cluster's default; the
//! first address is the `kubernetes` Service's) and the node port range (30000-32767). The
//! next free one is taken rather than a random one, so tests see stable addresses.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};

/// The range's first address, the `default/kubernetes` Service's.
pub const FIRST: &str = "10.96.0.1";

/// The service CIDR, as kube-apiserver's errors name it.
const RANGE: &str = "10.96.0.0/12";
const NETWORK: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const PREFIX: u32 = 12;
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn in_range(ip: Ipv4Addr) -> bool {
    u32::from(ip) >> (32 - PREFIX) == NETWORK >> (32 - PREFIX)
}

/// Gives a new Service its cluster IP (the one it asks for, if free and in the range), its
/// `clusterIPs`, IP family fields and, for NodePort and LoadBalancer Services, node ports.
/// `Err` is the field error kube-apiserver answers.
pub fn allocate(
    service: &mut Value,
    taken_ips: &BTreeSet<String>,
    taken_ports: &BTreeSet<i64>,
) -> Result<(), String> {
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let type_ = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if type_ == "ExternalName" {
        return Ok(());
    }
    let requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .map(String::from);
    let ip = match requested {
        Some(ip) if ip == "None" => ip,
        Some(ip) => {
            let refused = |why: String| {
                format!(
                    "spec.clusterIPs: Invalid value: []string{{{ip:?}}}: failed to allocate IP {ip}: {why}"
                )
            };
            match ip.parse::<Ipv4Addr>() {
                Ok(v4) if !in_range(v4) => {
                    return Err(refused(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {RANGE}"
                    )));
                }
                _ if taken_ips.contains(&ip) => {
                    return Err(refused("provided IP is already allocated".into()));
                }
                _ => ip,
            }
        }
        None => {
            let first = u32::from(FIRST.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED));
            let last = NETWORK | (u32::MAX >> PREFIX);
            (first..last)
                .map(|n| Ipv4Addr::from(n).to_string())
                .find(|ip| !taken_ips.contains(ip))
                .ok_or("spec.clusterIPs: Internal error: failed to allocate a serviceIP: range is full")?
        }
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
    spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
    if matches!(type_.as_str(), "NodePort" | "LoadBalancer") {
        allocate_node_ports(spec, taken_ports)?;
    }
    Ok(())
}

fn allocate_node_ports(spec: &mut Map<String, Value>, taken: &BTreeSet<i64>) -> Result<(), String> {
    let mut taken = taken.clone();
    let ports = spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut);
    for (i, port) in ports.enumerate() {
        match port
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        {
            Some(n) if taken.contains(&n) => {
                return Err(format!(
                    "spec.ports[{i}].nodePort: Invalid value: {n}: provided port is already allocated"
                ));
            }
            Some(n) => {
                taken.insert(n);
            }
            None => {
                let n = NODE_PORTS
                    .clone()
                    .find(|n| !taken.contains(n))
                    .ok_or_else(|| {
                        format!("spec.ports[{i}].nodePort: Internal error: range is full")
                    })?;
                taken.insert(n);
                port.insert("nodePort".into(), json!(n));
            }
        }
    }
    Ok(())
}

/// An update that leaves the addresses out keeps the allocated ones, as kube-apiserver
/// copies them over (so a `kubectl replace` of the applied YAML does not try to change them).
pub fn keep_allocated(old: &Value, new: &mut Value) {
    let (Some(old), Some(spec)) = (
        old.get("spec").and_then(Value::as_object),
        new.get_mut("spec").and_then(Value::as_object_mut),
    ) else {
        return;
    };
    let unset = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if unset {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let Some(v) = old.get(k) {
                spec.entry(k).or_insert(v.clone());
            }
        }
    }
    let old_ports: Vec<&Value> = old
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
            continue;
        }
        let allocated = old_ports
            .iter()
            .find(|p| p.get("port") == port.get("port"))
            .and_then(|p| p.get("nodePort"));
        if let Some(n) = allocated {
            port.insert("nodePort".into(), n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_free_address_is_taken_unless_one_is_asked_for() {
        let taken: BTreeSet<String> = [FIRST.to_string()].into();
        let mut s = json!({"spec": {"type": "ClusterIP"}});
        allocate(&mut s, &taken, &BTreeSet::new()).expect("allocated");
        assert_eq!(s["spec"]["clusterIP"], "10.96.0.2");
        assert_eq!(s["spec"]["clusterIPs"], json!(["10.96.0.2"]));
        assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
        let mut s = json!({"spec": {"clusterIP": FIRST}});
        assert!(
            allocate(&mut s, &taken, &BTreeSet::new())
                .expect_err("taken")
                .ends_with("provided IP is already allocated")
        );
        let mut s = json!({"spec": {"clusterIP": "192.168.0.1"}});
        assert!(
            allocate(&mut s, &taken, &BTreeSet::new())
                .expect_err("outside")
                .contains("is not in the valid range. The range of valid IPs is 10.96.0.0/12")
        );
        let mut s = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        allocate(&mut s, &taken, &[30000].into()).expect("allocated");
        assert_eq!(s["spec"]["ports"][0]["nodePort"], 30001);
    }
}
