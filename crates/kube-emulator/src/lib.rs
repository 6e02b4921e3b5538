//! A local, in-memory Kubernetes API server for tests.
