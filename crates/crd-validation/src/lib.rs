//! Validates objects against a CustomResourceDefinition's schema as kube-apiserver does.
