//! `Microsoft.ContainerService/managedClusters`: GET, list, and the kubeconfig
//! credential actions (read-only; clusters come from the seed).

use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::{method_not_allowed, ok, Ctx};
use crate::app::App;
use crate::errors::ArmError;
use crate::ids::{self, seg_eq, Scope};
use crate::store::{resource_not_found, AgentPool, Cluster, ClusterIdentity};

pub const READ: &str = "Microsoft.ContainerService/managedClusters/read";
pub const LIST_USER_CREDENTIAL: &str = "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action";
pub const LIST_ADMIN_CREDENTIAL: &str = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action";

/// `…/resourceGroups/…` → `…/resourcegroups/…` (the casing the AKS RP returns).
pub fn lower_rg_segment(id: &str) -> String {
    let segs: Vec<&str> = ids::segments(id);
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        out.push('/');
        if i == 2 && seg_eq(s, "resourceGroups") {
            out.push_str("resourcegroups");
        } else {
            out.push_str(s);
        }
    }
    out
}

fn short_hash(text: &str) -> String {
    crate::store::derived_guid(text).replace('-', "")[..8].to_string()
}

/// The 2025-01-01 `ManagedCluster` body.
pub fn cluster_body(c: &Cluster) -> Value {
    let hash = short_hash(&c.id);
    let props = cluster_properties(c);
    let mut body = json!({
        "id": c.id,
        "location": c.location,
        "name": c.name,
        "tags": c.tags,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "eTag": hash,
        "sku": {"name": "Base", "tier": "Free"},
        "properties": props,
    });
    if let Some(i) = &c.identity {
        body["identity"] = cluster_identity(i);
    }
    body
}

/// The cluster's `properties`: what the AKS RP reports for a running cluster, then the
/// seed's own `properties`, which override.
fn cluster_properties(c: &Cluster) -> Map<String, Value> {
    let mut props = Map::new();
    let mut set = |k: &str, v: Value| {
        props.insert(k.to_string(), v);
    };
    set("provisioningState", json!("Succeeded"));
    set("powerState", json!({"code": "Running"}));
    set("maxAgentPools", json!(100));
    set("kubernetesVersion", json!(c.kubernetes_version));
    set("currentKubernetesVersion", json!(c.kubernetes_version));
    set("dnsPrefix", json!(c.dns_prefix));
    // `{dns_prefix}-{hash}`, also the key of the cluster's Kubernetes API path.
    set("fqdn", json!(format!("{}.hcp.{}.azmk8s.io", c.fqdn_label(), c.location)));
    set("azurePortalFQDN", json!(format!("{}.portal.hcp.{}.azmk8s.io", c.fqdn_label(), c.location)));
    // A pool in a subnet of the user's VNet means Azure CNI; otherwise kubenet.
    let byo_network = c.agent_pools.iter().any(|p| p.vnet_subnet_id.is_some());
    let pools: Vec<Value> = c.agent_pools.iter().map(|p| agent_pool_profile(c, p, byo_network)).collect();
    set("agentPoolProfiles", Value::Array(pools));
    if c.identity.is_some() {
        set("servicePrincipalProfile", json!({"clientId": "msi"}));
    }
    set("nodeResourceGroup", json!(c.node_resource_group));
    set("enableRBAC", json!(true));
    set("supportPlan", json!("KubernetesOfficial"));
    set("networkProfile", network_profile(byo_network));
    let mut oidc = json!({"enabled": c.oidc_issuer_enabled});
    if let Some(u) = &c.oidc_issuer_url {
        oidc["issuerURL"] = json!(u);
    }
    set("oidcIssuerProfile", oidc);
    if c.workload_identity_enabled {
        set("securityProfile", json!({"workloadIdentity": {"enabled": true}}));
    } else {
        set("securityProfile", json!({}));
    }
    if let Some(k) = &c.kubelet {
        set(
            "identityProfile",
            json!({"kubeletidentity": {
                "resourceId": lower_rg_segment(&k.resource_id),
                "clientId": k.client_id,
                "objectId": k.object_id,
            }}),
        );
    }
    if let Some(z) = &c.private_dns_zone {
        set(
            "apiServerAccessProfile",
            json!({"enablePrivateCluster": true, "privateDNSZone": z, "enablePrivateClusterPublicFQDN": false}),
        );
    }
    for (k, v) in &c.properties {
        props.insert(k.clone(), v.clone());
    }
    props
}

/// One entry of `agentPoolProfiles`; the seed's pool `properties` override.
fn agent_pool_profile(c: &Cluster, p: &AgentPool, byo_network: bool) -> Value {
    let mut v = json!({
        "name": p.name,
        "count": p.count,
        "vmSize": p.vm_size,
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": if byo_network { 30 } else { 110 },
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": false,
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "orchestratorVersion": c.kubernetes_version,
        "currentOrchestratorVersion": c.kubernetes_version,
        "enableNodePublicIP": false,
        "mode": p.mode,
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202501.12.0",
        "upgradeSettings": {"maxSurge": "10%"},
        "enableFIPS": false,
        "eTag": short_hash(&format!("{}|{}", c.id, p.name)),
    });
    if let Some(s) = &p.vnet_subnet_id {
        v["vnetSubnetID"] = json!(s);
    }
    if let Some(s) = &p.pod_subnet_id {
        v["podSubnetID"] = json!(s);
    }
    if let Value::Object(m) = &mut v {
        for (k, val) in &p.properties {
            m.insert(k.clone(), val.clone());
        }
    }
    v
}

