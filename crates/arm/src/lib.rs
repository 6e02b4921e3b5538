//! A client for Azure Resource Manager (ARM).
