//! RoleAssignment → `Microsoft.Authorization/roleAssignments`.
//!
//! The assignment's name is a GUID derived from scope, principal and role, so a retry never
//! makes a second assignment; `409 RoleAssignmentExists` (the same assignment under another
//! name) is success; `PrincipalNotFound` right after an identity is created is Entra
//! replication, waited out as `WaitingForPrincipal`. Role assignments carry no tags, so the
//! ownership mark lives in the assignment's description.

use azop_api::conditions::Reason;
use azop_api::profile::AzopKind;
use azop_api::role_assignment::PrincipalType;
use azop_api::{
    AksCluster, FederatedIdentity, KeyVault, ResourceGroup, RoleAssignment, RoleAssignmentStatus,
};
use azop_arm::ResourceId;
use azop_arm::resources::{RoleAssignment as ArmRoleAssignment, RoleAssignmentProperties};
use futures::future::BoxFuture;
use kube::ResourceExt;
use kube::core::SelectorExt;
use serde_json::{Value, json};

use crate::azure::AzureError;
use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::policy::{Decision, Request, RoleAsked, Tenant};
use crate::references;

/// The api-version of ../shared/arm-specs for role assignments.
pub const API_VERSION: &str = azop_arm::resources::role_assignment::API_VERSION;

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

/// What an assignment needs resolved: who gets the role, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The scope: a resource, a group or a subscription.
    pub scope: ResourceId,
    /// The principal's object id.
    pub principal_id: String,
}

