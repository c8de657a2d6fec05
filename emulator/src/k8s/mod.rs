//! A small Kubernetes API per cluster: discovery, OpenAPI v3, namespaces,
//! ServiceAccounts and the aad-pod-identity `AzureIdentity` / `AzureIdentityBinding`
//! custom resources, with server-side apply.
//!
//! Each cluster with a `kubernetes_token` has its own object store at `/k8s/{key}`
//! (the kubeconfigs point there) and accepts only its own token. Plain `/k8s/…` is
//! kept for older clients: the bearer token selects the cluster.

mod crds;
mod discovery;
mod openapi;
pub mod params;
mod verbs;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::errors::{json_response, K8sError};
use crate::store::k8s::{kind_by_plural, Kind, POD_IDENTITY_GROUP};
use crate::store::Cluster;
use crate::util::constant_time_eq;

/// The cluster a request is for, and what its API serves.
#[derive(Debug, Clone)]
pub struct ClusterApi {
    /// Key of the cluster's object store.
    pub key: String,
    pub version: String,
    /// Are the aad-pod-identity CRDs installed?
    pub crds: bool,
}

impl ClusterApi {
    fn of(c: &Cluster) -> ClusterApi {
        ClusterApi { key: c.kube_key(), version: c.kubernetes_version.clone(), crds: c.aad_pod_identity_crds }
    }

    /// Without the CRDs, their kinds do not exist, as on an API server without them.
    fn serves(&self, kind: &Kind) -> bool {
        !kind.custom || self.crds
    }
}

fn not_served() -> K8sError {
    K8sError::new(404, "NotFound", "the server could not find the requested resource")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

fn token_matches(c: &Cluster, token: &str) -> bool {
    c.kubernetes_token.as_deref().is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
}

/// Authenticate and pick the cluster: `/k8s/{key}/…` names it (and then only its token
/// is accepted); otherwise the cluster is the one whose token was presented.
fn select<'a>(app: &App, headers: &HeaderMap, segs: &'a [&'a str]) -> Result<(ClusterApi, &'a [&'a str]), K8sError> {
    let unauthorized = || K8sError::new(401, "Unauthorized", "Unauthorized");
    let token = bearer(headers).ok_or_else(unauthorized)?;
    app.read(|s| {
        if let Some(c) = segs.first().and_then(|k| s.cluster_by_kube_key(k)) {
            return if token_matches(c, token) { Ok((ClusterApi::of(c), &segs[1..])) } else { Err(unauthorized()) };
        }
        s.kube_clusters().find(|c| token_matches(c, token)).map(|c| (ClusterApi::of(c), segs)).ok_or_else(unauthorized)
    })
}

/// (kind, namespace, name) addressed by a resource path.
pub type Target<'a> = (&'static Kind, Option<&'a str>, Option<&'a str>);

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

/// GET of a discovery or OpenAPI document.
fn document(app: &App, api: &ClusterApi, headers: &HeaderMap, segs: &[&str]) -> Option<Response> {
    if segs == ["openapi", "v2"] {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let (content_type, body) = openapi::v2_document(api, accept.contains("protobuf"));
        return Some(([(header::CONTENT_TYPE, content_type)], body).into_response());
    }
    if let ["openapi", "v3", rest @ ..] = segs {
        return Some(match openapi::document(api, rest) {
            Some(v) => json_response(200, &v),
            None => not_served().into_response(),
        });
    }
    let address = app.base_url.trim_start_matches("https://");
    discovery::document(api, address, segs).map(|v| json_response(200, &v))
}

/// Handler for `/k8s` and everything below it.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().strip_prefix("/k8s").unwrap_or_default().to_string();
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let all: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let (api, segs) = match select(&app, &parts.headers, &all) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let body = match axum::body::to_bytes(body, crate::arm::MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return K8sError::new(413, "RequestEntityTooLarge", "request body too large").into_response(),
    };
    if parts.method == Method::GET {
        if let Some(resp) = document(&app, &api, &parts.headers, segs) {
            return resp;
        }
    }
    if let ["apis", crds::GROUP, "v1", crds::PLURAL, rest @ ..] = segs {
        if rest.len() <= 1 {
            let result = crds::get(&api, parts.method == Method::GET, rest.first().copied());
            return result.map(|v| json_response(200, &v)).unwrap_or_else(IntoResponse::into_response);
        }
    }
    let Some(target) = resolve(segs).filter(|(k, _, _)| api.serves(k)) else {
        return not_served().into_response();
    };
    let req = verbs::Call { method: &parts.method, query: parts.uri.query(), headers: &parts.headers, body };
    verbs::run(&app, &api, &req, target)
}
