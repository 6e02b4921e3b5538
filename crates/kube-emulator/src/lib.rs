//! A local, in-memory Kubernetes API server for tests, benchmarks and `azop dev`: driven by
//! kube-rs (a running kube-runtime Controller) and by the real kubectl.
//!
//! It serves, over HTTPS on loopback with a CA it generates:
//! - discovery (`/api`, `/apis`, resource lists with short names and categories; aggregated
//!   discovery requests get the plain documents, from which kubectl falls back), `/version`;
//! - Namespaces (Active, with their `kubernetes.io/metadata.name` label), Secrets, ConfigMaps,
//!   ServiceAccounts (+ TokenRequest), ResourceQuotas and LimitRanges (for `kubectl describe
//!   namespace`), core/v1 and events.k8s.io/v1 Events (an events.k8s.io Event, as kube's
//!   `Recorder` writes it, is also a core/v1 Event, as `kubectl describe` reads it), Leases,
//!   CustomResourceDefinitions, and every resource a CRD defines, served as soon as the CRD is
//!   created;
//! - what an operator's install brings (`builtin`): apps/v1 Deployments (with `/status` and
//!   the `/scale` subresource `kubectl scale` uses), v1 Services (a cluster IP from
//!   10.96.0.0/12, node ports; `default/kubernetes` holds 10.96.0.1), v1 Pods,
//!   policy/v1 PodDisruptionBudgets and networking.k8s.io/v1 NetworkPolicies, stored, never
//!   scheduled (a Deployment's status stays empty, a Pod stays Pending);
//! - built-in objects decoded, pruned, defaulted and validated as kube-apiserver does: a value
//!   of the wrong type is a 400 in the words of Go's decoder (`json: cannot unmarshal string
//!   into Go struct field DeploymentSpec.spec.replicas of type int32`), the defaults its
//!   defaulting functions give (a Deployment's replicas, strategy and pod template, a
//!   Service's type, session affinity and ports, a Secret's type), and the rules of its
//!   validation people meet (a selector that must match the template's labels, containers'
//!   names and images, Service ports), refused with a 422 naming the field; the schemas are
//!   k8s-openapi's (`builtin::schemas` says why);
//! - custom objects pruned, defaulted and validated against the CRD schema and its CEL rules
//!   (`crd-validation`), refused with a 422 Status naming the field as kube-apiserver does;
//! - `fieldValidation=Strict` (what kubectl sends) on creates, updates and patches: an
//!   unknown field is refused, named (`unknown field "spec.template.spec.containers[0].imagee"`);
//! - resourceVersion and optimistic concurrency, generation set and bumped on spec changes for
//!   the kinds whose strategy keeps one (custom resources, CRDs, Deployments, budgets and
//!   network policies; not Secrets, ConfigMaps or Services), the status
//!   subresource, finalizers and deletionTimestamp, background garbage collection through
//!   ownerReferences, label and field selectors, list paging (continue tokens name the last
//!   key, so pages stay consistent while objects come and go), watches resumable from a
//!   resourceVersion (410 Gone when too old; a watcher that falls behind catches up from the
//!   event log), bookmarks, watch timeouts;
//! - JSON merge, JSON (with `test`) and strategic-merge patches (for built-in kinds, lists
//!   merge by their Go types' merge keys, with `$patch`, `$setElementOrder`, `$retainKeys` and
//!   `$deleteFromPrimitiveList`, as `kubectl apply`, `set image` and `rollout restart` need;
//!   for custom resources, a merge patch), and server-side apply with field
//!   ownership in `metadata.managedFields`: an apply changing a field another manager set is a
//!   409 conflict unless forced, and fields an applier stops applying are removed (lists are
//!   owned whole, a simplification of structured-merge-diff);
//! - the Table format with a CRD's printer columns, and kube-apiserver's columns for the
//!   built-in kinds (a Deployment's READY, UP-TO-DATE, AVAILABLE; a Service's TYPE,
//!   CLUSTER-IP, PORT(S); Events'), for `kubectl get`;
//! - the OIDC issuer documents (`/.well-known/openid-configuration`, `/openid/v1/jwks`) for the
//!   ServiceAccount tokens it signs;
//! - Kubernetes' protobuf encoding for the built-in kinds (requests, answers, lists and watch
//!   streams), negotiated by Content-Type and Accept as kube-apiserver negotiates it, so
//!   kubectl's typed verbs (`kubectl create namespace|secret|configmap|serviceaccount|token|
//!   deployment|service|poddisruptionbudget`, `kubectl run`, `kubectl expose`) work; custom
//!   resources are JSON only, as on a real server (`protobuf`, `negotiation`);
//! - `/openapi/v2` (JSON, or the protobuf form kubectl asks for to validate a `kind: List`),
//!   publishing no definitions, and `/openapi/v3`, whose group-version documents publish the
//!   kinds' schemas with their `x-kubernetes-group-version-kind` (built-in kinds' as
//!   kube-apiserver names them, custom resources' from their CRD), for `kubectl explain`.
//!
//! Authentication and authorization are kube-apiserver's (`auth`, `rbac`): client
//! certificates signed by the server's CA (user = CN, groups = O), static tokens
//! ([`Config::static_tokens`], the `--token-auth-file` format), ServiceAccount tokens this
//! server signed (checked for expiry, audience and a living ServiceAccount), anonymous
//! requests as `system:anonymous`, impersonation (`kubectl --as`); then RBAC with Roles,
//! ClusterRoles (aggregation included), their bindings and kube-apiserver's bootstrap policy,
//! escalation prevention, 403s worded as kube-apiserver words them, and the review APIs behind
//! `kubectl auth can-i [--list]` and `kubectl auth whoami`. [`Config::authorization`] picks RBAC
//! (the default) or AlwaysAllow; the kubeconfig [`KubeEmulator::kubeconfig_yaml`] writes is a
//! `system:masters` user either way. Bodies are JSON, YAML or, for built-in kinds, protobuf. A `dryRun` write (`kubectl --dry-run=server`) is admitted
//! and answered, and stores nothing.
//!
//! `cargo run --release -p kube-emulator --example bench_objects` measures creates, lists,
//! watch fan-out and memory with 10,000 custom objects.

