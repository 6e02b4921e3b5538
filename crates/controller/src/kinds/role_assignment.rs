//! RoleAssignment → `Microsoft.Authorization/roleAssignments`.
//!
//! The assignment's name is a GUID derived from scope, principal and role, so a retry never
//! makes a second assignment; `409 RoleAssignmentExists` (the same assignment under another
//! name) is success; `PrincipalNotFound` right after an identity is created is Entra
//! replication, waited out as `WaitingForPrincipal`. Role assignments carry no tags, so the
//! ownership mark lives in the assignment's description.

use azop_api::azure_resource::{AzureResourceStatus, DeletionPolicy};
use azop_api::conditions::Reason;
use azop_api::profile::AzopKind;
use azop_api::role_assignment::PrincipalType;
use azop_api::{
    AksCluster, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment, RoleAssignmentStatus,
};
use futures::future::BoxFuture;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use crate::azure::AzureError;
use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for role assignments.
pub const API_VERSION: &str = "2022-04-01";

const OWNER_PREFIX: &str = "azop.dev/owner=";

/// The deterministic assignment name: a v5 UUID of scope, principal and role definition,
/// compared case-insensitively as ARM compares ids.
pub fn assignment_name(scope: &str, principal_id: &str, role_definition_id: &str) -> String {
    let role_guid = role_definition_id
        .rsplit('/')
        .next()
        .unwrap_or(role_definition_id);
    let key = format!(
        "{}|{}|{}",
        scope.to_ascii_lowercase(),
        principal_id.to_ascii_lowercase(),
        role_guid.to_ascii_lowercase()
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes()).to_string()
}

async fn principal_id(ra: &RoleAssignment, ctx: &Context) -> Result<String, ReconcileError> {
    let ns = ra.namespace().unwrap_or_default();
    let p = &ra.spec.principal;
    if let Some(id) = &p.object_id {
        return Ok(id.clone());
    }
    if let Some(r) = &p.federated_identity {
        let (fi, _) = references::ready::<FederatedIdentity>(ctx, &ns, &r.name).await?;
        return fi
            .status
            .and_then(|s| s.principal_id)
            .ok_or_else(|| ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!("FederatedIdentity {ns}/{} has no principalId yet", r.name),
            });
    }
    if let Some(r) = &p.aks_kubelet_of {
        // Every pod on the cluster's nodes acts as its kubelet identity: platform use only.
        if !ctx.config.platform_namespaces.contains(&ns) {
            return Err(ReconcileError::Stalled {
                reason: Reason::PolicyDenied,
                message: format!(
                    "principal.aksKubeletOf grants the role to every pod on the cluster's nodes; it is allowed only in the operator's platform namespaces, not {ns}"
                ),
            });
        }
        let cns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        let api: Api<AksCluster> = Api::namespaced(ctx.client.clone(), &cns);
        let cluster = api.get_opt(&r.name).await?;
        return cluster
            .and_then(|c| c.status)
            .and_then(|s| s.kubelet_identity)
            .and_then(|k| k.object_id)
            .ok_or_else(|| ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!("AksCluster {cns}/{} has no kubelet identity yet", r.name),
            });
    }
    Err(ReconcileError::Stalled {
        reason: Reason::InvalidSpec,
        message: "principal must set one of aksKubeletOf, federatedIdentity and objectId"
            .to_string(),
    })
}

async fn scope_id(ra: &RoleAssignment, ctx: &Context) -> Result<String, ReconcileError> {
    let ns = ra.namespace().unwrap_or_default();
    let s = &ra.spec.scope;
    let id = if let Some(id) = &s.resource_id {
        Some(id.clone())
    } else if let Some(r) = &s.key_vault_ref {
        let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        references::ready::<KeyVault>(ctx, &rns, &r.name)
            .await?
            .1
            .resource_id
    } else if let Some(r) = &s.aks_cluster_ref {
        let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        let api: Api<AksCluster> = Api::namespaced(ctx.client.clone(), &rns);
        api.get_opt(&r.name)
            .await?
            .and_then(|c| c.status)
            .and_then(|s| s.azure.resource_id)
    } else if let Some(r) = &s.resource_group_ref {
        references::ready::<ResourceGroup>(ctx, &ns, &r.name)
            .await?
            .1
            .resource_id
    } else {
        None
    };
    id.ok_or_else(|| ReconcileError::Waiting {
        reason: Reason::WaitingForDependency,
        message: "the scope's resource has no resourceId yet".to_string(),
    })
}