/// Azure CNI when the pools bring their own subnets, else kubenet with a pod CIDR.
fn network_profile(byo_network: bool) -> Value {
    if byo_network {
        json!({
            "networkPlugin": "azure",
            "networkPolicy": "none",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIP": "10.0.0.10",
            "outboundType": "loadBalancer",
            "loadBalancerSku": "standard",
            "serviceCidrs": ["10.0.0.0/16"],
            "ipFamilies": ["IPv4"],
        })
    } else {
        json!({
            "networkPlugin": "kubenet",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIP": "10.0.0.10",
            "outboundType": "loadBalancer",
            "loadBalancerSku": "standard",
            "podCidrs": ["10.244.0.0/16"],
            "serviceCidrs": ["10.0.0.0/16"],
            "ipFamilies": ["IPv4"],
        })
    }
}

/// The cluster's `identity`: its user-assigned identity, or the system-assigned one.
fn cluster_identity(i: &ClusterIdentity) -> Value {
    if i.identity_type == "UserAssigned" {
        let mut m = Map::new();
        m.insert(
            i.resource_id.clone().unwrap_or_default(),
            json!({"principalId": i.principal_id, "clientId": i.client_id}),
        );
        json!({"type": "UserAssigned", "userAssignedIdentities": m})
    } else {
        json!({"type": "SystemAssigned", "principalId": i.principal_id, "tenantId": i.tenant_id})
    }
}

fn kubeconfig(c: &Cluster, server: &str, ca_pem: &str, user: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let token = c.kubernetes_token.clone().unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\ncurrent-context: {name}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    token: {token}\n",
        name = c.name
    )
}

pub fn route(app: &Arc<App>, ctx: &Ctx) -> Response {
    let segs = ctx.segs();
    let result = match segs.len() {
        // /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters
        5 => match ctx.method {
            Method::GET => list(app, ctx, segs[1], None),
            _ => return method_not_allowed(ctx),
        },
        // …/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters
        7 => match ctx.method {
            Method::GET => list(app, ctx, segs[1], Some(segs[3])),
            _ => return method_not_allowed(ctx),
        },
        8 => match ctx.method {
            Method::GET => get(app, ctx, &segs),
            _ => return method_not_allowed(ctx),
        },
        9 if ctx.method == Method::POST
            && (seg_eq(segs[8], "listClusterUserCredential") || seg_eq(segs[8], "listClusterAdminCredential")) =>
        {
            credentials(app, ctx, &segs)
        }
        _ => return super::resources::route(app, ctx),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn cluster_scope(segs: &[&str]) -> Scope {
    Scope::Resource {
        sub: segs[1].to_string(),
        rg: segs[3].to_string(),
        namespace: segs[5].to_string(),
        types: vec![(segs[6].to_string(), segs[7].to_string())],
    }
}

fn find(app: &App, ctx: &Ctx, segs: &[&str], action: &str) -> Result<Cluster, ArmError> {
    let scope = cluster_scope(segs);
    let display = if segs.len() > 8 { format!("{}/{}", scope.display(), segs[8]) } else { scope.display() };
    app.read(|s| {
        s.authorize(&ctx.caller, action, &scope, &display)?;
        s.check_subscription(segs[1])?;
        s.check_resource_group(segs[1], segs[3])?;
        s.cluster(&scope.display()).cloned().ok_or_else(|| resource_not_found(&scope))
    })
}

fn get(app: &App, ctx: &Ctx, segs: &[&str]) -> Result<Response, ArmError> {
    let c = find(app, ctx, segs, READ)?;
    Ok(ok(200, &cluster_body(&c)))
}

fn list(app: &App, ctx: &Ctx, sub: &str, rg: Option<&str>) -> Result<Response, ArmError> {
    let scope = match rg {
        Some(rg) => Scope::ResourceGroup { sub: sub.into(), rg: rg.into() },
        None => Scope::Subscription { sub: sub.into() },
    };
    let items = app.read(|s| {
        s.authorize(
            &ctx.caller,
            READ,
            &scope,
            &format!("{}/providers/Microsoft.ContainerService/managedClusters", scope.display()),
        )?;
        s.check_scope_exists(&scope)?;
        Ok::<_, ArmError>(
            s.state
                .clusters
                .iter()
                .filter(|c| c.subscription.eq_ignore_ascii_case(sub))
                .filter(|c| rg.is_none_or(|rg| c.resource_group.eq_ignore_ascii_case(rg)))
                .map(cluster_body)
                .collect::<Vec<_>>(),
        )
    })?;
    Ok(ok(200, &json!({ "value": items })))
}

fn credentials(app: &App, ctx: &Ctx, segs: &[&str]) -> Result<Response, ArmError> {
    let admin = seg_eq(segs[8], "listClusterAdminCredential");
    let action = if admin { LIST_ADMIN_CREDENTIAL } else { LIST_USER_CREDENTIAL };
    let c = find(app, ctx, segs, action)?;
    if c.kubernetes_token.is_none() {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!("Cluster '{}' has no kubernetes_token in the emulator seed.", c.name),
        ));
    }
    // The path names the cluster, so each cluster has its own object store.
    let server = format!("{}/k8s/{}", app.base_url, c.kube_key());
    let (name, user) = if admin {
        ("clusterAdmin", format!("clusterAdmin_{}_{}", c.resource_group, c.name))
    } else {
        ("clusterUser", format!("clusterUser_{}_{}", c.resource_group, c.name))
    };
    let cfg = kubeconfig(&c, &server, &app.ca_pem, &user);
    let value = base64::engine::general_purpose::STANDARD.encode(cfg.as_bytes());
    Ok(ok(200, &json!({"kubeconfigs": [{"name": name, "value": value}]})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_only_the_rg_keyword() {
        assert_eq!(
            lower_rg_segment(
                "/subscriptions/S/resourceGroups/MC_RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
            ),
            "/subscriptions/S/resourcegroups/MC_RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
        );
    }
}
