//! Tenancy policy: which AzureProfile governs a namespace, and whether an object of that
//! namespace may do what it asks (API.md, AzureProfile).
//!
//! A namespaced object uses the one profile whose selector matches its namespace's labels. No
//! profile, or several, refuses the object with a message that says so. Namespaces on the
//! operator's platform list that no profile selects use the operator's default profile, which
//! allows everything. Refusals become `Ready=False, Stalled=True, reason=PolicyDenied`, with no
//! Azure call.

use std::collections::BTreeMap;

use azop_api::profile::{AzopKind, AzureProfile};
use azop_api::role_assignment::BuiltInRole;
use kube::core::{Selector, SelectorExt};

/// Why an object is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No profile selects the namespace.
    #[error(
        "no AzureProfile selects namespace {namespace}; ask the platform team for a profile whose namespaceSelector matches its labels"
    )]
    NoProfile {
        /// The namespace.
        namespace: String,
    },
    /// More than one profile selects the namespace.
    #[error(
        "AzureProfiles {profiles:?} all select namespace {namespace}; exactly one may, so the platform team must narrow their namespaceSelectors"
    )]
    SeveralProfiles {
        /// The namespace.
        namespace: String,
        /// The profiles that match.
        profiles: Vec<String>,
    },
    /// A profile's selector is not a valid label selector.
    #[error("AzureProfile {profile} has an invalid namespaceSelector: {reason}")]
    InvalidSelector {
        /// The profile.
        profile: String,
        /// What is wrong.
        reason: String,
    },
    /// The kind is not in `allowedKinds`.
    #[error(
        "AzureProfile {profile} does not allow {kind:?} objects in this namespace (allowedKinds: {allowed:?}; an omitted or empty list allows none)"
    )]
    KindNotAllowed {
        /// The profile.
        profile: String,
        /// The kind.
        kind: AzopKind,
        /// What it allows.
        allowed: Vec<String>,
    },
    /// The role is not in `allowedRoles`.
    #[error(
        "AzureProfile {profile} does not allow granting role {role} (allowedRoles: {allowed:?}; an omitted or empty list allows none)"
    )]
    RoleNotAllowed {
        /// The profile.
        profile: String,
        /// The role asked for, by name or definition id.
        role: String,
        /// What it allows.
        allowed: Vec<String>,
    },
    /// `spec.adopt` without `allowAdoption`.
    #[error(
        "spec.adopt is set but AzureProfile {profile} does not allow adopting Azure resources azop did not create (allowAdoption is false)"
    )]
    AdoptionNotAllowed {
        /// The profile.
        profile: String,
    },
    /// The location is not in `allowedLocations`.
    #[error(
        "location {location} is not allowed by AzureProfile {profile} (allowedLocations: {allowed:?}; an omitted or empty list allows none)"
    )]
    LocationNotAllowed {
        /// The profile.
        profile: String,
        /// The location asked for.
        location: String,
        /// What it allows.
        allowed: Vec<String>,
    },
    /// No location given, and no profile to give a default.
    #[error("spec.location is required: no AzureProfile governs this namespace to give a default")]
    LocationMissing,
    /// No location given and no default.
    #[error("spec.location is required: AzureProfile {profile} gives no default location")]
    LocationRequired {
        /// The profile.
        profile: String,
    },
    /// The resource group is not in `allowedResourceGroups`.
    #[error(
        "resource group {group} is not allowed by AzureProfile {profile} (allowedResourceGroups: {allowed:?}; an omitted or empty list allows none)"
    )]
    ResourceGroupNotAllowed {
        /// The profile.
        profile: String,
        /// The group asked for.
        group: String,
        /// What it allows.
        allowed: Vec<String>,
    },
    /// No resource group given and no default.
    #[error(
        "set spec.resourceGroupRef or spec.resourceGroupName: AzureProfile {profile} gives no default resource group"
    )]
    ResourceGroupRequired {
        /// The profile.
        profile: String,
    },
    /// The issuer URL is not in `allowedIssuers`.
    #[error(
        "issuer {issuer} is not allowed by AzureProfile {profile} (allowedIssuers: {allowed:?}; an omitted or empty list allows none)"
    )]
    IssuerNotAllowed {
        /// The profile.
        profile: String,
        /// The issuer asked for.
        issuer: String,
        /// What it allows.
        allowed: Vec<String>,
    },
}

