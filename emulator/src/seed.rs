//! The seed file: the directory, subscriptions and resources the emulator starts with.
//!
//! The format is JSON, documented in `emulator/README.md` ("Seed format") with a
//! full example in `emulator/examples/seed.json`. Unknown fields are rejected so
//! typos surface at start-up instead of as surprising 404s later.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::settings::Settings;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub tenants: Vec<SeedTenant>,
    #[serde(default)]
    pub management_groups: Vec<SeedManagementGroup>,
    #[serde(default)]
    pub subscriptions: Vec<SeedSubscription>,
    #[serde(default)]
    pub resource_groups: Vec<SeedResourceGroup>,
    #[serde(default)]
    pub resources: Vec<SeedResource>,
    #[serde(default)]
    pub managed_clusters: Vec<SeedCluster>,
    #[serde(default)]
    pub user_assigned_identities: Vec<SeedIdentity>,
    #[serde(default)]
    pub service_principals: Vec<SeedServicePrincipal>,
    /// Users, groups or other principals that only need to exist in the directory.
    #[serde(default)]
    pub principals: Vec<SeedPrincipal>,
    #[serde(default)]
    pub custom_roles: Vec<SeedRole>,
    #[serde(default)]
    pub role_assignments: Vec<SeedRoleAssignment>,
    /// CI systems whose OIDC token endpoints the emulator serves (`/github/idtoken`,
    /// `/ado/oidctoken`), for federated credentials of the service principals above.
    #[serde(default)]
    pub pipelines: Vec<SeedPipeline>,
    #[serde(default)]
    pub settings: Settings,
}

/// A CI system's OIDC token endpoint: who may ask (`request_token`) and what token it gets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPipeline {
    /// `github` (GitHub Actions) or `azure_devops`.
    pub kind: String,
    /// The bearer token the endpoint accepts (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `SYSTEM_ACCESSTOKEN`).
    pub request_token: String,
    /// Azure DevOps only: the service connection the token is for.
    #[serde(default)]
    pub service_connection_id: Option<String>,
    /// Defaults to GitHub's issuer, or `https://vstoken.dev.azure.com/{service_connection_id}`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// e.g. `repo:contoso/platform:environment:prod`, `sc://contoso/platform/aks-prod`.
    pub subject: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTenant {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedManagementGroup {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Tenant of the group; defaults to the first tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Parent group name; `None` = directly under the tenant root.
    #[serde(default)]
    pub parent: Option<String>,
    /// Subscription ids placed directly in this group.
    #[serde(default)]
    pub subscriptions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSubscription {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Tenant id; defaults to the first tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResourceGroup {
    pub subscription: String,
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResource {
    /// Full ARM id, e.g. `/subscriptions/…/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa`.
    pub id: String,
    /// Defaults to the type derived from the id (`Microsoft.Storage/storageAccounts`).
    #[serde(default, rename = "type")]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sku: Option<Value>,
    #[serde(default)]
    pub tags: Map<String, Value>,
    /// Returned as `properties` of the GET body.
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCluster {
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}`
    pub id: String,
    pub location: String,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub dns_prefix: Option<String>,
    /// Control-plane identity; `None` = a legacy service-principal cluster (no `identity` block).
    #[serde(default)]
    pub identity: Option<SeedClusterIdentity>,
    #[serde(default)]
    pub kubelet_identity: Option<SeedKubeletIdentity>,
    /// Defaults to `MC_{rg}_{name}_{location}`. Created as a resource group if not seeded.
    #[serde(default)]
    pub node_resource_group: Option<String>,
    #[serde(default)]
    pub oidc_issuer_enabled: bool,
    /// Defaults to a generated `https://{location}.oic.prod-aks.azure.com/{tenant}/{guid}/` when enabled.
    #[serde(default)]
    pub oidc_issuer_url: Option<String>,
    #[serde(default)]
    pub workload_identity_enabled: bool,
    /// `apiServerAccessProfile.privateDNSZone` (a zone id, `system` or `none`).
    #[serde(default)]
    pub private_dns_zone: Option<String>,
    #[serde(default)]
    pub agent_pools: Vec<SeedAgentPool>,
    /// Bearer token accepted by the cluster's Kubernetes API (`/k8s/{key}`, and `/k8s`).
    #[serde(default)]
    pub kubernetes_token: Option<String>,
    /// Whether the aad-pod-identity CRDs are installed (default true).
    #[serde(default)]
    pub aad_pod_identity_crds: Option<bool>,
    /// Extra `properties` merged (shallowly) into the GET body.
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedClusterIdentity {
    /// `SystemAssigned` or `UserAssigned`.
    #[serde(rename = "type")]
    pub identity_type: String,
    /// Principal (object) id; generated deterministically when omitted.
    #[serde(default)]
    pub principal_id: Option<String>,
    /// UserAssigned only: the UAMI id. Created as an identity if not seeded.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// UserAssigned only.
    #[serde(default)]
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKubeletIdentity {
    /// Defaults to `{node RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{cluster}-agentpool`.
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAgentPool {
    pub name: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub vm_size: Option<String>,
    #[serde(default)]
    pub vnet_subnet_id: Option<String>,
    #[serde(default)]
    pub pod_subnet_id: Option<String>,
    /// Extra fields merged into the pool's profile object.
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIdentity {
    /// Full UAMI id.
    pub id: String,
    pub location: String,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub federated_credentials: Vec<SeedFic>,
    /// The principal becomes visible to role assignments this many seconds after start.
    #[serde(default)]
    pub available_after_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFic {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
}

pub fn default_audiences() -> Vec<String> {
    vec!["api://AzureADTokenExchange".to_string()]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServicePrincipal {
    pub display_name: String,
    pub object_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Defaults to the first tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Accepted client secrets.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Federated credentials accepted as `client_assertion`.
    #[serde(default)]
    pub federated: Vec<SeedFederatedSubject>,
    /// Certificates (PEM or base64 DER) whose keys may sign client assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default)]
    pub available_after_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFederatedSubject {
    pub issuer: String,
    pub subject: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPrincipal {
    pub object_id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub available_after_secs: u64,
}

fn default_kind() -> String {
    "User".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    /// Role GUID (the role definition `name`).
    pub id: String,
    pub role_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    /// Defaults to `["/"]`.
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRoleAssignment {
    /// GUID; generated (UUIDv5 of scope, role, principal) when omitted.
    #[serde(default)]
    pub name: Option<String>,
    pub scope: String,
    /// Role GUID or full role definition id.
    #[serde(default)]
    pub role_definition_id: Option<String>,
    /// Role name (e.g. `Owner`) as an alternative to `role_definition_id`.
    #[serde(default)]
    pub role_definition_name: Option<String>,
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Seed {
    /// Parse a seed from JSON text.
    pub fn from_json(text: &str) -> Result<Seed, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid seed: {e}"))
    }

    /// Read and parse a seed file.
    pub fn load(path: &std::path::Path) -> Result<Seed, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read seed {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let e = Seed::from_json(r#"{"tenants":[{"id":"t","bogus":1}]}"#).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = Seed::from_json(r#"{"tenant":[]}"#).unwrap_err();
        assert!(e.contains("tenant"), "{e}");
    }

    #[test]
    fn empty_seed_parses() {
        let s = Seed::from_json("{}").unwrap();
        assert!(s.tenants.is_empty());
        assert_eq!(s.settings.role_assignment_limit, 4000);
    }

    #[test]
    fn example_seed_parses() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.json"));
        let s = Seed::from_json(text).unwrap();
        assert!(!s.managed_clusters.is_empty());
    }
}
