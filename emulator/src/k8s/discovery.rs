//! Discovery documents of one cluster's API: `/version`, `/api`, `/api/v1`, `/apis`,
//! `/apis/apiextensions.k8s.io[/v1]` and `/apis/aadpodidentity.k8s.io[/v1]` (the last
//! two only when the CRDs are installed). Always the legacy (unaggregated) JSON forms,
//! which clients fall back to.

use serde_json::{json, Value};

use super::{crds, ClusterApi};
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

fn group_entry(group: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/v1"), "version": "v1"});
    json!({"name": group, "versions": [gv], "preferredVersion": gv})
}

/// The API groups served besides the core group.
fn groups(api: &ClusterApi) -> Vec<&'static str> {
    let mut out = vec![crds::GROUP];
    if api.crds {
        out.push(POD_IDENTITY_GROUP);
    }
    out
}

fn resource_list(group: &str) -> Value {
    let resources = if group == crds::GROUP { vec![crds::resource_entry()] } else { resources(group) };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/v1"), "resources": resources})
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
            "groups": groups(api).into_iter().map(group_entry).collect::<Vec<_>>(),
        })),
        ["apis", g] if groups(api).contains(g) => {
            let mut v = group_entry(g);
            v["kind"] = json!("APIGroup");
            v["apiVersion"] = json!("v1");
            Some(v)
        }
        ["apis", g, "v1"] if groups(api).contains(g) => Some(resource_list(g)),
        _ => None,
    }
}
