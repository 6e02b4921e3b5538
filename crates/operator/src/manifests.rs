//! Installing the CRDs and applying YAML directories through the Kubernetes API, with
//! server-side apply, as `kubectl apply --server-side` would.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;

const FIELD_MANAGER: &str = "azop-dev";

/// Applies every CRD and waits until the API server serves them.
pub async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for crd in azop_api::crds() {
        let name = crd.name_any();
        api.patch(&name, &pp, &Patch::Apply(&crd))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
    }
    for crd in azop_api::crds() {
        let name = crd.name_any();
        let established = kube::runtime::wait::await_condition(
            api.clone(),
            &name,
            kube::runtime::wait::conditions::is_crd_established(),
        );
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .with_context(|| format!("CRD {name} not established after 30s"))??;
    }
    Ok(())
}

/// The YAML documents of the `.yaml`/`.yml` files in `dir`, in file-name order.
pub fn read_dir_documents(dir: &Path) -> anyhow::Result<Vec<DynamicObject>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc)
                .with_context(|| format!("parsing {}", file.display()))?;
            if value.is_null() {
                continue;
            }
            let obj: DynamicObject = serde_yaml::from_value(value).with_context(|| {
                format!(
                    "{} holds a document that is not a Kubernetes object",
                    file.display()
                )
            })?;
            docs.push(obj);
        }
    }
    Ok(docs)
}

/// Server-side applies the objects, namespaces first; returns `kind/name` of each.
pub async fn apply_objects(
    client: &Client,
    objects: &[DynamicObject],
) -> anyhow::Result<Vec<String>> {
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Vec::new();
    let mut ordered: Vec<&DynamicObject> = objects.iter().collect();
    ordered.sort_by_key(|o| {
        let kind = o
            .types
            .as_ref()
            .map(|t| t.kind.as_str())
            .unwrap_or_default();
        match kind {
            "Namespace" => 0,
            "AzureProfile" => 1,
            _ => 2,
        }
    });
    for obj in ordered {
        let Some(types) = &obj.types else {
            bail!("object {} has no apiVersion/kind", obj.name_any());
        };
        let gvk = GroupVersionKind::try_from(types).context("apiVersion")?;
        let (resource, caps) = discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("the API server does not serve {}", types.kind))?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                obj.metadata.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let name = obj.name_any();
        api.patch(&name, &pp, &Patch::Apply(obj))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
        applied.push(format!("{}/{name}", types.kind));
    }
    Ok(applied)
}
