//! `apiextensions.k8s.io/v1` `customresourcedefinitions`, read-only: the
//! aad-pod-identity CRDs when the cluster has them, generated from the kind table and
//! the structural schemas the server validates with.
//!
//! Every API server serves this group; clients use it to tell whether a CRD is
//! installed, and kubectl's OpenAPI check for custom kinds whose group is not served
//! (it asks whether the CRD PATCH operation validates fields) looks here.

use serde_json::{json, Value};

use super::ClusterApi;
use crate::errors::K8sError;
use crate::store::k8s::{Kind, KINDS};

pub const GROUP: &str = "apiextensions.k8s.io";
pub const PLURAL: &str = "customresourcedefinitions";

/// Discovery entry of the resource (only `get` and `list`).
pub fn resource_entry() -> Value {
    json!({
        "name": PLURAL,
        "singularName": "customresourcedefinition",
        "namespaced": false,
        "kind": "CustomResourceDefinition",
        "verbs": ["get", "list"],
        "shortNames": ["crd", "crds"],
    })
}

fn crd(api: &ClusterApi, k: &Kind) -> Value {
    let name = format!("{}.{}", k.plural, k.group);
    let names =
        json!({"kind": k.kind, "listKind": format!("{}List", k.kind), "plural": k.plural, "singular": k.singular});
    json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": name,
            "uid": crate::store::derived_guid(&format!("{}|{name}", api.key)),
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
        "spec": {
            "group": k.group,
            "names": names,
            "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": k.version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": super::openapi::to_openapi(k.schema)},
            }],
        },
        "status": {
            "acceptedNames": names,
            "conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
            "storedVersions": [k.version],
        },
    })
}

fn installed(api: &ClusterApi) -> Vec<Value> {
    KINDS.iter().filter(|k| k.custom && api.crds).map(|k| crd(api, k)).collect()
}

/// `GET …/customresourcedefinitions[/{name}]`; `Err` for missing ones and other verbs.
pub fn get(api: &ClusterApi, get: bool, name: Option<&str>) -> Result<Value, K8sError> {
    if !get {
        return Err(K8sError::new(
            405,
            "MethodNotAllowed",
            "the aksid emulator serves customresourcedefinitions read-only",
        ));
    }
    let items = installed(api);
    match name {
        None => Ok(json!({
            "kind": "CustomResourceDefinitionList",
            "apiVersion": format!("{GROUP}/v1"),
            "metadata": {"resourceVersion": "1"},
            "items": items,
        })),
        Some(n) => items.into_iter().find(|c| c["metadata"]["name"] == n).ok_or_else(|| {
            K8sError::new(404, "NotFound", format!("{PLURAL}.{GROUP} \"{n}\" not found"))
                .with_details(json!({"name": n, "group": GROUP, "kind": PLURAL}))
        }),
    }
}
