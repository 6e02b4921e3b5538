//! Kubernetes' protobuf encoding over HTTP, as client-go and kubectl's typed verbs speak it:
//! request bodies, answers, lists, watch streams and errors for built-in kinds, the Accept
//! negotiation (custom resources stay JSON), and the protobuf `/openapi/v2` kubectl reads.

use axum::http::{Method, Request, StatusCode, header};
use k8s_openapi::api::core::v1::Secret;
use k8s_pb::api::apps::v1 as apps_pb;
use k8s_pb::api::authentication::v1 as authn_pb;
use k8s_pb::api::core::v1 as core_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kube::api::PostParams;
use kube::client::Body;
use kube::{Api, Client};
use kube_emulator::{Config, KubeEmulator};
use prost::Message;
use serde_json::{Value, json};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// What kubectl's typed clients send as Accept.
const PROTOBUF_THEN_JSON: &str = "application/vnd.kubernetes.protobuf,application/json";

/// An answer: status, Content-Type and body.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    /// The enveloped object: its typeMeta and its message.
    fn unwrap(&self) -> (TypeMeta, Vec<u8>) {
        let message = self
            .body
            .strip_prefix(b"k8s\0")
            .unwrap_or_else(|| panic!("not protobuf: {}", String::from_utf8_lossy(&self.body)));
        let unknown = Unknown::decode(message).expect("a runtime.Unknown");
        (
            unknown.type_meta.expect("typeMeta"),
            unknown.raw.expect("raw"),
        )
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn send(
    client: &Client,
    method: Method,
    path: &str,
    accept: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let request = match body {
        Some((content_type, bytes)) => request
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes)),
        None => request.body(Body::empty()),
    }
    .expect("a request");
    let response = client.send(request).await.expect("an answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .expect("the body")
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

/// `k8s\0` and the Unknown envelope, as client-go writes a request body.
fn envelope(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(message.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn metadata(name: &str) -> Option<meta_pb::ObjectMeta> {
    Some(meta_pb::ObjectMeta {
        name: Some(name.into()),
        // Go writes every string field that is not a pointer, empty or not.
        generate_name: Some(String::new()),
        namespace: Some(String::new()),
        ..Default::default()
    })
}

async fn emulator() -> (KubeEmulator, Client) {
    let emulator = KubeEmulator::start(Config::default())
        .await
        .expect("emulator starts");
    let client = emulator.client().await.expect("client");
    (emulator, client)
}

#[tokio::test]
async fn a_secret_created_in_protobuf_is_stored_and_read_back_in_either_encoding() {
    let (_e, client) = emulator().await;
    let secret = core_pb::Secret {
        metadata: metadata("s1"),
        data: [("a".to_string(), b"b".to_vec())].into(),
        r#type: Some(String::new()),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "Secret", &secret))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.content_type, PROTOBUF);
    let (type_meta, raw) = created.unwrap();
    assert_eq!(type_meta.api_version.as_deref(), Some("v1"));
    assert_eq!(type_meta.kind.as_deref(), Some("Secret"));
    let answered = core_pb::Secret::decode(raw.as_slice()).expect("a Secret");
    let meta = answered.metadata.expect("metadata");
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(meta.uid.is_some_and(|u| !u.is_empty()));
    assert_eq!(answered.data.get("a").map(Vec::as_slice), Some(&b"b"[..]));

    // JSON readers see the same object, without the empty strings Go wrote, and with the type
    // kube-apiserver defaults.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let read = secrets.get("s1").await.expect("read as JSON");
    assert_eq!(
        read.data.and_then(|d| d.get("a").cloned()).map(|b| b.0),
        Some(b"b".to_vec())
    );
    assert_eq!(read.type_.as_deref(), Some("Opaque"));
    assert_eq!(read.metadata.generate_name, None);

    let got = send(
        &client,
        Method::GET,
        "/api/v1/namespaces/default/secrets/s1",
        Some(PROTOBUF),
        None,
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    let (_, raw) = got.unwrap();
    let secret = core_pb::Secret::decode(raw.as_slice()).expect("a Secret");
    assert_eq!(secret.metadata.and_then(|m| m.name).as_deref(), Some("s1"));
}

#[tokio::test]
async fn namespaces_configmaps_and_serviceaccounts_are_created_in_protobuf() {
    let (_e, client) = emulator().await;
    let namespace = core_pb::Namespace {
        metadata: metadata("x1"),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "Namespace", &namespace))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let namespace = core_pb::Namespace::decode(created.unwrap().1.as_slice()).expect("Namespace");
    assert_eq!(
        namespace.status.and_then(|s| s.phase).as_deref(),
        Some("Active")
    );

    let config_map = core_pb::ConfigMap {
        metadata: metadata("c1"),
        data: [("a".to_string(), "b".to_string())].into(),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/x1/configmaps",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "ConfigMap", &config_map))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let account = core_pb::ServiceAccount {
        metadata: metadata("sa1"),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/x1/serviceaccounts",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "ServiceAccount", &account))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let listed = send(
        &client,
        Method::GET,
        "/api/v1/namespaces/x1/configmaps",
        Some(PROTOBUF_THEN_JSON),
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    let (type_meta, raw) = listed.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("ConfigMapList"));
    let list = core_pb::ConfigMapList::decode(raw.as_slice()).expect("a ConfigMapList");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].data.get("a").map(String::as_str), Some("b"));
    assert!(
        list.metadata
            .and_then(|m| m.resource_version)
            .is_some_and(|rv| !rv.is_empty())
    );
}

#[tokio::test]
async fn a_token_request_in_protobuf_is_answered_with_a_signed_token() {
    let (_e, client) = emulator().await;
    let account = core_pb::ServiceAccount {
        metadata: metadata("sa1"),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "ServiceAccount", &account))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let request = authn_pb::TokenRequest {
        metadata: metadata("sa1"),
        spec: Some(authn_pb::TokenRequestSpec {
            audiences: vec!["api://AzureADTokenExchange".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        }),
        status: None,
    };
    let answered = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/sa1/token",
        Some(PROTOBUF_THEN_JSON),
        Some((
            PROTOBUF,
            envelope("authentication.k8s.io/v1", "TokenRequest", &request),
        )),
    )
    .await;
    assert_eq!(answered.status, StatusCode::CREATED);
    let (type_meta, raw) = answered.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("TokenRequest"));
    let token = authn_pb::TokenRequest::decode(raw.as_slice()).expect("a TokenRequest");
    let status = token.status.expect("status");
    assert_eq!(status.token.expect("token").split('.').count(), 3);
    assert!(
        status
            .expiration_timestamp
            .and_then(|t| t.seconds)
            .is_some()
    );
}

