//! Laws of `ResourceId` on generated ids: formatting what was parsed gives the string back,
//! case changes do not change equality or hashing, and `parent(child(x)) == x`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use azop_arm::ResourceId;
use proptest::prelude::*;

/// What a generated id is made of, so a test can check the parsed parts too.
#[derive(Debug, Clone)]
struct Parts {
    subscription: Option<String>,
    resource_group: Option<String>,
    /// (namespace, [(type, name)]) blocks; several make an extension resource.
    blocks: Vec<(String, Vec<(String, String)>)>,
    text: String,
}

/// A keyword in one of the spellings services use.
fn keyword(k: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(k.to_string()),
        Just(k.to_ascii_lowercase()),
        Just(k.to_ascii_uppercase()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    // Names as ARM allows them for most types: letters, digits, `-`, `_`, `.`, `(`, `)`.
    "[A-Za-z0-9][A-Za-z0-9._()-]{0,12}"
}

fn resource_type() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9]{0,14}".prop_filter("`providers` is a keyword", |t| {
        !t.eq_ignore_ascii_case("providers")
    })
}

fn namespace() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{1,8}\\.[A-Z][A-Za-z]{1,12}"
}

fn block() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    (
        namespace(),
        prop::collection::vec((resource_type(), name()), 1..4),
    )
}

prop_compose! {
    fn parts()(
        root in 0..3u8,
        subscription in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        group in name(),
        subscriptions_kw in keyword("subscriptions"),
        groups_kw in keyword("resourceGroups"),
        providers_kw in keyword("providers"),
        blocks in prop::collection::vec(block(), 0..3),
        tenant_block in block(),
    ) -> Parts {
        let mut text = String::new();
        let (subscription, resource_group, blocks) = match root {
            // Tenant level: at least one provider block.
            0 => {
                let mut all = vec![tenant_block];
                all.extend(blocks);
                (None, None, all)
            }
            1 => (Some(subscription), None, blocks),
            _ => (Some(subscription), Some(group), blocks),
        };
        if let Some(s) = &subscription {
            text.push_str(&format!("/{subscriptions_kw}/{s}"));
        }
        if let Some(g) = &resource_group {
            text.push_str(&format!("/{groups_kw}/{g}"));
        }
        for (namespace, pairs) in &blocks {
            text.push_str(&format!("/{providers_kw}/{namespace}"));
            for (t, n) in pairs {
                text.push_str(&format!("/{t}/{n}"));
            }
        }
        Parts { subscription, resource_group, blocks, text }
    }
}

fn hash_of(id: &ResourceId) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn formatting_a_parsed_id_gives_back_the_string(p in parts()) {
        let id = ResourceId::parse(&p.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(id.to_string(), p.text.clone());
        prop_assert_eq!(id.subscription_id(), p.subscription.as_deref());
        prop_assert_eq!(id.resource_group(), p.resource_group.as_deref());
        prop_assert_eq!(id.is_extension(), p.blocks.len() > 1);
        match p.blocks.last() {
            Some((namespace, pairs)) => {
                prop_assert_eq!(id.provider(), namespace.as_str());
                let types: Vec<&str> = pairs.iter().map(|(t, _)| t.as_str()).collect();
                prop_assert_eq!(id.resource_type(), format!("{namespace}/{}", types.join("/")));
                prop_assert_eq!(id.name(), pairs.last().map(|(_, n)| n.as_str()).unwrap_or_default());
            }
            None => {
                prop_assert_eq!(id.provider(), "Microsoft.Resources");
                let last = p.resource_group.as_deref().or(p.subscription.as_deref());
                prop_assert_eq!(Some(id.name()), last);
            }
        }
        // A trailing slash reads as the same id and is not written back.
        let slashed = ResourceId::parse(&format!("{}/", p.text))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(slashed.as_str(), p.text.as_str());
        // Serde writes the same string and reads it back.
        let json = serde_json::to_string(&id).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: ResourceId = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.as_str(), p.text.as_str());
    }

    #[test]
    fn ids_that_differ_only_in_case_are_equal_and_hash_alike(
        p in parts(),
        flips in prop::collection::vec(any::<bool>(), 0..200),
    ) {
        let changed: String = p
            .text
            .chars()
            .zip(flips.iter().chain(std::iter::repeat(&false)))
            .map(|(c, flip)| if *flip {
                if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }
            } else { c })
            .collect();
        let a = ResourceId::parse(&p.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = ResourceId::parse(&changed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
        prop_assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
        prop_assert_eq!(a.resource_type().to_lowercase(), b.resource_type().to_lowercase());
        // Each keeps its own spelling.
        prop_assert_eq!(b.as_str(), changed.as_str());
    }

    #[test]
    fn the_parent_of_a_child_is_the_id_itself(
        p in parts(),
        child_type in resource_type(),
        child_namespace in namespace(),
        child_name in name(),
    ) {
        let id = ResourceId::parse(&p.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // A resource in (or extending) the id's scope.
        let extension = id
            .child(&format!("{child_namespace}/{child_type}"), &child_name)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(extension.name(), child_name.as_str());
        prop_assert_eq!(extension.provider(), child_namespace.as_str());
        let back = extension.parent();
        prop_assert_eq!(back.as_ref().map(ResourceId::as_str), Some(p.text.as_str()));
        // A nested resource, where the id is a resource; a group, where it is a subscription.
        let nested_type = if p.blocks.is_empty() && p.resource_group.is_none() {
            "resourceGroups".to_string()
        } else {
            child_type.clone()
        };
        match id.child(&nested_type, &child_name) {
            Ok(nested) => {
                prop_assert_eq!(nested.name(), child_name.as_str());
                let back = nested.parent();
                prop_assert_eq!(back.as_ref().map(ResourceId::as_str), Some(p.text.as_str()));
                prop_assert_eq!(back, Some(id.clone()));
            }
            // Only a resource group has no bare-type children: its resources need a namespace.
            Err(_) => prop_assert!(p.blocks.is_empty() && p.resource_group.is_some()),
        }
    }

    #[test]
    fn parsing_any_string_never_panics(s in ".{0,80}", t in "(/[A-Za-z./]{0,10}){0,8}") {
        let _ = ResourceId::parse(&s);
        if let Ok(id) = ResourceId::parse(&t) {
            // Whatever parses formats back to itself (less one trailing slash).
            prop_assert_eq!(id.as_str(), t.strip_suffix('/').unwrap_or(&t));
            let _ = id.parent();
        }
    }
}
