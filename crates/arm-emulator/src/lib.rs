//! A local Azure for tests: ARM, the Entra token endpoint and the Key Vault data plane on loopback.
