//! Kubernetes object storage, one [`K8sState`] per cluster, and the API-server rules
//! the emulator implements: create/get/list/replace/merge-patch/server-side apply/delete
//! with resourceVersion preconditions and `managedFields` ownership.

pub mod fieldset;
pub mod kinds;
pub mod managed;
pub mod rules;
pub mod schema;
mod update;
pub mod walk;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::errors::K8sError;
use crate::util::rfc3339_s;
pub use kinds::{kind_by_plural, namespace_kind, service_account_kind, Kind, KINDS, POD_IDENTITY_GROUP};
use managed::Entry;
use rules::{bad_request, invalid, name_error, not_found};
pub use rules::{matches_field_selector, matches_label_selector, merge_patch};
use schema::FieldError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredObject {
    pub plural: String,
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
    pub object: Value,
}

/// The Kubernetes objects of one cluster (persisted with the rest of the state).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct K8sState {
    pub resource_version: u64,
    pub objects: Vec<StoredObject>,
}

pub const DEFAULT_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Who writes (the field manager) and when.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub now: OffsetDateTime,
}

impl Writer<'_> {
    fn time(&self) -> String {
        rfc3339_s(self.now)
    }
}

/// How a write sets `managedFields`.
enum Owner<'a> {
    /// An `Update` by this manager: it takes the fields it changes.
    Update(&'a str),
    /// Already decided (server-side apply).
    Entries(Vec<Entry>),
}

/// `kind` and `apiVersion` of a submitted object: defaulted when absent, else must match.
fn check_type_meta(kind: &Kind, body: &mut Value) -> Result<(), K8sError> {
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
    Ok(())
}

impl K8sState {
    /// A fresh cluster: the default namespaces, each with its `default` service account.
    pub fn new(now: OffsetDateTime) -> K8sState {
        let mut st = K8sState::default();
        let w = Writer { manager: "kube-apiserver", now };
        for ns in DEFAULT_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // Cannot fail: fixed, valid input.
            let _ = st.create(namespace_kind(), None, body, w);
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
        check_type_meta(kind, body)?;
        let Some(obj) = body.as_object_mut() else {
            return Err(bad_request(
                "the body of the request was in an unknown format - accepted media types include: application/json",
            ));
        };
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        let Some(meta) = meta.as_object_mut() else {
            return Err(bad_request("metadata must be an object"));
        };
        // Clients cannot write ownership: it is recomputed from the change.
        meta.remove("managedFields");
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

    /// POST: create (201). `metadata.generateName` picks a name when none is given.
    pub fn create(&mut self, kind: &Kind, ns: Option<&str>, mut body: Value, w: Writer<'_>) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let mut name = self.check_body(kind, ns, &mut body)?;
        if body["metadata"].get("resourceVersion").is_some_and(|v| !v.is_null()) {
            return Err(bad_request("resourceVersion should not be set on objects to be created"));
        }
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
        self.insert_new(kind, ns, &name, body, Owner::Update(w.manager), w.now)
    }

    /// Store a new object: name and uniqueness checks, server-set metadata, ownership.
    fn insert_new(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        owner: Owner<'_>,
        now: OffsetDateTime,
    ) -> Result<Value, K8sError> {
        if let Some(e) = name_error(kind, name) {
            return Err(invalid(kind, name, vec![e]));
        }
        if self.find(kind, ns, name).is_some() {
            return Err(K8sError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", kind.qualified()))
                .with_details(json!({"name": name, "group": kind.group, "kind": kind.plural})));
        }
        if kind.plural == "namespaces" {
            body["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            body["spec"] = json!({"finalizers": ["kubernetes"]});
            body["status"] = json!({"phase": "Active"});
        }
        let entries = match owner {
            Owner::Update(m) => managed::update(kind, &json!({}), &body, Vec::new(), m, &rfc3339_s(now)),
            Owner::Entries(e) => e,
        };
        managed::write(&mut body, entries);
        let rv = self.next_rv();
        let meta = &mut body["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["resourceVersion"] = json!(rv);
        meta["creationTimestamp"] = json!(rfc3339_s(now));
        meta["generation"] = json!(1);
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
        }
        self.objects.push(StoredObject {
            plural: kind.plural.into(),
            group: kind.group.into(),
            namespace: ns.filter(|_| kind.namespaced).map(String::from),
            name: name.to_string(),
            object: body.clone(),
        });
        if kind.plural == "namespaces" {
            // Made by the service account controller, which leaves no managed fields.
            let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}});
            self.insert_new(service_account_kind(), Some(name), "default", sa, Owner::Entries(Vec::new()), now)?;
        }
        Ok(body)
    }

    pub fn get(&self, kind: &Kind, ns: Option<&str>, name: &str) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        self.find(kind, ns, name).map(|i| self.objects[i].object.clone()).ok_or_else(|| not_found(kind, name))
    }

    /// List (namespace `None` = all namespaces) as a `…List` object.
    pub fn list(
        &self,
        kind: &Kind,
        ns: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Value, K8sError> {
        if let Some(n) = ns {
            self.require_namespace(kind, Some(n))?;
        }
        let mut items = Vec::new();
        for o in &self.objects {
            if o.plural != kind.plural || o.group != kind.group || (ns.is_some() && o.namespace.as_deref() != ns) {
                continue;
            }
            if let Some(sel) = label_selector {
                if !matches_label_selector(o.object["metadata"]["labels"].as_object(), sel)? {
                    continue;
                }
            }
            if let Some(sel) = field_selector {
                if !matches_field_selector(&o.object, sel)? {
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
mod tests;