#[tokio::test]
async fn a_delete_reads_its_options_from_a_protobuf_body() {
    let (_e, client) = emulator().await;
    let config_map = core_pb::ConfigMap {
        metadata: metadata("c1"),
        ..Default::default()
    };
    let created = send(
        &client,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, envelope("v1", "ConfigMap", &config_map))),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let delete = |dry_run: Vec<String>| {
        let options = meta_pb::DeleteOptions {
            dry_run,
            propagation_policy: Some("Background".into()),
            ..Default::default()
        };
        envelope("v1", "DeleteOptions", &options)
    };
    let path = "/api/v1/namespaces/default/configmaps/c1";
    let dry = send(
        &client,
        Method::DELETE,
        path,
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, delete(vec!["All".into()]))),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK);
    let still = send(&client, Method::GET, path, Some("application/json"), None).await;
    assert_eq!(still.status, StatusCode::OK, "a dry run deletes nothing");
    let real = send(
        &client,
        Method::DELETE,
        path,
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, delete(Vec::new()))),
    )
    .await;
    assert_eq!(real.status, StatusCode::OK);
    let gone = send(&client, Method::GET, path, Some("application/json"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors_are_statuses_in_the_negotiated_encoding() {
    let (_e, client) = emulator().await;
    let missing = send(
        &client,
        Method::GET,
        "/api/v1/namespaces/default/secrets/nope",
        Some(PROTOBUF_THEN_JSON),
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let (type_meta, raw) = missing.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("Status"));
    let status = meta_pb::Status::decode(raw.as_slice()).expect("a Status");
    assert_eq!(status.reason.as_deref(), Some("NotFound"));
    assert_eq!(status.code, Some(404));

    let missing = send(
        &client,
        Method::GET,
        "/api/v1/namespaces/default/secrets/nope",
        Some("application/json"),
        None,
    )
    .await;
    assert_eq!(missing.json()["reason"], "NotFound");
}

#[tokio::test]
async fn a_protobuf_watch_is_a_stream_of_length_prefixed_watch_events() {
    let (_e, client) = emulator().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let secret = |name: &str| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": name}, "stringData": {"k": "v"}}))
            .expect("a Secret")
    };
    secrets
        .create(&PostParams::default(), &secret("before"))
        .await
        .expect("created");
    let during = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        secrets
            .create(&PostParams::default(), &secret("during"))
            .await
            .expect("created");
    });
    let watched = send(
        &client,
        Method::GET,
        "/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds=2",
        Some(PROTOBUF_THEN_JSON),
        None,
    )
    .await;
    during.await.expect("the second create");
    assert_eq!(watched.status, StatusCode::OK);
    assert_eq!(
        watched.content_type,
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    let mut events = Vec::new();
    let mut rest = watched.body.as_slice();
    while !rest.is_empty() {
        let (length, after) = rest.split_at(4);
        let length = u32::from_be_bytes(length.try_into().expect("4 bytes")) as usize;
        let (frame, after) = after.split_at(length);
        let event = meta_pb::WatchEvent::decode(frame).expect("a bare WatchEvent");
        let object = event.object.and_then(|o| o.raw).expect("the object");
        let answer = Answer {
            status: StatusCode::OK,
            content_type: PROTOBUF.into(),
            body: object,
        };
        let (type_meta, raw) = answer.unwrap();
        assert_eq!(type_meta.kind.as_deref(), Some("Secret"));
        let secret = core_pb::Secret::decode(raw.as_slice()).expect("a Secret");
        events.push((
            event.r#type.unwrap_or_default(),
            secret.metadata.and_then(|m| m.name).unwrap_or_default(),
        ));
        rest = after;
    }
    assert_eq!(
        events,
        [
            ("ADDED".to_string(), "before".to_string()),
            ("ADDED".to_string(), "during".to_string())
        ]
    );
}

