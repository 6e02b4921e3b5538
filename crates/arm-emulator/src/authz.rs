//! ARM's own (control-plane) authorization, applied when [`crate::Config::enforce_authorization`]
//! is set: who the bearer token names, which action a request asks for over which scope, and
//! whether the caller's role assignments allow it.
//!
//! The order follows ARM's front door: authentication, then authorization, then the
//! subscription's throttling buckets. Throttling is per principal (Azure's "Request limits and
//! throttling" page), so the token must be read before a bucket can be chosen; and a request ARM
//! refuses with 403 takes no token: recorded `AuthorizationFailed` answers (`x-ms-failure-cause:
//! gateway`) carry no `x-ms-ratelimit-remaining-*` header, unlike the gateway's 404s.

use serde_json::Value;

use crate::arm::{Arm, ArmError};
use crate::entra::Signer;
use crate::rbac::{self, Plane};

/// The audiences ARM accepts, in the order its error message lists them.
const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

/// How far in the future a token's `nbf` may be (clock skew).
const CLOCK_SKEW: i64 = 300;

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The principal's object id (`oid`): what role assignments name.
    pub oid: String,
    /// The application (client) id (`appid`), which ARM's messages call "the client".
    pub appid: String,
}

/// What a request asks ARM to do, as ARM names it for authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    /// e.g. `Microsoft.KeyVault/vaults/write`.
    pub action: String,
    /// The id the action is over: the resource, or for a collection LIST or a POST action the
    /// resource the collection or action belongs to.
    pub scope: String,
}

fn invalid(code: &str, message: impl Into<String>) -> ArmError {
    ArmError::new(401, code, message)
}

/// ARM's wording for times: `11/24/2025 11:31:00 PM` (recorded).
fn arm_time(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%-m/%-d/%Y %-I:%M:%S %p").to_string())
        .unwrap_or_default()
}

