//! `azop dev`'s live view: every azop object with its Ready condition, redrawn when it changes.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use azop_api::conditions::{self, READY};
use azop_api::{AzureBacked, AzureProfile, KeyVaultBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Kind.
    pub kind: &'static str,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Ready's status, or `-`.
    pub ready: String,
    /// Ready's reason.
    pub reason: String,
    /// Ready's message.
    pub message: String,
}

fn row(kind: &'static str, namespace: Option<String>, name: String, conds: &[Condition]) -> Row {
    let ready = conditions::find(conds, READY);
    Row {
        kind,
        namespace: namespace.unwrap_or_default(),
        name,
        ready: ready
            .map(|c| c.status.clone())
            .unwrap_or_else(|| "-".into()),
        reason: ready.map(|c| c.reason.clone()).unwrap_or_default(),
        message: ready.map(|c| c.message.clone()).unwrap_or_default(),
    }
}

macro_rules! rows_of {
    ($client:expr, $ty:ty, $kind:literal, $out:expr, |$s:ident| $conds:expr) => {{
        let api: Api<$ty> = Api::all($client.clone());
        for o in api.list(&ListParams::default()).await?.items {
            let $s = o.status.clone().unwrap_or_default();
            $out.push(row($kind, o.namespace(), o.name_any(), &$conds));
        }
    }};
}

/// The rows of every Azure-backed kind, from the kind registry.
macro_rules! azure_rows {
    ($($kind:ty => $watch:ident),* $(,)?) => {
        async fn azure_rows(client: &Client, out: &mut Vec<Row>) -> Result<(), kube::Error> {
            $(
                let api: Api<$kind> = Api::all(client.clone());
                for o in api.list(&ListParams::default()).await?.items {
                    let kind = <$kind as azop_api::AzureBacked>::KIND.as_str();
                    out.push(row(kind, o.namespace(), o.name_any(), &o.common_status().conditions));
                }
            )*
            Ok(())
        }
    };
}

azop_api::for_each_azure_kind!(azure_rows);

/// Every azop object's row: profiles, the Azure-backed kinds, bindings.
pub async fn rows(client: &Client) -> Result<Vec<Row>, kube::Error> {
    let mut out = Vec::new();
    rows_of!(client, AzureProfile, "AzureProfile", out, |s| s
        .basic
        .conditions);
    azure_rows(client, &mut out).await?;
    rows_of!(client, KeyVaultBinding, "KeyVaultBinding", out, |s| s
        .basic
        .conditions);
    Ok(out)
}

/// The rows as aligned text.
pub fn render(rows: &[Row]) -> String {
    let headers = ["KIND", "NAMESPACE", "NAME", "READY", "REASON", "MESSAGE"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let mut msg = r.message.clone();
            if msg.chars().count() > 80 {
                msg = msg.chars().take(77).collect::<String>() + "...";
            }
            [
                r.kind.to_string(),
                r.namespace.clone(),
                r.name.clone(),
                r.ready.clone(),
                r.reason.clone(),
                msg,
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cols: [&str; 6]| {
        let mut s = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            if i == 5 {
                s.push_str(col);
            } else {
                s.push_str(&format!("{col:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers);
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
    }
    out
}

/// Redraws the table whenever it changes, until cancelled.
pub async fn show(client: Client) {
    let tty = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        if let Ok(r) = rows(&client).await {
            let text = render(&r);
            if text != last {
                let mut out = std::io::stdout().lock();
                if tty {
                    // Clear the screen and home the cursor.
                    let _ = write!(out, "\x1b[2J\x1b[H");
                } else {
                    let _ = writeln!(out, "---");
                }
                let _ = write!(out, "{text}");
                let _ = out.flush();
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
