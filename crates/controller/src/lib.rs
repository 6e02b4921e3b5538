//! azop's reconcile engine and per-kind adapters.
//!
//! Today: the tenancy policy ([`policy`]). The engine, the adapters, `azop run` and `azop dev`
//! come with the operator issue.

pub mod policy;