mod auth;
mod builtin;
mod cluster_ips;
mod http;
mod managed_fields;
mod negotiation;
mod openapi_v2;
mod protobuf;
mod rbac;
mod selector;
mod store;
mod stored;
mod tokens;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};

pub use auth::StaticToken;
pub use tokens::DEFAULT_AUDIENCE;

/// How requests are authorized (kube-apiserver's `--authorization-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Authorization {
    /// RBAC, with `system:masters` allowed everything.
    #[default]
    Rbac,
    /// Every authenticated or anonymous request is allowed.
    AlwaysAllow,
}

/// Settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Events kept per resource type for watch resumption; older resourceVersions get 410.
    pub watch_cache_size: usize,
    /// Events queued per resource type for open watches; a watch further behind than this
    /// catches up from the event log (`watch_cache_size`).
    pub watch_buffer: usize,
    /// RBAC or AlwaysAllow.
    pub authorization: Authorization,
    /// Static bearer tokens (`--token-auth-file`), besides the administrator's token the
    /// emulator makes for its own kubeconfig.
    pub static_tokens: Vec<StaticToken>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            watch_cache_size: 100_000,
            watch_buffer: 4096,
            authorization: Authorization::Rbac,
            static_tokens: Vec::new(),
        }
    }
}

/// The user the emulator's own kubeconfig authenticates as (in `system:masters`).
pub const ADMIN_USER: &str = "kube-emulator:admin";

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is not a loopback address.
    #[error("refusing to listen on {0}: the kube-emulator serves loopback addresses only")]
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Certificates could not be made.
    #[error(transparent)]
    Tls(#[from] loopback_tls::TlsError),
    /// The signing key could not be made.
    #[error("generating the ServiceAccount signing key failed")]
    Key,
    /// The kube client could not be built.
    #[error("kube client: {0}")]
    Client(String),
}

/// Makes the API server misbehave as a real one does under trouble; cheap to clone.
#[derive(Clone)]
pub struct Faults(Arc<http::Shared>);

impl Faults {
    /// Ends every open watch stream now (a load balancer or the API server dropping them);
    /// clients watch again from their last resourceVersion.
    pub fn cut_watches(&self) {
        self.0.faults.cut.send_modify(|n| *n += 1);
    }

    /// Compacts the event history: a watch resumed from an older resourceVersion is answered
    /// 410 Gone, and its client lists again.
    pub fn compact(&self) {
        self.0
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .compact();
    }

