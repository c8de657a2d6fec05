//! Writes to existing objects: replace (PUT), JSON merge patch, and server-side apply
//! (which also creates), all through one path that keeps server-owned metadata, checks
//! the resourceVersion precondition, records ownership and skips no-op writes.

use serde_json::{json, Value};

use super::managed;
use super::rules::{bad_request, merge_patch, not_found};
use super::{check_type_meta, namespace_kind, K8sState, Kind, Owner, Writer};
use crate::errors::K8sError;

fn stale(kind: &Kind, name: &str) -> K8sError {
    K8sError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            kind.qualified()
        ),
    )
    .with_details(json!({"name": name, "group": kind.group, "kind": kind.plural}))
}

/// Has anything besides `metadata` changed (what bumps a built-in object's generation)?
fn changed_outside_metadata(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
        }
        v
    };
    strip(a) != strip(b)
}

impl K8sState {
    /// Store a new version of the object at `idx` (shared by PUT, PATCH and apply).
    fn store_version(
        &mut self,
        kind: &Kind,
        idx: usize,
        mut body: Value,
        owner: Owner<'_>,
        w: Writer<'_>,
    ) -> Result<Value, K8sError> {
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
            Some(_) => return Err(stale(kind, &name)),
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
        let entries = match owner {
            Owner::Update(m) => managed::update(kind, &current, &body, managed::read(&current), m, &w.time()),
            Owner::Entries(e) => e,
        };
        managed::write(&mut body, entries);
        body["metadata"]["resourceVersion"] = cur_rv;
        // Unchanged object: no new resourceVersion (like the API server's no-op update).
        if body == current {
            return Ok(current);
        }
        let bump = if kind.custom {
            body.get("spec") != current.get("spec")
        } else {
            changed_outside_metadata(&body, &current)
        };
        if bump {
            let g = current["metadata"]["generation"].as_i64().unwrap_or(1);
            body["metadata"]["generation"] = json!(g + 1);
        }
        body["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.objects[idx].object = body.clone();
        Ok(body)
    }

    /// PUT: replace (200). A stale `metadata.resourceVersion` gives 409 Conflict.
    pub fn replace(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        body: Value,
        w: Writer<'_>,
    ) -> Result<Value, K8sError> {
        self.require_namespace(kind, ns)?;
        let idx = self.find(kind, ns, name).ok_or_else(|| not_found(kind, name))?;
        self.store_version(kind, idx, body, Owner::Update(w.manager), w)
    }

    /// PATCH with a JSON merge patch (200).
    pub fn merge_patch(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        w: Writer<'_>,
    ) -> Result<Value, K8sError> {
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
        self.store_version(kind, idx, merged, Owner::Update(w.manager), w)
    }

    /// Server-side apply of `config` by `w.manager`: (201, created) or (200, updated).
    /// A field owned by another manager with a different value is a 409 `Conflict`
    /// unless `force`.
    pub fn apply(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        mut config: Value,
        force: bool,
        w: Writer<'_>,
    ) -> Result<(u16, Value), K8sError> {
        self.require_namespace(kind, ns)?;
        self.check_apply_config(kind, ns, name, &mut config)?;
        let apply = |live: &Value, entries| {
            managed::apply(kind, live, &config, entries, (w.manager, force), &w.time())
                .map_err(|c| managed::conflict_error(&c))
        };
        match self.find(kind, ns, name) {
            Some(idx) => {
                let current = self.objects[idx].object.clone();
                let (merged, entries) = apply(&current, managed::read(&current))?;
                self.store_version(kind, idx, merged, Owner::Entries(entries), w).map(|v| (200, v))
            }
            None => {
                if config["metadata"].get("resourceVersion").is_some_and(|v| !v.is_null()) {
                    return Err(not_found(kind, name));
                }
                let (obj, entries) = apply(&json!({}), Vec::new())?;
                self.insert_new(kind, ns, name, obj, Owner::Entries(entries), w.now).map(|v| (201, v))
            }
        }
    }

    /// An apply configuration names its type, carries no ownership, and is validated
    /// (type errors are 422, unknown fields pruned) before it is merged.
    fn check_apply_config(
        &self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        config: &mut Value,
    ) -> Result<(), K8sError> {
        let Some(obj) = config.as_object() else {
            return Err(bad_request("the apply configuration must be an object"));
        };
        for (field, what) in [("apiVersion", "APIVersion"), ("kind", "Kind")] {
            if obj.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(bad_request(format!("Object '{what}' is missing in the apply configuration")));
            }
        }
        match obj.get("metadata") {
            None | Some(Value::Object(_)) => {}
            Some(_) => return Err(bad_request("metadata must be an object")),
        }
        if obj.get("metadata").is_some_and(|m| m.get("managedFields").is_some()) {
            return Err(bad_request("metadata.managedFields must be nil"));
        }
        check_type_meta(kind, config)?;
        if config["metadata"]["name"].is_null() {
            config["metadata"]["name"] = json!(name);
        }
        let body_name = self.check_body(kind, ns, config)?;
        if body_name != name {
            return Err(bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if kind.plural == namespace_kind().plural {
            // The server owns a namespace's spec and status.
            if let Some(m) = config.as_object_mut() {
                m.remove("spec");
                m.remove("status");
            }
        }
        Ok(())
    }
}
