//! FederatedIdentity → a `Microsoft.ManagedIdentity/userAssignedIdentities` identity, its
//! `federatedIdentityCredentials` child for this namespace's ServiceAccount, and that
//! ServiceAccount's workload-identity annotations.
//!
//! The subject is always `system:serviceaccount:<own namespace>:<serviceAccount.name>`. Azure
//! refuses concurrent credential writes on one identity, so they are serialised per identity;
//! a credential with the same issuer and subject is adopted, not duplicated; the 21st is
//! `Stalled`/`QuotaExceeded`.

use std::collections::BTreeMap;

use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::{self, Reason};
use azop_api::profile::AzopKind;
use azop_api::{AksCluster, FederatedIdentity, FederatedIdentityStatus};
use azop_arm::ResourceId;
use azop_arm::resources::{ArmList, FederatedIdentityCredential, UserAssignedIdentity};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::azure::AzureError;
use crate::engine::{AzureKind, Child, Context, Desired, ReconcileError, Reference};
use crate::kinds::tags;
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for identities and their credentials.
pub const API_VERSION: &str = azop_arm::resources::identity::API_VERSION;
/// Azure's limit of federated credentials per identity.
pub const MAX_CREDENTIALS: usize = 20;
/// The annotation the workload identity webhook reads the client id from.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// The annotation the workload identity webhook reads the tenant id from.
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";
const CREDENTIALS: &str = "federatedIdentityCredentials";

/// The credential's name: `spec.credentialName`, else `<namespace>-<name>` cut to Azure's 120.
fn credential_name(fi: &FederatedIdentity) -> String {
    fi.spec.credential_name.clone().unwrap_or_else(|| {
        azure_credential_name(format!(
            "{}-{}",
            fi.namespace().unwrap_or_default(),
            fi.name_any()
        ))
    })
}

