//! kube-rs clients under RBAC: a ServiceAccount's token, a client certificate and no
//! credentials at all; what RBAC refuses surfaces as kube's 403 `Error::Api`, for lists,
//! watches (and kube-runtime's watcher) and patches alike.

use futures::StreamExt;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use kube_emulator::{Authorization, Config, KubeEmulator};
use serde_json::json;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

/// A namespace `team`, a ConfigMap in it, and a ServiceAccount `app` a Role lets `get` and
/// `list` ConfigMaps there (not watch, not patch). Returns the admin client and app's token.
async fn tenant(emulator: &KubeEmulator) -> (Client, String) {
    let admin = emulator.client().await.expect("admin client");
    let pp = PostParams::default();
    Api::<Namespace>::all(admin.clone())
        .create(&pp, &from(json!({"metadata": {"name": "team"}})))
        .await
        .expect("namespace");
    Api::<ConfigMap>::namespaced(admin.clone(), "team")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "settings"}, "data": {"a": "b"}})),
        )
        .await
        .expect("configmap");
    let sas = Api::<ServiceAccount>::namespaced(admin.clone(), "team");
    sas.create(&pp, &from(json!({"metadata": {"name": "app"}})))
        .await
        .expect("service account");
    Api::<Role>::namespaced(admin.clone(), "team")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "reader"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})),
        )
        .await
        .expect("role");
    Api::<RoleBinding>::namespaced(admin.clone(), "team")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "app-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "team"}]})),
        )
        .await
        .expect("role binding");
    let request: TokenRequest = from(json!({"spec": {"audiences": []}}));
    let token = sas
        .create_token_request("app", &pp, &request)
        .await
        .expect("token request")
        .status
        .expect("token")
        .token;
    (admin, token)
}

fn forbidden(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403, "{s:?}");
            assert_eq!(s.reason, "Forbidden");
            s.message
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn a_service_account_client_is_refused_outside_its_role_with_kube_errors() {
    let emulator = KubeEmulator::start(Config::default())
        .await
        .expect("starts");
    let (_admin, token) = tenant(&emulator).await;
    let app = emulator.client_with_token(&token).await.expect("client");
    let cms = Api::<ConfigMap>::namespaced(app.clone(), "team");

    let listed = cms
        .list(&ListParams::default())
        .await
        .expect("list allowed");
    assert_eq!(listed.items.len(), 1);
    cms.get("settings").await.expect("get allowed");

    let user = "User \"system:serviceaccount:team:app\"";
    let message = forbidden(
        cms.watch(&WatchParams::default(), "0")
            .await
            .err()
            .expect("watch refused"),
    );
    assert_eq!(
        message,
        format!(
            "configmaps is forbidden: {user} cannot watch resource \"configmaps\" in API group \"\" in the namespace \"team\""
        )
    );
    let message = forbidden(
        cms.patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": "c"}})),
        )
        .await
        .expect_err("patch refused"),
    );
    assert!(
        message.starts_with(&format!(
            "configmaps \"settings\" is forbidden: {user} cannot patch"
        )),
        "{message}"
    );
    let message = forbidden(
        Api::<ConfigMap>::namespaced(app.clone(), "default")
            .list(&ListParams::default())
            .await
            .expect_err("another namespace refused"),
    );
    assert!(
        message.contains("in the namespace \"default\""),
        "{message}"
    );

    // kube-runtime's watcher lists (allowed), then watches (refused): the stream says so.
    let mut stream = Box::pin(watcher(cms, watcher::Config::default()));
    let mut refused = None;
    while let Some(event) = stream.next().await {
        if let Err(e) = event {
            refused = Some(e.to_string());
            break;
        }
    }
    let refused = refused.expect("the watcher reports the refusal");
    assert!(
        refused.contains("403") || refused.contains("forbidden"),
        "{refused}"
    );
}

#[tokio::test]
async fn certificates_and_anonymous_requests_are_users_too() {
    let emulator = KubeEmulator::start(Config::default())
        .await
        .expect("starts");
    let (admin, _) = tenant(&emulator).await;
    Api::<RoleBinding>::namespaced(admin, "team")
        .create(
            &PostParams::default(),
            &from(json!({"metadata": {"name": "auditors"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "name": "auditors"}]})),
        )
        .await
        .expect("binding");

    let kubeconfig = emulator
        .kubeconfig_with_certificate("ann", Some("auditors"))
        .expect("certificate");
    let ann = KubeEmulator::client_for(&kubeconfig).await.expect("client");
    Api::<ConfigMap>::namespaced(ann.clone(), "team")
        .list(&ListParams::default())
        .await
        .expect("auditors may view team");
    let message = forbidden(
        Api::<ConfigMap>::namespaced(ann, "default")
            .list(&ListParams::default())
            .await
            .expect_err("not default"),
    );
    assert!(message.contains("User \"ann\""), "{message}");

    // No credentials: system:anonymous may read /version, and nothing else.
    let token_line = emulator
        .kubeconfig_yaml()
        .lines()
        .find(|l| l.trim().starts_with("token: "))
        .map(|l| format!("{l}\n"))
        .expect("token line");
    let anonymous =
        KubeEmulator::client_for(&emulator.kubeconfig_yaml().replace(&token_line, "    {}\n"))
            .await
            .expect("client");
    anonymous
        .apiserver_version()
        .await
        .expect("/version is public");
    let message = forbidden(
        Api::<Namespace>::all(anonymous)
            .list(&ListParams::default())
            .await
            .expect_err("anonymous refused"),
    );
    assert_eq!(
        message,
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
}

#[tokio::test]
async fn always_allow_lets_every_authenticated_client_through() {
    let emulator = KubeEmulator::start(Config {
        authorization: Authorization::AlwaysAllow,
        ..Config::default()
    })
    .await
    .expect("starts");
    let (_admin, token) = tenant(&emulator).await;
    let app = emulator.client_with_token(&token).await.expect("client");
    Api::<ConfigMap>::namespaced(app, "default")
        .list(&ListParams::default())
        .await
        .expect("AlwaysAllow");
    // Authentication still holds: a made-up token is 401.
    let forged = emulator.client_with_token("made-up").await.expect("client");
    match Api::<ConfigMap>::namespaced(forged, "default")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
}
