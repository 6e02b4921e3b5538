//! ARM resource ids: parsed, compared the way ARM compares them, and formatted as they were
//! written.
//!
//! The grammar this module reads:
//!
//! ```text
//! id       = root *( "/providers/" namespace 1*( "/" type "/" name ) )
//! root     = "/subscriptions/" sub [ "/resourceGroups/" rg ]   ; subscription or group scope
//!          | ""                                                 ; tenant level: "/providers/..."
//! ```
//!
//! A `providers` block after a resource makes an *extension resource* — a role assignment
//! `{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}` whose scope is itself an
//! id. Keywords (`subscriptions`, `resourceGroups`, `providers`) are matched
//! case-insensitively, because services answer `/resourcegroups/` at times.
//!
//! One trailing slash is accepted and dropped (`/subscriptions/s/resourceGroups/rg/` reads as
//! `/subscriptions/s/resourceGroups/rg`): ARM itself serves both, and an id pasted from a URL
//! often has one. Everything else malformed — a missing leading slash, an empty segment
//! (`//`), a keyword with no name after it, a namespace with no type, a type with no name,
//! `?` or `#` — is a [`ResourceIdError`].

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an ARM resource id, or a child cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceIdError {
    /// The string is empty, or only `/`.
    #[error("a resource id cannot be empty")]
    Empty,
    /// ARM ids are absolute: they start with `/`.
    #[error("resource id {id:?} must start with '/'")]
    NoLeadingSlash {
        /// The string that was read.
        id: String,
    },
    /// Two slashes in a row (or a trailing `//`).
    #[error("resource id {id:?} has an empty segment")]
    EmptySegment {
        /// The string that was read.
        id: String,
    },
    /// `?` or `#`: a URL's query or fragment is not part of an id.
    #[error("resource id {id:?} contains {found:?}, which is not allowed in an id")]
    InvalidCharacter {
        /// The string that was read.
        id: String,
        /// The character found.
        found: char,
    },
    /// A segment is not what the grammar allows at its place.
    #[error("resource id {id:?}: expected {expected} at segment {position}, found {found:?}")]
    Unexpected {
        /// The string that was read.
        id: String,
        /// The segment's position, counting from 1.
        position: usize,
        /// What the grammar allows there.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// The id ends where a name (or a namespace, or a type) must follow.
    #[error("resource id {id:?} ends early: {expected} is missing")]
    Truncated {
        /// The string that was read.
        id: String,
        /// What is missing.
        expected: &'static str,
    },
    /// A child's type or name is not a single, non-empty segment.
    #[error("invalid child {resource_type:?}/{name:?}: {reason}")]
    InvalidChild {
        /// The type asked for.
        resource_type: String,
        /// The name asked for.
        name: String,
        /// What is wrong with them.
        reason: &'static str,
    },
}

/// One `providers/{namespace}/{type}/{name}[/{type}/{name}…]` block.
#[derive(Debug, Clone)]
struct ProviderBlock {
    namespace: String,
    /// (type, name) pairs, outermost first; never empty.
    pairs: Vec<(String, String)>,
}

/// A parsed ARM resource id.
///
/// Equality, ordering and hashing ignore case, as ARM does (segment by segment, which for a
/// `/`-joined string is the same as comparing the whole lowercased id); [`fmt::Display`] and
/// [`ResourceId::as_str`] give the id exactly as it was written (less a trailing slash).
/// Serialises as that string.
///
/// ```
/// use azop_arm::ResourceId;
///
/// let fic: ResourceId = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity\
///     /userAssignedIdentities/id1/federatedIdentityCredentials/fic1".parse()?;
/// assert_eq!(fic.subscription_id(), Some("s"));
/// assert_eq!(fic.resource_group(), Some("rg"));
/// assert_eq!(fic.provider(), "Microsoft.ManagedIdentity");
/// assert_eq!(
///     fic.resource_type(),
///     "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
/// );
/// assert_eq!(fic.name(), "fic1");
/// let identity = fic.parent().expect("a nested resource has a parent");
/// assert_eq!(identity.child("federatedIdentityCredentials", "FIC1")?, fic);
/// # Ok::<(), azop_arm::ResourceIdError>(())
/// ```
#[derive(Clone)]
pub struct ResourceId {
    /// As written, less a trailing slash.
    raw: String,
    /// `raw` lowercased: what equality, ordering and hashing use.
    key: String,
    subscription: Option<String>,
    resource_group: Option<String>,
    /// Outermost first; more than one for extension resources.
    providers: Vec<ProviderBlock>,
}

const SUBSCRIPTIONS: &str = "subscriptions";
const RESOURCE_GROUPS: &str = "resourceGroups";
const PROVIDERS: &str = "providers";
const RESOURCES_NAMESPACE: &str = "Microsoft.Resources";

fn is_keyword(segment: &str, keyword: &str) -> bool {
    segment.eq_ignore_ascii_case(keyword)
}

impl ResourceId {
    /// Parses an id; the same as `s.parse()`.
    pub fn parse(s: &str) -> Result<Self, ResourceIdError> {
        if s.is_empty() || s == "/" {
            return Err(ResourceIdError::Empty);
        }
        let id = || s.to_string();
        if let Some(found) = s.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(ResourceIdError::InvalidCharacter { id: id(), found });
        }
        let Some(body) = s.strip_prefix('/') else {
            return Err(ResourceIdError::NoLeadingSlash { id: id() });
        };
        // The documented leniency: one trailing slash is dropped.
        let body = body.strip_suffix('/').unwrap_or(body);
        let segments: Vec<&str> = body.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(ResourceIdError::EmptySegment { id: id() });
        }
        // Dot segments and percent-escapes would make the URL built from the id name another
        // resource than the id says (`.../rg-a/../..` is the subscription once a URL library
        // normalises it): no ARM id carries them.
        if let Some(found) = segments
            .iter()
            .find(|s| **s == "." || **s == ".." || s.contains('%') || s.contains('\\'))
        {
            return Err(ResourceIdError::Unexpected {
                id: id(),
                position: segments.iter().position(|s| s == found).unwrap_or(0) + 1,
                expected: "a name without dot segments or escapes",
                found: (*found).to_string(),
            });
        }
        let truncated = |expected| ResourceIdError::Truncated { id: id(), expected };
        let unexpected = |position: usize, expected, found: &str| ResourceIdError::Unexpected {
            id: id(),
            position: position + 1,
            expected,
            found: found.to_string(),
        };

        let mut i = 0;
        let mut subscription = None;
        let mut resource_group = None;
        if is_keyword(segments[0], SUBSCRIPTIONS) {
            subscription = Some(
                segments
                    .get(1)
                    .ok_or_else(|| truncated("the subscription id"))?
                    .to_string(),
            );
            i = 2;
            if let Some(s) = segments.get(2)
                && is_keyword(s, RESOURCE_GROUPS)
            {
                resource_group = Some(
                    segments
                        .get(3)
                        .ok_or_else(|| truncated("the resource group name"))?
                        .to_string(),
                );
                i = 4;
            }
        } else if !is_keyword(segments[0], PROVIDERS) {
            return Err(unexpected(0, "'subscriptions' or 'providers'", segments[0]));
        }

        let mut providers: Vec<ProviderBlock> = Vec::new();
        while i < segments.len() {
            if !is_keyword(segments[i], PROVIDERS) {
                let expected = if subscription.is_some() && resource_group.is_none() && i == 2 {
                    "'resourceGroups' or 'providers'"
                } else {
                    "'providers'"
                };
                return Err(unexpected(i, expected, segments[i]));
            }
            let namespace = segments
                .get(i + 1)
                .ok_or_else(|| truncated("the provider namespace"))?
                .to_string();
            i += 2;
            let mut pairs = Vec::new();
            // A `providers` segment where a type would be starts an extension resource.
            while i < segments.len() && !is_keyword(segments[i], PROVIDERS) {
                let name = segments
                    .get(i + 1)
                    .ok_or_else(|| truncated("the resource name"))?;
                pairs.push((segments[i].to_string(), name.to_string()));
                i += 2;
            }
            if pairs.is_empty() {
                return Err(truncated("a resource type after the provider namespace"));
            }
            providers.push(ProviderBlock { namespace, pairs });
        }
        if subscription.is_none() && providers.is_empty() {
            return Err(truncated("a provider namespace"));
        }

        let raw = format!("/{body}");
        Ok(ResourceId {
            key: raw.to_lowercase(),
            raw,
            subscription,
            resource_group,
            providers,
        })
    }

    /// The id of a subscription, `/subscriptions/{subscription_id}`.
    pub fn for_subscription(subscription_id: &str) -> Result<Self, ResourceIdError> {
        check_segment("subscriptions", subscription_id)?;
        Self::parse(&format!("/subscriptions/{subscription_id}"))
    }

    /// The id of a resource group, `/subscriptions/{subscription_id}/resourceGroups/{name}`.
    pub fn for_resource_group(subscription_id: &str, name: &str) -> Result<Self, ResourceIdError> {
        Self::for_subscription(subscription_id)?.child(RESOURCE_GROUPS, name)
    }

    /// The id as written (less a trailing slash).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The subscription, for ids under one; `None` for tenant-level ids.
    pub fn subscription_id(&self) -> Option<&str> {
        self.subscription.as_deref()
    }

    /// The resource group, for a group and anything in it (an extension resource on a
    /// resource in a group included).
    pub fn resource_group(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }

    /// The resource provider namespace of the resource this id names, e.g.
    /// `Microsoft.KeyVault`; `Microsoft.Resources` for a subscription or resource group.
    /// For an extension resource, the extension's namespace
    /// (`Microsoft.Authorization` for a role assignment).
    pub fn provider(&self) -> &str {
        self.providers
            .last()
            .map_or(RESOURCES_NAMESPACE, |b| b.namespace.as_str())
    }

    /// The full resource type, `Namespace/type[/nested type…]`, as ARM writes it in a body's
    /// `type` field: `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials`,
    /// `Microsoft.Resources/resourceGroups`, `Microsoft.Resources/subscriptions`.
    pub fn resource_type(&self) -> String {
        match self.providers.last() {
            Some(b) => {
                let mut t = b.namespace.clone();
                for (ty, _) in &b.pairs {
                    t.push('/');
                    t.push_str(ty);
                }
                t
            }
            None if self.resource_group.is_some() => {
                format!("{RESOURCES_NAMESPACE}/resourceGroups")
            }
            None => format!("{RESOURCES_NAMESPACE}/subscriptions"),
        }
    }

    /// The resource's own name: the last segment.
    pub fn name(&self) -> &str {
        match self.providers.last().and_then(|b| b.pairs.last()) {
            Some((_, name)) => name,
            None => self
                .resource_group
                .as_deref()
                .or(self.subscription.as_deref())
                // Parsing guarantees a subscription or a provider block.
                .unwrap_or_default(),
        }
    }

    /// True for an extension resource: one whose scope is another resource (or a group or a
    /// subscription reached through another resource's provider block), such as a role
    /// assignment on a vault. Role assignments on a subscription or group are written the
    /// same way as top-level resources there and are not counted here.
    pub fn is_extension(&self) -> bool {
        self.providers.len() > 1
    }

    /// The id one level up: a nested resource's parent resource; a top-level resource's
    /// scope (its resource group, subscription, or — for an extension resource — the resource
    /// it extends); a group's subscription. `None` for a subscription and for a tenant-level
    /// resource directly under the tenant root, which has no id of its own.
    pub fn parent(&self) -> Option<ResourceId> {
        let drop = match self.providers.last() {
            Some(b) if b.pairs.len() > 1 => 2,
            Some(_) => 4,
            None if self.resource_group.is_some() => 2,
            None => return None,
        };
        let mut end = self.raw.len();
        for _ in 0..drop {
            end = self.raw[..end].rfind('/')?;
        }
        if end == 0 {
            return None;
        }
        // A prefix of a valid id at a block boundary is itself valid.
        ResourceId::parse(&self.raw[..end]).ok()
    }

    /// The id of a child.
    ///
    /// - A bare type (`"federatedIdentityCredentials"`) names a nested resource:
    ///   `{self}/{type}/{name}`. Under a subscription the bare type `resourceGroups` gives a
    ///   resource group.
    /// - A type with its namespace (`"Microsoft.KeyVault/vaults"`,
    ///   `"Microsoft.Authorization/roleAssignments"`) names a resource in the scope `self`:
    ///   `{self}/providers/{namespace}/{type}/{name}` — a top-level resource under a group or
    ///   subscription, or an extension resource on a resource.
    pub fn child(&self, resource_type: &str, name: &str) -> Result<ResourceId, ResourceIdError> {
        let invalid = |reason| ResourceIdError::InvalidChild {
            resource_type: resource_type.to_string(),
            name: name.to_string(),
            reason,
        };
        check_segment(resource_type, name)?;
        let raw = match resource_type.split_once('/') {
            Some((namespace, ty)) => {
                if namespace.is_empty() || ty.is_empty() || ty.contains('/') {
                    return Err(invalid(
                        "a type with a namespace is `Namespace/type`, one level only",
                    ));
                }
                check_segment(resource_type, ty)?;
                format!("{}/providers/{namespace}/{ty}/{name}", self.raw)
            }
            None => {
                check_segment(resource_type, resource_type)?;
                let under_subscription = self.providers.is_empty() && self.resource_group.is_none();
                if is_keyword(resource_type, PROVIDERS) {
                    return Err(invalid("'providers' is a keyword, not a type"));
                }
                if self.providers.is_empty()
                    && !(under_subscription && is_keyword(resource_type, RESOURCE_GROUPS))
                {
                    return Err(invalid(
                        "a resource under a subscription or group needs its namespace",
                    ));
                }
                format!("{}/{resource_type}/{name}", self.raw)
            }
        };
        ResourceId::parse(&raw)
    }
}

