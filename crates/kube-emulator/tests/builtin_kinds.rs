//! The built-in kinds an operator's install brings, read and written by kube-rs in JSON (no
//! protobuf), as a controller does: defaults, validation errors as kube's errors, watches,
//! the scale subresource, Services' cluster IPs.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::{Api, Client};
use kube_emulator::{Config, KubeEmulator};
use serde_json::{Value, json};

async fn emulator() -> (KubeEmulator, Client) {
    let emulator = KubeEmulator::start(Config::default())
        .await
        .expect("emulator starts");
    let client = emulator.client().await.expect("client");
    (emulator, client)
}

fn deployment(name: &str, template_labels: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": template_labels},
                "spec": {"containers": [{"name": "app", "image": "ghcr.io/azop-dev/azop:0.1.0"}]}}}
    }))
    .expect("a Deployment")
}

/// The Status kube answered with.
fn refusal<T: std::fmt::Debug>(result: kube::Result<T>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("not refused by the API: {other:?}"),
    }
}

#[tokio::test]
async fn deployments_are_defaulted_refused_watched_and_scaled_over_json() {
    let (_e, client) = emulator().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut watch = deployments
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watching")
        .boxed();

    let created = deployments
        .create(
            &PostParams::default(),
            &deployment("azop", json!({"app": "azop"})),
        )
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));
    let spec = created.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let container = &spec.template.spec.expect("pod spec").containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    loop {
        match watch.try_next().await.expect("an event") {
            Some(WatchEvent::Bookmark(_)) => continue,
            Some(WatchEvent::Added(d)) => assert_eq!(d.metadata.name.as_deref(), Some("azop")),
            other => panic!("not an ADDED event: {other:?}"),
        }
        break;
    }

    // A template the selector does not select: 422 with kube-apiserver's message and cause.
    let status = refusal(
        deployments
            .create(
                &PostParams::default(),
                &deployment("other", json!({"app": "x"})),
            )
            .await,
    );
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert_eq!(
        status.message,
        "Deployment.apps \"other\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
    );
    let cause = &status.details.expect("details").causes[0];
    assert_eq!(cause.field, "spec.template.metadata.labels");
    assert_eq!(cause.reason, "FieldValueInvalid");

    // A value of the wrong type: 400, in the words of Go's decoder.
    let raw: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apps", "v1", "Deployment"),
            "deployments",
        ),
    );
    let mut mistyped: DynamicObject = serde_json::from_value(
        serde_json::to_value(deployment("typed", json!({"app": "typed"}))).expect("JSON"),
    )
    .expect("an object");
    mistyped.data["spec"]["replicas"] = json!("two");
    let status = refusal(raw.create(&PostParams::default(), &mistyped).await);
    assert_eq!(status.code, 400);
    assert_eq!(
        status.message,
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );

    // The scale subresource reads and writes spec.replicas; a spec change bumps generation.
    let scale = deployments.get_scale("azop").await.expect("a Scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    assert_eq!(
        scale.status.map(|s| s.selector),
        Some(Some("app=azop".to_string()))
    );
    let scaled = deployments
        .patch_scale(
            "azop",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scaled");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(3));
    let after = deployments.get("azop").await.expect("read");
    assert_eq!(after.spec.and_then(|s| s.replicas), Some(3));
    assert_eq!(after.metadata.generation, Some(2));

    // Status is written through /status only, and does not bump generation.
    let status = json!({"status": {"replicas": 3, "readyReplicas": 3, "observedGeneration": 2}});
    deployments
        .patch_status("azop", &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("status written");
    let after = deployments.get("azop").await.expect("read");
    assert_eq!(after.status.and_then(|s| s.ready_replicas), Some(3));
    assert_eq!(after.metadata.generation, Some(2));
}

#[tokio::test]
async fn a_service_keeps_the_cluster_ip_it_was_given() {
    let (_e, client) = emulator().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "metrics"},
        "spec": {"selector": {"app": "azop"}, "ports": [{"name": "metrics", "port": 8080}]}
    }))
    .expect("a Service");
    let created = services
        .create(&PostParams::default(), &service)
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, None);
    let spec = created.spec.expect("spec");
    let ip = spec.cluster_ip.clone().expect("a cluster IP");
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(spec.cluster_ips, Some(vec![ip.clone()]));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080))
    );

    // A replace without the address keeps it; one changing it is refused.
    let mut replaced = service.clone();
    replaced.metadata.resource_version = created.metadata.resource_version.clone();
    let kept = services
        .replace("metrics", &PostParams::default(), &replaced)
        .await
        .expect("replaced");
    assert_eq!(kept.spec.and_then(|s| s.cluster_ip), Some(ip.clone()));
    let moved = Patch::Merge(json!({"spec": {"clusterIP": "10.96.200.200"}}));
    let status = refusal(
        services
            .patch("metrics", &PatchParams::default(), &moved)
            .await,
    );
    assert_eq!(status.code, 422);
    assert!(
        status.message.ends_with("may not change once set"),
        "{}",
        status.message
    );

    // An address another Service holds is refused.
    let mut taken = service.clone();
    taken.metadata.name = Some("taken".into());
    taken.spec.as_mut().expect("spec").cluster_ip = Some(ip.clone());
    let status = refusal(services.create(&PostParams::default(), &taken).await);
    assert_eq!(status.code, 422);
    assert!(
        status.message.ends_with("provided IP is already allocated"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn budgets_policies_secrets_and_config_maps_are_stored_as_kube_apiserver_stores_them() {
    let (_e, client) = emulator().await;
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let both: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "azop"},
        "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {"matchLabels": {"app": "azop"}}}
    }))
    .expect("a PodDisruptionBudget");
    let status = refusal(budgets.create(&PostParams::default(), &both).await);
    assert!(
        status
            .message
            .ends_with("minAvailable and maxUnavailable cannot be both set"),
        "{}",
        status.message
    );
    let mut one = both.clone();
    one.spec.as_mut().expect("spec").max_unavailable = None;
    let created = budgets
        .create(&PostParams::default(), &one)
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.status.map(|s| s.disruptions_allowed), Some(0));

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "default");
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "azop"},
        "spec": {"egress": [{"ports": [{"port": 443}]}]}
    }))
    .expect("a NetworkPolicy");
    let created = policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("created");
    let spec = created.spec.expect("spec");
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
    assert!(
        spec.pod_selector.is_some(),
        "an empty selector, as Go writes it"
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .expect("a Secret");
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("created");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(created.metadata.generation, None);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "m"}, "data": {"k": "v"}}))
            .expect("a ConfigMap");
    let created = maps
        .create(&PostParams::default(), &map)
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, None);
    let changed = maps
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .expect("patched");
    assert_eq!(changed.metadata.generation, None);
}
