//! azop's reconcile engine and per-kind adapters.
//!
//! Empty until the operator issue lands: nothing here pretends to reconcile yet.
