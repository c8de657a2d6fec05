//! A small Kubernetes API at `/k8s`: discovery, namespaces, ServiceAccounts and the
//! aad-pod-identity `AzureIdentity` / `AzureIdentityBinding` custom resources.
//!
//! Authentication is a bearer token equal to a seeded cluster's `kubernetes_token`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::app::App;
use crate::errors::{json_response, K8sError};
use crate::store::k8s::{kind_by_plural, Kind, KINDS, POD_IDENTITY_GROUP};
use crate::util::constant_time_eq;

fn authenticate(app: &App, headers: &HeaderMap) -> Result<(), K8sError> {
    let unauthorized = || K8sError::new(401, "Unauthorized", "Unauthorized");
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    let tokens = app.read(|s| s.kubernetes_tokens());
    if tokens.iter().any(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

fn resource_entry(k: &Kind) -> Value {
    json!({
        "name": k.plural,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": ["create", "delete", "get", "list", "patch", "update"],
        "shortNames": k.short_names,
    })
}

fn version_body(app: &App) -> Value {
    let v = app.read(|s| {
        s.state
            .clusters
            .iter()
            .find(|c| c.kubernetes_token.is_some())
            .map(|c| c.kubernetes_version.clone())
            .unwrap_or_else(|| "1.31.2".into())
    });
    let mut parts = v.split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("31").to_string();
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{v}"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn group_version_entry() -> Value {
    json!({"groupVersion": format!("{POD_IDENTITY_GROUP}/v1"), "version": "v1"})
}

fn discovery(app: &App, segs: &[&str]) -> Option<Value> {
    let addr = app.base_url.trim_start_matches("https://").to_string();
    match segs {
        ["version"] => Some(version_body(app)),
        ["api"] => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
        })),
        ["api", "v1"] => Some(json!({
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": KINDS.iter().filter(|k| k.group.is_empty()).map(resource_entry).collect::<Vec<_>>(),
        })),
        ["apis"] => Some(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [{
                "name": POD_IDENTITY_GROUP,
                "versions": [group_version_entry()],
                "preferredVersion": group_version_entry(),
            }],
        })),
        ["apis", g] if *g == POD_IDENTITY_GROUP => Some(json!({
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": POD_IDENTITY_GROUP,
            "versions": [group_version_entry()],
            "preferredVersion": group_version_entry(),
        })),
        ["apis", g, "v1"] if *g == POD_IDENTITY_GROUP => Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": format!("{POD_IDENTITY_GROUP}/v1"),
            "resources": KINDS.iter().filter(|k| k.group == POD_IDENTITY_GROUP).map(resource_entry).collect::<Vec<_>>(),
        })),
        _ => None,
    }
}

/// (kind, namespace, name) addressed by a resource path.
type Target<'a> = (&'static Kind, Option<&'a str>, Option<&'a str>);

fn resolve<'a>(segs: &[&'a str]) -> Option<Target<'a>> {
    // Strip the group/version prefix.
    let (group, rest): (&str, &[&str]) = match segs {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] if *g == POD_IDENTITY_GROUP => (POD_IDENTITY_GROUP, rest),
        _ => return None,
    };
    match rest {
        // Cluster-scoped kinds, and cross-namespace lists of namespaced kinds.
        [plural] => kind_by_plural(group, plural).map(|k| (k, None, None)),
        [plural, name] => {
            let k = kind_by_plural(group, plural)?;
            (!k.namespaced).then_some((k, None, Some(*name)))
        }
        ["namespaces", ns, plural] => {
            let k = kind_by_plural(group, plural)?;
            k.namespaced.then_some((k, Some(*ns), None))
        }
        ["namespaces", ns, plural, name] => {
            let k = kind_by_plural(group, plural)?;
            k.namespaced.then_some((k, Some(*ns), Some(*name)))
        }
        _ => None,
    }
}

fn query_param(q: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn parse_json(body: &Bytes) -> Result<Value, K8sError> {
    serde_json::from_slice(body).map_err(|e| {
        K8sError::new(400, "BadRequest", format!("the body of the request could not be decoded as JSON: {e}"))
    })
}

/// Handler for `/k8s` and everything below it.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(e) = authenticate(&app, &parts.headers) {
        return e.into_response();
    }
    let body = match axum::body::to_bytes(body, crate::arm::MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return K8sError::new(413, "RequestEntityTooLarge", "request body too large").into_response(),
    };
    let path = parts.uri.path().strip_prefix("/k8s").unwrap_or_default().to_string();
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let query = parts.uri.query();

    if parts.method == Method::GET {
        if let Some(v) = discovery(&app, &segs) {
            return json_response(200, &v);
        }
    }
    let Some((kind, ns, name)) = resolve(&segs) else {
        return K8sError::new(404, "NotFound", "the server could not find the requested resource").into_response();
    };
    if query_param(query, "watch").is_some_and(|w| w == "true" || w == "1") {
        return K8sError::new(405, "MethodNotAllowed", "watch is not supported by the aksid emulator").into_response();
    }
    let now = OffsetDateTime::now_utc();
    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();

    let result: Result<(u16, Value), K8sError> = match (&parts.method, name) {
        (&Method::GET, None) => {
            let sel = query_param(query, "labelSelector");
            app.read(|s| s.state.k8s.list(kind, ns, sel.as_deref())).map(|v| (200, v))
        }
        (&Method::GET, Some(n)) => app.read(|s| s.state.k8s.get(kind, ns, n)).map(|v| (200, v)),
        (&Method::POST, None) if kind.namespaced == ns.is_some() => {
            parse_json(&body).and_then(|b| app.write(|s| s.state.k8s.create(kind, ns, b, now))).map(|v| (201, v))
        }
        (&Method::PUT, Some(n)) => {
            parse_json(&body).and_then(|b| app.write(|s| s.state.k8s.replace(kind, ns, n, b))).map(|v| (200, v))
        }
        (&Method::PATCH, Some(n)) => {
            let merge = content_type.starts_with("application/merge-patch+json")
                || (content_type.starts_with("application/strategic-merge-patch+json") && !kind.custom);
            if !merge {
                Err(K8sError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json{}",
                        if kind.custom { "" } else { ", application/strategic-merge-patch+json" }
                    ),
                ))
            } else {
                parse_json(&body)
                    .and_then(|p| app.write(|s| s.state.k8s.merge_patch(kind, ns, n, &p)))
                    .map(|v| (200, v))
            }
        }
        (&Method::DELETE, Some(n)) => app.write(|s| s.state.k8s.delete(kind, ns, n)).map(|v| (200, v)),
        _ => Err(K8sError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({})", parts.method),
        )),
    };
    match result {
        Ok((status, v)) => json_response(status, &v),
        Err(e) => e.into_response(),
    }
}
