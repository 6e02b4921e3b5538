//! KeyVault → `Microsoft.KeyVault/vaults` (RBAC authorisation only).
//!
//! A vault name is global and a soft-deleted vault keeps it until purged: with
//! `createMode: CreateOrRecover`, a vault about to be created whose name a soft-deleted vault of
//! this subscription holds is recovered instead.

use azop_api::azure_resource::AzureBacked;
use azop_api::conditions::Reason;
use azop_api::key_vault::{
    NetworkAction, NetworkBypass, PublicNetworkAccess, VaultCreateMode, VaultSku,
};
use azop_api::{KeyVault, KeyVaultStatus};
use azop_arm::ResourceId;
use azop_arm::resources::{
    IpRule, NetworkRuleSet, Vault, VaultProperties, VaultSku as ArmVaultSku, VirtualNetworkRule,
};
use futures::future::BoxFuture;

use crate::engine::{AzureKind, Context, Desired, ReconcileError};
use crate::kinds::tags;
use crate::policy::{Decision, Request};
use crate::references;

/// What a vault needs resolved: its resource group.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The group the vault lives in.
    pub group: ResourceId,
}

impl AzureKind for KeyVault {
    /// Network ACLs dropped from the spec open the vault again (Key Vault's defaults), if azop
    /// set them.
    const REMOVABLE: &'static [(&'static str, &'static str)] = &[(
        "/properties/networkAcls",
        r#"{"defaultAction": "Allow", "bypass": "AzureServices", "ipRules": [], "virtualNetworkRules": []}"#,
    )];

    type Body = Vault;
    type Resolved = Resolved;

    fn policy_request(&self) -> Request<'_> {
        Request::placed(&self.spec.azure, &self.spec.placement)
    }

    fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
    ) -> BoxFuture<'a, Result<Resolved, ReconcileError>> {
        Box::pin(async move {
            Ok(Resolved {
                group: references::resource_group_id(ctx, self, decision).await?,
            })
        })
    }

    fn desired(
        &self,
        resolved: &Resolved,
        decision: &Decision,
    ) -> Result<Desired<Vault>, ReconcileError> {
        let spec = &self.spec;
        let tenant = spec
            .tenant_id
            .clone()
            .or_else(|| decision.tenant_id.clone());
        let network_acls = spec.network_acls.as_ref().map(|acls| NetworkRuleSet {
            default_action: Some(
                match acls.default_action {
                    NetworkAction::Allow => "Allow",
                    NetworkAction::Deny => "Deny",
                }
                .to_string(),
            ),
            bypass: Some(
                match acls.bypass {
                    NetworkBypass::AzureServices => "AzureServices",
                    NetworkBypass::None => "None",
                }
                .to_string(),
            ),
            ip_rules: Some(
                acls.ip_rules
                    .iter()
                    .map(|ip| IpRule {
                        value: Some(ip.clone()),
                        ..IpRule::default()
                    })
                    .collect(),
            ),
            virtual_network_rules: Some(
                acls.virtual_network_subnet_ids
                    .iter()
                    .map(|id| VirtualNetworkRule {
                        id: Some(id.clone()),
                        ..VirtualNetworkRule::default()
                    })
                    .collect(),
            ),
            ..NetworkRuleSet::default()
        });
        let properties = VaultProperties {
            tenant_id: tenant,
            sku: Some(ArmVaultSku {
                family: Some("A".to_string()),
                name: Some(
                    match spec.sku {
                        VaultSku::Standard => "standard",
                        VaultSku::Premium => "premium",
                    }
                    .to_string(),
                ),
                ..ArmVaultSku::default()
            }),
            enable_rbac_authorization: Some(true),
            soft_delete_retention_in_days: Some(spec.soft_delete_retention_days),
            // Azure refuses enablePurgeProtection=false; leaving it out means "off".
            enable_purge_protection: spec.purge_protection.then_some(true),
            public_network_access: Some(
                match spec.public_network_access {
                    PublicNetworkAccess::Enabled => "Enabled",
                    PublicNetworkAccess::Disabled => "Disabled",
                }
                .to_string(),
            ),
            network_acls,
            ..VaultProperties::default()
        };
        let id = resolved
            .group
            .child("Microsoft.KeyVault/vaults", &self.azure_name())
            .map_err(|e| ReconcileError::Stalled {
                reason: azop_api::conditions::Reason::InvalidSpec,
                message: format!("vault name {}: {e}", self.azure_name()),
            })?;
        Ok(Desired {
            id,
            body: Vault {
                location: decision.location.clone(),
                tags: Some(tags(decision, &spec.azure)),
                properties: Some(properties),
                ..Vault::default()
            },
        })
    }

    fn before_create<'a>(
        &'a self,
        ctx: &'a Context,
        decision: &'a Decision,
        desired: &'a mut Desired<Vault>,
    ) -> BoxFuture<'a, Result<(), ReconcileError>> {
        Box::pin(async move {
            if self.spec.create_mode != VaultCreateMode::CreateOrRecover {
                return Ok(());
            }
            let deleted = format!(
                "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
                desired.id.subscription_id().unwrap_or_default(),
                decision.location.as_deref().unwrap_or_default(),
                desired.id.name()
            );
            let Some(found) = ctx
                .azure_for(decision)?
                .get(&deleted, azop_arm::resources::vault::API_VERSION)
                .await?
            else {
                return Ok(());
            };
            // Recovering brings back the vault and its secrets: only one this object owned.
            let owner = crate::engine::owner_tag_value(&ctx.config.cluster_id, self);
            // A deleted vault keeps its tags under `properties`.
            if Self::owner_of(&found["properties"]) != Some(owner.as_str()) {
                return Err(ReconcileError::Stalled {
                    reason: Reason::NameConflict,
                    message: format!(
                        "a soft-deleted vault named {} exists in {} and this object did not own it; azop will not recover it. Recover or purge it yourself, or choose another azureName",
                        desired.id.name(),
                        decision.location.as_deref().unwrap_or_default()
                    ),
                });
            }
            if let Some(p) = desired.body.properties.as_mut() {
                p.create_mode = Some("recover".to_string());
            }
            Ok(())
        })
    }

    fn outputs(&self, status: &mut KeyVaultStatus, actual: &Vault) {
        if let Some(uri) = actual.properties.as_ref().and_then(|p| p.vault_uri.clone()) {
            status.vault_uri = Some(uri);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::test_support::{GROUP, decision, obj};
    use serde_json::json;

    fn resolved() -> Resolved {
        Resolved {
            group: ResourceId::parse(GROUP).expect("group id"),
        }
    }

    #[test]
    fn a_default_vault_is_standard_rbac_with_azures_field_names() {
        let kv: KeyVault = obj(
            json!({"kind": "KeyVault", "metadata": {"name": "kv", "namespace": "team-a"},
            "spec": {"azureName": "team-a-kv", "resourceGroupName": "rg-team-a"}}),
        );
        let d = kv.desired(&resolved(), &decision()).expect("desired");
        assert_eq!(
            d.id.as_str(),
            format!("{GROUP}/providers/Microsoft.KeyVault/vaults/team-a-kv")
        );
        let body = serde_json::to_value(&d.body).expect("serialises");
        assert_eq!(
            body,
            json!({"location": "westeurope", "tags": {"team": "a", "cost": "42"}, "properties": {
                "tenantId": "00000000-0000-0000-0000-000000000002",
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": true,
                "softDeleteRetentionInDays": 90,
                "publicNetworkAccess": "Enabled"
            }})
        );
    }

    #[test]
    fn every_vault_field_maps_to_its_arm_name() {
        let kv: KeyVault = obj(
            json!({"kind": "KeyVault", "metadata": {"name": "kv", "namespace": "team-a"},
            "spec": {"resourceGroupName": "rg-team-a", "sku": "premium", "tenantId": "00000000-0000-0000-0000-0000000000aa",
                     "softDeleteRetentionDays": 7, "purgeProtection": true, "publicNetworkAccess": "Disabled",
                     "networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": ["203.0.113.0/24"],
                                     "virtualNetworkSubnetIds": ["/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a"]}}}),
        );
        let body =
            serde_json::to_value(kv.desired(&resolved(), &decision()).expect("desired").body)
                .expect("serialises");
        let p = &body["properties"];
        assert_eq!(p["sku"]["name"], "premium");
        assert_eq!(p["tenantId"], "00000000-0000-0000-0000-0000000000aa");
        assert_eq!(p["softDeleteRetentionInDays"], 7);
        assert_eq!(p["enablePurgeProtection"], true);
        assert_eq!(p["publicNetworkAccess"], "Disabled");
        assert_eq!(
            p["networkAcls"],
            json!({"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": "203.0.113.0/24"}],
                   "virtualNetworkRules": [{"id": "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a"}]})
        );
    }

    #[test]
    fn outputs_read_the_vault_uri() {
        let actual: Vault = serde_json::from_value(
            json!({"properties": {"vaultUri": "https://team-a-kv.vault.azure.net/"}}),
        )
        .expect("body");
        let kv: KeyVault = obj(
            json!({"kind": "KeyVault", "metadata": {"name": "kv", "namespace": "team-a"},
            "spec": {"azureName": "team-a-kv", "resourceGroupName": "rg-team-a"}}),
        );
        let mut status = KeyVaultStatus::default();
        kv.outputs(&mut status, &actual);
        assert_eq!(
            status.vault_uri.as_deref(),
            Some("https://team-a-kv.vault.azure.net/")
        );
    }
}
