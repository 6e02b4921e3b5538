//! KeyVault → `Microsoft.KeyVault/vaults` (RBAC authorisation only).

use azop_api::azure_resource::{AzureResourceStatus, DeletionPolicy, ManagementPolicy};
use azop_api::key_vault::{
    NetworkAction, NetworkBypass, PublicNetworkAccess, VaultCreateMode, VaultSku,
};
use azop_api::profile::AzopKind;
use azop_api::{KeyVault, KeyVaultStatus};
use futures::future::BoxFuture;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::engine::{AzureKind, Context, Desired, ReconcileError, Reference};
use crate::policy::{Decision, Request};
use crate::references;

/// The api-version of ../shared/arm-specs for vaults.
pub const API_VERSION: &str = "2025-05-01";

fn azure_name(kv: &KeyVault) -> String {
    kv.spec
        .azure
        .azure_name
        .clone()
        .unwrap_or_else(|| kv.name_any())
}

impl AzureKind for KeyVault {
    const KIND: AzopKind = AzopKind::KeyVault;
    const API_VERSION: &'static str = API_VERSION;
    type Status = KeyVaultStatus;

    fn status(&self) -> Option<&KeyVaultStatus> {
        self.status.as_ref()
    }

    fn azure_status(status: &mut KeyVaultStatus) -> &mut AzureResourceStatus {
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
            let name = azure_name(self);
            let spec = &self.spec;
            let tenant = spec
                .tenant_id
                .clone()
                .or_else(|| decision.tenant_id.clone())
                .unwrap_or_else(|| ctx.config.default_tenant_id.clone());
            let mut tags = decision.default_tags.clone();
            tags.extend(spec.azure.tags.clone());
            let mut properties = json!({
                "tenantId": tenant,
                "sku": {"family": "A", "name": match spec.sku { VaultSku::Standard => "standard", VaultSku::Premium => "premium" }},
                "enableRbacAuthorization": true,
                "softDeleteRetentionInDays": spec.soft_delete_retention_days,
                "publicNetworkAccess": match spec.public_network_access {
                    PublicNetworkAccess::Enabled => "Enabled",
                    PublicNetworkAccess::Disabled => "Disabled",
                },
            });
            // Azure refuses enablePurgeProtection=false; leaving it out means "off".
            if spec.purge_protection {
                properties["enablePurgeProtection"] = json!(true);
            }
            if let Some(acls) = &spec.network_acls {
                properties["networkAcls"] = json!({
                    "defaultAction": match acls.default_action { NetworkAction::Allow => "Allow", NetworkAction::Deny => "Deny" },
                    "bypass": match acls.bypass { NetworkBypass::AzureServices => "AzureServices", NetworkBypass::None => "None" },
                    "ipRules": acls.ip_rules.iter().map(|ip| json!({"value": ip})).collect::<Vec<_>>(),
                    "virtualNetworkRules": acls.virtual_network_subnet_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                });
            }
            let id = format!("{group}/providers/Microsoft.KeyVault/vaults/{name}");
            // A soft-deleted vault holds the name until purged: recover it when asked to.
            if spec.create_mode == VaultCreateMode::CreateOrRecover
                && self
                    .status
                    .as_ref()
                    .and_then(|s| s.azure.provisioning_state.as_ref())
                    .is_none()
                && ctx.azure.get(&id, API_VERSION).await?.is_none()
            {
                let location = decision.location.clone().unwrap_or_default();
                let subscription = references::subscription(ctx, decision);
                let deleted = format!(
                    "/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"
                );
                if ctx.azure.get(&deleted, API_VERSION).await?.is_some() {
                    properties["createMode"] = json!("recover");
                }
            }
            Ok(Desired {
                id,
                body: json!({"location": decision.location, "tags": tags, "properties": properties}),
            })
        })
    }

    fn references(&self) -> Vec<Reference> {
        crate::references::placement_refs(self, &self.spec.placement)
    }

    fn in_sync(desired: &Value, actual: &Value) -> bool {
        // createMode is an instruction for one PUT, never read back.
        let mut desired = desired.clone();
        if let Some(p) = desired.get_mut("properties").and_then(Value::as_object_mut) {
            p.remove("createMode");
        }
        crate::drift::in_sync(&desired, actual)
    }

    fn outputs(status: &mut KeyVaultStatus, actual: &Value) {
        if let Some(uri) = actual
            .pointer("/properties/vaultUri")
            .and_then(Value::as_str)
        {
            status.vault_uri = Some(uri.to_string());
        }
    }
}
