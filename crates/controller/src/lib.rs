//! azop's reconcile engine and per-kind adapters.
//!
//! [`engine`] is the one reconcile engine every Azure-backed kind shares; [`kinds`] holds one
//! adapter per kind; [`policy`] is the tenancy policy of AzureProfiles and [`profiles`] keeps their
//! status; [`azure`] is the narrow
//! view of ARM the engine needs. Wiring into `azop run`/`azop dev` comes with the operator issue.

pub mod acknowledge;
pub mod azure;
pub mod calendar;
pub mod drift;
pub mod engine;
pub mod index;
pub mod kinds;
pub mod metrics;
pub mod policy;
pub mod profiles;
pub mod quota;
pub mod references;
pub mod runner;
pub mod tokens;
