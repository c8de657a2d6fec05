//! The cluster role matrix used by the acceptance tests: the example seed's identities and
//! scopes, the expected grants, and helpers to read them back from the emulator.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::emulator::*;
use super::*;

pub const CP: &str = "b8f85bd4-6abc-4007-8e05-bc515255b609";
pub const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
pub const NODE_RG: &str =
    "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/MC_rg-spoke-aks_aks-spoke_westeurope";
pub const SPOKE_RG: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks";
pub const SUBNET_NODES: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
pub const SUBNET_PODS: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods";
pub const HUB_ACR: &str = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
pub const DNS_ZONE: &str = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.Network/dnszones/apps.contoso.example";
pub const PRIVATE_ZONE: &str = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io";

pub const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
pub const PRIVATE_DNS: &str = "b12aa53e-6015-4669-85d0-8515ebb3ae7f";
pub const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
pub const DNS_CONTRIB: &str = "befefa01-2a29-4197-83a8-272ff33ce314";
pub const MIO: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
pub const VMC: &str = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c";

pub fn matrix_body(cluster: &str) -> String {
    format!(
        r#"
resource "aksid_cluster_identity_roles" "aks" {{
  {cluster}
  subnet_ids           = ["{SUBNET_NODES}", "{SUBNET_PODS}"]
  acr_ids              = ["{HUB_ACR}"]
  dns_zone_ids         = ["{DNS_ZONE}"]
  private_dns_zone_ids = ["{PRIVATE_ZONE}"]
  aad_pod_identity {{
    enabled                     = true
    identity_resource_group_ids = ["{SPOKE_RG}"]
  }}
}}

output "assignments" {{ value = aksid_cluster_identity_roles.aks.assignments }}
"#
    )
}

pub fn config(emu: &Emulator, body: &str) -> String {
    format!("{REQUIRED_AKSID}\n{}\n{body}", emu.provider_block())
}

pub fn cluster_line() -> String {
    format!(r#"cluster_id = "{CLUSTER_ID}""#)
}

/// (principal, role GUID, lowercased scope) of every assignment of the cluster's identities.
pub fn grants(emu: &Emulator) -> BTreeSet<(String, String, String)> {
    let all = emu.admin_get("role-assignments");
    all["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            let p = a["properties"]["principalId"].as_str().unwrap_or_default();
            p == CP || p == KUBELET
        })
        .map(|a| {
            let p = &a["properties"];
            (
                p["principalId"].as_str().unwrap().to_string(),
                p["roleDefinitionId"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
                p["scope"].as_str().unwrap().trim_end_matches('/').to_lowercase(),
            )
        })
        .collect()
}

pub fn expected_matrix() -> BTreeSet<(String, String, String)> {
    [
        (CP, NETWORK_CONTRIBUTOR, SUBNET_NODES),
        (CP, NETWORK_CONTRIBUTOR, SUBNET_PODS),
        (CP, PRIVATE_DNS, PRIVATE_ZONE),
        (KUBELET, ACR_PULL, HUB_ACR),
        (KUBELET, DNS_CONTRIB, DNS_ZONE),
        (KUBELET, MIO, NODE_RG),
        (KUBELET, VMC, NODE_RG),
        (KUBELET, MIO, SPOKE_RG),
    ]
    .iter()
    .map(|(p, r, s)| (p.to_string(), r.to_string(), s.to_lowercase()))
    .collect()
}

/// The element of the `assignments` output with this key.
/// The AcrPull the seed holds from `az aks update --attach-acr`: adopted, never deleted by default.
pub fn adopted_acr_pull() -> BTreeSet<(String, String, String)> {
    BTreeSet::from([(KUBELET.to_string(), ACR_PULL.to_string(), HUB_ACR.to_lowercase())])
}

pub fn assignment_output(ws: &Workspace, key: &str) -> Json {
    let out = ws.output_json();
    out["assignments"]["value"].as_array().unwrap().iter().find(|e| e["key"] == key).unwrap().clone()
}

pub fn count_requests(emu: &Emulator, method: &str, path_part: &str) -> usize {
    emu.admin_get("requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap_or("").contains(path_part))
        .count()
}
