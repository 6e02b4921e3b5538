//! AKS's agent pools, as AKS keeps them: one list on the cluster (`agentPoolProfiles`), which
//! the agentPools API reads and changes pool by pool. A pool's operation is the cluster's too:
//! AKS runs one at a time, so a cluster PUT or another pool's write waits for it (409). The
//! version rules are AKS's: the control plane moves up one minor version at a time and never
//! down; no pool runs a newer version than the control plane; a cluster keeps a System pool.

use std::time::Instant;

use serde_json::{Value, json};

use crate::arm::{
    Answer, Arm, ArmError, Kind, Poll, Target, default_max_pods, operation_headers, pool_defaults,
};

/// `(major, minor, patch)` of `1.31` or `1.31.2` (patch 0 when not given).
pub(crate) fn version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(str::parse::<u64>);
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = match parts.next() {
        Some(p) => p.ok()?,
        None => 0,
    };
    Some((major, minor, patch))
}

/// AKS's answer to a version change it does not make.
fn not_allowed(message: String) -> ArmError {
    ArmError::new(400, "OperationNotAllowed", message)
}

/// Whether the control plane may go from `from` to `to`: the same version, a later patch of
/// the same minor, or the next minor (AKS neither downgrades nor skips a minor).
pub(crate) fn check_upgrade(from: &str, to: &str) -> Result<(), ArmError> {
    let (Some(f), Some(t)) = (version(from), version(to)) else {
        return Ok(());
    };
    // A version given without its patch means "the minor's latest": only the minor counts.
    let same_minor = (f.0, f.1) == (t.0, t.1);
    let downgrade = t.0 < f.0
        || (t.0 == f.0 && t.1 < f.1)
        || (same_minor && to.matches('.').count() == 2 && t.2 < f.2);
    if downgrade {
        return Err(not_allowed(format!(
            "Downgrading Kubernetes version {from} to {to} is not allowed."
        )));
    }
    if t.0 != f.0 || t.1 > f.1 + 1 {
        return Err(not_allowed(format!(
            "Upgrading Kubernetes version {from} to {to} is not allowed: minor versions cannot be skipped. Upgrade to {}.{} first.",
            f.0,
            f.1 + 1
        )));
    }
    Ok(())
}

/// Whether a pool may run `pool` under a control plane running `control_plane`.
pub(crate) fn check_pool_version(
    name: &str,
    pool: &str,
    control_plane: &str,
) -> Result<(), ArmError> {
    if let (Some(p), Some(c)) = (version(pool), version(control_plane))
        && ((p.0, p.1) > (c.0, c.1) || p.0 != c.0 || p.1 + 3 < c.1)
    {
        return Err(ArmError::new(
            400,
            "NodePoolMcVersionIncompatible",
            format!(
                "Node pool version {pool} and control plane version {control_plane} are incompatible. Minor version of node pool {name} cannot be more than the control plane's, nor more than 3 versions less than it."
            ),
        ));
    }
    Ok(())
}

/// The pool's name, lower-cased, and its cluster's lower-cased id, for an agentPools id.
fn split_pool_id(lower: &str) -> Option<(&str, &str)> {
    lower.split_once("/agentpools/")
}

/// The lower-cased id of the cluster an agentPools id is under.
fn cluster_key_of(lower: &str) -> Result<String, ArmError> {
    split_pool_id(lower)
        .map(|(cluster, _)| cluster.to_string())
        .ok_or_else(|| ArmError::new(400, "InvalidParameter", "Not an agent pool id."))
}

fn busy(cluster: &str) -> ArmError {
    ArmError::new(
        409,
        "OperationNotAllowed",
        format!(
            "Operation is not allowed because there's an in progress operation on managed cluster {cluster}. Please retry later."
        ),
    )
}