impl AzureKind for RoleAssignment {
    const KIND: AzopKind = AzopKind::RoleAssignment;
    const API_VERSION: &'static str = API_VERSION;
    type Status = RoleAssignmentStatus;

    fn status(&self) -> Option<&RoleAssignmentStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut RoleAssignmentStatus) -> &mut AzureResourceStatus {
        &mut status.azure
    }

    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }

    fn policy_request(&self) -> Request<'_> {
        Request::default()
    }

    fn desired<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Desired, ReconcileError>> {
        Box::pin(async move {
            let scope = scope_id(self, ctx).await?;
            let principal = principal_id(self, ctx).await?;
            let subscription = references::subscription(ctx, decision);
            let role_definition_id = match (&self.spec.role, &self.spec.role_definition_id) {
                (Some(role), _) => format!(
                    "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
                    role.role_definition_guid()
                ),
                (None, Some(id)) if id.starts_with('/') => id.clone(),
                (None, Some(guid)) => format!(
                    "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
                ),
                (None, None) => {
                    return Err(ReconcileError::Stalled {
                        reason: Reason::InvalidSpec,
                        message: "set one of role and roleDefinitionId".to_string(),
                    });
                }
            };
            let principal_type = match self.spec.principal.type_.unwrap_or_default() {
                PrincipalType::ServicePrincipal => "ServicePrincipal",
                PrincipalType::User => "User",
                PrincipalType::Group => "Group",
            };
            let name = assignment_name(&scope, &principal, &role_definition_id);
            Ok(Desired {
                id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                body: json!({"properties": {
                    "roleDefinitionId": role_definition_id,
                    "principalId": principal,
                    "principalType": principal_type,
                }}),
            })
        })
    }

    fn references(&self) -> Vec<Reference> {
        let own = self.namespace().unwrap_or_default();
        let (p, s) = (&self.spec.principal, &self.spec.scope);
        let mut refs = Vec::new();
        if let Some(r) = &p.federated_identity {
            refs.push(Reference::new(
                AzopKind::FederatedIdentity,
                None,
                &own,
                &r.name,
            ));
        }
        if let Some(r) = &p.aks_kubelet_of {
            refs.push(Reference::new(
                AzopKind::AksCluster,
                r.namespace.as_deref(),
                &own,
                &r.name,
            ));
        }
        if let Some(r) = &s.key_vault_ref {
            refs.push(Reference::new(
                AzopKind::KeyVault,
                r.namespace.as_deref(),
                &own,
                &r.name,
            ));
        }
        if let Some(r) = &s.aks_cluster_ref {
            refs.push(Reference::new(
                AzopKind::AksCluster,
                r.namespace.as_deref(),
                &own,
                &r.name,
            ));
        }
        if let Some(r) = &s.resource_group_ref {
            refs.push(Reference::new(AzopKind::ResourceGroup, None, &own, &r.name));
        }
        refs
    }

    /// Assignments cannot be changed, only replaced: one that exists with this deterministic
    /// name is this one.
    fn in_sync(_desired: &Value, _actual: &Value) -> bool {
        true
    }

    fn mark_owner(body: &mut Value, owner: &str) {
        body["properties"]["description"] = json!(format!("{OWNER_PREFIX}{owner}"));
    }

    fn owner_of(actual: &Value) -> Option<&str> {
        actual
            .pointer("/properties/description")
            .and_then(Value::as_str)
            .and_then(|d| d.strip_prefix(OWNER_PREFIX))
    }

    fn on_write_error(error: AzureError) -> Result<(), ReconcileError> {
        match error {
            AzureError::Conflict { code, .. } if code == "RoleAssignmentExists" => Ok(()),
            AzureError::Terminal { code, message } | AzureError::NotFound { code, message }
                if code == "PrincipalNotFound" =>
            {
                Err(ReconcileError::Waiting {
                    reason: Reason::WaitingForPrincipal,
                    message: format!(
                        "Entra does not know the principal yet (replication): {message}"
                    ),
                })
            }
            other => Err(other.into()),
        }
    }

    fn outputs(status: &mut RoleAssignmentStatus, actual: &Value) {
        status.assignment_id = actual
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        status.principal_id = actual
            .pointer("/properties/principalId")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_names_are_deterministic_and_case_insensitive() {
        let a = assignment_name(
            "/subscriptions/S/resourceGroups/RG",
            "P",
            "/x/roleDefinitions/ABC",
        );
        let b = assignment_name(
            "/subscriptions/s/resourcegroups/rg",
            "p",
            "/providers/y/roleDefinitions/abc",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            assignment_name("/subscriptions/s/resourcegroups/rg", "q", "abc")
        );
    }
}