/// Checks the `Authorization` header's bearer token: signed by the emulator's token endpoint,
/// for ARM, within its lifetime, naming a principal. Messages are ARM's (recorded).
pub(crate) fn authenticate(
    signer: &Signer,
    authorization: &str,
    now: i64,
) -> Result<Caller, ArmError> {
    let token = authorization
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .trim();
    let Some(claims) = signer.verify(token) else {
        return Err(invalid(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    };
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    let aud = text("aud");
    if !ARM_AUDIENCES.contains(&aud) {
        return Err(invalid(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences {}.",
                ARM_AUDIENCES.map(|a| format!("'{a}'")).join(",")
            ),
        ));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    if exp <= now {
        return Err(invalid(
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                arm_time(exp),
                arm_time(now)
            ),
        ));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + CLOCK_SKEW)
    {
        return Err(invalid(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    }
    if text("oid").is_empty() {
        return Err(invalid(
            "InvalidAuthenticationToken",
            "The received access token is not valid: at least one of the claims 'puid' or 'altsecid' or 'oid' should be present. If you are accessing as application please make sure service principal is properly created in the tenant.",
        ));
    }
    Ok(Caller {
        oid: text("oid").to_string(),
        appid: text("appid").to_string(),
    })
}

/// The action and scope ARM authorizes a request by, derived from its path as ARM does: the
/// resource type path (the provider namespace, `Microsoft.Resources` before any `providers`
/// segment, then each type; the last `providers` wins, so an extension resource such as a role
/// assignment at any scope is `Microsoft.Authorization/roleAssignments`), then `read` (GET,
/// HEAD, including LISTs), `write` (PUT, PATCH), `delete`, or `{name}/action` for a POST to
/// `…/{name}`. Segments keep the caller's casing, as ARM's messages do (`az` writes
/// `resourcegroups`). `None` for the long-running-operation URLs the emulator hands out, which
/// any authenticated caller may poll.
pub(crate) fn requested(method: &str, path: &str) -> Option<Requested> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    if lower.len() >= 4
        && lower[0] == "subscriptions"
        && lower[2] == "providers"
        && lower[3] == "microsoft.emulator"
    {
        return None;
    }
    // Walk the id: type, name, type, name…; `providers/{namespace}` stands where a type would.
    let mut namespace = "Microsoft.Resources";
    let mut types: Vec<&str> = Vec::new();
    let mut trailing = false;
    let mut i = 0;
    while i < segs.len() {
        if lower[i] == "providers" && i + 1 < segs.len() {
            namespace = segs[i + 1];
            types.clear();
            i += 2;
            continue;
        }
        types.push(segs[i]);
        trailing = i + 1 == segs.len();
        i += 2;
    }
    let whole = format!("/{}", segs.join("/"));
    let parent = format!("/{}", segs[..segs.len().saturating_sub(1)].join("/"));
    let type_path = |types: &[&str]| {
        std::iter::once(namespace)
            .chain(types.iter().copied())
            .collect::<Vec<_>>()
            .join("/")
    };
    let method = method.to_ascii_uppercase();
    if method == "POST"
        && trailing
        && let Some((name, owner)) = types.split_last()
    {
        return Some(Requested {
            action: format!("{}/{name}/action", type_path(owner)),
            scope: parent,
        });
    }
    let verb = match method.as_str() {
        "GET" | "HEAD" => "read",
        "DELETE" => "delete",
        _ => "write",
    };
    Some(Requested {
        action: format!("{}/{verb}", type_path(&types)),
        // A LIST (the path ends with a collection's type) is authorized over its parent.
        scope: if trailing { parent } else { whole },
    })
}

/// Whether the caller's role assignments allow the request; else ARM's 403 (recorded wording).
pub(crate) fn authorize(arm: &Arm, caller: &Caller, requested: &Requested) -> Result<(), ArmError> {
    if rbac::principal_may(
        arm,
        &caller.oid,
        &requested.scope,
        Plane::Control,
        &requested.action,
    ) {
        return Ok(());
    }
    Err(ArmError::new(
        403,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{}' over scope '{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.appid, caller.oid, requested.action, requested.scope
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(method: &str, path: &str) -> (String, String) {
        let r = requested(method, path).expect("an ARM request");
        (r.action, r.scope)
    }

    #[test]
    fn actions_are_named_by_type_path_and_verb() {
        let rg = "/subscriptions/s/resourceGroups/rg";
        assert_eq!(
            req("PUT", rg),
            (
                "Microsoft.Resources/subscriptions/resourceGroups/write".into(),
                rg.into()
            )
        );
        assert_eq!(
            req("GET", "/subscriptions/s/resourcegroups"),
            (
                "Microsoft.Resources/subscriptions/resourcegroups/read".into(),
                "/subscriptions/s".into()
            )
        );
        let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/v");
        assert_eq!(
            req("DELETE", &vault),
            ("Microsoft.KeyVault/vaults/delete".into(), vault.clone())
        );
        let fic = format!(
            "{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/kube"
        );
        assert_eq!(
            req("PATCH", &fic).0,
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
        );
        let cluster = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/c");
        assert_eq!(
            req("GET", &format!("{cluster}/agentPools")),
            (
                "Microsoft.ContainerService/managedClusters/agentPools/read".into(),
                cluster.clone()
            )
        );
        assert_eq!(
            req("POST", &format!("{cluster}/listClusterUserCredential")),
            (
                "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"
                    .into(),
                cluster.clone()
            )
        );
        let ra = format!("{vault}/providers/Microsoft.Authorization/roleAssignments/g");
        assert_eq!(
            req("PUT", &ra),
            ("Microsoft.Authorization/roleAssignments/write".into(), ra)
        );
        assert_eq!(
            req(
                "POST",
                "/subscriptions/s/providers/Microsoft.KeyVault/locations/l/deletedVaults/v/purge"
            )
            .0,
            "Microsoft.KeyVault/locations/deletedVaults/purge/action"
        );
        // A resource group named like a keyword is still a name.
        assert_eq!(
            req("GET", "/subscriptions/s/resourceGroups/providers").0,
            "Microsoft.Resources/subscriptions/resourceGroups/read"
        );
        assert!(
            requested(
                "GET",
                "/subscriptions/s/providers/Microsoft.Emulator/locations/emulated/operationStatuses/x"
            )
            .is_none()
        );
    }

    #[test]
    fn only_live_arm_tokens_of_this_signer_authenticate() {
        let signer = Signer::generate().expect("key");
        let now = 1_800_000_000;
        let token = |claims: Value| format!("Bearer {}", signer.sign(&claims).expect("signed"));
        let good = json!({"aud": "https://management.azure.com", "oid": "o", "appid": "a",
            "exp": now + 60, "nbf": now});
        assert_eq!(
            authenticate(&signer, &token(good.clone()), now).expect("valid"),
            Caller {
                oid: "o".into(),
                appid: "a".into()
            }
        );
        let other = Signer::generate().expect("key");
        let foreign = format!("Bearer {}", other.sign(&good).expect("signed"));
        assert_eq!(
            authenticate(&signer, &foreign, now).map_err(|e| (e.status, e.code)),
            Err((401, "InvalidAuthenticationToken".to_string()))
        );
        let mut vault = good.clone();
        vault["aud"] = json!("https://vault.azure.net");
        let e = authenticate(&signer, &token(vault), now).expect_err("wrong audience");
        assert_eq!(e.code, "InvalidAuthenticationTokenAudience");
        assert!(
            e.message.contains("'https://vault.azure.net'"),
            "{}",
            e.message
        );
        let mut expired = good;
        expired["exp"] = json!(now - 1);
        let e = authenticate(&signer, &token(expired), now).expect_err("expired");
        assert_eq!(e.code, "ExpiredAuthenticationToken");
        assert_eq!(
            e.message,
            "The access token expiry UTC time '1/15/2027 7:59:59 AM' is earlier than current UTC time '1/15/2027 8:00:00 AM'."
        );
    }
}