/// `raw` as a federated credential name: the characters Azure allows, at most its 120.
pub(crate) fn azure_credential_name(mut raw: String) -> String {
    raw.retain(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    raw.truncate(120);
    raw
}

/// The federated credentials of identity `identity_id` as Azure lists them (none when the
/// identity does not exist yet).
pub(crate) async fn credentials_of(
    azure: &dyn crate::azure::Azure,
    identity_id: &str,
) -> Result<Vec<Value>, ReconcileError> {
    let list_id = format!("{identity_id}/{CREDENTIALS}");
    Ok(match azure.get(&list_id, API_VERSION).await? {
        Some(list) => serde_json::from_value::<ArmList<Value>>(list)?.value,
        None => Vec::new(),
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

/// What an identity needs resolved before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The group the identity lives in.
    pub group: ResourceId,
    /// The OIDC issuer the credential trusts (checked against `issuerAccess` already).
    pub issuer: String,
    /// The identity's federated credentials as Azure lists them now (empty when the identity
    /// does not exist yet).
    pub credentials: Vec<Value>,
    /// The identity as `resolve` read it (`Some(None)`: absent), when it read it: an object
    /// that has not created its identity yet reads the identity first and lists its
    /// credentials only if it exists, so a create costs one read, not two.
    pub identity: Option<Option<Value>>,
}

/// The issuer URL; a cross-namespace cluster must select this namespace in `issuerAccess`.
/// Reads the cluster from memory (or, in another shard, the API server), so a refusal comes
/// before any Azure request.
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
    let cluster = references::existing::<AksCluster>(ctx, &ns, &r.name).await?;
    if ns != own_ns {
        let labels = ctx.namespace_labels(&own_ns);
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

fn identity_id(fi: &FederatedIdentity, group: &ResourceId) -> Result<ResourceId, ReconcileError> {
    group
        .child(
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            &fi.azure_name(),
        )
        .map_err(|e| ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: format!("identity name {}: {e}", fi.azure_name()),
        })
}

/// Whether Azure's refusal is the per-identity credential limit.
fn is_credential_quota(code: &str, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code.contains("Quota")
        || (m.contains("too many federated identity credentials") && !m.contains("concurrent"))
}

fn on_credential_write_error(error: AzureError) -> Result<(), ReconcileError> {
    match error {
        AzureError::Terminal { code, message } if is_credential_quota(&code, &message) => {
            Err(ReconcileError::Stalled {
                reason: Reason::QuotaExceeded,
                message: format!("Azure refused the federated credential: {code}: {message}"),
            })
        }
        e => Err(e.into()),
    }
}

/// Which credential is this object's: an existing one with the same issuer and subject is
/// adopted, not duplicated; else the derived name. A 21st is refused before Azure is asked.
/// Returns its id and what Azure holds under it now.
fn credential_choice(
    fi: &FederatedIdentity,
    resolved: &Resolved,
    identity: &ResourceId,
) -> Result<(ResourceId, Option<Value>), ReconcileError> {
    let subject = subject(fi);
    let field = |c: &Value, f: &str| {
        c.pointer(&format!("/properties/{f}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let name_of = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
    let matching = resolved.credentials.iter().find(|c| {
        field(c, "issuer").as_deref() == Some(resolved.issuer.as_str())
            && field(c, "subject").as_deref() == Some(subject.as_str())
    });
    let (name, known) = match matching {
        Some(c) => (
            name_of(c).unwrap_or_else(|| credential_name(fi)),
            Some(c.clone()),
        ),
        None => {
            let name = credential_name(fi);
            let taken = resolved
                .credentials
                .iter()
                .find(|c| name_of(c).as_deref() == Some(name.as_str()));
            if taken.is_none() && resolved.credentials.len() >= MAX_CREDENTIALS {
                return Err(ReconcileError::Stalled {
                    reason: Reason::QuotaExceeded,
                    message: format!(
                        "identity {identity} already has {MAX_CREDENTIALS} federated credentials, Azure's limit"
                    ),
                });
            }
            (name, taken.cloned())
        }
    };
    let id = identity
        .child(CREDENTIALS, &name)
        .map_err(|e| ReconcileError::Stalled {
            reason: Reason::InvalidSpec,
            message: format!("credential name {name}: {e}"),
        })?;
    Ok((id, known))
}

impl AzureKind for FederatedIdentity {
    type Body = UserAssignedIdentity;
    type Resolved = Resolved;
    const CHILD_TYPES: &'static [&'static str] =
        &["Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"];

    fn policy_request(&self) -> Request<'_> {
        Request {
            issuer_url: self.spec.issuer.url.as_deref(),
            ..Request::placed(&self.spec.azure, &self.spec.placement)
        }
    }

    fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Resolved, ReconcileError>> {
        Box::pin(async move {
            // Policy first (issuerAccess, a ServiceAccount azop may not take), then references,
            // then the one Azure read.
            let issuer = issuer_url(self, ctx).await?;
            if self.spec.service_account.create {
                let ns = self.namespace().unwrap_or_default();
                let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &ns);
                if let Some(sa) = api.get_opt(&self.spec.service_account.name).await? {
                    not_someone_elses(self, &sa)?;
                }
            }
            let group = references::resource_group_id(ctx, self, decision).await?;
            let azure = ctx.azure_for(decision)?;
            let id = identity_id(self, &group)?;
            let (identity, credentials) = if self.common_status().ownership.is_some() {
                (None, credentials_of(azure.as_ref(), id.as_str()).await?)
            } else {
                let identity = azure.get(id.as_str(), API_VERSION).await?;
                let credentials = match identity {
                    Some(_) => credentials_of(azure.as_ref(), id.as_str()).await?,
                    None => Vec::new(),
                };
                (Some(identity), credentials)
            };
            Ok(Resolved {
                group,
                issuer,
                credentials,
                identity,
            })
        })
    }

    fn known_actual(resolved: &Resolved) -> Option<Option<Value>> {
        resolved.identity.clone()
    }

    fn desired(
        &self,
        resolved: &Resolved,
        decision: &Decision,
    ) -> Result<Desired<UserAssignedIdentity>, ReconcileError> {
        Ok(Desired {
            id: identity_id(self, &resolved.group)?,
            body: UserAssignedIdentity {
                location: decision.location.clone(),
                tags: Some(tags(decision, &self.spec.azure)),
                ..UserAssignedIdentity::default()
            },
        })
    }

    /// The credential for this namespace's ServiceAccount.
    fn children(
        &self,
        resolved: &Resolved,
        main: &Desired<UserAssignedIdentity>,
    ) -> Result<Vec<Child>, ReconcileError> {
        let (id, known) = credential_choice(self, resolved, &main.id)?;
        let subject = subject(self);
        let body = FederatedIdentityCredential {
            properties: Some(azop_arm::resources::FederatedIdentityCredentialProperties {
                issuer: Some(resolved.issuer.clone()),
                subject: Some(subject),
                audiences: Some(self.spec.audiences.clone()),
                ..Default::default()
            }),
            ..FederatedIdentityCredential::default()
        };
        Ok(vec![Child {
            id,
            api_version: API_VERSION,
            body: serde_json::to_value(body)?,
            known: Some(known),
            // Azure refuses concurrent credential writes on one identity.
            write_lock: Some(main.id.as_str().to_string()),
            on_write_error: on_credential_write_error,
        }])
    }

    fn references(&self) -> Vec<Reference> {
        let own = self.namespace().unwrap_or_default();
        let mut refs = references::placement_refs(self);
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

    fn outputs(&self, status: &mut FederatedIdentityStatus, actual: &UserAssignedIdentity) {
        let p = actual.properties.clone().unwrap_or_default();
        status.client_id = p.client_id.or(status.client_id.take());
        status.principal_id = p.principal_id.or(status.principal_id.take());
        status.tenant_id = p.tenant_id.or(status.tenant_id.take());
    }

    fn kubernetes_sync<'a>(
        &'a self,
        ctx: &'a Context,
        status: &'a mut FederatedIdentityStatus,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async move { ensure_service_account(self, ctx, status).await })
    }

    fn after_sync<'a>(
        &'a self,
        ctx: &'a Context,
        _azure: &'a dyn crate::azure::Azure,
        resolved: &'a Resolved,
        _actual: Option<&'a Value>,
        status: &'a mut FederatedIdentityStatus,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async move {
            status.subject = Some(subject(self));
            status.issuer_url = Some(resolved.issuer.clone());
            if let Some(identity) = &status.azure.resource_id {
                let identity = references::parse_id(identity)?;
                status.credential_id =
                    Some(credential_choice(self, resolved, &identity)?.0.to_string());
            }
            ensure_service_account(self, ctx, status).await
        })
    }
}