/// The profile that governs a namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Governing<'a> {
    /// An AzureProfile.
    Profile(&'a AzureProfile),
    /// A platform namespace with no profile: the operator's own defaults, everything allowed.
    OperatorDefault,
}

/// Chooses the profile for a namespace.
pub fn governing_profile<'a>(
    profiles: &'a [AzureProfile],
    namespace: &str,
    namespace_labels: &BTreeMap<String, String>,
    platform_namespaces: &[String],
) -> Result<Governing<'a>, PolicyError> {
    let mut matching = Vec::new();
    for p in profiles {
        if namespace_selector(p)?.matches(namespace_labels) {
            matching.push(p);
        }
    }
    match matching.as_slice() {
        [one] => Ok(Governing::Profile(one)),
        [] if platform_namespaces.iter().any(|n| n == namespace) => Ok(Governing::OperatorDefault),
        [] => Err(PolicyError::NoProfile {
            namespace: namespace.to_string(),
        }),
        several => Err(PolicyError::SeveralProfiles {
            namespace: namespace.to_string(),
            profiles: several.iter().map(|p| name_of(p)).collect(),
        }),
    }
}

/// A profile's `namespaceSelector` as a [`Selector`], or why it is not a valid label selector.
///
/// Besides what [`Selector::try_from`] refuses (an unknown operator, `In`/`NotIn` without
/// values), the API server's own rules apply: `In`/`NotIn` need at least one value and
/// `Exists`/`DoesNotExist` take none.
pub fn namespace_selector(profile: &AzureProfile) -> Result<Selector, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidSelector {
        profile: name_of(profile),
        reason,
    };
    let selector = &profile.spec.namespace_selector;
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(invalid(format!(
                    "matchExpressions key {}: operator {} needs at least one value",
                    e.key, e.operator
                )));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(invalid(format!(
                    "matchExpressions key {}: operator {} takes no values",
                    e.key, e.operator
                )));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(invalid(format!(
                    "matchExpressions key {}: unknown operator {other} (use In, NotIn, Exists or DoesNotExist)",
                    e.key
                )));
            }
        }
    }
    Selector::try_from(selector.clone()).map_err(|e| invalid(e.to_string()))
}

pub(crate) fn name_of(p: &AzureProfile) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

/// Whether an allow-list allows `value`: one rule for every list of a profile — only what it
/// lists, so an empty list allows nothing; `*` allows everything.
fn allows(list: &[String], matches: impl Fn(&str) -> bool) -> bool {
    list.iter().any(|entry| entry == "*" || matches(entry))
}

/// `*`-globs as profiles write them (`rg-team-a-*`, `https://westeurope.oic.prod-aks.azure.com/*`).
/// Matching is case-insensitive, as Azure compares names and hosts.
pub(crate) fn glob_matches(pattern: &str, value: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches_with(value, options))
}

/// What an object asks for, as far as policy is concerned.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// The kind.
    pub kind: Option<AzopKind>,
    /// `spec.location`, if set.
    pub location: Option<&'a str>,
    /// Whether the kind has a location at all.
    pub needs_location: bool,
    /// The resource group by name (`spec.resourceGroupName`), if set.
    pub resource_group_name: Option<&'a str>,
    /// Whether a ResourceGroup object is referenced instead (its own policy check covers it).
    pub resource_group_ref: bool,
    /// Whether the kind lives in a resource group at all.
    pub needs_resource_group: bool,
    /// An explicit OIDC issuer URL (FederatedIdentity `issuer.url`).
    pub issuer_url: Option<&'a str>,
    /// The resource group's own Azure name, for ResourceGroup objects.
    pub own_group_name: Option<&'a str>,
    /// Set when the request is allowed only from the operator's platform namespaces; says why
    /// (granting a kubelet identity a role reaches every pod on the cluster's nodes).
    pub platform_only: Option<&'static str>,
    /// The role a RoleAssignment grants: its definition GUID, and the name it was given by.
    pub role: Option<RoleAsked>,
    /// `spec.adopt`.
    pub adopt: bool,
}

