//! FederatedIdentity → a `Microsoft.ManagedIdentity/userAssignedIdentities` identity, its
//! `federatedIdentityCredentials` child for this namespace's ServiceAccount, and that
//! ServiceAccount's workload-identity annotations.
//!
//! The subject is always `system:serviceaccount:<own namespace>:<serviceAccount.name>`. Azure
//! refuses concurrent credential writes on one identity, so they are serialised per identity;
//! a credential with the same issuer and subject is adopted, not duplicated; the 21st is
//! `Stalled`/`QuotaExceeded`.

use std::collections::BTreeMap;

use azop_api::azure_resource::{AzureResourceStatus, DeletionPolicy, ManagementPolicy};
use azop_api::conditions::{self, Reason};
use azop_api::profile::AzopKind;
use azop_api::{AksCluster, FederatedIdentity, FederatedIdentityStatus};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::azure::AzureError;
use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for identities and their credentials.
pub const API_VERSION: &str = "2024-11-30";
/// Azure's limit of federated credentials per identity.
pub const MAX_CREDENTIALS: usize = 20;
/// The annotation the workload identity webhook reads the client id from.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// The annotation the workload identity webhook reads the tenant id from.
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";

fn azure_name(fi: &FederatedIdentity) -> String {
    fi.spec
        .azure
        .azure_name
        .clone()
        .unwrap_or_else(|| fi.name_any())
}

/// The credential's name: `spec.credentialName`, else `<namespace>-<name>` cut to Azure's 120.
fn credential_name(fi: &FederatedIdentity) -> String {
    fi.spec.credential_name.clone().unwrap_or_else(|| {
        let mut n = format!("{}-{}", fi.namespace().unwrap_or_default(), fi.name_any());
        n.retain(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        n.truncate(120);
        n
    })
}

/// The subject of the credential: derived, never written by the tenant.
pub fn subject(fi: &FederatedIdentity) -> String {
    format!(
        "system:serviceaccount:{}:{}",
        fi.namespace().unwrap_or_default(),
        fi.spec.service_account.name
    )
}

async fn issuer_url(fi: &FederatedIdentity, ctx: &Context) -> Result<String, ReconcileError> {
    let issuer = &fi.spec.issuer;
    if let Some(url) = &issuer.url {
        return Ok(url.clone());
    }
    if issuer.self_.is_some() {
        return ctx.config.self_issuer_url.clone().ok_or_else(|| ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: "issuer.self names the cluster azop runs in, but this operator has no issuer configured (--self-issuer-url)".to_string(),
        });
    }
    let Some(r) = &issuer.cluster_ref else {
        return Err(ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: "issuer must set one of clusterRef, url and self".to_string(),
        });
    };
    let own_ns = fi.namespace().unwrap_or_default();
    let ns = r.namespace.clone().unwrap_or_else(|| own_ns.clone());
    let api: Api<AksCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(cluster) = api.get_opt(&r.name).await? else {
        return Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!("AksCluster {ns}/{} does not exist yet", r.name),
        });
    };
    if ns != own_ns {
        let labels: BTreeMap<String, String> = ctx
            .namespaces
            .get(&ObjectRef::new(&own_ns))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default();
        let allowed = cluster.spec.issuer_access.as_ref().is_some_and(|a| {
            Selector::try_from(a.namespace_selector.clone()).is_ok_and(|s| s.matches(&labels))
        });
        if !allowed {
            return Err(ReconcileError::Stalled {
                reason: Reason::PolicyDenied,
                message: format!(
                    "AksCluster {ns}/{}'s issuerAccess does not select namespace {own_ns}",
                    r.name
                ),
            });
        }
    }
    let status = cluster.status.clone().unwrap_or_default();
    match (
        &status.oidc_issuer_url,
        conditions::is_ready(&status.azure.conditions, cluster.meta().generation),
    ) {
        (Some(url), true) => Ok(url.clone()),
        _ => Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!(
                "AksCluster {ns}/{} is not Ready with an OIDC issuer yet",
                r.name
            ),
        }),
    }
}

impl AzureKind for FederatedIdentity {
    const KIND: AzopKind = AzopKind::FederatedIdentity;
    const API_VERSION: &'static str = API_VERSION;
    type Status = FederatedIdentityStatus;

