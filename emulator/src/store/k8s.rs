//! Kubernetes object storage and the API-server rules the emulator implements
//! (create/get/list/replace/merge-patch/delete with resourceVersion conflicts).

pub mod schema;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::errors::K8sError;
use crate::util::rfc3339_s;
use schema::{FieldError, Schema};

/// A served resource type.
#[derive(Debug)]
pub struct Kind {
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub schema: &'static Schema,
    /// Custom resources carry `metadata.generation` bumps on spec changes.
    pub custom: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `serviceaccounts` or `azureidentities.aadpodidentity.k8s.io` (used in messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `ServiceAccount` or `AzureIdentity.aadpodidentity.k8s.io` (used in Invalid messages).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub const POD_IDENTITY_GROUP: &str = "aadpodidentity.k8s.io";

pub static KINDS: [Kind; 4] = [
    Kind {
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["ns"],
        schema: &schema::NAMESPACE,
        custom: false,
    },
    Kind {
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["sa"],
        schema: &schema::SERVICE_ACCOUNT,
        custom: false,
    },
    Kind {
        plural: "azureidentities",
        singular: "azureidentity",
        kind: "AzureIdentity",
        group: POD_IDENTITY_GROUP,
        version: "v1",
        namespaced: true,
        short_names: &[],
        schema: &schema::AZURE_IDENTITY,
        custom: true,
    },
    Kind {
        plural: "azureidentitybindings",
        singular: "azureidentitybinding",
        kind: "AzureIdentityBinding",
        group: POD_IDENTITY_GROUP,
        version: "v1",
        namespaced: true,
        short_names: &[],
        schema: &schema::AZURE_IDENTITY_BINDING,
        custom: true,
    },
];

pub fn kind_by_plural(group: &str, plural: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.group == group && k.plural == plural)
}

pub fn namespace_kind() -> &'static Kind {
    &KINDS[0]
}

pub fn service_account_kind() -> &'static Kind {
    &KINDS[1]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredObject {
    pub plural: String,
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
    pub object: Value,
}

/// All Kubernetes objects (persisted with the rest of the state).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct K8sState {
    pub resource_version: u64,
    pub objects: Vec<StoredObject>,
}

pub const DEFAULT_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

fn not_found(kind: &Kind, name: &str) -> K8sError {
    K8sError::new(404, "NotFound", format!("{} \"{name}\" not found", kind.qualified())).with_details(json!({
        "name": name, "group": kind.group, "kind": kind.plural
    }))
}

fn invalid(kind: &Kind, name: &str, errors: Vec<FieldError>) -> K8sError {
    let msgs: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    let joined = if msgs.len() == 1 { msgs[0].clone() } else { format!("[{}]", msgs.join(", ")) };
    let causes: Vec<Value> =
        errors.iter().map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.field})).collect();
    K8sError::new(422, "Invalid", format!("{} \"{name}\" is invalid: {joined}", kind.qualified_kind()))
        .with_details(json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": causes}))
}