/// With `create: true`, the ServiceAccount must be the one azop created for this object (its
/// owner reference names it): one that someone else made is never taken over.
fn not_someone_elses(fi: &FederatedIdentity, sa: &ServiceAccount) -> Result<(), ReconcileError> {
    let ours = sa
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == fi.metadata.uid.as_ref() && o.kind == "FederatedIdentity");
    if ours {
        return Ok(());
    }
    Err(ReconcileError::Stalled {
        reason: Reason::AlreadyExists,
        message: format!(
            "ServiceAccount {}/{} already exists and azop did not create it for this FederatedIdentity; azop will not take it over. Set serviceAccount.create: false to annotate that ServiceAccount, or choose another name",
            sa.namespace().unwrap_or_default(),
            sa.name_any()
        ),
    })
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
            if fi.spec.service_account.create {
                not_someone_elses(fi, &sa)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::test_support::{GROUP, decision, obj};

    const ISSUER: &str = "https://westeurope.oic.prod-aks.azure.com/t/c/";

    fn fi(spec: Value) -> FederatedIdentity {
        obj(
            json!({"kind": "FederatedIdentity", "metadata": {"name": "orders", "namespace": "team-a"}, "spec": spec}),
        )
    }

    fn resolved(credentials: Vec<Value>) -> Resolved {
        Resolved {
            group: ResourceId::parse(GROUP).expect("group"),
            issuer: ISSUER.to_string(),
            credentials,
            identity: None,
        }
    }

    fn cred(name: &str, issuer: &str, subject: &str) -> Value {
        json!({"name": name, "properties": {"issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}})
    }

    fn spec() -> Value {
        json!({"resourceGroupName": "rg-team-a", "issuer": {"url": ISSUER}, "serviceAccount": {"name": "orders-sa"}})
    }

    #[test]
    fn the_identity_and_its_credential_for_this_namespaces_service_account() {
        let f = fi(spec());
        let d = f.desired(&resolved(vec![]), &decision()).expect("desired");
        let identity =
            format!("{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders");
        assert_eq!(d.id.as_str(), identity);
        assert_eq!(
            serde_json::to_value(&d.body).expect("serialises"),
            json!({"location": "westeurope", "tags": {"team": "a", "cost": "42"}})
        );
        let children = f.children(&resolved(vec![]), &d).expect("children");
        assert_eq!(children.len(), 1);
        let c = &children[0];
        assert_eq!(
            c.id.as_str(),
            format!("{identity}/federatedIdentityCredentials/team-a-orders")
        );
        assert_eq!(
            c.body,
            json!({"properties": {"issuer": ISSUER, "subject": "system:serviceaccount:team-a:orders-sa",
                                  "audiences": ["api://AzureADTokenExchange"]}})
        );
        assert_eq!(c.known, Some(None));
        assert_eq!(c.write_lock.as_deref(), Some(identity.as_str()));
    }

    #[test]
    fn an_existing_credential_with_the_same_issuer_and_subject_is_adopted() {
        let f = fi(spec());
        let existing = cred(
            "made-by-hand",
            ISSUER,
            "system:serviceaccount:team-a:orders-sa",
        );
        let r = resolved(vec![existing.clone()]);
        let d = f.desired(&r, &decision()).expect("desired");
        let c = &f.children(&r, &d).expect("children")[0];
        assert!(
            c.id.as_str()
                .ends_with("/federatedIdentityCredentials/made-by-hand")
        );
        assert_eq!(c.known, Some(Some(existing.clone())));
        assert!(crate::drift::in_sync(&c.body, &existing));
    }

    #[test]
    fn a_twenty_first_credential_is_refused_before_azure_is_asked() {
        let f = fi(spec());
        let full: Vec<Value> = (0..MAX_CREDENTIALS)
            .map(|i| {
                cred(
                    &format!("c{i}"),
                    ISSUER,
                    &format!("system:serviceaccount:x:{i}"),
                )
            })
            .collect();
        let r = resolved(full);
        let d = f.desired(&r, &decision()).expect("desired");
        match f.children(&r, &d) {
            Err(ReconcileError::Stalled { reason, .. }) => {
                assert_eq!(reason, Reason::QuotaExceeded)
            }
            other => panic!("expected QuotaExceeded, got {other:?}"),
        }
    }

    #[test]
    fn azures_quota_answer_is_quota_exceeded_but_a_concurrency_answer_is_not() {
        let quota = on_credential_write_error(AzureError::Terminal {
            code: "BadRequest".into(),
            message: "Too many Federated Identity Credentials. A managed identity can have at most 20 federated identity credentials.".into(),
        });
        assert!(matches!(
            quota,
            Err(ReconcileError::Stalled {
                reason: Reason::QuotaExceeded,
                ..
            })
        ));
        let concurrent = on_credential_write_error(AzureError::Terminal {
            code: "BadRequest".into(),
            message: "Too many Federated Identity Credentials are written concurrently for the managed identity".into(),
        });
        assert!(matches!(concurrent, Err(ReconcileError::Azure(_))));
    }

    #[test]
    fn outputs_read_client_principal_and_tenant() {
        let actual: UserAssignedIdentity = serde_json::from_value(json!({"properties": {
            "clientId": "c", "principalId": "p", "tenantId": "t"}}))
        .expect("body");
        let mut status = FederatedIdentityStatus::default();
        fi(json!({"resourceGroupName": "rg-team-a", "issuer": {"url": ISSUER}, "serviceAccount": {"name": "orders-sa"}}))
            .outputs(&mut status, &actual);
        assert_eq!(
            (
                status.client_id.as_deref(),
                status.principal_id.as_deref(),
                status.tenant_id.as_deref()
            ),
            (Some("c"), Some("p"), Some("t"))
        );
    }
}
