//! Structural schemas for the aad-pod-identity CRDs the emulator serves, transcribed
//! from `aad-pod-identity/charts/aad-pod-identity/crds/crd.yaml` (AzureIdentity and
//! AzureIdentityBinding, `aadpodidentity.k8s.io/v1`), plus the ServiceAccount fields.
//!
//! Like an API server with a structural schema, validation reports type errors
//! (422 Invalid) and prunes fields the schema does not know.

use serde_json::{Map, Value};

/// A node of an OpenAPI v3 structural schema (the subset these CRDs use).
#[derive(Debug)]
pub enum Schema {
    /// An object with known properties; unknown ones are pruned.
    Object(&'static [(&'static str, Schema)]),
    /// `type: object` without properties (kept as is, e.g. `metadata`).
    AnyObject,
    /// Map of strings (labels, annotations, podLabels).
    StringMap,
    String,
    Boolean,
    Integer {
        nullable: bool,
    },
    Array {
        items: &'static Schema,
        nullable: bool,
    },
}

const STATUS: Schema =
    Schema::Object(&[("availableReplicas", Schema::Integer { nullable: false }), ("metadata", Schema::AnyObject)]);

/// `AzureIdentity` (spec + status).
pub const AZURE_IDENTITY: Schema = Schema::Object(&[
    ("apiVersion", Schema::String),
    ("kind", Schema::String),
    ("metadata", Schema::AnyObject),
    (
        "spec",
        Schema::Object(&[
            ("adEndpoint", Schema::String),
            ("adResourceID", Schema::String),
            ("auxiliaryTenantIDs", Schema::Array { items: &Schema::String, nullable: true }),
            ("clientID", Schema::String),
            ("clientPassword", Schema::Object(&[("name", Schema::String), ("namespace", Schema::String)])),
            ("metadata", Schema::AnyObject),
            ("replicas", Schema::Integer { nullable: true }),
            ("resourceID", Schema::String),
            ("tenantID", Schema::String),
            ("type", Schema::Integer { nullable: false }),
        ]),
    ),
    ("status", STATUS),
]);

/// `AzureIdentityBinding` (spec + status).
pub const AZURE_IDENTITY_BINDING: Schema = Schema::Object(&[
    ("apiVersion", Schema::String),
    ("kind", Schema::String),
    ("metadata", Schema::AnyObject),
    (
        "spec",
        Schema::Object(&[
            ("azureIdentity", Schema::String),
            ("metadata", Schema::AnyObject),
            ("selector", Schema::String),
            ("weight", Schema::Integer { nullable: false }),
        ]),
    ),
    ("status", STATUS),
]);

const OBJECT_REFERENCE: Schema = Schema::Object(&[
    ("apiVersion", Schema::String),
    ("fieldPath", Schema::String),
    ("kind", Schema::String),
    ("name", Schema::String),
    ("namespace", Schema::String),
    ("resourceVersion", Schema::String),
    ("uid", Schema::String),
]);

/// Core v1 `ServiceAccount`.
pub const SERVICE_ACCOUNT: Schema = Schema::Object(&[
    ("apiVersion", Schema::String),
    ("kind", Schema::String),
    ("metadata", Schema::AnyObject),
    ("automountServiceAccountToken", Schema::Boolean),
    ("imagePullSecrets", Schema::Array { items: &Schema::Object(&[("name", Schema::String)]), nullable: false }),
    ("secrets", Schema::Array { items: &OBJECT_REFERENCE, nullable: false }),
]);

/// Core v1 `Namespace` (spec.finalizers and status.phase are server-managed).
pub const NAMESPACE: Schema = Schema::Object(&[
    ("apiVersion", Schema::String),
    ("kind", Schema::String),
    ("metadata", Schema::AnyObject),
    ("spec", Schema::Object(&[("finalizers", Schema::Array { items: &Schema::String, nullable: false })])),
    ("status", Schema::Object(&[("phase", Schema::String)])),
]);

/// `metadata` as server-side apply sees it: `labels` and `annotations` are maps whose
/// keys are owned one by one; every other field is owned as a whole. (Validation keeps
/// treating `metadata` as [`Schema::AnyObject`]; this is only walked by `walk`.)
pub const OBJECT_META: Schema = Schema::Object(&[("annotations", Schema::StringMap), ("labels", Schema::StringMap)]);

/// One validation failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn mismatch(path: &str, v: &Value, want: &str) -> FieldError {
    FieldError {
        field: path.to_string(),
        message: format!(
            "{path}: Invalid value: \"{}\": {path} in body must be of type {want}: \"{}\"",
            type_name(v),
            short(v)
        ),
    }
}