/// A role asked for, checked against `allowedRoles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAsked {
    /// How the spec names it (`AcrPull`, or the definition id as written).
    pub named: String,
    /// The role definition's GUID.
    pub guid: String,
}

/// What a namespace that is not one of the operator's platform namespaces is limited to,
/// beyond the kinds and names its profile allows: the kinds' own tenancy rules read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tenant {
    /// The governing profile.
    pub profile: String,
    /// The namespace.
    pub namespace: String,
    /// The profile's `allowedResourceGroups`.
    pub allowed_resource_groups: Vec<String>,
    /// The subscription the profile names.
    pub subscription_id: String,
}

impl Tenant {
    /// Whether the profile allows resource group `group`.
    pub fn group_allowed(&self, group: &str) -> bool {
        allows(&self.allowed_resource_groups, |p| glob_matches(p, group))
    }
}

impl<'a> Request<'a> {
    /// What a kind that lives in a resource group asks: its location and its group (by name,
    /// or a ResourceGroup object whose own policy check covers the group).
    pub fn placed(
        fields: &'a azop_api::AzureResourceFields,
        placement: &'a azop_api::ResourceGroupPlacement,
    ) -> Self {
        Request {
            location: fields.location.as_deref(),
            needs_location: true,
            resource_group_name: placement.resource_group_name.as_deref(),
            resource_group_ref: placement.resource_group_ref.is_some(),
            needs_resource_group: true,
            ..Request::default()
        }
    }
}

/// The request with the profile's defaults filled in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// The location to use.
    pub location: Option<String>,
    /// The resource group by name, when not referenced.
    pub resource_group_name: Option<String>,
    /// Tags to add (the object's own tags win).
    pub default_tags: BTreeMap<String, String>,
    /// The subscription, when a profile names one (else the operator's default).
    pub subscription_id: Option<String>,
    /// The tenant, when a profile names one.
    pub tenant_id: Option<String>,
    /// Set for a namespace that is not one of the operator's platform namespaces.
    pub tenant: Option<Tenant>,
    /// The governing profile's credential (a workload identity's client id); `None`: the
    /// operator's own.
    pub credential_client_id: Option<String>,
}

