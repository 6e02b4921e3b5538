//! The client: azure_core's pipeline plus ARM's conventions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::http::headers::{HeaderName, Headers};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    Request, RetryOptions, StatusCode, Transport, Url,
};
use serde_json::Value;
use tracing::Instrument;

use crate::credential::CredentialConfig;
use crate::error::ArmError;
use crate::limits::{Limiter, RateLimits, RequestClass};
use crate::operation::{OperationToken, Polled, is_terminal};
use crate::resource_id::ResourceId;

/// Where and how to talk to ARM.
#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// The ARM endpoint, `https://management.azure.com` for Azure.
    pub endpoint: String,
    /// Extra CA certificates to trust (PEM), e.g. the arm-emulator's.
    pub ca_bundle_pem: Option<String>,
    /// The credential.
    pub credential: CredentialConfig,
    /// Client-side rate limits.
    pub rate_limits: RateLimits,
    /// Requests in flight at most.
    pub max_concurrency: usize,
    /// Retries of 408/429/5xx and connection errors inside the pipeline.
    pub max_retries: u32,
    /// Entra's endpoint for credentials that sign in themselves (`https://login.microsoftonline.com`
    /// when unset; the arm-emulator's URL in tests and `azop dev`).
    pub authority_host: Option<String>,
    /// The audience tokens are asked for (`<audience>/.default`); default: the endpoint, as
    /// Azure's public and sovereign ARM endpoints are their own audience. An arm-emulator
    /// stands in for `https://management.azure.com` and accepts only that.
    pub audience: Option<String>,
}

impl Default for ArmConfig {
    fn default() -> Self {
        ArmConfig {
            endpoint: "https://management.azure.com".into(),
            ca_bundle_pem: None,
            credential: CredentialConfig::AzureCli,
            rate_limits: RateLimits::default(),
            max_concurrency: 64,
            max_retries: 4,
            authority_host: None,
            audience: None,
        }
    }
}

/// The answer to a PUT, DELETE or POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Finished: the body ARM answered, if any.
    Done(Option<Value>),
    /// A long-running operation started.
    Started {
        /// How to follow it.
        token: OperationToken,
        /// ARM's Retry-After.
        retry_after: Option<Duration>,
    },
}

struct Inner {
    pipeline: Pipeline,
    endpoint: Url,
    limiter: Arc<Limiter>,
    concurrency: tokio::sync::Semaphore,
    counts: Mutex<BTreeMap<String, u64>>,
    throttled_waits: AtomicU64,
}

/// An ARM client; clones share the pipeline, the rate limits and the counters.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

struct Answer {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

fn header(h: &Headers, name: &'static str) -> Option<String> {
    h.get_optional_string(&HeaderName::from_static(name))
}

pub(crate) fn retry_after(h: &Headers) -> Option<Duration> {
    header(h, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn subscription_of(path: &str) -> String {
    path.split('/').nth(2).unwrap_or_default().to_string()
}

/// The resource type a request path names, for the request's span; operation-status URLs and
/// other paths that are not resource ids read as `other`.
fn resource_type_of(path: &str) -> String {
    ResourceId::parse(path).map_or_else(|_| "other".to_string(), |id| id.resource_type())
}

/// The HTTP client (trusting `ca_bundle_pem` as well, following no redirects) and the options
/// credentials sign in with (the same transport; Entra at `authority_host` when set), shared by
/// the ARM and Key Vault clients.
pub(crate) fn http_and_sign_in(
    builder: reqwest::ClientBuilder,
    ca_bundle_pem: Option<&str>,
    authority_host: Option<&str>,
) -> Result<(reqwest::Client, ClientOptions), ArmError> {
    let mut http = builder.redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_bundle_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            ArmError::Configuration {
                message: format!("the CA bundle does not parse: {e}"),
            }
        })? {
            http = http.add_root_certificate(cert);
        }
    }
    let http = http.build().map_err(|e| ArmError::Configuration {
        message: format!("the HTTP client could not be built: {e}"),
    })?;
    let mut credential_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        ..Default::default()
    };
    if let Some(host) = authority_host {
        let mut cloud = azure_core::cloud::CustomConfiguration::default();
        cloud.authority_host = host.trim_end_matches('/').to_string();
        credential_options.cloud = Some(Arc::new(cloud.into()));
    }
    Ok((http, credential_options))
}