/// Validate `v` against `schema`, pruning unknown fields in place.
pub fn validate(schema: &Schema, v: &mut Value, path: &str, errors: &mut Vec<FieldError>) {
    let child = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    match schema {
        Schema::Object(props) => match v {
            Value::Object(map) => {
                map.retain(|k, _| props.iter().any(|(p, _)| p == k));
                for (name, sub) in props.iter() {
                    if let Some(val) = map.get_mut(*name) {
                        validate(sub, val, &child(name), errors);
                    }
                }
            }
            other => errors.push(mismatch(path, other, "object")),
        },
        Schema::AnyObject => {
            if !v.is_object() {
                errors.push(mismatch(path, v, "object"));
            }
        }
        Schema::StringMap => match v {
            Value::Object(map) => {
                for (k, val) in map.iter() {
                    if !val.is_string() {
                        errors.push(mismatch(&child(k), val, "string"));
                    }
                }
            }
            other => errors.push(mismatch(path, other, "object")),
        },
        Schema::String => {
            if !v.is_string() {
                errors.push(mismatch(path, v, "string"));
            }
        }
        Schema::Boolean => {
            if !v.is_boolean() {
                errors.push(mismatch(path, v, "boolean"));
            }
        }
        Schema::Integer { nullable } => {
            let ok = v.is_i64() || v.is_u64() || (*nullable && v.is_null());
            if !ok {
                errors.push(mismatch(path, v, "integer"));
            }
        }
        Schema::Array { items, nullable } => match v {
            Value::Array(arr) => {
                for (i, item) in arr.iter_mut().enumerate() {
                    validate(items, item, &format!("{path}[{i}]"), errors);
                }
            }
            Value::Null if *nullable => {}
            other => errors.push(mismatch(path, other, "array")),
        },
    }
}

/// Paths of the fields [`validate`] would prune (unknown to the schema), e.g.
/// `spec.foo`, for `fieldValidation=Strict|Warn`.
pub fn unknown_fields(schema: &Schema, v: &Value, path: &str, out: &mut Vec<String>) {
    let child = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    match (schema, v) {
        (Schema::Object(props), Value::Object(map)) => {
            for (k, val) in map {
                match props.iter().find(|(p, _)| p == k) {
                    Some((_, sub)) => unknown_fields(sub, val, &child(k), out),
                    None => out.push(child(k)),
                }
            }
        }
        (Schema::Array { items, .. }, Value::Array(arr)) => {
            for (i, item) in arr.iter().enumerate() {
                unknown_fields(items, item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Validate `metadata.labels` / `metadata.annotations` (maps of strings).
pub fn validate_metadata_maps(meta: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for key in ["labels", "annotations"] {
        if let Some(v) = meta.get(key) {
            if v.is_null() {
                continue;
            }
            let mut copy = v.clone();
            validate(&Schema::StringMap, &mut copy, &format!("metadata.{key}"), errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_unknown_and_reports_types() {
        let mut v = json!({
            "apiVersion": "aadpodidentity.k8s.io/v1",
            "kind": "AzureIdentity",
            "metadata": {"name": "x"},
            "spec": {"type": "zero", "clientID": "c", "bogus": 1, "auxiliaryTenantIDs": null, "replicas": null},
        });
        let mut errs = Vec::new();
        validate(&AZURE_IDENTITY, &mut v, "", &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "spec.type");
        assert_eq!(
            errs[0].message,
            "spec.type: Invalid value: \"string\": spec.type in body must be of type integer: \"zero\""
        );
        assert!(v["spec"].get("bogus").is_none());
    }

    #[test]
    fn unknown_fields_are_listed_with_their_paths() {
        let v = json!({"kind": "AzureIdentity", "extra": 1, "metadata": {"name": "x", "free": 1},
            "spec": {"type": 0, "bogus": {"a": 1}, "clientPassword": {"name": "n", "key": "k"}}});
        let mut out = Vec::new();
        unknown_fields(&AZURE_IDENTITY, &v, "", &mut out);
        out.sort();
        assert_eq!(out, ["extra", "spec.bogus", "spec.clientPassword.key"]);
    }

    #[test]
    fn binding_weight_must_be_integer() {
        let mut v = json!({"spec": {"azureIdentity": "a", "selector": "s", "weight": 1.5}});
        let mut errs = Vec::new();
        validate(&AZURE_IDENTITY_BINDING, &mut v, "", &mut errs);
        assert_eq!(errs[0].field, "spec.weight");
    }

    /// Every property transcribed here exists in the upstream CRD file in `specs/`.
    #[test]
    fn transcription_matches_crd_file() {
        let path = crate::specs_dir_for_tests().join("aad-pod-identity/charts-crds-crd.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        fn names(s: &Schema, out: &mut Vec<&'static str>) {
            match s {
                Schema::Object(p) => {
                    for (n, sub) in p.iter() {
                        out.push(n);
                        names(sub, out);
                    }
                }
                Schema::Array { items, .. } => names(items, out),
                _ => {}
            }
        }
        let mut all = Vec::new();
        names(&AZURE_IDENTITY, &mut all);
        names(&AZURE_IDENTITY_BINDING, &mut all);
        for n in all {
            assert!(yaml.contains(&format!(" {n}:")), "{n} not in CRD");
        }
    }
}
