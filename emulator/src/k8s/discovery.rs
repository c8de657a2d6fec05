//! Discovery documents of one cluster's API: `/version`, `/api`, `/api/v1`, `/apis`,
//! `/apis/aadpodidentity.k8s.io[/v1]` (the last two only when the CRDs are installed).
//! Always the legacy (unaggregated) JSON forms, which clients fall back to.

use serde_json::{json, Value};

use super::ClusterApi;
use crate::store::k8s::{Kind, KINDS, POD_IDENTITY_GROUP};

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

fn version_body(version: &str) -> Value {
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("31").to_string();
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{version}"),
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

fn pod_identity_group() -> Value {
    json!({
        "name": POD_IDENTITY_GROUP,
        "versions": [group_version_entry()],
        "preferredVersion": group_version_entry(),
    })
}

fn resources(group: &str) -> Vec<Value> {
    KINDS.iter().filter(|k| k.group == group).map(resource_entry).collect()
}

/// The discovery document at `segs`, if it is one. `server_address` is `host:port`.
pub fn document(api: &ClusterApi, server_address: &str, segs: &[&str]) -> Option<Value> {
    match segs {
        ["version"] => Some(version_body(&api.version)),
        ["api"] => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })),
        ["api", "v1"] => Some(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources("")})),
        ["apis"] => Some(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": if api.crds { vec![pod_identity_group()] } else { Vec::new() },
        })),
        ["apis", g] if *g == POD_IDENTITY_GROUP && api.crds => {
            let mut v = pod_identity_group();
            v["kind"] = json!("APIGroup");
            v["apiVersion"] = json!("v1");
            Some(v)
        }
        ["apis", g, "v1"] if *g == POD_IDENTITY_GROUP && api.crds => Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": format!("{POD_IDENTITY_GROUP}/v1"),
            "resources": resources(POD_IDENTITY_GROUP),
        })),
        _ => None,
    }
}