/// Checks a request against the governing profile and fills in its defaults.
pub fn decide(governing: &Governing<'_>, req: &Request<'_>) -> Result<Decision, PolicyError> {
    let profile = match governing {
        Governing::OperatorDefault => {
            if req.needs_location && req.location.is_none() {
                return Err(PolicyError::LocationMissing);
            }
            return Ok(Decision {
                location: req.location.map(str::to_string),
                resource_group_name: req.resource_group_name.map(str::to_string),
                ..Decision::default()
            });
        }
        Governing::Profile(p) => p,
    };
    let spec = &profile.spec;
    let pname = name_of(profile);
    if let Some(kind) = req.kind
        && !allows(&spec.allowed_kinds, |k| k == kind.as_str())
    {
        return Err(PolicyError::KindNotAllowed {
            profile: pname,
            kind,
            allowed: spec.allowed_kinds.clone(),
        });
    }
    if req.adopt && !spec.allow_adoption {
        return Err(PolicyError::AdoptionNotAllowed { profile: pname });
    }
    if let Some(role) = &req.role
        && !allows(&spec.allowed_roles, |entry| role_matches(entry, role))
    {
        return Err(PolicyError::RoleNotAllowed {
            profile: pname,
            role: role.named.clone(),
            allowed: spec.allowed_roles.clone(),
        });
    }
    let defaults = spec.defaults.clone().unwrap_or_default();
    let location = req.location.map(str::to_string).or(defaults.location);
    if req.needs_location {
        match &location {
            None => return Err(PolicyError::LocationRequired { profile: pname }),
            Some(l) if !allows(&spec.allowed_locations, |a| a.eq_ignore_ascii_case(l)) => {
                return Err(PolicyError::LocationNotAllowed {
                    profile: pname,
                    location: l.clone(),
                    allowed: spec.allowed_locations.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let group_allowed = |g: &str| allows(&spec.allowed_resource_groups, |p| glob_matches(p, g));
    if let Some(own) = req.own_group_name
        && !group_allowed(own)
    {
        return Err(PolicyError::ResourceGroupNotAllowed {
            profile: pname,
            group: own.to_string(),
            allowed: spec.allowed_resource_groups.clone(),
        });
    }
    let mut resource_group_name = None;
    if req.needs_resource_group && !req.resource_group_ref {
        let group = req
            .resource_group_name
            .map(str::to_string)
            .or(defaults.resource_group_name);
        match group {
            None => return Err(PolicyError::ResourceGroupRequired { profile: pname }),
            Some(g) if !group_allowed(&g) => {
                return Err(PolicyError::ResourceGroupNotAllowed {
                    profile: pname,
                    group: g,
                    allowed: spec.allowed_resource_groups.clone(),
                });
            }
            Some(g) => resource_group_name = Some(g),
        }
    }
    if let Some(issuer) = req.issuer_url
        && !allows(&spec.allowed_issuers, |p| glob_matches(p, issuer))
    {
        return Err(PolicyError::IssuerNotAllowed {
            profile: pname,
            issuer: issuer.to_string(),
            allowed: spec.allowed_issuers.clone(),
        });
    }
    Ok(Decision {
        location,
        resource_group_name,
        default_tags: defaults.tags,
        subscription_id: Some(spec.subscription_id.clone()),
        tenant_id: spec.tenant_id.clone(),
        tenant: None,
        credential_client_id: credential_client_id(profile),
    })
}

/// The client id of the identity a profile names (`credential.workloadIdentity.clientId`);
/// `None`: the operator's own.
pub fn credential_client_id(profile: &AzureProfile) -> Option<String> {
    profile
        .spec
        .credential
        .as_ref()
        .and_then(|c| c.workload_identity.as_ref())
        .map(|w| w.client_id.clone())
}

/// Whether an `allowedRoles` entry names the role: by built-in name (`AcrPull`), or by
/// definition GUID, however the object named it.
fn role_matches(entry: &str, role: &RoleAsked) -> bool {
    let guid = serde_json::from_value::<BuiltInRole>(serde_json::Value::String(entry.to_string()))
        .map(|r| r.role_definition_guid().to_string())
        .unwrap_or_else(|_| entry.to_string());
    guid.eq_ignore_ascii_case(&role.guid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azop_api::profile::{AzureProfileSpec, ProfileDefaults};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn profile(name: &str, label: &str) -> AzureProfile {
        let mut p = AzureProfile::new(
            name,
            AzureProfileSpec {
                namespace_selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "azop.dev/profile".to_string(),
                        label.to_string(),
                    )])),
                    match_expressions: None,
                },
                subscription_id: "00000000-0000-0000-0000-000000000000".to_string(),
                tenant_id: None,
                credential: None,
                allowed_locations: vec!["westeurope".into(), "northeurope".into()],
                allowed_resource_groups: vec!["rg-team-a*".into()],
                allowed_kinds: vec!["ResourceGroup".into(), "FederatedIdentity".into()],
                allowed_issuers: vec!["https://westeurope.oic.prod-aks.azure.com/*".into()],
                allowed_roles: vec!["AcrPull".into()],
                allow_adoption: false,
                defaults: Some(ProfileDefaults {
                    location: Some("westeurope".into()),
                    resource_group_name: Some("rg-team-a".into()),
                    tags: BTreeMap::from([("team".to_string(), "a".to_string())]),
                }),
            },
        );
        p.metadata.name = Some(name.to_string());
        p
    }

    fn labels(v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("azop.dev/profile".to_string(), v.to_string())])
    }

    #[test]
    fn the_one_matching_profile_governs_the_namespace() {
        let profiles = [profile("team-a", "team-a"), profile("team-b", "team-b")];
        let g = governing_profile(&profiles, "team-a", &labels("team-a"), &[]).expect("one");
        assert_eq!(g, Governing::Profile(&profiles[0]));
    }

    #[test]
    fn no_matching_profile_is_refused_unless_the_namespace_is_a_platform_one() {
        let profiles = [profile("team-a", "team-a")];
        let err = governing_profile(&profiles, "x", &labels("other"), &[]).expect_err("none");
        assert!(
            err.to_string()
                .contains("no AzureProfile selects namespace x")
        );
        let g = governing_profile(
            &profiles,
            "platform",
            &labels("other"),
            &["platform".into()],
        )
        .expect("platform default");
        assert_eq!(g, Governing::OperatorDefault);
    }

    #[test]
    fn several_matching_profiles_are_refused_naming_them() {
        let profiles = [profile("a", "x"), profile("b", "x")];
        let err = governing_profile(&profiles, "ns", &labels("x"), &[]).expect_err("several");
        assert_eq!(
            err,
            PolicyError::SeveralProfiles {
                namespace: "ns".into(),
                profiles: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn defaults_fill_location_group_and_tags() {
        let p = profile("team-a", "team-a");
        let d = decide(
            &Governing::Profile(&p),
            &Request {
                kind: Some(AzopKind::FederatedIdentity),
                needs_location: true,
                needs_resource_group: true,
                ..Request::default()
            },
        )
        .expect("allowed");
        assert_eq!(d.location.as_deref(), Some("westeurope"));
        assert_eq!(d.resource_group_name.as_deref(), Some("rg-team-a"));
        assert_eq!(d.default_tags.get("team").map(String::as_str), Some("a"));
    }

    #[test]
    fn disallowed_kind_location_group_and_issuer_are_refused() {
        let p = profile("team-a", "team-a");
        let g = Governing::Profile(&p);
        let base = Request {
            kind: Some(AzopKind::FederatedIdentity),
            needs_location: true,
            needs_resource_group: true,
            ..Request::default()
        };
        let kind = decide(
            &g,
            &Request {
                kind: Some(AzopKind::AksCluster),
                ..base.clone()
            },
        );
        assert!(
            matches!(kind, Err(PolicyError::KindNotAllowed { .. })),
            "{kind:?}"
        );
        let loc = decide(
            &g,
            &Request {
                location: Some("eastus"),
                ..base.clone()
            },
        );
        assert!(
            matches!(loc, Err(PolicyError::LocationNotAllowed { .. })),
            "{loc:?}"
        );
        let rg = decide(
            &g,
            &Request {
                resource_group_name: Some("rg-team-b"),
                ..base.clone()
            },
        );
        assert!(
            matches!(rg, Err(PolicyError::ResourceGroupNotAllowed { .. })),
            "{rg:?}"
        );
        let ok = decide(
            &g,
            &Request {
                resource_group_name: Some("rg-team-a-orders"),
                ..base.clone()
            },
        );
        assert!(ok.is_ok(), "{ok:?}");
        let iss = decide(
            &g,
            &Request {
                issuer_url: Some("https://evil.example.com/x"),
                ..base.clone()
            },
        );
        assert!(
            matches!(iss, Err(PolicyError::IssuerNotAllowed { .. })),
            "{iss:?}"
        );
        let iss_ok = decide(
            &g,
            &Request {
                issuer_url: Some("https://westeurope.oic.prod-aks.azure.com/tenant/guid/"),
                ..base
            },
        );
        assert!(iss_ok.is_ok(), "{iss_ok:?}");
    }

    #[test]
    fn a_resource_group_object_is_checked_against_the_group_globs() {
        let p = profile("team-a", "team-a");
        let r = decide(
            &Governing::Profile(&p),
            &Request {
                kind: Some(AzopKind::ResourceGroup),
                needs_location: true,
                own_group_name: Some("rg-prod"),
                ..Request::default()
            },
        );
        assert!(
            matches!(r, Err(PolicyError::ResourceGroupNotAllowed { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn every_list_allows_only_what_it_lists_and_star_allows_all() {
        let mut p = profile("team-a", "team-a");
        p.spec.allowed_kinds.clear();
        p.spec.allowed_locations.clear();
        p.spec.allowed_resource_groups.clear();
        p.spec.allowed_issuers.clear();
        p.spec.allowed_roles.clear();
        let req = Request {
            kind: Some(AzopKind::FederatedIdentity),
            needs_location: true,
            needs_resource_group: true,
            ..Request::default()
        };
        let kind = decide(&Governing::Profile(&p), &req).expect_err("no kinds");
        assert!(
            kind.to_string()
                .contains("omitted or empty list allows none"),
            "{kind}"
        );
        p.spec.allowed_kinds = vec!["*".into()];
        let loc = decide(&Governing::Profile(&p), &req).expect_err("no locations");
        assert!(
            matches!(loc, PolicyError::LocationNotAllowed { .. }),
            "{loc:?}"
        );
        p.spec.allowed_locations = vec!["*".into()];
        let rg = decide(&Governing::Profile(&p), &req).expect_err("no groups");
        assert!(
            matches!(rg, PolicyError::ResourceGroupNotAllowed { .. }),
            "{rg:?}"
        );
        p.spec.allowed_resource_groups = vec!["*".into()];
        assert!(decide(&Governing::Profile(&p), &req).is_ok());
        let issuer = Request {
            issuer_url: Some("https://issuer.example.com/"),
            ..req.clone()
        };
        assert!(matches!(
            decide(&Governing::Profile(&p), &issuer),
            Err(PolicyError::IssuerNotAllowed { .. })
        ));
        p.spec.allowed_issuers = vec!["*".into()];
        assert!(decide(&Governing::Profile(&p), &issuer).is_ok());
    }

    #[test]
    fn roles_are_matched_by_name_or_definition_guid() {
        let mut p = profile("team-a", "team-a");
        p.spec.allowed_kinds = vec!["*".into()];
        let ask = |named: &str, guid: &str| Request {
            kind: Some(AzopKind::RoleAssignment),
            role: Some(RoleAsked {
                named: named.into(),
                guid: guid.into(),
            }),
            ..Request::default()
        };
        let acr = BuiltInRole::AcrPull.role_definition_guid();
        let owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
        assert!(decide(&Governing::Profile(&p), &ask("AcrPull", acr)).is_ok());
        // The same role by its definition id is the same role.
        assert!(decide(&Governing::Profile(&p), &ask(acr, &acr.to_uppercase())).is_ok());
        let denied = decide(&Governing::Profile(&p), &ask(owner, owner)).expect_err("Owner");
        assert!(denied.to_string().contains("allowedRoles"), "{denied}");
        p.spec.allowed_roles.clear();
        assert!(decide(&Governing::Profile(&p), &ask("AcrPull", acr)).is_err());
        p.spec.allowed_roles = vec![owner.into()];
        assert!(decide(&Governing::Profile(&p), &ask(owner, owner)).is_ok());
    }

    /// A tenant allowed clusters in its own groups cannot have AKS make a node resource group
    /// outside them (AKS would create it in the subscription on the tenant's behalf).
    #[test]
    fn a_clusters_node_resource_group_is_held_to_the_allowed_groups() {
        use crate::engine::AzureKind;
        let mut p = profile("team-a", "team-a");
        p.spec.allowed_kinds.push("AksCluster".into());
        let cluster = |node_group: &str| -> azop_api::AksCluster {
            serde_json::from_value(serde_json::json!({"apiVersion": "azop.dev/v1alpha1", "kind": "AksCluster",
                "metadata": {"name": "c", "namespace": "team-a"},
                "spec": {"resourceGroupName": "rg-team-a", "dnsPrefix": "c", "nodeResourceGroup": node_group,
                         "nodePools": [{"name": "system", "mode": "System", "vmSize": "Standard_D4ds_v5"}]}}))
            .expect("cluster")
        };
        let ask = |c: &azop_api::AksCluster| {
            let mut req = c.policy_request();
            req.kind = Some(AzopKind::AksCluster);
            decide(&Governing::Profile(&p), &req).map(|_| ())
        };
        let hostile = cluster("rg-platform-nodes");
        let e = ask(&hostile).expect_err("a group outside the allowed ones");
        assert!(
            e.to_string().contains("rg-platform-nodes")
                && e.to_string().contains("allowedResourceGroups"),
            "{e}"
        );
        assert!(ask(&cluster("rg-team-a-nodes")).is_ok());
    }

    #[test]
    fn adoption_needs_the_profile_to_allow_it() {
        let mut p = profile("team-a", "team-a");
        let req = Request {
            kind: Some(AzopKind::ResourceGroup),
            needs_location: true,
            own_group_name: Some("rg-team-a"),
            adopt: true,
            ..Request::default()
        };
        let e = decide(&Governing::Profile(&p), &req).expect_err("not allowed");
        assert!(e.to_string().contains("allowAdoption"), "{e}");
        p.spec.allow_adoption = true;
        assert!(decide(&Governing::Profile(&p), &req).is_ok());
    }
}
