//! The ARM front door: authentication, api-version, tenant check, routing to the
//! resource providers, and the `x-ms-*` response headers.

pub mod identities;
pub mod managed_clusters;
pub mod permissions;
pub mod resources;
pub mod role_assignments;
pub mod role_definitions;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;

use crate::app::{lock, App};
use crate::errors::{json_response, ArmError};
use crate::ids::seg_eq;
use crate::reqlog::{route_kind, CallerOid};
use crate::store::Caller;
use crate::throttle::OpClass;

/// Largest accepted request body.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// One ARM request after authentication.
pub struct Ctx {
    pub method: Method,
    /// Decoded path segments.
    pub segs: Vec<String>,
    /// The raw path (for nextLinks).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub now: OffsetDateTime,
    pub caller: Caller,
    pub api_version: String,
    /// `https://host:port`
    pub base: String,
}

impl Ctx {
    /// Query parameter (name compared case-insensitively).
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (400 InvalidRequestContent when malformed or empty).
    pub fn json(&self) -> Result<Value, ArmError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ArmError::bad_request(
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'The request body is empty.'.",
            ));
        }
        serde_json::from_slice(&self.body).map_err(ArmError::invalid_request_content)
    }

    pub fn segs(&self) -> Vec<&str> {
        self.segs.iter().map(String::as_str).collect()
    }
}

/// `^\d{4}-\d{2}-\d{2}(-preview)?$`
pub fn valid_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    let date_ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    date_ok && (b.len() == 10 || &v[10..] == "-preview")
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

pub fn ok(status: u16, v: &Value) -> Response {
    json_response(status, v)
}

pub fn method_not_allowed(ctx: &Ctx) -> Response {
    ArmError::new(405, "MethodNotAllowed", format!("The emulator does not support {} on '{}'.", ctx.method, ctx.path))
        .into_response()
}

pub fn empty(status: u16) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    r
}

fn host_of(headers: &HeaderMap, uri: &axum::http::Uri, app: &App) -> String {
    if let Some(a) = uri.authority() {
        return format!("https://{a}");
    }
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c)))
        .map(|h| format!("https://{h}"))
        .unwrap_or_else(|| app.base_url.clone())
}

/// Fallback handler: every path that is not Entra, Kubernetes or admin is ARM.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ArmError::new(413, "RequestEntityTooLarge", "The request content exceeds the maximum allowed size.")
                .into_response()
        }
    };
    let now = OffsetDateTime::now_utc();
    let caller = match app.read(|s| crate::entra::authenticate_arm(s, &parts.headers, now)) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let query: Vec<(String, String)> = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let api_version = query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.clone());
    let oid = caller.oid.clone();
    let mut resp = match api_version {
        None => ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .into_response(),
        Some(v) if !valid_api_version(&v) => ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!("The api-version '{v}' is invalid. The supported versions look like 'YYYY-MM-DD' or 'YYYY-MM-DD-preview'."),
        )
        .into_response(),
        Some(api_version) => {
            let path = parts.uri.path().to_string();
            let ctx = Ctx {
                method: parts.method.clone(),
                segs: path.split('/').filter(|s| !s.is_empty()).map(decode_segment).collect(),
                path,
                query,
                body,
                now,
                caller,
                api_version,
                base: host_of(&parts.headers, &parts.uri, &app),
            };
            route(&app, ctx).await
        }
    };
    resp.extensions_mut().insert(CallerOid(oid));
    resp
}

/// Tokens from one tenant cannot be used on another tenant's subscription.
fn check_tenant(app: &App, ctx: &Ctx) -> Result<(), ArmError> {
    let segs = ctx.segs();
    if segs.len() >= 2 && seg_eq(segs[0], "subscriptions") {
        let sub_tenant = app.read(|s| s.subscription(segs[1]).map(|s| s.tenant_id.clone()));
        if let Some(t) = sub_tenant {
            if !t.eq_ignore_ascii_case(&ctx.caller.tid) {
                return Err(ArmError::new(
                    401,
                    "InvalidAuthenticationTokenTenant",
                    format!(
                        "The access token is from the wrong issuer 'https://sts.windows.net/{}/'. It must match the tenant 'https://sts.windows.net/{t}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{t}' to get the token.",
                        ctx.caller.tid
                    ),
                ));
            }
        }
    }
    Ok(())
}

