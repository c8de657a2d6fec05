//! API-server rules shared by every verb: error shapes, name validation, label and
//! field selectors, JSON merge patch.

use serde_json::{json, Map, Value};

use super::kinds::Kind;
use super::schema::FieldError;
use crate::errors::K8sError;

pub fn not_found(kind: &Kind, name: &str) -> K8sError {
    K8sError::new(404, "NotFound", format!("{} \"{name}\" not found", kind.qualified())).with_details(json!({
        "name": name, "group": kind.group, "kind": kind.plural
    }))
}

pub fn invalid(kind: &Kind, name: &str, errors: Vec<FieldError>) -> K8sError {
    let msgs: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    let joined = if msgs.len() == 1 { msgs[0].clone() } else { format!("[{}]", msgs.join(", ")) };
    let causes: Vec<Value> =
        errors.iter().map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.field})).collect();
    K8sError::new(422, "Invalid", format!("{} \"{name}\" is invalid: {joined}", kind.qualified_kind()))
        .with_details(json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": causes}))
}

pub fn bad_request(msg: impl Into<String>) -> K8sError {
    K8sError::new(400, "BadRequest", msg)
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub fn name_error(kind: &Kind, name: &str) -> Option<FieldError> {
    let (ok, what) = if kind.namespaced {
        (
            is_dns_subdomain(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        )
    } else {
        (
            is_dns_label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )
    };
    if ok {
        None
    } else {
        Some(FieldError {
            field: "metadata.name".into(),
            message: format!("metadata.name: Invalid value: \"{name}\": {what}"),
        })
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Parse `a=b,c!=d,e,!f` label selectors.
pub fn matches_label_selector(labels: Option<&Map<String, Value>>, selector: &str) -> Result<bool, K8sError> {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let ok = if let Some((k, v)) = term.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==") {
            get(k.trim()) == Some(v.trim())
        } else if let Some((k, v)) = term.split_once('=') {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            get(k.trim()).is_none()
        } else if term.contains(' ') || term.contains('(') {
            return Err(bad_request(format!(
                "unable to parse requirement: label selector '{selector}' uses set-based syntax, which this emulator does not support"
            )));
        } else {
            get(term).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Field selectors on `metadata.name` and `metadata.namespace` (`=`, `==`, `!=`), the
/// ones clients use to watch or list a single object.
pub fn matches_field_selector(obj: &Value, selector: &str) -> Result<bool, K8sError> {
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (key, want, equal) = if let Some((k, v)) = term.split_once("!=") {
            (k, v, false)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (k, v, true)
        } else {
            return Err(bad_request(format!("invalid selector: '{selector}'; can't understand '{term}'")));
        };
        let field = match key.trim() {
            "metadata.name" => "name",
            "metadata.namespace" => "namespace",
            other => {
                return Err(bad_request(format!("field label not supported: {other}")));
            }
        };
        let have = obj["metadata"][field].as_str().unwrap_or_default();
        if (have == want.trim()) != equal {
            return Ok(false);
        }
    }
    Ok(true)
}
