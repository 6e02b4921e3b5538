//! Every ARM request is a tracing span `arm_request` with its method, resource type, resource
//! id, client request id, status, ARM's request id and duration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arm_emulator::{ArmEmulator, Config};
use azop_arm::{ArmClient, ArmConfig, CredentialConfig, ResourceId};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// Records the fields of every `arm_request` span, in the order the spans were made.
#[derive(Clone, Default)]
struct SpanFields(Arc<Mutex<Vec<(Id, Fields)>>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for SpanFields {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "arm_request" {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            self.0.lock().expect("lock").push((id.clone(), fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().expect("lock");
        if let Some((_, fields)) = spans.iter_mut().rev().find(|(i, _)| i == id) {
            values.record(&mut Collect(fields));
        }
    }
}

#[tokio::test]
async fn each_request_is_a_span_with_method_type_status_duration_and_request_ids() {
    let spans = SpanFields::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let e = ArmEmulator::start(Config::default())
        .await
        .expect("emulator");
    let c = ArmClient::new(ArmConfig {
        endpoint: e.url(),
        ca_bundle_pem: Some(e.ca_pem().to_string()),
        credential: CredentialConfig::Static("test-token".into()),
        ..ArmConfig::default()
    })
    .expect("client");
    let rg = ResourceId::for_resource_group("00000000-0000-0000-0000-000000000000", "spans")
        .expect("id");
    c.put(
        rg.as_str(),
        "2025-04-01",
        &json!({"location": "westeurope"}),
    )
    .await
    .expect("put");
    assert!(
        c.get(rg.as_str(), "2025-04-01")
            .await
            .expect("get")
            .is_some()
    );

    let spans = spans.0.lock().expect("lock").clone();
    let requests: Vec<&Fields> = spans
        .iter()
        .map(|(_, f)| f)
        .filter(|f| f.get("resource_id").map(String::as_str) == Some(rg.as_str()))
        .collect();
    assert_eq!(requests.len(), 2, "one span per request: {spans:?}");
    for (fields, method) in requests.iter().zip(["PUT", "GET"]) {
        assert_eq!(fields.get("method").map(String::as_str), Some(method));
        assert_eq!(
            fields.get("resource_type").map(String::as_str),
            Some("Microsoft.Resources/resourceGroups")
        );
        assert!(
            fields.get("status").is_some_and(|s| s.starts_with('2')),
            "{fields:?}"
        );
        assert!(
            fields
                .get("took_ms")
                .is_some_and(|t| t.parse::<u64>().is_ok()),
            "{fields:?}"
        );
        assert!(
            fields.get("request_id").is_some_and(|r| !r.is_empty()),
            "{fields:?}"
        );
        assert!(
            fields
                .get("client_request_id")
                .is_some_and(|r| uuid::Uuid::parse_str(r).is_ok()),
            "{fields:?}"
        );
    }
}