    fn status(&self) -> Option<&FederatedIdentityStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut FederatedIdentityStatus) -> &mut AzureResourceStatus {
        &mut status.azure
    }

    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.azure.deletion_policy
    }

    fn management_policy(&self) -> ManagementPolicy {
        self.spec.azure.management_policy
    }

    fn policy_request(&self) -> Request<'_> {
        Request {
            location: self.spec.azure.location.as_deref(),
            needs_location: true,
            resource_group_name: self.spec.placement.resource_group_name.as_deref(),
            resource_group_ref: self.spec.placement.resource_group_ref.is_some(),
            needs_resource_group: true,
            issuer_url: self.spec.issuer.url.as_deref(),
            ..Request::default()
        }
    }

    fn desired<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Desired, ReconcileError>> {
        Box::pin(async move {
            let ns = self.namespace().unwrap_or_default();
            let group =
                references::resource_group_id(ctx, &ns, &self.spec.placement, decision).await?;
            let mut tags = decision.default_tags.clone();
            tags.extend(self.spec.azure.tags.clone());
            Ok(Desired {
                id: format!(
                    "{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
                    azure_name(self)
                ),
                body: json!({"location": decision.location, "tags": tags}),
            })
        })
    }

    fn references(&self) -> Vec<Reference> {
        let own = self.namespace().unwrap_or_default();
        let mut refs = crate::references::placement_refs(self, &self.spec.placement);
        if let Some(c) = &self.spec.issuer.cluster_ref {
            refs.push(Reference::new(
                AzopKind::AksCluster,
                c.namespace.as_deref(),
                &own,
                &c.name,
            ));
        }
        refs
    }

    fn outputs(status: &mut FederatedIdentityStatus, actual: &Value) {
        let field = |k: &str| {
            actual
                .pointer(&format!("/properties/{k}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        status.client_id = field("clientId").or(status.client_id.take());
        status.principal_id = field("principalId").or(status.principal_id.take());
        status.tenant_id = field("tenantId").or(status.tenant_id.take());
    }

    fn after_sync<'a>(
        &'a self,
        ctx: &'a Context,
        desired: &'a Desired,
        status: &'a mut FederatedIdentityStatus,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async move {
            let issuer = issuer_url(self, ctx).await?;
            let subject = subject(self);
            let credential_id =
                ensure_credential(self, ctx, &desired.id, &issuer, &subject).await?;
            status.subject = Some(subject);
            status.issuer_url = Some(issuer);
            status.credential_id = Some(credential_id);
            ensure_service_account(self, ctx, status).await
        })
    }
}

/// Creates or adopts the credential; writes to one identity are serialised.
async fn ensure_credential(
    fi: &FederatedIdentity,
    ctx: &Context,
    identity_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<String, ReconcileError> {
    let lock = ctx.identity_lock(identity_id);
    let _guard = lock.lock().await;
    let list_id = format!("{identity_id}/federatedIdentityCredentials");
    let existing = ctx
        .azure
        .get(&list_id, API_VERSION)
        .await?
        .unwrap_or(Value::Null);
    let creds: Vec<Value> = existing
        .get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let audiences = json!(fi.spec.audiences);
    let matching = creds.iter().find(|c| {
        c.pointer("/properties/issuer").and_then(Value::as_str) == Some(issuer)
            && c.pointer("/properties/subject").and_then(Value::as_str) == Some(subject)
    });
    let name = match matching {
        Some(c) => {
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if c.pointer("/properties/audiences") == Some(&audiences) {
                return Ok(id);
            }
            c.get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| credential_name(fi))
        }
        None => {
            let name = credential_name(fi);
            let taken = creds
                .iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some(name.as_str()));
            if !taken && creds.len() >= MAX_CREDENTIALS {
                return Err(ReconcileError::Stalled {
                    reason: Reason::QuotaExceeded,
                    message: format!(
                        "identity {identity_id} already has {MAX_CREDENTIALS} federated credentials, Azure's limit"
                    ),
                });
            }
            name
        }
    };
    let id = format!("{list_id}/{name}");
    let body =
        json!({"properties": {"issuer": issuer, "subject": subject, "audiences": audiences}});
    match ctx.azure.put(&id, API_VERSION, &body).await {
        Ok(_) => Ok(id),
        Err(AzureError::Terminal { code, message })
            if code.contains("Quota") || message.contains("20") && code == "BadRequest" =>
        {
            Err(ReconcileError::Stalled {
                reason: Reason::QuotaExceeded,
                message: format!("AzureError: {code}: {message}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates (owned by the FederatedIdentity) or annotates the ServiceAccount.
async fn ensure_service_account(
    fi: &FederatedIdentity,
    ctx: &Context,
    status: &FederatedIdentityStatus,
) -> Result<(), ReconcileError> {
    let ns = fi.namespace().unwrap_or_default();
    let name = &fi.spec.service_account.name;
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &ns);
    let mut annotations = BTreeMap::new();
    if let Some(c) = &status.client_id {
        annotations.insert(CLIENT_ID_ANNOTATION.to_string(), c.clone());
    }
    if let Some(t) = &status.tenant_id {
        annotations.insert(TENANT_ID_ANNOTATION.to_string(), t.clone());
    }
    match api.get_opt(name).await? {
        Some(sa) => {
            let current = sa.metadata.annotations.clone().unwrap_or_default();
            if annotations.iter().any(|(k, v)| current.get(k) != Some(v)) {
                let patch = json!({"metadata": {"annotations": annotations}});
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            Ok(())
        }
        None if fi.spec.service_account.create => {
            let sa = ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    annotations: Some(annotations),
                    owner_references: fi.controller_owner_ref(&()).map(|o| vec![o]),
                    ..ObjectMeta::default()
                },
                ..ServiceAccount::default()
            };
            api.create(&PostParams::default(), &sa).await?;
            Ok(())
        }
        None => Err(ReconcileError::Waiting {
            reason: Reason::WaitingForDependency,
            message: format!(
                "ServiceAccount {ns}/{name} does not exist; create it or set serviceAccount.create: true"
            ),
        }),
    }
}