    /// Answers the next `n` status writes (PUT or PATCH of a `/status` subresource) 409
    /// Conflict, as a write racing another writer's does.
    pub fn conflict_status_writes(&self, n: u32) {
        self.0
            .faults
            .status_conflicts
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers every list of `plural` (all namespaces or one; not a watch, not a single
    /// object) only after `delay`, as a busy API server answers a large list; `None` undoes it.
    pub fn slow_lists(&self, plural: &str, delay: Option<std::time::Duration>) {
        let mut slow = self
            .0
            .faults
            .slow_lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match delay {
            Some(d) => slow.insert(plural.to_string(), d),
            None => slow.remove(plural),
        };
    }

    /// The API server gone (`true`: every request answered 503 and every watch ended) or
    /// back (`false`).
    pub fn set_unavailable(&self, gone: bool) {
        self.0
            .faults
            .unavailable
            .store(gone, std::sync::atomic::Ordering::SeqCst);
        if gone {
            self.cut_watches();
        }
    }
}

/// A running emulator; it stops when dropped.
pub struct KubeEmulator {
    faults: Faults,
    url: String,
    ca_pem: String,
    tls: Arc<loopback_tls::LoopbackTls>,
    token: String,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl KubeEmulator {
    /// Starts on a random loopback port.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr` (loopback only).
    pub async fn start_on(config: Config, addr: SocketAddr) -> Result<Self, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::NotLoopback(addr));
        }
        let tls = Arc::new(loopback_tls::LoopbackTls::generate("kube-emulator")?);
        let acceptor = tls.acceptor_with_client_auth()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let url = format!("https://{local}");
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut static_tokens = std::collections::HashMap::new();
        for t in &config.static_tokens {
            static_tokens.insert(
                t.token.clone(),
                auth::UserInfo::authenticated(&t.user, &t.uid, &t.groups),
            );
        }
        static_tokens.insert(
            token.clone(),
            auth::UserInfo::authenticated(ADMIN_USER, "", &[auth::MASTERS.to_string()]),
        );
        let mut store = store::Store::new(config.watch_cache_size, config.watch_buffer);
        rbac::bootstrap(&mut store);
        let rbac_epoch = store.rbac_epoch();
        let shared = Arc::new(http::Shared {
            rbac_epoch,
            store: Mutex::new(store),
            signer: tokens::Signer::generate().map_err(|_| Error::Key)?,
            issuer: url.clone(),
            authn: auth::Authenticator {
                static_tokens,
                api_audiences: vec![DEFAULT_AUDIENCE.to_string(), url.clone()],
                issuer: url.clone(),
                verified: Mutex::default(),
            },
            rbac: config.authorization == Authorization::Rbac,
            policy: Mutex::new(None),
            faults: http::FaultState::default(),
            requests: Mutex::default(),
        });
        let faults = Faults(shared.clone());
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let app = axum::Router::new().fallback(
            move |axum::Extension(peer): axum::Extension<auth::Peer>,
                  method: Method,
                  uri: Uri,
                  headers: HeaderMap,
                  body: Bytes| {
                let shared = shared.clone();
                async move { http::handle(shared, peer, method, uri, headers, body).await }
            },
        );
        let mut stop_accept = stop.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = stop_accept.changed() => return,
                };
                let Ok((tcp, _)) = conn else { continue };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                let mut stop_conn = stop.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // The certificate the TLS layer verified, if the client sent one.
                    let peer = auth::Peer(
                        tls.get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .and_then(|cert| auth::certificate_user(cert.as_ref())),
                    );
                    let app = app.layer(axum::Extension(peer));
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop_conn.changed() => {}
                    }
                });
            }
        });
        Ok(KubeEmulator {
            faults,
            url,
            ca_pem: tls.ca_pem().to_string(),
            tls,
            token,
            shutdown,
        })
    }

    /// The resource requests served so far (authorized ones), by user, verb (`create`,
    /// `patch`, `watch`, …) and resource (`configmaps`, `widgets/status`), as an audit log
    /// would count them.
    pub fn request_counts(&self) -> std::collections::BTreeMap<(String, String, String), u64> {
        self.faults
            .0
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Every ServiceAccount token issued through a TokenRequest so far (`kubectl create token`,
    /// a client's token exchange): what a test searches a client's output for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.faults.0.signer.issued()
    }

    /// The API server's misbehaviour, for fault tests.
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The ServiceAccount token issuer (`iss`) and OIDC issuer URL: the server's URL.
    pub fn issuer_url(&self) -> String {
        self.url.clone()
    }

    /// The CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The administrator's bearer token (a `system:masters` user), for raw HTTP clients.
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig for the emulator: the CA inline, the administrator's bearer token (a
    /// `system:masters` user), the context selected.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_with_token(&self.token)
    }

    /// A kubeconfig authenticating with `token` (a ServiceAccount token, a static token).
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        self.kubeconfig_with_user(&format!("    token: {token}\n"))
    }

    /// A kubeconfig authenticating with a client certificate this server's CA signs for
    /// `user` in `group` (the certificate's CN and O).
    pub fn kubeconfig_with_certificate(
        &self,
        user: &str,
        group: Option<&str>,
    ) -> Result<String, Error> {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (cert, key) = self.tls.client_certificate(user, group)?;
        Ok(self.kubeconfig_with_user(&format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&cert),
            b64(&key)
        )))
    }

    fn kubeconfig_with_user(&self, user: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-emulator\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: kube-emulator\n  user:\n{user}contexts:\n- name: kube-emulator\n  context:\n    cluster: kube-emulator\n    user: kube-emulator\n    namespace: default\ncurrent-context: kube-emulator\n",
            self.url
        )
    }

    /// Writes [`KubeEmulator::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// A kube client for the emulator, as the administrator.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        Self::client_for(&self.kubeconfig_yaml()).await
    }

    /// A kube client authenticating with `token`.
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, Error> {
        Self::client_for(&self.kubeconfig_with_token(token)).await
    }

    /// A kube client for a kubeconfig.
    pub async fn client_for(kubeconfig_yaml: &str) -> Result<kube::Client, Error> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
            .map_err(|e| Error::Client(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| Error::Client(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
    }
}
