//! What an AKS cluster's ARM body says about its identities (`az aks show --query identity`
//! and `identityProfile`). Pure: JSON in, typed facts out. Paths per the managedClusters
//! 2025-01-01 spec: `identity`, `properties.identityProfile.kubeletidentity`,
//! `properties.nodeResourceGroup`, `properties.oidcIssuerProfile`,
//! `properties.securityProfile.workloadIdentity`, `properties.agentPoolProfiles[]`.

use serde_json::Value as Json;

/// The managedClusters api-version the provider reads with.
pub const API_VERSION: &str = "2025-01-01";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletIdentity {
    pub object_id: String,
    pub client_id: String,
    pub resource_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentities {
    pub location: String,
    pub control_plane_identity_type: String,
    pub control_plane_principal_id: String,
    pub kubelet: KubeletIdentity,
    pub node_resource_group_id: String,
    pub oidc_issuer_url: Option<String>,
    pub workload_identity_enabled: bool,
    /// Node and pod subnets of all agent pools, first-seen order, without duplicates
    /// (case-insensitive).
    pub subnet_ids: Vec<String>,
}

fn s<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |cur, k| cur.get(k)).and_then(Json::as_str).filter(|s| !s.is_empty())
}

/// Extract the identities of the cluster whose GET body is `body`; `subscription_id` is the
/// cluster's subscription (the node resource group lives there).
pub fn parse(body: &Json, subscription_id: &str) -> Result<ClusterIdentities, String> {
    let id_type = s(body, &["identity", "type"]).unwrap_or("None").to_string();
    let control_plane_principal_id = match id_type.as_str() {
        "SystemAssigned" => s(body, &["identity", "principalId"]).map(str::to_string),
        // Exactly one user-assigned identity is allowed: take the only map value.
        "UserAssigned" => body
            .pointer("/identity/userAssignedIdentities")
            .and_then(Json::as_object)
            .and_then(|m| m.values().next())
            .and_then(|v| s(v, &["principalId"]))
            .map(str::to_string),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "the cluster has no managed control-plane identity (identity.type = {id_type:?}); \
             clusters with a legacy service principal are not supported"
        )
    })?;
    let k = body.pointer("/properties/identityProfile/kubeletidentity").ok_or(
        "the cluster reports no kubelet identity (properties.identityProfile.kubeletidentity) yet; \
         it may still be provisioning",
    )?;
    let kubelet = KubeletIdentity {
        object_id: s(k, &["objectId"]).ok_or("kubelet identity without objectId")?.to_string(),
        client_id: s(k, &["clientId"]).ok_or("kubelet identity without clientId")?.to_string(),
        resource_id: s(k, &["resourceId"]).unwrap_or_default().to_string(),
    };
    let node_rg = s(body, &["properties", "nodeResourceGroup"]).ok_or("the cluster reports no nodeResourceGroup")?;
    let mut subnet_ids: Vec<String> = Vec::new();
    for pool in body.pointer("/properties/agentPoolProfiles").and_then(Json::as_array).into_iter().flatten() {
        for key in ["vnetSubnetID", "podSubnetID"] {
            if let Some(id) = s(pool, &[key]) {
                if !subnet_ids.iter().any(|x| x.eq_ignore_ascii_case(id)) {
                    subnet_ids.push(id.to_string());
                }
            }
        }
    }
    Ok(ClusterIdentities {
        location: s(body, &["location"]).unwrap_or_default().to_string(),
        control_plane_identity_type: id_type,
        control_plane_principal_id,
        kubelet,
        node_resource_group_id: format!("/subscriptions/{subscription_id}/resourceGroups/{node_rg}"),
        oidc_issuer_url: s(body, &["properties", "oidcIssuerProfile", "issuerURL"]).map(str::to_string),
        workload_identity_enabled: body
            .pointer("/properties/securityProfile/workloadIdentity/enabled")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        subnet_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Json {
        json!({
            "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": "11111111-1111-1111-1111-111111111111"},
            "properties": {
                "nodeResourceGroup": "MC_rg_aks_westeurope",
                "identityProfile": {"kubeletidentity": {
                    "objectId": "22222222-2222-2222-2222-222222222222",
                    "clientId": "33333333-3333-3333-3333-333333333333",
                    "resourceId": "/subscriptions/s/resourcegroups/MC_rg_aks_westeurope/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-agentpool"}},
                "oidcIssuerProfile": {"enabled": true, "issuerURL": "https://oidc.example/abc/"},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
                "agentPoolProfiles": [
                    {"vnetSubnetID": "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes",
                     "podSubnetID": "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/pods"},
                    {"vnetSubnetID": "/subscriptions/s/resourcegroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/NODES"}
                ]
            }
        })
    }

    #[test]
    fn system_assigned_cluster() {
        let c = parse(&body(), "s").unwrap();
        assert_eq!(c.control_plane_principal_id, "11111111-1111-1111-1111-111111111111");
        assert_eq!(c.kubelet.object_id, "22222222-2222-2222-2222-222222222222");
        assert_eq!(c.node_resource_group_id, "/subscriptions/s/resourceGroups/MC_rg_aks_westeurope");
        assert_eq!(c.subnet_ids.len(), 2, "duplicates across casing are folded: {:?}", c.subnet_ids);
        assert!(c.workload_identity_enabled);
        assert_eq!(c.oidc_issuer_url.as_deref(), Some("https://oidc.example/abc/"));
    }

    #[test]
    fn user_assigned_control_plane() {
        let mut b = body();
        b["identity"] = json!({"type": "UserAssigned", "userAssignedIdentities": {
            "/subscriptions/s/resourceGroups/id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cp":
                {"principalId": "44444444-4444-4444-4444-444444444444", "clientId": "x"}}});
        assert_eq!(parse(&b, "s").unwrap().control_plane_principal_id, "44444444-4444-4444-4444-444444444444");
    }

    #[test]
    fn missing_pieces_are_explained() {
        let mut b = body();
        b["identity"] = json!({"type": "None"});
        assert!(parse(&b, "s").unwrap_err().contains("legacy service principal"));
        let mut b = body();
        b["properties"].as_object_mut().unwrap().remove("identityProfile");
        assert!(parse(&b, "s").unwrap_err().contains("kubelet identity"));
    }
}
