//! Two clusters for the Kubernetes tests: `aks-spoke` of the example seed (CRDs
//! installed) and `aks-legacy` (no aad-pod-identity CRDs, another version), and the
//! kubeconfigs the ARM credential action hands out for them.

use base64::Engine;
use serde_json::{json, Value};

use super::{start_with, Emu};

pub const TENANT: &str = "4aca8002-c6b1-4e6a-8956-0d030db855bf";
pub const SPOKE: &str = "9c195f54-5580-4cd2-9e24-3114522757f4";
pub const TF_APP: &str = "3b390046-4482-48ab-9d61-c1358b55d2bb";
pub const TF_SECRET: &str = "emulator-terraform-secret";
pub const SPOKE_TOKEN: &str = "emulator-kubernetes-token-aks-spoke";
pub const LEGACY_TOKEN: &str = "emulator-kubernetes-token-aks-legacy";

/// The ARM id of a cluster in the spoke's `rg-spoke-aks`.
pub fn cluster_id(name: &str) -> String {
    format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/{name}")
}

pub fn two_cluster_seed() -> Value {
    let mut seed: Value = serde_json::from_str(include_str!("../../examples/seed.json")).expect("example seed");
    let clusters = seed["managed_clusters"].as_array_mut().expect("clusters");
    clusters.push(json!({
        "id": cluster_id("aks-legacy"),
        "location": "westeurope",
        "kubernetes_version": "1.30.5",
        "kubernetes_token": LEGACY_TOKEN,
        "aad_pod_identity_crds": false,
    }));
    seed
}

/// An emulator with both clusters, and an ARM token of the seeded `terraform` principal.
pub async fn start_two_clusters() -> (Emu, String) {
    let e = start_with(two_cluster_seed(), None).await;
    let token = e.token(TENANT, TF_APP, TF_SECRET).await;
    (e, token)
}

/// The user kubeconfig of a cluster, from `listClusterUserCredential`.
pub async fn kubeconfig(e: &Emu, token: &str, cluster: &str) -> String {
    let path = format!("{}/listClusterUserCredential?api-version=2025-01-01", cluster_id(cluster));
    let (status, body) = e.call("POST", &path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    let b64 = body["kubeconfigs"][0]["value"].as_str().expect("kubeconfig value");
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 kubeconfig");
    String::from_utf8(bytes).expect("UTF-8 kubeconfig")
}

/// The `server:` URL of a kubeconfig.
pub fn server_of(kubeconfig: &str) -> String {
    kubeconfig.lines().find_map(|l| l.trim().strip_prefix("server: ")).expect("kubeconfig has a server").to_string()
}