fn bad_request(msg: impl Into<String>) -> K8sError {
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

fn name_error(kind: &Kind, name: &str) -> Option<FieldError> {
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

impl K8sState {
    /// A fresh cluster: the default namespaces, each with its `default` service account.
    pub fn new(now: OffsetDateTime) -> K8sState {
        let mut st = K8sState::default();
        for ns in DEFAULT_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // Cannot fail: fixed, valid input.
            let _ = st.create(namespace_kind(), None, body, now);
        }
        st
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    fn find(&self, kind: &Kind, ns: Option<&str>, name: &str) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.plural == kind.plural && o.group == kind.group && o.namespace.as_deref() == ns && o.name == name
        })
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.find(namespace_kind(), None, ns).is_some()
    }

    fn require_namespace(&self, kind: &Kind, ns: Option<&str>) -> Result<(), K8sError> {
        if kind.namespaced {
            let ns = ns.unwrap_or_default();
            if !self.namespace_exists(ns) {
                return Err(not_found(namespace_kind(), ns));
            }
        }
        Ok(())
    }

    /// Shared checks of a submitted object: kind/apiVersion, namespace, schema.
    fn check_body(&self, kind: &Kind, ns: Option<&str>, body: &mut Value) -> Result<String, K8sError> {
        let Some(obj) = body.as_object_mut() else {
            return Err(bad_request(
                "the body of the request was in an unknown format - accepted media types include: application/json",
            ));
        };
        match obj.get("kind") {
            None | Some(Value::Null) => {
                obj.insert("kind".into(), json!(kind.kind));
            }
            Some(Value::String(k)) if k == kind.kind => {}
            Some(other) => {
                return Err(bad_request(format!(
                    "the kind of the provided object ({}) does not match the resource type {}",
                    other.as_str().unwrap_or("?"),
                    kind.kind
                )))
            }
        }
        match obj.get("apiVersion") {
            None | Some(Value::Null) => {
                obj.insert("apiVersion".into(), json!(kind.api_version()));
            }
            Some(Value::String(v)) if *v == kind.api_version() => {}
            Some(other) => {
                return Err(bad_request(format!(
                    "the API version in the data ({}) does not match the expected API version ({})",
                    other.as_str().unwrap_or("?"),
                    kind.api_version()
                )))
            }
        }
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        let Some(meta) = meta.as_object_mut() else {
            return Err(bad_request("metadata must be an object"));
        };
        if kind.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                None => {
                    meta.insert("namespace".into(), json!(ns.unwrap_or_default()));
                }
                Some(n) if Some(n) == ns => {}
                Some(_) => {
                    return Err(bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
            }
        } else {
            meta.remove("namespace");
        }
        let mut errors = Vec::new();
        schema::validate_metadata_maps(meta, &mut errors);
        if !errors.is_empty() {
            return Err(bad_request(errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ")));
        }
        let name = meta.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut errors = Vec::new();
        schema::validate(kind.schema, body, "", &mut errors);
        if !errors.is_empty() {
            return Err(invalid(kind, &name, errors));
        }
        Ok(name)
    }

    /// POST: create. Returns the stored object (201).
    pub fn create(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        mut body: Value,
        now: OffsetDateTime,
    ) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let mut name = self.check_body(kind, ns, &mut body)?;
        if name.is_empty() {
            let generate = body["metadata"]["generateName"].as_str().unwrap_or_default().to_string();
            if generate.is_empty() {
                return Err(invalid(
                    kind,
                    "",
                    vec![FieldError {
                        field: "metadata.name".into(),
                        message: "metadata.name: Required value: name or generateName is required".into(),
                    }],
                ));
            }
            let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(5).collect();
            name = format!("{generate}{suffix}");
            body["metadata"]["name"] = json!(name);
        }
        if let Some(e) = name_error(kind, &name) {
            return Err(invalid(kind, &name, vec![e]));
        }
        if self.find(kind, ns, &name).is_some() {
            return Err(K8sError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", kind.qualified()))
                .with_details(json!({"name": name, "group": kind.group, "kind": kind.plural})));
        }
        let rv = self.next_rv();
        let meta = &mut body["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["resourceVersion"] = json!(rv);
        meta["creationTimestamp"] = json!(rfc3339_s(now));
        meta["generation"] = json!(1);
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("managedFields");
        }
        if kind.plural == "namespaces" {
            body["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = json!({"finalizers": ["kubernetes"]});
            body["status"] = json!({"phase": "Active"});
        }
        self.objects.push(StoredObject {
            plural: kind.plural.into(),
            group: kind.group.into(),
            namespace: ns.filter(|_| kind.namespaced).map(String::from),
            name: name.clone(),
            object: body.clone(),
        });
        if kind.plural == "namespaces" {
            let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
            self.create(service_account_kind(), Some(&name), sa, now)?;
        }
        Ok(body)
    }

    pub fn get(&self, kind: &Kind, ns: Option<&str>, name: &str) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        self.find(kind, ns, name).map(|i| self.objects[i].object.clone()).ok_or_else(|| not_found(kind, name))
    }

    /// List (namespace `None` = all namespaces) as a `…List` object.
    pub fn list(&self, kind: &Kind, ns: Option<&str>, label_selector: Option<&str>) -> Result<Value, K8sError> {
        if let Some(n) = ns {
            self.require_namespace(kind, Some(n))?;
        }
        let mut items = Vec::new();
        for o in &self.objects {
            if o.plural != kind.plural || o.group != kind.group {
                continue;
            }
            if ns.is_some() && o.namespace.as_deref() != ns {
                continue;
            }
            if let Some(sel) = label_selector {
                if !matches_label_selector(o.object["metadata"]["labels"].as_object(), sel)? {
                    continue;
                }
            }
            items.push(o.object.clone());
        }
        Ok(json!({
            "kind": format!("{}List", kind.kind),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": self.resource_version.to_string()},
            "items": items,
        }))
    }

    /// Store a new version of an existing object (shared by PUT and PATCH).
    fn replace_at(&mut self, kind: &Kind, idx: usize, mut body: Value) -> Result<Value, K8sError> {
        let ns = self.objects[idx].namespace.clone();
        let name = self.objects[idx].name.clone();
        let current = self.objects[idx].object.clone();
        let body_name = self.check_body(kind, ns.as_deref(), &mut body)?;
        if body_name != name {
            return Err(bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let cur_rv = current["metadata"]["resourceVersion"].clone();
        match body["metadata"].get("resourceVersion") {
            None | Some(Value::Null) => {}
            Some(rv) if *rv == cur_rv => {}
            Some(_) => {
                return Err(K8sError::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        kind.qualified()
                    ),
                )
                .with_details(json!({"name": name, "group": kind.group, "kind": kind.plural})))
            }
        }
        // Server-owned metadata survives replacement.
        for key in ["uid", "creationTimestamp", "generation"] {
            body["metadata"][key] = current["metadata"][key].clone();
        }
        if kind.plural == "namespaces" {
            body["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = current["spec"].clone();
            body["status"] = current["status"].clone();
        }
        // Unchanged object: no new resourceVersion (like the API server's no-op update).
        let mut comparable = body.clone();
        comparable["metadata"]["resourceVersion"] = cur_rv.clone();
        if comparable == current {
            return Ok(current);
        }
        let spec_changed = body.get("spec") != current.get("spec");
        if kind.custom && spec_changed {
            let g = current["metadata"]["generation"].as_i64().unwrap_or(1);
            body["metadata"]["generation"] = json!(g + 1);
        } else if !kind.custom {
            let changed_outside_meta = {
                let mut a = body.clone();
                let mut b = current.clone();
                a["metadata"] = Value::Null;
                b["metadata"] = Value::Null;
                a != b
            };
            if changed_outside_meta {
                let g = current["metadata"]["generation"].as_i64().unwrap_or(1);
                body["metadata"]["generation"] = json!(g + 1);
            }
        }
        body["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.objects[idx].object = body.clone();
        Ok(body)
    }

    /// PUT: replace (200). A stale `metadata.resourceVersion` gives 409 Conflict.
    pub fn replace(&mut self, kind: &Kind, ns: Option<&str>, name: &str, body: Value) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let idx = self.find(kind, ns, name).ok_or_else(|| not_found(kind, name))?;
        self.replace_at(kind, idx, body)
    }

    /// PATCH with a JSON merge patch (200).
    pub fn merge_patch(&mut self, kind: &Kind, ns: Option<&str>, name: &str, patch: &Value) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let idx = self.find(kind, ns, name).ok_or_else(|| not_found(kind, name))?;
        if !patch.is_object() {
            return Err(bad_request("a merge patch must be a JSON object"));
        }
        let mut merged = self.objects[idx].object.clone();
        let precondition = patch.get("metadata").and_then(|m| m.get("resourceVersion")).cloned();
        merge_patch(&mut merged, patch);
        // Without a resourceVersion in the patch the update is unconditional.
        merged["metadata"]["resourceVersion"] = match precondition {
            Some(rv) if !rv.is_null() => rv,
            _ => self.objects[idx].object["metadata"]["resourceVersion"].clone(),
        };
        self.replace_at(kind, idx, merged)
    }

    /// DELETE (200 with the deleted object). Deleting a namespace deletes its contents.
    pub fn delete(&mut self, kind: &Kind, ns: Option<&str>, name: &str) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let idx = self.find(kind, ns, name).ok_or_else(|| not_found(kind, name))?;
        let removed = self.objects.remove(idx);
        if kind.plural == "namespaces" {
            self.objects.retain(|o| o.namespace.as_deref() != Some(name));
        }
        self.next_rv();
        let mut obj = removed.object;
        if kind.plural == "namespaces" {
            obj["status"]["phase"] = json!("Terminating");
        }
        Ok(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    #[test]
    fn defaults_exist() {
        let st = K8sState::new(now());
        for ns in DEFAULT_NAMESPACES {
            assert!(st.namespace_exists(ns));
            st.get(service_account_kind(), Some(ns), "default").unwrap();
        }
    }

    #[test]
    fn service_account_lifecycle() {
        let mut st = K8sState::new(now());
        let k = service_account_kind();
        let created = st.create(k, Some("default"), sa("app"), now()).unwrap();
        assert_eq!(created["metadata"]["namespace"], "default");
        assert_eq!(created["metadata"]["generation"], 1);
        assert!(created["metadata"]["uid"].is_string());
        let rv1 = created["metadata"]["resourceVersion"].clone();

        let e = st.create(k, Some("default"), sa("app"), now()).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

        let patched = st
            .merge_patch(
                k,
                Some("default"),
                "app",
                &json!({"metadata": {"annotations": {"azure.workload.identity/client-id": "abc"}}}),
            )
            .unwrap();
        assert_ne!(patched["metadata"]["resourceVersion"], rv1);
        assert_eq!(patched["metadata"]["annotations"]["azure.workload.identity/client-id"], "abc");

        // PUT with the stale resourceVersion conflicts.
        let mut stale = created.clone();
        stale["metadata"]["labels"] = json!({"a": "b"});
        let e = st.replace(k, Some("default"), "app", stale).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

        // PUT with the current one works.
        let mut fresh = patched.clone();
        fresh["metadata"]["labels"] = json!({"a": "b"});
        let replaced = st.replace(k, Some("default"), "app", fresh).unwrap();
        assert_eq!(replaced["metadata"]["labels"]["a"], "b");
        assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);

        let list = st.list(k, Some("default"), Some("a=b")).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["kind"], "ServiceAccountList");

        st.delete(k, Some("default"), "app").unwrap();
        let e = st.get(k, Some("default"), "app").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (404, "serviceaccounts \"app\" not found"));
    }

    #[test]
    fn validation_errors() {
        let mut st = K8sState::new(now());
        let k = service_account_kind();
        let e = st.create(k, Some("nope"), sa("x"), now()).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (404, "namespaces \"nope\" not found"));
        let e = st.create(k, Some("default"), sa("Bad_Name"), now()).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        let e = st.create(k, Some("default"), json!({"metadata": {}}), now()).unwrap_err();
        assert!(e.message.contains("name or generateName is required"), "{}", e.message);
        let e = st.create(k, Some("default"), json!({"kind": "Pod", "metadata": {"name": "a"}}), now()).unwrap_err();
        assert_eq!(e.code, 400);
        let ai = kind_by_plural(POD_IDENTITY_GROUP, "azureidentities").unwrap();
        let e = st
            .create(
                ai,
                Some("default"),
                json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "id"}, "spec": {"type": "0"}}),
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.starts_with("AzureIdentity.aadpodidentity.k8s.io \"id\" is invalid: spec.type"),
            "{}",
            e.message
        );
    }

    #[test]
    fn crd_generation_bumps_on_spec_change() {
        let mut st = K8sState::new(now());
        let ai = kind_by_plural(POD_IDENTITY_GROUP, "azureidentities").unwrap();
        let body = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "id"}, "spec": {"type": 0, "clientID": "a"}});
        st.create(ai, Some("default"), body, now()).unwrap();
        let p = st.merge_patch(ai, Some("default"), "id", &json!({"metadata": {"labels": {"x": "y"}}})).unwrap();
        assert_eq!(p["metadata"]["generation"], 1);
        let p = st.merge_patch(ai, Some("default"), "id", &json!({"spec": {"clientID": "b"}})).unwrap();
        assert_eq!(p["metadata"]["generation"], 2);
    }

    #[test]
    fn namespace_delete_cascades() {
        let mut st = K8sState::new(now());
        let nsk = namespace_kind();
        st.create(nsk, None, json!({"metadata": {"name": "apps"}}), now()).unwrap();
        st.create(service_account_kind(), Some("apps"), sa("a"), now()).unwrap();
        st.delete(nsk, None, "apps").unwrap();
        assert!(!st.objects.iter().any(|o| o.namespace.as_deref() == Some("apps")));
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }
}
