//! The role-assignment quota. Azure allows a fixed number of role assignments per subscription
//! (4,000; the next one fails with `RoleAssignmentLimitExceeded`), and fails abruptly at it. azop
//! counts the assignments it manages per subscription, exports the count
//! (`azop_role_assignments{subscription}`), warns at 80% of Azure's limit, and refuses new ones
//! past its own threshold (default 3,800) with `Stalled QuotaExceeded`, before Azure fails.
//!
//! The count is rebuilt from what reconciles see: an assignment is counted when azop creates
//! it or finds one it manages in place, and forgotten when azop deletes it. After a restart it
//! fills up as the objects are reconciled (each is, once, at start).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use azop_api::conditions::Reason;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::engine::ReconcileError;
use crate::metrics::SubscriptionLabel;

/// What may be created, and when to warn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Azure's limit per subscription (4,000).
    pub azure_limit: usize,
    /// azop creates no assignment once it manages this many in a subscription.
    pub threshold: usize,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            azure_limit: 4000,
            threshold: 3800,
        }
    }
}

/// Whether a new assignment may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes.
    Allowed,
    /// Yes, but the subscription is at 80% of Azure's limit or more: say so.
    AllowedNearLimit {
        /// Assignments azop manages there once this one exists.
        count: usize,
    },
}

/// The assignments azop manages, by subscription.
pub struct RoleAssignmentQuota {
    settings: QuotaSettings,
    managed: Mutex<HashMap<String, HashSet<String>>>,
    gauge: Family<SubscriptionLabel, Gauge>,
}

/// The subscription of an ARM id, lower-cased (`""` for ids outside a subscription).
fn subscription_of(id: &str) -> String {
    id.to_ascii_lowercase()
        .strip_prefix("/subscriptions/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

impl RoleAssignmentQuota {
    /// A quota with these settings, exporting its counts to `gauge`.
    pub fn new(settings: QuotaSettings, gauge: Family<SubscriptionLabel, Gauge>) -> Self {
        RoleAssignmentQuota {
            settings,
            managed: Mutex::default(),
            gauge,
        }
    }

    fn export(&self, subscription: &str, count: usize) {
        self.gauge
            .get_or_create(&SubscriptionLabel {
                subscription: subscription.to_string(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Counts assignment `id` as managed by azop.
    pub fn note(&self, id: &str) -> usize {
        let sub = subscription_of(id);
        let mut managed = self.managed.lock().unwrap_or_else(PoisonError::into_inner);
        let set = managed.entry(sub.clone()).or_default();
        set.insert(id.to_ascii_lowercase());
        let n = set.len();
        drop(managed);
        self.export(&sub, n);
        n
    }

    /// Stops counting `id` (azop deleted it).
    pub fn forget(&self, id: &str) {
        let sub = subscription_of(id);
        let mut managed = self.managed.lock().unwrap_or_else(PoisonError::into_inner);
        let n = managed.get_mut(&sub).map_or(0, |set| {
            set.remove(&id.to_ascii_lowercase());
            set.len()
        });
        drop(managed);
        self.export(&sub, n);
    }

    /// Assignments azop manages in `subscription`.
    pub fn count(&self, subscription: &str) -> usize {
        self.managed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&subscription.to_ascii_lowercase())
            .map_or(0, HashSet::len)
    }

    /// Whether assignment `id` may be created: refused (`Stalled QuotaExceeded`) once azop
    /// manages the threshold's number in its subscription.
    pub fn admit(&self, id: &str) -> Result<Admission, ReconcileError> {
        let sub = subscription_of(id);
        let managed = self.managed.lock().unwrap_or_else(PoisonError::into_inner);
        let set = managed.get(&sub);
        if set.is_some_and(|s| s.contains(&id.to_ascii_lowercase())) {
            return Ok(Admission::Allowed);
        }
        let count = set.map_or(0, HashSet::len);
        let QuotaSettings {
            azure_limit,
            threshold,
        } = self.settings;
        if count >= threshold {
            return Err(ReconcileError::Stalled {
                reason: Reason::QuotaExceeded,
                message: format!(
                    "azop manages {count} role assignments in subscription {sub}; Azure allows {azure_limit} per subscription and azop creates none past {threshold} (--role-assignment-threshold). Remove assignments that are no longer needed, or assign roles to groups"
                ),
            });
        }
        let after = count + 1;
        if after * 5 >= azure_limit * 4 {
            Ok(Admission::AllowedNearLimit { count: after })
        } else {
            Ok(Admission::Allowed)
        }
    }

    /// Azure's limit, for messages.
    pub fn azure_limit(&self) -> usize {
        self.settings.azure_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "/subscriptions/AAAA/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/";

    #[test]
    fn the_threshold_refuses_and_eighty_percent_warns_per_subscription() {
        let q = RoleAssignmentQuota::new(
            QuotaSettings {
                azure_limit: 10,
                threshold: 9,
            },
            Family::default(),
        );
        for i in 0..7 {
            assert_eq!(
                q.admit(&format!("{A}{i}")).expect("allowed"),
                Admission::Allowed
            );
            q.note(&format!("{A}{i}"));
        }
        assert_eq!(
            q.admit(&format!("{A}7")).expect("allowed"),
            Admission::AllowedNearLimit { count: 8 }
        );
        q.note(&format!("{A}7"));
        q.note(&format!("{A}8"));
        assert_eq!(q.count("aaaa"), 9);
        let refused = q.admit(&format!("{A}9")).expect_err("past the threshold");
        assert!(
            refused
                .to_string()
                .contains("azop manages 9 role assignments"),
            "{refused}"
        );
        // One already counted is no new assignment; another subscription has its own count.
        assert!(q.admit(&format!("{A}3")).is_ok());
        assert!(
            q.admit("/subscriptions/bbbb/providers/Microsoft.Authorization/roleAssignments/x")
                .is_ok()
        );
        q.forget(&format!("{A}8"));
        assert!(q.admit(&format!("{A}9")).is_ok());
    }
}