async fn principal_id(ra: &RoleAssignment, ctx: &Context) -> Result<String, ReconcileError> {
    let ns = ra.namespace().unwrap_or_default();
    let p = &ra.spec.principal;
    if let Some(id) = &p.object_id {
        return Ok(id.clone());
    }
    if let Some(r) = &p.federated_identity {
        // Outside the platform namespaces, an observed identity would be any principal by
        // another name (principal.objectId is platform-only).
        if !ctx.config.platform_namespaces.contains(&ns) {
            references::not_observed(
                references::existing::<FederatedIdentity>(ctx, &ns, &r.name)
                    .await?
                    .as_ref(),
                "outside the platform namespaces roles are granted",
            )?;
        }
        let fi = references::ready::<FederatedIdentity>(ctx, &ns, &r.name).await?;
        return fi
            .status
            .as_ref()
            .and_then(|s| s.principal_id.clone())
            .ok_or_else(|| ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!("FederatedIdentity {ns}/{} has no principalId yet", r.name),
            });
    }
    if let Some(r) = &p.aks_kubelet_of {
        let cns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        let cluster = references::existing::<AksCluster>(ctx, &cns, &r.name).await?;
        return cluster
            .status
            .as_ref()
            .and_then(|s| s.kubelet_identity.as_ref())
            .and_then(|k| k.object_id.clone())
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

async fn scope_id(ra: &RoleAssignment, ctx: &Context) -> Result<ResourceId, ReconcileError> {
    let ns = ra.namespace().unwrap_or_default();
    let s = &ra.spec.scope;
    if let Some(id) = &s.resource_id {
        return references::parse_id(id);
    }
    if let Some(r) = &s.key_vault_ref {
        let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        return references::ready_resource_id::<KeyVault>(ctx, &rns, &r.name).await;
    }
    if let Some(r) = &s.aks_cluster_ref {
        let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        let cluster = references::existing::<AksCluster>(ctx, &rns, &r.name).await?;
        return match cluster
            .status
            .as_ref()
            .and_then(|s| s.azure.resource_id.clone())
        {
            Some(id) => references::parse_id(&id),
            None => Err(ReconcileError::Waiting {
                reason: Reason::WaitingForDependency,
                message: format!("AksCluster {rns}/{} has no resourceId yet", r.name),
            }),
        };
    }
    if let Some(r) = &s.resource_group_ref {
        return references::ready_resource_id::<ResourceGroup>(ctx, &ns, &r.name).await;
    }
    Err(ReconcileError::Stalled {
        reason: Reason::InvalidSpec,
        message:
            "scope must set one of resourceId, keyVaultRef, aksClusterRef and resourceGroupRef"
                .to_string(),
    })
}

/// The role as policy sees it: how the spec names it and its definition GUID.
fn role_asked(spec: &azop_api::RoleAssignmentSpec) -> Option<RoleAsked> {
    match (&spec.role, &spec.role_definition_id) {
        (Some(role), _) => Some(RoleAsked {
            named: serde_json::to_value(role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            guid: role.role_definition_guid().to_string(),
        }),
        (None, Some(id)) => Some(RoleAsked {
            named: id.clone(),
            guid: id.rsplit('/').next().unwrap_or(id).to_string(),
        }),
        (None, None) => None,
    }
}

fn denied(message: String) -> ReconcileError {
    ReconcileError::Stalled {
        reason: Reason::PolicyDenied,
        message,
    }
}

/// Tenancy, before any reference is waited for: a scope in another namespace is a vault whose
/// `bindingPolicy` selects this namespace and allows the role; nothing else crosses namespaces.
async fn tenant_scope_allowed(
    ra: &RoleAssignment,
    ctx: &Context,
    tenant: &Tenant,
) -> Result<(), ReconcileError> {
    let s = &ra.spec.scope;
    if let Some(r) = &s.key_vault_ref
        && r.namespace
            .as_deref()
            .is_some_and(|n| n != tenant.namespace)
    {
        let vns = r.namespace.as_deref().unwrap_or_default();
        let vault = references::existing::<KeyVault>(ctx, vns, &r.name).await?;
        let guid = role_asked(&ra.spec).map(|r| r.guid).unwrap_or_default();
        let policy = vault.spec.binding_policy.as_ref();
        let selects = policy.is_some_and(|p| {
            kube::core::Selector::try_from(p.namespace_selector.clone())
                .is_ok_and(|sel| sel.matches(&ctx.namespace_labels(&tenant.namespace)))
        });
        let role_allowed = policy.is_some_and(|p| {
            p.allowed_roles
                .iter()
                .any(|r| r.role_definition_guid().eq_ignore_ascii_case(&guid))
        });
        if !selects || !role_allowed {
            return Err(denied(format!(
                "scope.keyVaultRef {vns}/{}: the vault's bindingPolicy does not {} namespace {}; a role on another namespace's vault needs its bindingPolicy to select this namespace and allow the role",
                r.name,
                if selects {
                    "allow this role for"
                } else {
                    "select"
                },
                tenant.namespace
            )));
        }
    }
    if let Some(r) = &s.aks_cluster_ref
        && r.namespace
            .as_deref()
            .is_some_and(|n| n != tenant.namespace)
    {
        return Err(denied(format!(
            "scope.aksClusterRef names AksCluster {}/{} in another namespace; outside the platform namespaces a role may be granted only on this namespace's own resources",
            r.namespace.as_deref().unwrap_or_default(),
            r.name
        )));
    }
    Ok(())
}

/// Tenancy on the resolved scope: inside a resource group the profile allows, in its
/// subscription — never a subscription or management-group scope — unless it is a vault the
/// namespace may bind (checked before).
fn tenant_scope_inside(
    ra: &RoleAssignment,
    scope: &ResourceId,
    tenant: &Tenant,
) -> Result<(), ReconcileError> {
    let bindable_vault = ra.spec.scope.key_vault_ref.as_ref().is_some_and(|r| {
        r.namespace
            .as_deref()
            .is_some_and(|n| n != tenant.namespace)
    });
    if bindable_vault {
        return Ok(());
    }
    let Some(group) = scope.resource_group() else {
        return Err(denied(format!(
            "scope {scope} is a subscription or management-group scope; outside the platform namespaces roles may be granted only inside the resource groups AzureProfile {} allows",
            tenant.profile
        )));
    };
    let same_subscription = scope
        .subscription_id()
        .is_some_and(|s| s.eq_ignore_ascii_case(&tenant.subscription_id));
    if !same_subscription || !tenant.group_allowed(group) {
        return Err(denied(format!(
            "scope {scope} is outside the resource groups AzureProfile {} allows (allowedResourceGroups: {:?} in subscription {})",
            tenant.profile, tenant.allowed_resource_groups, tenant.subscription_id
        )));
    }
    Ok(())
}

impl AzureKind for RoleAssignment {
    type Body = ArmRoleAssignment;
    type Resolved = Resolved;
    const ROLE_ASSIGNMENT_QUOTA: bool = true;

    fn policy_request(&self) -> Request<'_> {
        let p = &self.spec.principal;
        let platform_only = if p.aks_kubelet_of.is_some() {
            Some("principal.aksKubeletOf grants the role to every pod on the cluster's nodes")
        } else if p.object_id.is_some() {
            Some(
                "principal.objectId grants the role to any Entra principal; other namespaces may grant roles only to their own FederatedIdentities",
            )
        } else {
            None
        };
        Request {
            platform_only,
            role: role_asked(&self.spec),
            ..Request::default()
        }
    }

    fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Resolved, ReconcileError>> {
        Box::pin(async move {
            if let Some(tenant) = &decision.tenant {
                tenant_scope_allowed(self, ctx, tenant).await?;
            }
            let scope = scope_id(self, ctx).await?;
            if let Some(tenant) = &decision.tenant {
                tenant_scope_inside(self, &scope, tenant)?;
            }
            Ok(Resolved {
                scope,
                principal_id: principal_id(self, ctx).await?,
            })
        })
    }

    fn desired(
        &self,
        resolved: &Resolved,
        decision: &Decision,
    ) -> Result<Desired<ArmRoleAssignment>, ReconcileError> {
        let subscription = decision.subscription_id.as_deref().unwrap_or_default();
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
        let name = assignment_name(
            resolved.scope.as_str(),
            &resolved.principal_id,
            &role_definition_id,
        );
        let id = resolved
            .scope
            .child("Microsoft.Authorization/roleAssignments", &name)
            .map_err(|e| ReconcileError::Stalled {
                reason: Reason::InvalidSpec,
                message: format!("role assignment at {}: {e}", resolved.scope),
            })?;
        Ok(Desired {
            id,
            body: ArmRoleAssignment {
                properties: Some(RoleAssignmentProperties {
                    role_definition_id: Some(role_definition_id),
                    principal_id: Some(resolved.principal_id.clone()),
                    principal_type: Some(principal_type.to_string()),
                    ..RoleAssignmentProperties::default()
                }),
                ..ArmRoleAssignment::default()
            },
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

    fn outputs(&self, status: &mut RoleAssignmentStatus, actual: &ArmRoleAssignment) {
        status.assignment_id = actual.name.clone();
        status.principal_id = actual
            .properties
            .as_ref()
            .and_then(|p| p.principal_id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::test_support::{GROUP, decision, obj};

    fn ra(spec: Value) -> RoleAssignment {
        obj(
            json!({"kind": "RoleAssignment", "metadata": {"name": "pull", "namespace": "platform"}, "spec": spec}),
        )
    }

    fn resolved() -> Resolved {
        Resolved {
            scope: ResourceId::parse(GROUP).expect("scope"),
            principal_id: "44444444-4444-4444-4444-444444444444".to_string(),
        }
    }

    #[test]
    fn a_built_in_role_becomes_a_deterministic_assignment_at_the_scope() {
        let r = ra(
            json!({"principal": {"objectId": "44444444-4444-4444-4444-444444444444"}, "role": "AcrPull",
                          "scope": {"resourceId": GROUP}}),
        );
        let d = r.desired(&resolved(), &decision()).expect("desired");
        let role = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d";
        let name = assignment_name(GROUP, "44444444-4444-4444-4444-444444444444", role);
        assert_eq!(
            d.id.as_str(),
            format!("{GROUP}/providers/Microsoft.Authorization/roleAssignments/{name}")
        );
        assert_eq!(
            serde_json::to_value(&d.body).expect("serialises"),
            json!({"properties": {"roleDefinitionId": role,
                "principalId": "44444444-4444-4444-4444-444444444444", "principalType": "ServicePrincipal"}})
        );
    }

    #[test]
    fn a_definition_id_is_used_as_given_or_completed_from_a_guid() {
        let full = "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7";
        let r = ra(
            json!({"principal": {"objectId": "44444444-4444-4444-4444-444444444444", "type": "Group"},
                          "roleDefinitionId": full, "scope": {"resourceId": GROUP}}),
        );
        let b = serde_json::to_value(r.desired(&resolved(), &decision()).expect("desired").body)
            .expect("json");
        assert_eq!(b["properties"]["roleDefinitionId"], full);
        assert_eq!(b["properties"]["principalType"], "Group");
        let r = ra(
            json!({"principal": {"objectId": "44444444-4444-4444-4444-444444444444"},
                          "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "scope": {"resourceId": GROUP}}),
        );
        let b = serde_json::to_value(r.desired(&resolved(), &decision()).expect("desired").body)
            .expect("json");
        assert_eq!(
            b["properties"]["roleDefinitionId"],
            "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
        );
    }

    #[test]
    fn a_kubelet_principal_is_platform_only_and_ownership_lives_in_the_description() {
        let r = ra(
            json!({"principal": {"aksKubeletOf": {"name": "prod"}}, "role": "AcrPull", "scope": {"resourceId": GROUP}}),
        );
        assert!(r.policy_request().platform_only.is_some());
        let mut body = json!({"properties": {}});
        RoleAssignment::mark_owner(&mut body, "c/platform/RoleAssignment/pull");
        assert_eq!(
            RoleAssignment::owner_of(&body),
            Some("c/platform/RoleAssignment/pull")
        );
    }

    #[test]
    fn an_existing_assignment_is_success_and_an_unknown_principal_is_waited_for() {
        assert!(
            RoleAssignment::on_write_error(AzureError::Conflict {
                code: "RoleAssignmentExists".into(),
                message: "exists".into()
            })
            .is_ok()
        );
        assert!(matches!(
            RoleAssignment::on_write_error(AzureError::Terminal {
                code: "PrincipalNotFound".into(),
                message: "no such principal".into()
            }),
            Err(ReconcileError::Waiting {
                reason: Reason::WaitingForPrincipal,
                ..
            })
        ));
    }

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
