//! Request options of the Kubernetes write verbs, read from the query string and
//! headers: `fieldManager` (defaulted from the User-Agent), `force`, `dryRun`,
//! `fieldValidation`; and the request body (JSON, or YAML for server-side apply).

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde_json::Value;

use crate::errors::K8sError;

/// The longest field manager name the API server accepts.
const MAX_MANAGER_LEN: usize = 128;

pub fn query_param(q: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// What to do with fields the schema does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (the API server's default).
    Warn,
    /// Reject the request.
    Strict,
}

/// Options of one write.
#[derive(Debug, Clone)]
pub struct WriteParams {
    pub manager: String,
    pub force: Option<bool>,
    pub dry_run: bool,
    pub validation: FieldValidation,
}

fn options_invalid(kind: &str, detail: String) -> K8sError {
    K8sError::new(422, "Invalid", format!("{kind}.meta.k8s.io \"\" is invalid: {detail}"))
}

/// The API server's default manager: the User-Agent up to the first `/`, printable
/// characters only (`kubectl/v1.37.1 (linux/amd64) …` → `kubectl`); `unknown` when empty.
pub fn manager_from_user_agent(headers: &HeaderMap) -> String {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let prefix: String = ua.split('/').next().unwrap_or_default().chars().filter(|c| !c.is_control()).collect();
    let mut out = String::new();
    for c in prefix.chars() {
        if out.len() + c.len_utf8() > MAX_MANAGER_LEN {
            break;
        }
        out.push(c);
    }
    if out.trim().is_empty() {
        "unknown".into()
    } else {
        out
    }
}

impl WriteParams {
    /// `options_kind` names the options object in errors (`CreateOptions`, `PatchOptions`, …).
    pub fn parse(
        query: Option<&str>,
        headers: &HeaderMap,
        options_kind: &str,
        apply: bool,
    ) -> Result<WriteParams, K8sError> {
        let manager = query_param(query, "fieldManager");
        if apply && manager.as_deref().is_none_or(str::is_empty) {
            return Err(options_invalid(
                options_kind,
                "fieldManager: Required value: is required for apply patch".into(),
            ));
        }
        if manager.as_ref().is_some_and(|m| m.len() > MAX_MANAGER_LEN) {
            return Err(options_invalid(
                options_kind,
                format!("fieldManager: Too long: may not be more than {MAX_MANAGER_LEN} bytes"),
            ));
        }
        let force = match query_param(query, "force").as_deref() {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => {
                return Err(K8sError::new(400, "BadRequest", format!("invalid boolean value for force: {other:?}")))
            }
        };
        if force.is_some() && !apply {
            return Err(options_invalid(
                options_kind,
                "force: Forbidden: may not be specified for non-apply patch".into(),
            ));
        }
        let dry_run = match query_param(query, "dryRun").as_deref() {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(options_invalid(
                    options_kind,
                    format!("dryRun: Unsupported value: \"{other}\": supported values: \"All\""),
                ))
            }
        };
        let validation = match query_param(query, "fieldValidation").as_deref() {
            None | Some("" | "Warn") => FieldValidation::Warn,
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            Some(other) => {
                return Err(K8sError::new(
                    400,
                    "BadRequest",
                    format!("fieldValidation parameter unsupported: {other}. Supported values: Ignore, Warn, Strict"),
                ))
            }
        };
        let manager = manager.filter(|m| !m.is_empty()).unwrap_or_else(|| manager_from_user_agent(headers));
        Ok(WriteParams { manager, force, dry_run, validation })
    }
}

pub fn parse_json(body: &Bytes) -> Result<Value, K8sError> {
    serde_json::from_slice(body)
        .map_err(|e| K8sError::new(400, "BadRequest", format!("the body of the request was not valid JSON: {e}")))
}

/// An `application/apply-patch+yaml` body: YAML, of which JSON is a subset.
pub fn parse_apply_body(body: &Bytes) -> Result<Value, K8sError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    serde_norway::from_slice::<Value>(body)
        .map_err(|e| K8sError::new(400, "BadRequest", format!("error decoding YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ua: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, HeaderValue::from_str(ua).unwrap());
        h
    }

    #[test]
    fn manager_defaults_to_the_user_agent_prefix() {
        assert_eq!(manager_from_user_agent(&headers("kubectl/v1.37.1 (linux/amd64) kubernetes/f78e722")), "kubectl");
        assert_eq!(manager_from_user_agent(&HeaderMap::new()), "unknown");
        assert_eq!(manager_from_user_agent(&headers(&"x".repeat(300))).len(), 128);
        let p = WriteParams::parse(Some("fieldManager=kubectl-edit"), &headers("kubectl/1"), "UpdateOptions", false)
            .unwrap();
        assert_eq!((p.manager.as_str(), p.force, p.dry_run), ("kubectl-edit", None, false));
        assert_eq!(p.validation, FieldValidation::Warn);
    }

    #[test]
    fn option_errors_are_the_api_servers() {
        let h = HeaderMap::new();
        let e = WriteParams::parse(None, &h, "PatchOptions", true).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
            )
        );
        let e = WriteParams::parse(Some("force=true"), &h, "PatchOptions", false).unwrap_err();
        assert!(e.message.ends_with("force: Forbidden: may not be specified for non-apply patch"), "{}", e.message);
        assert_eq!(
            WriteParams::parse(Some("fieldManager=m&force=maybe"), &h, "PatchOptions", true).unwrap_err().code,
            400
        );
        assert_eq!(WriteParams::parse(Some("dryRun=Some"), &h, "CreateOptions", false).unwrap_err().code, 422);
        assert_eq!(WriteParams::parse(Some("fieldValidation=Loud"), &h, "CreateOptions", false).unwrap_err().code, 400);
        let p = WriteParams::parse(
            Some("fieldManager=m&force=true&dryRun=All&fieldValidation=Strict"),
            &h,
            "PatchOptions",
            true,
        )
        .unwrap();
        assert_eq!((p.force, p.dry_run, p.validation), (Some(true), true, FieldValidation::Strict));
    }

    #[test]
    fn apply_bodies_may_be_yaml_or_json() {
        let yaml =
            Bytes::from_static(b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  labels: {x: \"1\"}\n");
        let v = parse_apply_body(&yaml).unwrap();
        assert_eq!(v["metadata"]["labels"]["x"], "1");
        let json = Bytes::from_static(br#"{"kind":"ServiceAccount"}"#);
        assert_eq!(parse_apply_body(&json).unwrap()["kind"], "ServiceAccount");
        assert_eq!(parse_apply_body(&Bytes::from_static(b"a: [")).unwrap_err().code, 400);
    }
}