#[tokio::test]
async fn custom_resources_are_answered_in_json_or_not_at_all_in_protobuf() {
    let (_e, client) = emulator().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let created = send(
        &client,
        Method::POST,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        Some(PROTOBUF_THEN_JSON),
        Some(("application/json", crd.to_string().into_bytes())),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    // The CRD itself is a built-in kind: answered in protobuf.
    let (type_meta, _) = created.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("CustomResourceDefinition"));

    let path = "/apis/example.com/v1/namespaces/default/widgets";
    let only_protobuf = send(&client, Method::GET, path, Some(PROTOBUF), None).await;
    assert_eq!(only_protobuf.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(only_protobuf.json()["reason"], "NotAcceptable");
    let mixed = send(&client, Method::GET, path, Some(PROTOBUF_THEN_JSON), None).await;
    assert_eq!(mixed.status, StatusCode::OK);
    assert_eq!(mixed.json()["kind"], "WidgetList");

    let widget = envelope("example.com/v1", "Widget", &meta_pb::ObjectMeta::default());
    let refused = send(
        &client,
        Method::POST,
        path,
        Some(PROTOBUF_THEN_JSON),
        Some((PROTOBUF, widget)),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn openapi_v2_is_served_in_protobuf_as_kubectl_asks_and_in_json() {
    let (_e, client) = emulator().await;
    let kubectl = send(
        &client,
        Method::GET,
        "/openapi/v2",
        Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
        None,
    )
    .await;
    assert_eq!(kubectl.status, StatusCode::OK);
    // Go's mime parser must read the answer's type: no `@` in it.
    assert_eq!(
        kubectl.content_type,
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    // openapi.v2.Document: field 1, `swagger`, is "2.0".
    assert_eq!(&kubectl.body[..5], b"\x0a\x032.0");
    let json = send(
        &client,
        Method::GET,
        "/openapi/v2",
        Some("application/json"),
        None,
    )
    .await;
    assert_eq!(json.json()["swagger"], "2.0");
}

/// A Deployment as client-go writes it in protobuf (what `kubectl create deployment` sends):
/// every non-pointer field present, zero or not.
fn go_deployment(name: &str) -> apps_pb::Deployment {
    let labels: std::collections::BTreeMap<String, String> =
        [("app".to_string(), name.to_string())].into();
    apps_pb::Deployment {
        metadata: metadata(name),
        spec: Some(apps_pb::DeploymentSpec {
            replicas: Some(1),
            selector: Some(meta_pb::LabelSelector {
                match_labels: labels.clone(),
                ..Default::default()
            }),
            template: Some(core_pb::PodTemplateSpec {
                metadata: Some(meta_pb::ObjectMeta {
                    labels,
                    creation_timestamp: Some(meta_pb::Time::default()),
                    generation: Some(0),
                    ..Default::default()
                }),
                spec: Some(core_pb::PodSpec {
                    containers: vec![core_pb::Container {
                        name: Some("web".into()),
                        image: Some("nginx:1.27".into()),
                        ports: vec![core_pb::ContainerPort {
                            container_port: Some(80),
                            host_port: Some(0),
                            ..Default::default()
                        }],
                        stdin: Some(false),
                        tty: Some(false),
                        image_pull_policy: Some(String::new()),
                        ..Default::default()
                    }],
                    host_network: Some(false),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps_pb::DeploymentStrategy::default()),
            min_ready_seconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: Some(apps_pb::DeploymentStatus::default()),
    }
}

#[tokio::test]
async fn a_deployment_created_in_protobuf_is_defaulted_listed_and_watched_in_protobuf() {
    let (_e, client) = emulator().await;
    let created = send(
        &client,
        Method::POST,
        "/apis/apps/v1/namespaces/default/deployments",
        Some(PROTOBUF_THEN_JSON),
        Some((
            PROTOBUF,
            envelope("apps/v1", "Deployment", &go_deployment("web")),
        )),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let (type_meta, raw) = created.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("Deployment"));
    let answered = apps_pb::Deployment::decode(raw.as_slice()).expect("a Deployment");
    let spec = answered.spec.expect("spec");
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(
        spec.strategy.and_then(|s| s.r#type).as_deref(),
        Some("RollingUpdate")
    );

    // Read as JSON, it is what kube-apiserver would print: Go's zero values left out.
    let got = send(
        &client,
        Method::GET,
        "/apis/apps/v1/namespaces/default/deployments/web",
        Some("application/json"),
        None,
    )
    .await
    .json();
    let template = &got["spec"]["template"];
    assert_eq!(template["metadata"], json!({"labels": {"app": "web"}}));
    assert_eq!(
        template["spec"]["containers"][0],
        json!({"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
    );
    assert!(got["spec"].get("paused").is_none() && got["spec"].get("minReadySeconds").is_none());
    assert!(template["spec"].get("hostNetwork").is_none());

    let listed = send(
        &client,
        Method::GET,
        "/apis/apps/v1/namespaces/default/deployments",
        Some(PROTOBUF_THEN_JSON),
        None,
    )
    .await;
    let (type_meta, raw) = listed.unwrap();
    assert_eq!(type_meta.kind.as_deref(), Some("DeploymentList"));
    let list = apps_pb::DeploymentList::decode(raw.as_slice()).expect("a DeploymentList");
    assert_eq!(list.items.len(), 1);

    let watched = send(
        &client,
        Method::GET,
        "/apis/apps/v1/namespaces/default/deployments?watch=true&timeoutSeconds=1",
        Some(PROTOBUF_THEN_JSON),
        None,
    )
    .await;
    let length = u32::from_be_bytes(watched.body[..4].try_into().expect("4 bytes")) as usize;
    let event = meta_pb::WatchEvent::decode(&watched.body[4..4 + length]).expect("a WatchEvent");
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));

    // Services, PodDisruptionBudgets and NetworkPolicies answer in protobuf too.
    for path in [
        "/api/v1/namespaces/default/services",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
        "/api/v1/namespaces/default/pods",
    ] {
        let listed = send(&client, Method::GET, path, Some(PROTOBUF_THEN_JSON), None).await;
        assert_eq!(listed.content_type, PROTOBUF, "{path}");
        assert!(listed.unwrap().0.kind.is_some_and(|k| k.ends_with("List")));
    }
}
