//! An AksCluster's `kubeconfigSecret`: the credential AKS lists (`listClusterUserCredential` or
//! `listClusterAdminCredential`), in a Secret the AksCluster owns, under the key `value`.
//!
//! Listing is a POST, which ARM counts as a write, so a steady cluster lists nothing: the
//! Secret records (in an annotation) the cluster's state it was listed from — its eTag, which
//! AKS changes with every operation on the cluster (a certificate rotation is one), and who may
//! sign in — with the credential kind and a digest of what was written. The credential is
//! listed again only when one of those differs: the cluster changed, or the Secret is missing
//! or was edited; the Secret is rewritten only when the credential differs.

use std::collections::BTreeMap;

use azop_api::AksCluster;
use azop_api::aks_cluster::{AksClusterStatus, KubeconfigKind};
use azop_api::conditions::Reason;
use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::Value;

use crate::azure::Azure;
use crate::engine::{Context, ReconcileError};

/// The Secret's key holding the kubeconfig (Cluster API's convention).
pub const KUBECONFIG_KEY: &str = "value";
/// What the credential was listed from and what was written:
/// `<kind>/<digest of the cluster's state>/<digest of the kubeconfig>`.
pub const SOURCE_ANNOTATION: &str = "azop.dev/kubeconfig-source";

/// Whether `secret` is this cluster's (its controller ownerReference names the cluster).
fn owned_by(secret: &Secret, cluster: &AksCluster) -> bool {
    secret
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == cluster.metadata.uid.as_ref() && o.kind == "AksCluster")
}

/// The state of the cluster a credential comes from: its eTag (changed by every write to the
/// cluster, a certificate rotation too) and what decides who may sign in.
fn source(kind: KubeconfigKind, actual: &Value) -> String {
    let p = actual.get("properties").unwrap_or(&Value::Null);
    let state = serde_json::json!([
        actual.get("eTag"),
        p.get("fqdn"),
        p.get("privateFQDN"),
        p.get("disableLocalAccounts"),
        p.get("aadProfile"),
    ]);
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, state.to_string().as_bytes());
    format!("{kind:?}/{}", digest.simple())
}

/// The annotation for a kubeconfig listed from `source`.
fn stamp(source: &str, kubeconfig: &[u8]) -> String {
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, kubeconfig);
    format!("{source}/{}", digest.simple())
}

/// Deletes the Secret `name` if it is this cluster's.
async fn delete_ours(
    api: &Api<Secret>,
    name: &str,
    cluster: &AksCluster,
) -> Result<(), ReconcileError> {
    if let Some(s) = api.get_opt(name).await?
        && owned_by(&s, cluster)
    {
        api.delete(name, &DeleteParams::default()).await?;
    }
    Ok(())
}

/// Brings the kubeconfig Secret in line with the spec; `actual` is the cluster as this pass
/// read it (`None`: not read, nothing to compare with, nothing listed).
pub async fn sync(
    cluster: &AksCluster,
    ctx: &Context,
    azure: &dyn Azure,
    actual: Option<&Value>,
    status: &mut AksClusterStatus,
) -> Result<(), ReconcileError> {
    let ns = cluster.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let wanted = cluster.spec.kubeconfig_secret.as_ref();
    // Removed from the spec or renamed: the Secret azop wrote goes.
    if let Some(old) = status.kubeconfig_secret.clone()
        && wanted.is_none_or(|w| w.name != old)
    {
        delete_ours(&api, &old, cluster).await?;
        status.kubeconfig_secret = None;
    }
    let (Some(wanted), Some(actual)) = (wanted, actual) else {
        return Ok(());
    };
    let Some(id) = status.azure.resource_id.clone() else {
        return Ok(());
    };
    let source = source(wanted.kind, actual);
    let existing = api.get_opt(&wanted.name).await?;
    if let Some(s) = &existing {
        if !owned_by(s, cluster) {
            return Err(ReconcileError::Stalled {
                reason: Reason::Conflict,
                message: format!(
                    "Secret {ns}/{} exists and is not owned by AksCluster {ns}/{}: azop never overwrites it; delete it or choose another kubeconfigSecret.name",
                    wanted.name,
                    cluster.name_any()
                ),
            });
        }
        let written = s
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_KEY))
            .filter(|v| !v.0.is_empty());
        if let Some(written) = written
            && s.annotations().get(SOURCE_ANNOTATION) == Some(&stamp(&source, &written.0))
        {
            status.kubeconfig_secret = Some(wanted.name.clone());
            return Ok(());
        }
    }
    let action = match wanted.kind {
        KubeconfigKind::User => "listClusterUserCredential",
        KubeconfigKind::Admin => "listClusterAdminCredential",
    };
    let answer = azure
        .post(&format!("{id}/{action}"), super::aks_cluster::API_VERSION)
        .await?;
    let encoded = answer
        .as_ref()
        .and_then(|a| a.pointer("/kubeconfigs/0/value"))
        .and_then(Value::as_str)
        .ok_or_else(|| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{action} answered without a kubeconfig; asking again"),
        })?;
    let kubeconfig = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("{action} answered a kubeconfig that is not base64; asking again"),
        })?;
    let stamp = stamp(&source, &kubeconfig);
    let data = BTreeMap::from([(KUBECONFIG_KEY.to_string(), ByteString(kubeconfig))]);
    match existing {
        Some(mut s) => {
            let same_data = s.data.as_ref() == Some(&data);
            s.annotations_mut()
                .insert(SOURCE_ANNOTATION.to_string(), stamp);
            if !same_data {
                s.data = Some(data);
                s.string_data = None;
            }
            api.replace(&wanted.name, &PostParams::default(), &s)
                .await?;
            if !same_data {
                tracing::info!(cluster = %format!("{ns}/{}", cluster.name_any()), secret = %wanted.name, "kubeconfig Secret rewritten: the credential changed");
            }
        }
        None => {
            let owner =
                cluster
                    .controller_owner_ref(&())
                    .ok_or_else(|| ReconcileError::Stalled {
                        reason: Reason::InvalidObject,
                        message: "the cluster has no uid to own a Secret with".to_string(),
                    })?;
            let s = Secret {
                metadata: ObjectMeta {
                    name: Some(wanted.name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(BTreeMap::from([(
                        "app.kubernetes.io/managed-by".to_string(),
                        "azop".to_string(),
                    )])),
                    annotations: Some(BTreeMap::from([(SOURCE_ANNOTATION.to_string(), stamp)])),
                    owner_references: Some(vec![owner]),
                    ..ObjectMeta::default()
                },
                type_: Some("Opaque".to_string()),
                data: Some(data),
                ..Secret::default()
            };
            match api.create(&PostParams::default(), &s).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    return Err(ReconcileError::Waiting {
                        reason: Reason::Conflict,
                        message: format!(
                            "Secret {ns}/{} was created by someone else meanwhile; looking again",
                            wanted.name
                        ),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    status.kubeconfig_secret = Some(wanted.name.clone());
    Ok(())
}
