//! The verbs on resources: list, get, create, replace, patch (JSON merge patch and
//! server-side apply) and delete, against the cluster's store. Writes honour
//! `dryRun=All` (run against a copy) and `fieldValidation` (unknown fields).

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;

use super::params::{parse_apply_body, parse_json, query_param, FieldValidation, WriteParams};
use super::{ClusterApi, Target};
use crate::app::App;
use crate::errors::{json_response, K8sError};
use crate::store::k8s::schema::unknown_fields;
use crate::store::k8s::{K8sState, Kind, Writer};

/// The parts of a request the verbs need.
pub struct Call<'a> {
    pub method: &'a Method,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

impl Call<'_> {
    fn content_type(&self) -> String {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase()
    }

    fn param(&self, key: &str) -> Option<String> {
        query_param(self.query, key)
    }
}

/// Run `f` on the cluster's store, or on a copy of it for a dry run (nothing persists).
fn with_store<T>(
    app: &App,
    key: &str,
    dry_run: bool,
    f: impl FnOnce(&mut K8sState) -> Result<T, K8sError>,
) -> Result<T, K8sError> {
    let gone = || K8sError::new(404, "NotFound", "the server could not find the requested resource");
    if dry_run {
        let mut copy = app.read(|s| s.k8s(key).cloned()).ok_or_else(gone)?;
        f(&mut copy)
    } else {
        app.write(|s| f(s.k8s_mut(key).ok_or_else(gone)?))
    }
}

fn read<T>(app: &App, key: &str, f: impl FnOnce(&K8sState) -> Result<T, K8sError>) -> Result<T, K8sError> {
    app.read(|s| s.k8s(key).map(f))
        .unwrap_or_else(|| Err(K8sError::new(404, "NotFound", "the server could not find the requested resource")))
}

/// Unknown fields of a submitted object: an error (`Strict`) or warnings (`Warn`).
fn unknown(kind: &Kind, body: &Value, p: &WriteParams, apply: bool) -> Result<Vec<String>, K8sError> {
    let mut fields = Vec::new();
    unknown_fields(kind.schema, body, "", &mut fields);
    if fields.is_empty() || p.validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    if p.validation == FieldValidation::Warn {
        return Ok(fields.iter().map(|f| format!("unknown field \"{f}\"")).collect());
    }
    let message = if apply {
        let paths: Vec<String> = fields.iter().map(|f| format!(".{f}: field not declared in schema")).collect();
        format!(
            "failed to create typed patch object ({}, Kind={}): {}",
            kind.api_version(),
            kind.kind,
            paths.join(", ")
        )
    } else {
        let list: Vec<String> = fields.iter().map(|f| format!("unknown field \"{f}\"")).collect();
        format!(
            "{k} in version \"{v}\" cannot be handled as a {k}: strict decoding error: {}",
            list.join(", "),
            k = kind.kind,
            v = kind.version
        )
    };
    Err(K8sError::new(400, "BadRequest", message))
}

fn respond(result: Result<(u16, Value), K8sError>, warnings: &[String]) -> Response {
    match result {
        Ok((status, v)) => {
            let mut resp = json_response(status, &v);
            for w in warnings {
                if let Ok(h) = HeaderValue::from_str(&format!("299 - {w:?}")) {
                    resp.headers_mut().append(header::WARNING, h);
                }
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

pub fn run(app: &App, api: &ClusterApi, call: &Call<'_>, (kind, ns, name): Target<'_>) -> Response {
    if call.param("watch").is_some_and(|w| w == "true" || w == "1") {
        return K8sError::new(405, "MethodNotAllowed", "watch is not supported by the aksid emulator").into_response();
    }
    let key = api.key.as_str();
    match (call.method, name) {
        (&Method::GET, None) => {
            let (labels, fields) = (call.param("labelSelector"), call.param("fieldSelector"));
            respond(read(app, key, |st| st.list(kind, ns, labels.as_deref(), fields.as_deref())).map(|v| (200, v)), &[])
        }
        (&Method::GET, Some(n)) => respond(read(app, key, |st| st.get(kind, ns, n)).map(|v| (200, v)), &[]),
        (&Method::POST, None) if kind.namespaced == ns.is_some() => {
            write(app, key, call, kind, "CreateOptions", |st, body, w| st.create(kind, ns, body, w).map(|v| (201, v)))
        }
        (&Method::PUT, Some(n)) => write(app, key, call, kind, "UpdateOptions", |st, body, w| {
            st.replace(kind, ns, n, body, w).map(|v| (200, v))
        }),
        (&Method::PATCH, Some(n)) => patch(app, key, call, (kind, ns, Some(n))),
        (&Method::DELETE, Some(n)) => {
            let dry_run = call.param("dryRun").is_some_and(|d| d == "All");
            respond(with_store(app, key, dry_run, |st| st.delete(kind, ns, n)).map(|v| (200, v)), &[])
        }
        _ => K8sError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({})", call.method),
        )
        .into_response(),
    }
}

/// A JSON write (create, replace, merge patch) as an `Update` by the request's manager.
fn write(
    app: &App,
    key: &str,
    call: &Call<'_>,
    kind: &Kind,
    options: &str,
    f: impl FnOnce(&mut K8sState, Value, Writer<'_>) -> Result<(u16, Value), K8sError>,
) -> Response {
    let run = || {
        let p = WriteParams::parse(call.query, call.headers, options, false)?;
        let body = parse_json(&call.body)?;
        let warnings = unknown(kind, &body, &p, false)?;
        let w = Writer { manager: &p.manager, now: OffsetDateTime::now_utc() };
        with_store(app, key, p.dry_run, |st| f(st, body, w)).map(|r| (r, warnings))
    };
    match run() {
        Ok((r, warnings)) => respond(Ok(r), &warnings),
        Err(e) => e.into_response(),
    }
}

fn patch(app: &App, key: &str, call: &Call<'_>, (kind, ns, name): Target<'_>) -> Response {
    let name = name.unwrap_or_default();
    let ct = call.content_type();
    if ct.starts_with("application/apply-patch+yaml") {
        let run = || {
            let p = WriteParams::parse(call.query, call.headers, "PatchOptions", true)?;
            let config = parse_apply_body(&call.body)?;
            let warnings = unknown(kind, &config, &p, true)?;
            let w = Writer { manager: &p.manager, now: OffsetDateTime::now_utc() };
            let force = p.force.unwrap_or(false);
            with_store(app, key, p.dry_run, |st| st.apply(kind, ns, name, config, force, w)).map(|r| (r, warnings))
        };
        return match run() {
            Ok((r, warnings)) => respond(Ok(r), &warnings),
            Err(e) => e.into_response(),
        };
    }
    let merge = ct.starts_with("application/merge-patch+json")
        || (ct.starts_with("application/strategic-merge-patch+json") && !kind.custom);
    if !merge {
        let mut accepted = vec!["application/apply-patch+yaml", "application/merge-patch+json"];
        if !kind.custom {
            accepted.push("application/strategic-merge-patch+json");
        }
        let msg = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        return K8sError::new(415, "UnsupportedMediaType", msg).into_response();
    }
    write(app, key, call, kind, "PatchOptions", |st, patch, w| {
        st.merge_patch(kind, ns, name, &patch, w).map(|v| (200, v))
    })
}
