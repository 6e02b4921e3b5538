//! One adapter per kind: how its spec becomes an ARM body, and an ARM body its status.

pub mod aks_cluster;
pub mod federated_identity;
pub mod key_vault;
pub mod resource_group;
pub mod role_assignment;