async fn route(app: &Arc<App>, ctx: Ctx) -> Response {
    if let Err(e) = check_tenant(app, &ctx) {
        return e.into_response();
    }
    let segs = ctx.segs();
    if let Some((scope, name)) = crate::ids::split_authorization(&segs, "roleAssignments") {
        let scope = format!("/{}", scope.join("/"));
        let name = name.map(String::from);
        return role_assignments::route(app, &ctx, &scope, name.as_deref());
    }
    if let Some((scope, None)) = crate::ids::split_authorization(&segs, "permissions") {
        if let Some(resp) = permissions::route(app, &ctx, &format!("/{}", scope.join("/"))) {
            return resp;
        }
    }
    if let Some((scope, name)) = crate::ids::split_authorization(&segs, "roleDefinitions") {
        let scope = format!("/{}", scope.join("/"));
        let name = name.map(String::from);
        return role_definitions::route(app, &ctx, &scope, name.as_deref());
    }
    let is = |i: usize, lit: &str| segs.get(i).is_some_and(|s| seg_eq(s, lit));
    if is(0, "subscriptions") && segs.len() >= 2 {
        if segs.len() >= 7 && is(2, "resourceGroups") && is(4, "providers") {
            if is(5, "Microsoft.ManagedIdentity") && is(6, "userAssignedIdentities") {
                return identities::route(app, &ctx).await;
            }
            if is(5, "Microsoft.ContainerService") && is(6, "managedClusters") {
                return managed_clusters::route(app, &ctx);
            }
        }
        if segs.len() == 5 && is(2, "providers") {
            if is(3, "Microsoft.ManagedIdentity") && is(4, "userAssignedIdentities") {
                return identities::route(app, &ctx).await;
            }
            if is(3, "Microsoft.ContainerService") && is(4, "managedClusters") {
                return managed_clusters::route(app, &ctx);
            }
        }
    }
    resources::route(app, &ctx)
}

/// The subscription a path belongs to ("" outside any subscription): its throttling bucket.
fn subscription_of_path(path: &str) -> String {
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    match (segs.next(), segs.next()) {
        (Some(first), Some(id)) if seg_eq(first, "subscriptions") => decode_segment(id).to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// ARM's throttling answer: 429 with the wait until the next token.
fn throttled_response(class: OpClass, subscription: &str, wait: f64) -> Response {
    let secs = crate::throttle::retry_after_secs(wait);
    let what = match class {
        OpClass::Reads => "read",
        OpClass::Writes => "write",
        OpClass::Deletes => "delete",
    };
    let mut resp = ArmError::new(
        429,
        "SubscriptionRequestsThrottled",
        format!(
            "Too many '{what}' requests for subscription '{subscription}'. Try again after {secs} seconds, when the subscription's {what} budget has refilled."
        ),
    )
    .into_response();
    let h = resp.headers_mut();
    for (name, value) in [
        (axum::http::header::RETRY_AFTER.as_str(), secs.to_string()),
        ("x-ms-retry-after-ms", crate::throttle::retry_after_ms(wait).to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}

/// Middleware: ARM's throttling (a token per request, 429 when the bucket is empty) and the
/// ARM response headers (request ids, remaining budget) on ARM routes.
pub async fn headers_middleware(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let kind = route_kind(req.uri().path());
    if matches!(kind, "admin" | "kubernetes" | "token" | "managed_identity_token") {
        return next.run(req).await;
    }
    let correlation = req
        .headers()
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let class = OpClass::of(req.method().as_str());
    let subscription = subscription_of_path(req.uri().path());
    let settings = app.read(|s| s.settings().arm_throttling.clone());
    let now = app.started.elapsed().as_secs_f64();
    let outcome = lock(&app.throttle).take(&settings, &subscription, class, now);
    let mut resp = match outcome.throttled {
        Some(wait) => throttled_response(class, &subscription, wait),
        None => next.run(req).await,
    };
    let h = resp.headers_mut();
    let request_id = uuid::Uuid::new_v4().to_string();
    let ids = [
        ("x-ms-request-id", request_id.clone()),
        ("x-ms-correlation-request-id", correlation),
        ("x-ms-routing-request-id", format!("LOCAL:{}:{request_id}", crate::util::unix(OffsetDateTime::now_utc()))),
    ];
    let budget = outcome.remaining.map(|(c, n)| (c.header(), n.to_string()));
    for (name, value) in ids.into_iter().chain(budget) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if let Some(v) = client_request_id {
        h.insert("x-ms-client-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for ok in ["2022-04-01", "2025-01-01", "2020-10-01-preview"] {
            assert!(valid_api_version(ok), "{ok}");
        }
        for bad in ["", "2022-4-01", "2022-04-01-beta", "latest", "2022/04/01", "2022-04-01-preview-x"] {
            assert!(!valid_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn throttling_buckets_are_per_subscription() {
        assert_eq!(subscription_of_path("/subscriptions/ABC/resourceGroups/x"), "abc");
        assert_eq!(subscription_of_path("//Subscriptions/abc"), "abc");
        assert_eq!(subscription_of_path("/subscriptions"), "");
        assert_eq!(subscription_of_path("/providers/Microsoft.Management/managementGroups/mg"), "");
    }
}