fn pools(cluster: &Value) -> Vec<Value> {
    cluster
        .pointer("/properties/agentPoolProfiles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn named<'a>(pools: &'a [Value], name: &str) -> Option<(usize, &'a Value)> {
    pools.iter().enumerate().find(|(_, p)| {
        p.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn is_system(p: &Value) -> bool {
    p.get("mode").and_then(Value::as_str) == Some("System")
}

/// The agentPools body of one profile: AKS answers the profile's fields under `properties`.
fn pool_body(cluster_id: &str, profile: &Value) -> Value {
    let mut properties = profile.clone();
    let name = properties
        .as_object_mut()
        .and_then(|p| p.remove("name"))
        .unwrap_or(Value::Null);
    json!({
        "id": format!("{cluster_id}/agentPools/{}", name.as_str().unwrap_or_default()),
        "name": name,
        "type": Kind::AgentPool.type_name(),
        "properties": properties,
    })
}

impl Arm {
    fn cluster_id(&self, lower: &str) -> String {
        self.resources
            .get(lower)
            .and_then(|c| c.body.get("id").and_then(Value::as_str))
            .unwrap_or(lower)
            .to_string()
    }

    /// An agent pool as the agentPools API answers it, read from its cluster.
    pub(crate) fn pool(&self, lower_id: &str) -> Option<Value> {
        let (cluster, name) = split_pool_id(lower_id)?;
        let c = self.resources.get(cluster)?;
        let p = pools(&c.body);
        let (_, profile) = named(&p, name)?;
        Some(pool_body(&self.cluster_id(cluster), profile))
    }

    /// GET of `.../agentPools`.
    pub(crate) fn list_pools(&self, cluster: &str) -> Value {
        let lower = cluster.to_ascii_lowercase();
        let items: Vec<Value> = self
            .resources
            .get(&lower)
            .map(|c| {
                pools(&c.body)
                    .iter()
                    .map(|p| pool_body(&self.cluster_id(&lower), p))
                    .collect()
            })
            .unwrap_or_default();
        json!({"value": items})
    }

    /// PUT of one agent pool: the cluster's profile of that name is replaced (or added), and
    /// the pool and the cluster are Updating until the operation ends.
    pub(crate) fn put_pool(
        &mut self,
        t: &Target,
        body: Value,
        cfg: &crate::Config,
        base: &str,
    ) -> Result<Answer, ArmError> {
        let lower = t.id.to_ascii_lowercase();
        let cluster_key = cluster_key_of(&lower)?;
        let cluster = self.resources.get(&cluster_key).cloned().ok_or_else(|| {
            ArmError::new(404, "ParentResourceNotFound", "Parent resource not found.")
        })?;
        if cluster.busy_until.is_some() {
            return Err(busy(&cluster_key));
        }
        let mut list = pools(&cluster.body);
        let existing = named(&list, &t.name).map(|(i, p)| (i, p.clone()));
        let mut profile = body.get("properties").cloned().unwrap_or_else(|| json!({}));
        if !profile.is_object() {
            return Err(ArmError::new(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            ));
        }
        let control_plane = cluster
            .body
            .pointer("/properties/currentKubernetesVersion")
            .and_then(Value::as_str)
            .unwrap_or("1.33.2")
            .to_string();
        match &existing {
            None => {
                if profile.get("vmSize").and_then(Value::as_str).is_none() {
                    return Err(ArmError::new(
                        400,
                        "InvalidParameter",
                        "The value of parameter agentPoolProfile.vmSize is invalid.",
                    ));
                }
            }
            Some((_, old)) => {
                if let (Some(o), Some(n)) = (
                    old.get("vmSize").and_then(Value::as_str),
                    profile.get("vmSize").and_then(Value::as_str),
                ) && !o.eq_ignore_ascii_case(n)
                {
                    return Err(ArmError::new(
                        400,
                        "PropertyChangeNotAllowed",
                        "Changing property 'vmSize' is not allowed.",
                    ));
                }
                let others_system = list.iter().any(|p| {
                    is_system(p)
                        && !p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&t.name))
                });
                if is_system(old)
                    && profile.get("mode").and_then(Value::as_str) == Some("User")
                    && !others_system
                {
                    return Err(not_allowed(format!(
                        "Cannot change the mode of agent pool {}: a cluster needs at least one System agent pool.",
                        t.name
                    )));
                }
                // A version left out keeps the pool's own.
                if profile.get("orchestratorVersion").is_none() {
                    profile["orchestratorVersion"] = old["orchestratorVersion"].clone();
                }
                let from = old["currentOrchestratorVersion"]
                    .as_str()
                    .or(old["orchestratorVersion"].as_str())
                    .unwrap_or_default()
                    .to_string();
                if let Some(to) = profile.get("orchestratorVersion").and_then(Value::as_str) {
                    check_upgrade(&from, to)?;
                }
            }
        }
        if let Some(v) = profile.get("orchestratorVersion").and_then(Value::as_str) {
            check_pool_version(&t.name, v, &control_plane)?;
        }
        if profile.get("enableAutoScaling") != Some(&json!(true))
            && (profile.get("minCount").is_some() || profile.get("maxCount").is_some())
        {
            return Err(ArmError::new(
                400,
                "InvalidParameter",
                format!(
                    "Agent pool {}: minCount and maxCount apply only with enableAutoScaling: true.",
                    t.name
                ),
            ));
        }
        let state = if existing.is_some() {
            "Updating"
        } else {
            "Creating"
        };
        profile["name"] = json!(t.name);
        pool_defaults(
            &mut profile,
            &control_plane,
            default_max_pods(&cluster.body),
        );
        profile["provisioningState"] = json!(state);
        match existing {
            Some((i, _)) => list[i] = profile.clone(),
            None => list.push(profile.clone()),
        }
        let until = Instant::now() + cfg.lro_duration;
        if let Some(c) = self.resources.get_mut(&cluster_key) {
            c.body["properties"]["agentPoolProfiles"] = Value::Array(list);
            c.body["properties"]["provisioningState"] = json!("Updating");
            c.body["eTag"] = json!(uuid::Uuid::new_v4().simple().to_string());
            c.busy_until = Some(until);
        }
        let op = self.start_operation(&lower, false, cfg.lro_duration);
        let mut answer = Answer::json(
            if state == "Creating" { 201 } else { 200 },
            pool_body(&self.cluster_id(&cluster_key), &profile),
        );
        answer.headers.extend(operation_headers(
            base,
            &t.subscription,
            &op,
            cfg.lro_duration,
            Poll::Status,
        ));
        Ok(answer)
    }

    /// DELETE of one agent pool: gone from the cluster's list when its operation ends. The
    /// last System pool stays.
    pub(crate) fn delete_pool(
        &mut self,
        t: &Target,
        cfg: &crate::Config,
        base: &str,
    ) -> Result<Answer, ArmError> {
        let lower = t.id.to_ascii_lowercase();
        let cluster_key = cluster_key_of(&lower)?;
        let Some(cluster) = self.resources.get(&cluster_key).cloned() else {
            return Ok(Answer::empty(204));
        };
        let mut list = pools(&cluster.body);
        let Some((i, old)) = named(&list, &t.name).map(|(i, p)| (i, p.clone())) else {
            return Ok(Answer::empty(204));
        };
        if cluster.busy_until.is_some() {
            return Err(busy(&cluster_key));
        }
        if is_system(&old) && list.iter().filter(|p| is_system(p)).count() == 1 {
            return Err(not_allowed(format!(
                "Cannot delete agent pool {}: it is the cluster's last System agent pool, and a cluster needs at least one.",
                t.name
            )));
        }
        list[i]["provisioningState"] = json!("Deleting");
        if let Some(c) = self.resources.get_mut(&cluster_key) {
            c.body["properties"]["agentPoolProfiles"] = Value::Array(list);
            c.body["properties"]["provisioningState"] = json!("Updating");
            c.busy_until = Some(Instant::now() + cfg.lro_duration);
        }
        let op = self.start_operation(&lower, true, cfg.lro_duration);
        let mut a = Answer::empty(202);
        a.headers.extend(operation_headers(
            base,
            &t.subscription,
            &op,
            cfg.lro_duration,
            Poll::Both,
        ));
        Ok(a)
    }

    /// The end of an operation on a pool: its cluster is no longer busy, and the pool is
    /// Succeeded, Failed, or gone (a delete).
    pub(crate) fn settle_pool(&mut self, lower_id: &str, delete: bool, failed: bool) {
        let Some((cluster_key, name)) = split_pool_id(lower_id) else {
            return;
        };
        let Some(c) = self.resources.get_mut(cluster_key) else {
            return;
        };
        c.busy_until = None;
        let state = if failed { "Failed" } else { "Succeeded" };
        c.body["properties"]["provisioningState"] = json!(state);
        if let Some(list) = c
            .body
            .pointer_mut("/properties/agentPoolProfiles")
            .and_then(Value::as_array_mut)
        {
            if delete && !failed {
                list.retain(|p| {
                    !p["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                });
            } else {
                for p in list.iter_mut() {
                    if p["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    {
                        p["provisioningState"] = json!(state);
                    }
                }
            }
        }
    }

    /// A cluster PUT on an existing cluster: the pools it lists change those pools (with the
    /// version rules), pools it leaves out stay as they are, and the control plane moves at
    /// most one minor version.
    pub(crate) fn merge_cluster_pools(
        &self,
        existing: &Value,
        body: &mut Value,
    ) -> Result<(), ArmError> {
        let old_version = existing
            .pointer("/properties/currentKubernetesVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let new_version = body
            .pointer("/properties/kubernetesVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(to) = &new_version {
            check_upgrade(&old_version, to)?;
        }
        let mut list = pools(existing);
        let sent = body
            .pointer("/properties/agentPoolProfiles")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for p in sent {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            match named(&list, &name).map(|(i, o)| (i, o.clone())) {
                Some((i, old)) => {
                    let mut merged = p.clone();
                    if merged.get("orchestratorVersion").is_none() {
                        // Left out in a cluster upgrade: the pool follows the control plane.
                        merged["orchestratorVersion"] = match &new_version {
                            Some(v) => json!(v),
                            None => old["orchestratorVersion"].clone(),
                        };
                    }
                    if let (Some(o), Some(n)) = (
                        old.get("vmSize").and_then(Value::as_str),
                        merged.get("vmSize").and_then(Value::as_str),
                    ) && !o.eq_ignore_ascii_case(n)
                    {
                        return Err(ArmError::new(
                            400,
                            "PropertyChangeNotAllowed",
                            "Changing property 'vmSize' is not allowed.",
                        ));
                    }
                    list[i] = merged;
                }
                None => list.push(p),
            }
        }
        let control_plane = new_version.unwrap_or(old_version);
        for p in &list {
            if let Some(v) = p.get("orchestratorVersion").and_then(Value::as_str) {
                check_pool_version(p["name"].as_str().unwrap_or_default(), v, &control_plane)?;
            }
        }
        body["properties"]["agentPoolProfiles"] = Value::Array(list);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_plane_moves_up_one_minor_at_a_time() {
        assert!(check_upgrade("1.30.2", "1.31").is_ok());
        assert!(check_upgrade("1.30.2", "1.30.5").is_ok());
        assert!(check_upgrade("1.30.2", "1.30").is_ok());
        assert!(check_upgrade("1.30.2", "1.32").is_err());
        assert!(check_upgrade("1.30.2", "1.29").is_err());
        assert!(check_upgrade("1.30.5", "1.30.2").is_err());
        assert!(check_pool_version("apps", "1.31", "1.30.2").is_err());
        assert!(check_pool_version("apps", "1.30", "1.30.2").is_ok());
        assert!(check_pool_version("apps", "1.27", "1.30.2").is_ok());
        assert!(check_pool_version("apps", "1.26", "1.30.2").is_err());
    }
}