impl ArmClient {
    /// A client for `config`.
    pub fn new(config: ArmConfig) -> Result<Self, ArmError> {
        let endpoint = Url::parse(&config.endpoint).map_err(|e| ArmError::Configuration {
            message: format!("the ARM endpoint {} is not a URL: {e}", config.endpoint),
        })?;
        let (http, credential_options) = http_and_sign_in(
            reqwest::ClientBuilder::new(),
            config.ca_bundle_pem.as_deref(),
            config.authority_host.as_deref(),
        )?;
        let credential =
            config
                .credential
                .build(credential_options)
                .map_err(|e| ArmError::Auth {
                    message: e.to_string(),
                })?;
        let audience = config.audience.as_deref().unwrap_or(&config.endpoint);
        let scope = format!("{}/.default", audience.trim_end_matches('/'));
        let bearer: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, vec![scope]));
        let options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                max_retries: config.max_retries,
                initial_delay: Duration::from_millis(200).try_into().unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        };
        // azure_core retries 429 by default, sleeping out Retry-After inside the request: a
        // throttled subscription would then hold the concurrency slot (and its caller's
        // reconcile slot) for the whole wait, and other subscriptions' requests would queue
        // behind it. A 429 comes back instead; the bucket of that subscription pauses, and the
        // engine requeues the object for after Retry-After, holding nothing.
        let pipeline_options = azure_core::http::PipelineOptions {
            retry_status_codes: vec![
                StatusCode::RequestTimeout,
                StatusCode::InternalServerError,
                StatusCode::BadGateway,
                StatusCode::ServiceUnavailable,
                StatusCode::GatewayTimeout,
            ],
            ..Default::default()
        };
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            vec![bearer],
            Some(pipeline_options),
        );
        Ok(ArmClient {
            inner: Arc::new(Inner {
                pipeline,
                endpoint,
                limiter: Arc::new(Limiter::new(config.rate_limits)),
                concurrency: tokio::sync::Semaphore::new(config.max_concurrency.max(1)),
                counts: Mutex::new(BTreeMap::new()),
                throttled_waits: AtomicU64::new(0),
            }),
        })
    }

    /// Requests answered, by `"METHOD STATUS"` (`error` when there was no answer).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reserves `reads` and `writes` in `subscription`'s buckets for a pass about to make
    /// them ([`crate::Pass`]): the caller learns how long until they may go out and can wait
    /// elsewhere, instead of holding a reconcile slot while the bucket refills.
    pub fn reserve(&self, subscription: &str, reads: u32, writes: u32) -> crate::Reservation {
        crate::Reservation::new(self.inner.limiter.clone(), subscription, reads, writes)
    }

    /// How often a request waited for the client-side rate limit.
    pub fn throttled_waits(&self) -> u64 {
        self.inner.throttled_waits.load(Ordering::Relaxed)
    }

    fn url(&self, path_or_url: &str, api_version: Option<&str>) -> Result<Url, ArmError> {
        let bad = |e: String| ArmError::Configuration {
            message: format!("{path_or_url} does not make a URL: {e}"),
        };
        let mut url = if path_or_url.starts_with("https://") || path_or_url.starts_with("http://") {
            let url = Url::parse(path_or_url).map_err(|e| bad(e.to_string()))?;
            // Operation URLs come back from status, which is the object's: azop's bearer token
            // goes only to the ARM endpoint it is configured with.
            if url.origin() != self.inner.endpoint.origin() {
                return Err(bad(format!(
                    "it is not on the ARM endpoint {}",
                    self.inner.endpoint
                )));
            }
            url
        } else {
            let url = self
                .inner
                .endpoint
                .join(path_or_url)
                .map_err(|e| bad(e.to_string()))?;
            // Dot segments (plain or escaped) would be resolved by the URL library into
            // another resource's path.
            let asked = path_or_url.split(['?', '#']).next().unwrap_or_default();
            if asked.split('/').any(|s| {
                let s = s.to_ascii_lowercase().replace("%2e", ".");
                s == "." || s == ".."
            }) {
                return Err(bad(format!("its path becomes {}", url.path())));
            }
            url
        };
        if let Some(v) = api_version
            && !url.query_pairs().any(|(k, _)| k == "api-version")
        {
            url.query_pairs_mut().append_pair("api-version", v);
        }
        Ok(url)
    }

    /// Sends one request inside a span `arm_request` carrying the method, resource type, id
    /// (the URL's path), client request id, and, once answered, the status, ARM's request id
    /// and the duration.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Answer, ArmError> {
        let name = method.to_string().to_ascii_uppercase();
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!(
            "arm_request",
            method = %name,
            resource_type = %resource_type_of(url.path()),
            resource_id = %url.path(),
            client_request_id = %client_request_id,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            took_ms = tracing::field::Empty,
        );
        self.send_in_span(method, name, url, body, client_request_id)
            .instrument(span)
            .await
    }

    async fn send_in_span(
        &self,
        method: Method,
        name: String,
        url: Url,
        body: Option<&Value>,
        client_request_id: String,
    ) -> Result<Answer, ArmError> {
        let span = tracing::Span::current();
        let class = RequestClass::of_method(&name);
        let subscription = subscription_of(url.path());
        // The concurrency slot first, the token second: a token is spent when the request goes
        // out, not while it queues, so a queue never turns into a burst. A request paid by its
        // pass's reservation (the engine's passes) does not wait here at all, so a slot is
        // never held waiting on one subscription's bucket while another's could use it.
        let _permit = self
            .inner
            .concurrency
            .acquire()
            .await
            .map_err(|e| ArmError::Transient {
                message: e.to_string(),
            })?;
        if crate::limits::prepaid(&self.inner.limiter, &subscription, class) {
            // Reserved before ARM last answered 429 for this subscription: sending it now would
            // only earn another. The caller requeues its object for after the pause.
            if let Some(retry_after) = self.inner.limiter.paused_for(&subscription, class) {
                self.inner.throttled_waits.fetch_add(1, Ordering::Relaxed);
                return Err(ArmError::Throttled { retry_after });
            }
        } else if self.inner.limiter.acquire(&subscription, class).await {
            self.inner.throttled_waits.fetch_add(1, Ordering::Relaxed);
        }
        // The request's own duration; waits for a slot or a token show as the span's time
        // before it.
        let start = Instant::now();
        let mut request = Request::new(url.clone(), method);
        // Set here rather than left to azure_core's policy (which keeps one already set) so
        // the span can carry it.
        request.insert_header("x-ms-client-request-id", client_request_id);
        if let Some(b) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(serde_json::to_vec(b).map_err(|e| ArmError::Configuration {
                message: format!("the request body cannot be encoded: {e}"),
            })?);
        }
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let result = self
            .inner
            .pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await;
        crate::limits::add_arm_time(start.elapsed());
        let took_ms = start.elapsed().as_millis() as u64;
        span.record("took_ms", took_ms);
        let answer = match result {
            Ok(r) => {
                let (status, headers, body) = r.deconstruct();
                Answer {
                    status: u16::from(status),
                    headers,
                    body: body.to_vec(),
                }
            }
            Err(e) => {
                self.count(&name, "error");
                tracing::debug!(error = %e, took_ms, "ARM request failed");
                let msg = e.to_string();
                return Err(if msg.contains("credential") || msg.contains("token") {
                    ArmError::Auth { message: msg }
                } else {
                    ArmError::Transient { message: msg }
                });
            }
        };
        self.count(&name, &answer.status.to_string());
        let request_id = header(&answer.headers, "x-ms-request-id").unwrap_or_default();
        span.record("status", answer.status);
        span.record("request_id", request_id.as_str());
        tracing::debug!(
            status = answer.status,
            took_ms,
            request_id = %request_id,
            "ARM answered"
        );
        let remaining_header = class.remaining_header();
        if let Some(r) =
            header(&answer.headers, remaining_header).and_then(|v| v.parse::<f64>().ok())
        {
            self.inner
                .limiter
                .observe_remaining(&subscription, class, r);
        }
        if answer.status == 429 {
            self.inner.limiter.pause(
                &subscription,
                class,
                retry_after(&answer.headers).unwrap_or(Duration::from_secs(10)),
            );
        }
        Ok(answer)
    }

    fn count(&self, method: &str, status: &str) {
        *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(format!("{method} {status}"))
            .or_insert(0) += 1;
    }

    fn fail(a: &Answer) -> ArmError {
        ArmError::from_response(a.status, &a.body, retry_after(&a.headers))
    }

    fn json(a: &Answer) -> Option<Value> {
        serde_json::from_slice(&a.body)
            .ok()
            .filter(|v: &Value| !v.is_null())
    }

    /// GET; `Ok(None)` on 404.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<Option<Value>, ArmError> {
        let a = self
            .send(Method::Get, self.url(id, Some(api_version))?, None)
            .await?;
        match a.status {
            200..=299 => Ok(Self::json(&a)),
            404 => Ok(None),
            _ => Err(Self::fail(&a)),
        }
    }

    fn written(&self, method: &str, id: &str, api_version: &str, a: &Answer) -> Written {
        let async_operation = header(&a.headers, "azure-asyncoperation");
        let location = header(&a.headers, "location").filter(|l| l.starts_with("http"));
        let body = Self::json(a);
        let state = body
            .as_ref()
            .and_then(|b| b.pointer("/properties/provisioningState"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let running = a.status == 202
            || async_operation.is_some()
            || (method == "PUT" && !is_terminal(state.as_deref()));
        if running {
            Written::Started {
                token: OperationToken {
                    method: method.into(),
                    resource_id: id.into(),
                    api_version: api_version.into(),
                    async_operation,
                    location,
                },
                retry_after: retry_after(&a.headers),
            }
        } else {
            Written::Done(body)
        }
    }

    /// PUT the whole body.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Written, ArmError> {
        let a = self
            .send(Method::Put, self.url(id, Some(api_version))?, Some(body))
            .await?;
        match a.status {
            200..=299 => Ok(self.written("PUT", id, api_version, &a)),
            _ => Err(Self::fail(&a)),
        }
    }

    /// DELETE; a resource that is already gone is `Done(None)`.
    pub async fn delete(&self, id: &str, api_version: &str) -> Result<Written, ArmError> {
        let a = self
            .send(Method::Delete, self.url(id, Some(api_version))?, None)
            .await?;
        match a.status {
            200..=299 => Ok(self.written("DELETE", id, api_version, &a)),
            404 => Ok(Written::Done(None)),
            _ => Err(Self::fail(&a)),
        }
    }

    /// POST an action (e.g. `listClusterUserCredential`).
    pub async fn post(
        &self,
        id: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Written, ArmError> {
        let a = self
            .send(Method::Post, self.url(id, Some(api_version))?, body)
            .await?;
        match a.status {
            200..=299 => Ok(self.written("POST", id, api_version, &a)),
            _ => Err(Self::fail(&a)),
        }
    }

    /// One poll step: Azure-AsyncOperation when there is one, else Location, else the
    /// resource's provisioningState. A PUT's result is the resource as a final GET reads it.
    pub async fn poll(&self, token: &OperationToken) -> Result<Polled, ArmError> {
        let finish = async || -> Result<Polled, ArmError> {
            match token.method.as_str() {
                "PUT" => Ok(Polled::Succeeded(
                    self.get(&token.resource_id, &token.api_version).await?,
                )),
                _ => Ok(Polled::Succeeded(None)),
            }
        };
        if let Some(url) = &token.async_operation {
            let a = self.send(Method::Get, self.url(url, None)?, None).await?;
            if !(200..300).contains(&a.status) {
                return Err(Self::fail(&a));
            }
            let body = Self::json(&a).unwrap_or_default();
            return match body
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("InProgress")
            {
                "Succeeded" => finish().await,
                "Failed" | "Canceled" => Ok(Polled::Failed(ArmError::OperationFailed {
                    code: body
                        .pointer("/error/code")
                        .and_then(Value::as_str)
                        .unwrap_or("OperationFailed")
                        .to_string(),
                    message: body
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("the operation failed")
                        .to_string(),
                })),
                _ => Ok(Polled::InProgress {
                    retry_after: retry_after(&a.headers),
                }),
            };
        }
        if let Some(url) = &token.location {
            let a = self.send(Method::Get, self.url(url, None)?, None).await?;
            return match a.status {
                202 => Ok(Polled::InProgress {
                    retry_after: retry_after(&a.headers),
                }),
                200..=299 => finish().await,
                _ => Ok(Polled::Failed(Self::fail(&a))),
            };
        }
        match self.get(&token.resource_id, &token.api_version).await? {
            None if token.method == "DELETE" => Ok(Polled::Succeeded(None)),
            None => Ok(Polled::Failed(ArmError::NotFound {
                code: "ResourceNotFound".into(),
                message: format!("{} disappeared while its operation ran", token.resource_id),
            })),
            Some(body) => {
                let state = body
                    .pointer("/properties/provisioningState")
                    .and_then(Value::as_str);
                match state {
                    _ if token.method == "DELETE" => Ok(Polled::InProgress { retry_after: None }),
                    Some("Failed") | Some("Canceled") => {
                        Ok(Polled::Failed(ArmError::OperationFailed {
                            code: "ProvisioningFailed".into(),
                            message: format!("provisioningState {}", state.unwrap_or_default()),
                        }))
                    }
                    s if is_terminal(s) => Ok(Polled::Succeeded(Some(body))),
                    _ => Ok(Polled::InProgress { retry_after: None }),
                }
            }
        }
    }
}