/// A single id segment: non-empty, no `/`, `?`, `#`.
fn check_segment(resource_type: &str, segment: &str) -> Result<(), ResourceIdError> {
    let reason = if segment.is_empty() {
        Some("an empty segment")
    } else if segment.contains('/') {
        Some("a segment cannot contain '/'")
    } else if segment.contains(['?', '#']) {
        Some("a segment cannot contain '?' or '#'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ResourceIdError::InvalidChild {
            resource_type: resource_type.to_string(),
            name: segment.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

impl FromStr for ResourceId {
    type Err = ResourceIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceId::parse(s)
    }
}

impl TryFrom<&str> for ResourceId {
    type Error = ResourceIdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ResourceId::parse(s)
    }
}

impl TryFrom<String> for ResourceId {
    type Error = ResourceIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        ResourceId::parse(&s)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResourceId").field(&self.raw).finish()
    }
}

impl AsRef<str> for ResourceId {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl From<ResourceId> for String {
    fn from(id: ResourceId) -> String {
        id.raw
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ResourceId {}

impl Hash for ResourceId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for ResourceId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ResourceId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        ResourceId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn id(s: &str) -> ResourceId {
        ResourceId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const FIC: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/fic1";

    #[test]
    fn dot_segments_and_escapes_are_refused_so_an_id_cannot_climb_out_of_its_group() {
        for bad in [
            "/subscriptions/s/resourceGroups/rg-a/providers/X/a/../../../../..",
            "/subscriptions/s/resourceGroups/rg-a/providers/X/a/./b",
            "/subscriptions/s/resourceGroups/rg-a/providers/X/a/%2e%2e",
        ] {
            assert!(ResourceId::parse(bad).is_err(), "{bad} must not parse");
        }
    }

    #[test]
    fn a_nested_resource_reads_every_part() {
        let fic = id(FIC);
        assert_eq!(fic.subscription_id(), Some("s"));
        assert_eq!(fic.resource_group(), Some("rg"));
        assert_eq!(fic.provider(), "Microsoft.ManagedIdentity");
        assert_eq!(
            fic.resource_type(),
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
        );
        assert_eq!(fic.name(), "fic1");
        assert!(!fic.is_extension());
        assert_eq!(fic.to_string(), FIC);
        let identity = fic.parent().expect("parent");
        assert_eq!(
            identity.as_str(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
        );
        assert_eq!(
            identity.resource_type(),
            "Microsoft.ManagedIdentity/userAssignedIdentities"
        );
        let rg = identity.parent().expect("group");
        assert_eq!(rg.as_str(), "/subscriptions/s/resourceGroups/rg");
        assert_eq!(rg.resource_type(), "Microsoft.Resources/resourceGroups");
        assert_eq!(rg.name(), "rg");
        let sub = rg.parent().expect("subscription");
        assert_eq!(sub.as_str(), "/subscriptions/s");
        assert_eq!(sub.resource_type(), "Microsoft.Resources/subscriptions");
        assert_eq!(sub.name(), "s");
        assert_eq!(sub.resource_group(), None);
        assert_eq!(sub.parent(), None);
    }

    #[test]
    fn lower_case_resourcegroups_as_services_return_it_is_the_same_id() {
        let lower = id(
            "/subscriptions/c267c0e7-0a73-4789-9e17-d26aeb0904e5/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName",
        );
        let upper = id(
            "/subscriptions/C267C0E7-0A73-4789-9E17-D26AEB0904E5/resourceGroups/RGNAME/providers/microsoft.managedidentity/USERASSIGNEDIDENTITIES/identityname",
        );
        assert_eq!(lower, upper);
        assert_eq!(lower.resource_group(), Some("rgName"));
        // Display keeps what was written.
        assert!(lower.to_string().contains("/resourcegroups/rgName/"));
        assert!(upper.to_string().contains("/resourceGroups/RGNAME/"));
        let set: HashSet<ResourceId> = [lower, upper].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn one_trailing_slash_is_dropped_and_two_are_refused() {
        let rg = id("/subscriptions/s/resourceGroups/rg/");
        assert_eq!(rg.as_str(), "/subscriptions/s/resourceGroups/rg");
        assert_eq!(rg, id("/subscriptions/s/resourceGroups/rg"));
        assert!(matches!(
            ResourceId::parse("/subscriptions/s/resourceGroups/rg//"),
            Err(ResourceIdError::EmptySegment { .. })
        ));
    }

    #[test]
    fn role_assignments_are_extension_resources_whose_parent_is_their_scope() {
        let on_vault = id(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/b0f43c54-e787-4862-89b1-a653fa9cf747",
        );
        assert!(on_vault.is_extension());
        assert_eq!(on_vault.provider(), "Microsoft.Authorization");
        assert_eq!(
            on_vault.resource_type(),
            "Microsoft.Authorization/roleAssignments"
        );
        assert_eq!(on_vault.name(), "b0f43c54-e787-4862-89b1-a653fa9cf747");
        assert_eq!(on_vault.resource_group(), Some("rg"));
        let vault = on_vault.parent().expect("scope");
        assert_eq!(vault.resource_type(), "Microsoft.KeyVault/vaults");
        assert_eq!(
            vault
                .child(
                    "Microsoft.Authorization/roleAssignments",
                    "b0f43c54-e787-4862-89b1-a653fa9cf747"
                )
                .expect("child"),
            on_vault
        );

        let on_subscription = id(
            "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/providers/Microsoft.Authorization/roleAssignments/b0f43c54-e787-4862-89b1-a653fa9cf747",
        );
        assert_eq!(on_subscription.resource_group(), None);
        assert_eq!(
            on_subscription.parent().expect("scope").as_str(),
            "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2"
        );
    }

    #[test]
    fn tenant_level_and_management_group_ids_parse() {
        let definition = id(
            "/providers/Microsoft.Authorization/roleDefinitions/0b5fe924-9a61-425c-96af-cfe6e287ca2d",
        );
        assert_eq!(definition.subscription_id(), None);
        assert_eq!(
            definition.resource_type(),
            "Microsoft.Authorization/roleDefinitions"
        );
        assert_eq!(definition.parent(), None);

        let on_mg = id(
            "/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/roleAssignments/g1",
        );
        assert!(on_mg.is_extension());
        assert_eq!(
            on_mg.parent().expect("scope").as_str(),
            "/providers/Microsoft.Management/managementGroups/mg1"
        );
    }

    #[test]
    fn subscription_level_resources_and_location_based_ids_parse() {
        let deleted =
            id("/subscriptions/s/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv");
        assert_eq!(
            deleted.resource_type(),
            "Microsoft.KeyVault/locations/deletedVaults"
        );
        assert_eq!(deleted.resource_group(), None);
        assert_eq!(
            deleted.parent().expect("parent").as_str(),
            "/subscriptions/s/providers/Microsoft.KeyVault/locations/westus"
        );
    }

    #[test]
    fn constructors_and_children_build_the_usual_ids() {
        let rg = ResourceId::for_resource_group("s", "rg").expect("rg");
        assert_eq!(rg.as_str(), "/subscriptions/s/resourceGroups/rg");
        let aks = rg
            .child("Microsoft.ContainerService/managedClusters", "c1")
            .expect("aks");
        let pool = aks.child("agentPools", "np1").expect("pool");
        assert_eq!(
            pool.as_str(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1/agentPools/np1"
        );
        assert_eq!(pool.parent(), Some(aks));
    }

    #[test]
    fn malformed_ids_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("/", "empty"),
            ("subscriptions/s", "must start with '/'"),
            ("/subscriptions", "subscription id is missing"),
            (
                "/subscriptions/s/resourceGroups",
                "resource group name is missing",
            ),
            (
                "/subscriptions/s/resourceGroups/rg/providers",
                "namespace is missing",
            ),
            (
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault",
                "resource type after the provider namespace is missing",
            ),
            (
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults",
                "resource name is missing",
            ),
            (
                "/subscriptions/s/locations/westus",
                "expected 'resourceGroups' or 'providers'",
            ),
            (
                "/resourceGroups/rg",
                "expected 'subscriptions' or 'providers'",
            ),
            (
                "/subscriptions/s/resourceGroups/rg/vaults/kv",
                "expected 'providers'",
            ),
            ("/subscriptions//resourceGroups/rg", "empty segment"),
            ("/subscriptions/s?api-version=1", "'?'"),
        ];
        for (s, reason) in cases {
            let e = ResourceId::parse(s).expect_err(s).to_string();
            assert!(e.contains(reason), "{s:?}: {e:?} does not say {reason:?}");
        }
    }

    #[test]
    fn children_that_are_not_one_segment_are_refused() {
        let rg = id("/subscriptions/s/resourceGroups/rg");
        assert!(rg.child("vaults", "kv").is_err(), "no namespace");
        assert!(rg.child("Microsoft.KeyVault/vaults", "a/b").is_err());
        assert!(rg.child("Microsoft.KeyVault/vaults", "").is_err());
        assert!(rg.child("Microsoft.KeyVault/vaults/keys", "k").is_err());
        let vault = rg.child("Microsoft.KeyVault/vaults", "kv").expect("vault");
        assert!(vault.child("providers", "x").is_err());
    }

    #[test]
    fn serde_reads_and_writes_the_string() {
        let fic = id(FIC);
        let json = serde_json::to_string(&fic).expect("serialise");
        assert_eq!(json, format!("\"{FIC}\""));
        let back: ResourceId = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back.as_str(), FIC);
        let err = serde_json::from_str::<ResourceId>("\"nope\"").expect_err("malformed");
        assert!(err.to_string().contains("must start with '/'"));
    }
}
