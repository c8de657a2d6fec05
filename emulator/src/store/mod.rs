//! In-memory state of the emulated cloud, its persistence, and the business rules.
//!
//! Everything in here is synchronous and free of HTTP: operations take the
//! current time as a parameter and return `Result<_, ArmError>`, so the rules are
//! unit-tested directly. The HTTP layer (`arm/`, `entra`, `k8s`, `admin`) only
//! parses requests and renders the records returned from here.

pub mod builtin;
pub mod identities;
pub mod k8s;
mod pipelines_load;
pub mod rbac;
mod seed_load;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::errors::ArmError;
use crate::ids::{self, Scope};
use crate::seed::Seed;

pub use crate::settings::Settings;
pub use builtin::builtin_roles;
pub use k8s::K8sState;

/// Version of the persisted state format (2: one Kubernetes store per cluster).
pub const STATE_FORMAT: u32 = 2;

/// Namespace for the deterministic (UUIDv5) ids the emulator derives.
pub const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5d1c_6a4e_2b1f_4c7e_9a53_0e6f_a1d2_c0de);

/// Deterministic GUID for a piece of text.
pub fn derived_guid(text: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, text.to_ascii_lowercase().as_bytes()).to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagementGroup {
    pub name: String,
    pub display_name: String,
    pub tenant_id: String,
    pub parent: Option<String>,
    pub subscriptions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub display_name: String,
    pub tenant_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub subscription: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: Map<String, Value>,
    /// Set for AKS node resource groups (the cluster id).
    #[serde(default)]
    pub managed_by: Option<String>,
}

impl ResourceGroup {
    pub fn id(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.subscription, self.name)
    }
}

/// A seeded resource returned verbatim by GET.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub resource_type: String,
    pub name: String,
    pub location: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sku: Option<Value>,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterIdentity {
    /// `SystemAssigned` or `UserAssigned`.
    pub identity_type: String,
    pub principal_id: String,
    pub tenant_id: String,
    pub resource_id: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KubeletIdentity {
    pub resource_id: String,
    pub client_id: String,
    pub object_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentPool {
    pub name: String,
    pub mode: String,
    pub count: u32,
    pub vm_size: String,
    pub vnet_subnet_id: Option<String>,
    pub pod_subnet_id: Option<String>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: Map<String, Value>,
    pub kubernetes_version: String,
    pub dns_prefix: String,
    pub identity: Option<ClusterIdentity>,
    pub kubelet: Option<KubeletIdentity>,
    pub node_resource_group: String,
    pub oidc_issuer_enabled: bool,
    pub oidc_issuer_url: Option<String>,
    pub workload_identity_enabled: bool,
    pub private_dns_zone: Option<String>,
    pub agent_pools: Vec<AgentPool>,
    pub kubernetes_token: Option<String>,
    /// Whether the aad-pod-identity CRDs are installed in the cluster's Kubernetes API.
    #[serde(default = "yes")]
    pub aad_pod_identity_crds: bool,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

fn yes() -> bool {
    true
}

impl Cluster {
    /// The first label of the API server FQDN: `{dns_prefix}-{hash}`.
    pub fn fqdn_label(&self) -> String {
        let hash = derived_guid(&self.id).replace('-', "");
        format!("{}-{}", self.dns_prefix, &hash[..8])
    }

    /// The key of the cluster's Kubernetes store and its API path, `/k8s/{key}`
    /// (the FQDN label in lower case).
    pub fn kube_key(&self) -> String {
        self.fqdn_label().to_ascii_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fic {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

/// A user-assigned managed identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: Map<String, Value>,
    pub principal_id: String,
    pub client_id: String,
    pub tenant_id: String,
    #[serde(default)]
    pub fics: Vec<Fic>,
}

impl Identity {
    /// The id as ARM returns it for this RP (lower-case `resourcegroups`).
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalKind {
    ServicePrincipal,
    ManagedIdentity,
    User,
    Group,
}

impl PrincipalKind {
    /// The `principalType` a role assignment records for this kind.
    pub fn principal_type(self) -> &'static str {
        match self {
            PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => "ServicePrincipal",
            PrincipalKind::User => "User",
            PrincipalKind::Group => "Group",
        }
    }

    pub fn parse(s: &str) -> Option<PrincipalKind> {
        match s.to_ascii_lowercase().as_str() {
            "serviceprincipal" => Some(PrincipalKind::ServicePrincipal),
            "managedidentity" => Some(PrincipalKind::ManagedIdentity),
            "user" => Some(PrincipalKind::User),
            "group" => Some(PrincipalKind::Group),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedSubject {
    pub issuer: String,
    pub subject: String,
}

/// A directory object (service principal, managed identity, user, group).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    pub object_id: String,
    pub kind: PrincipalKind,
    pub display_name: String,
    pub tenant_id: String,
    /// Application (client) id, for principals that can sign in.
    pub app_id: Option<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub federated: Vec<FederatedSubject>,
    /// For user-assigned identities: the identity id, whose FICs are also accepted.
    #[serde(default)]
    pub identity_resource_id: Option<String>,
    /// Visible to role assignments (replicated) from this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub available_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleDefinition {
    /// GUID (lower case).
    pub id: String,
    pub role_name: String,
    pub description: String,
    /// `BuiltInRole` or `CustomRole`.
    pub role_type: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub name: String,
    /// Scope with one leading slash, in the spelling ARM answers with ([`Store::canonical_scope`]).
    pub scope: String,
    /// Role GUID (lower case).
    pub role_definition_guid: String,
    pub principal_id: String,
    pub principal_type: String,
    pub description: Option<String>,
    pub condition: Option<String>,
    pub condition_version: Option<String>,
    pub delegated_managed_identity_resource_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_on: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_on: OffsetDateTime,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

impl RoleAssignment {
    pub fn id(&self) -> String {
        let scope = self.scope.trim_end_matches('/');
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            if scope == "/" { "" } else { scope },
            self.name
        )
    }
}

/// The authenticated caller of an ARM request (from the access token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub oid: String,
    pub tid: String,
    pub appid: Option<String>,
}

impl Caller {
    /// Name used in AuthorizationFailed messages (the app id for service principals).
    pub fn client_name(&self) -> &str {
        self.appid.as_deref().unwrap_or(&self.oid)
    }
}

/// Everything that is persisted with `--state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Base64url HMAC key that signs access tokens (persisted so tokens survive restarts).
    pub token_key: String,
    pub tenants: Vec<Tenant>,
    pub management_groups: Vec<ManagementGroup>,
    pub subscriptions: Vec<Subscription>,
    pub resource_groups: Vec<ResourceGroup>,
    pub resources: Vec<Resource>,
    pub clusters: Vec<Cluster>,
    pub identities: Vec<Identity>,
    pub principals: Vec<Principal>,
    pub custom_roles: Vec<RoleDefinition>,
    pub role_assignments: Vec<RoleAssignment>,
    pub settings: Settings,
    /// Kubernetes objects, one store per cluster that has a `kubernetes_token`,
    /// by [`Cluster::kube_key`].
    #[serde(default)]
    pub k8s: BTreeMap<String, K8sState>,
    /// CI token endpoints (see [`crate::seed::SeedPipeline`]), issuers filled in.
    #[serde(default)]
    pub pipelines: Vec<crate::seed::SeedPipeline>,
    /// DER certificates registered on applications, by lower-case client id.
    #[serde(default)]
    pub app_certificates: BTreeMap<String, Vec<Vec<u8>>>,
}

/// The store: state plus the seed it was built from (for `POST /_admin/reset`).
#[derive(Debug, Clone)]
pub struct Store {
    pub state: State,
    seed: Seed,
}

impl Store {
    /// Build a store from a seed. `now` anchors `available_after_secs`.
    pub fn from_seed(seed: &Seed, now: OffsetDateTime) -> Result<Store, String> {
        let key = crate::util::random_secret();
        let state = seed_load::build_state(seed, now, key)?;
        Ok(Store { state, seed: seed.clone() })
    }

    /// Restore a persisted state (the seed is kept for resets).
    pub fn from_state(state: State, seed: &Seed) -> Result<Store, String> {
        if state.format != STATE_FORMAT {
            return Err(format!("state file format {} is not supported (expected {STATE_FORMAT})", state.format));
        }
        Ok(Store { state, seed: seed.clone() })
    }

    /// Go back to the seed, keeping the token key (issued tokens stay valid).
    pub fn reset(&mut self, now: OffsetDateTime) -> Result<(), String> {
        let key = self.state.token_key.clone();
        self.state = seed_load::build_state(&self.seed, now, key)?;
        Ok(())
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The default tenant (first seeded one).
    pub fn default_tenant(&self) -> &str {
        self.state.tenants.first().map(|t| t.id.as_str()).unwrap_or("00000000-0000-0000-0000-000000000000")
    }

    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.state.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.state.subscriptions.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    pub fn resource_group(&self, sub: &str, rg: &str) -> Option<&ResourceGroup> {
        self.state
            .resource_groups
            .iter()
            .find(|g| g.subscription.eq_ignore_ascii_case(sub) && g.name.eq_ignore_ascii_case(rg))
    }

    pub fn management_group(&self, name: &str) -> Option<&ManagementGroup> {
        self.state.management_groups.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.state.clusters.iter().find(|c| ids::id_eq(&c.id, id))
    }

    pub fn identity(&self, id: &str) -> Option<&Identity> {
        let k = ids::key(id);
        self.state.identities.iter().find(|i| ids::key(&i.id()) == k)
    }

    pub fn identity_mut(&mut self, id: &str) -> Option<&mut Identity> {
        let k = ids::key(id);
        self.state.identities.iter_mut().find(|i| ids::key(&i.id()) == k)
    }

    pub fn generic_resource(&self, id: &str) -> Option<&Resource> {
        let k = ids::key(id);
        self.state.resources.iter().find(|r| ids::key(&r.id) == k)
    }

    pub fn principal(&self, oid: &str) -> Option<&Principal> {
        self.state.principals.iter().find(|p| p.object_id.eq_ignore_ascii_case(oid))
    }

    /// A principal by application (client) id.
    pub fn principal_by_app_id(&self, app_id: &str) -> Option<&Principal> {
        self.state.principals.iter().find(|p| p.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(app_id)))
    }

    /// Is the principal in the directory and replicated at `now`?
    pub fn principal_available(&self, oid: &str, now: OffsetDateTime) -> Option<&Principal> {
        self.principal(oid).filter(|p| p.available_at <= now)
    }

    /// The cluster whose Kubernetes API is at `/k8s/{key}`.
    pub fn cluster_by_kube_key(&self, key: &str) -> Option<&Cluster> {
        self.state.clusters.iter().find(|c| c.kubernetes_token.is_some() && c.kube_key() == key)
    }

    /// The clusters with a Kubernetes API (a `kubernetes_token`).
    pub fn kube_clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.state.clusters.iter().filter(|c| c.kubernetes_token.is_some())
    }

    /// A cluster's Kubernetes objects.
    pub fn k8s(&self, key: &str) -> Option<&K8sState> {
        self.state.k8s.get(key)
    }

    pub fn k8s_mut(&mut self, key: &str) -> Option<&mut K8sState> {
        self.state.k8s.get_mut(key)
    }

    /// Which tenant a scope belongs to (`None` for unknown subscriptions).
    pub fn tenant_of_scope(&self, scope: &Scope) -> Option<String> {
        match scope {
            Scope::Tenant => Some(self.default_tenant().to_string()),
            Scope::ManagementGroup { name } => self.management_group(name).map(|m| m.tenant_id.clone()),
            _ => scope.subscription().and_then(|s| self.subscription(s)).map(|s| s.tenant_id.clone()),
        }
    }

    /// Does the scope exist? Returns the ARM 404 for the first missing level.
    pub fn check_scope_exists(&self, scope: &Scope) -> Result<(), ArmError> {
        match scope {
            Scope::Tenant => Ok(()),
            Scope::ManagementGroup { name } => {
                if self.management_group(name).is_some() {
                    Ok(())
                } else {
                    Err(ArmError::not_found(
                        "ManagementGroupNotFound",
                        format!("The management group '{name}' could not be found."),
                    ))
                }
            }
            Scope::Subscription { sub } => self.check_subscription(sub),
            Scope::ResourceGroup { sub, rg } => {
                self.check_subscription(sub)?;
                self.check_resource_group(sub, rg)
            }
            Scope::Resource { sub, rg, .. } => {
                self.check_subscription(sub)?;
                self.check_resource_group(sub, rg)?;
                if self.resource_exists(scope) {
                    Ok(())
                } else {
                    Err(resource_not_found(scope))
                }
            }
        }
    }

    pub fn check_subscription(&self, sub: &str) -> Result<(), ArmError> {
        if self.subscription(sub).is_some() {
            Ok(())
        } else {
            Err(ArmError::not_found("SubscriptionNotFound", format!("The subscription '{sub}' could not be found.")))
        }
    }

    pub fn check_resource_group(&self, sub: &str, rg: &str) -> Result<(), ArmError> {
        if self.resource_group(sub, rg).is_some() {
            Ok(())
        } else {
            Err(ArmError::not_found("ResourceGroupNotFound", format!("Resource group '{rg}' could not be found.")))
        }
    }

    /// Is there a resource (seeded, cluster, identity or FIC) with exactly this id?
    pub fn resource_exists(&self, scope: &Scope) -> bool {
        let k = scope.key();
        if self.state.resources.iter().any(|r| ids::key(&r.id) == k) {
            return true;
        }
        if self.state.clusters.iter().any(|c| ids::key(&c.id) == k) {
            return true;
        }
        for i in &self.state.identities {
            let ik = ids::key(&i.id());
            if ik == k {
                return true;
            }
            if let Some(rest) = k.strip_prefix(&ik) {
                if let Some(fic) = rest.strip_prefix("/federatedidentitycredentials/") {
                    if i.fics.iter().any(|f| f.name.eq_ignore_ascii_case(fic)) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The spelling ARM answers with for a role assignment scope. A resource group, or a
    /// scope inside one, is spelled as seeded: `/subscriptions/{sub}/resourceGroups/{rg}`,
    /// then the id of the deepest known resource (seeded resource or subnet, cluster,
    /// user-assigned identity) the scope is at or below, then the rest as requested.
    /// Other scopes (tenant root, management groups, subscriptions) echo the request.
    pub fn canonical_scope(&self, scope: &Scope, raw: &str) -> String {
        let (Some(sub), Some(rg)) = (scope.subscription(), scope.resource_group()) else {
            return ids::with_leading_slash(raw);
        };
        let (Some(sub), Some(rg)) = (self.subscription(sub), self.resource_group(sub, rg)) else {
            return ids::with_leading_slash(raw);
        };
        let requested = ids::segments(raw);
        // Segments after `subscriptions/{s}/resourceGroups/{rg}`.
        let below_rg = requested.get(4..).unwrap_or_default();
        let scope_key = scope.key_segments();
        let known = self
            .state
            .resources
            .iter()
            .map(|r| r.id.clone())
            .chain(self.state.clusters.iter().map(|c| c.id.clone()))
            .chain(self.state.identities.iter().map(Identity::id));
        let mut best: Vec<String> = Vec::new();
        for id in known {
            let Ok(known_scope) = Scope::parse(&id) else { continue };
            let known_key = known_scope.key_segments();
            if known_key.len() > 4 + best.len() && scope_key.starts_with(&known_key) {
                best = ids::segments(&id).get(4..).unwrap_or_default().iter().map(|s| s.to_string()).collect();
            }
        }
        let mut out = format!("/subscriptions/{}/resourceGroups/{}", sub.id, rg.name);
        for seg in best.iter().map(String::as_str).chain(below_rg.iter().skip(best.len()).copied()) {
            out.push('/');
            out.push_str(seg);
        }
        out
    }

    /// The scope and its ancestors, nearest first, including the management groups
    /// that contain the subscription and finally the tenant root.
    pub fn scope_chain(&self, scope: &Scope) -> Vec<Scope> {
        let mut chain = Vec::new();
        let mut cur = Some(scope.clone());
        while let Some(s) = cur {
            let next = match &s {
                Scope::Subscription { sub } => {
                    // Subscription → its management group chain → root.
                    let mg = self
                        .state
                        .management_groups
                        .iter()
                        .find(|m| m.subscriptions.iter().any(|x| x.eq_ignore_ascii_case(sub)));
                    chain.push(s.clone());
                    match mg {
                        Some(m) => Some(Scope::ManagementGroup { name: m.name.clone() }),
                        None => Some(Scope::Tenant),
                    }
                }
                Scope::ManagementGroup { name } => {
                    chain.push(s.clone());
                    let parent = self.management_group(name).and_then(|m| m.parent.clone());
                    match parent {
                        // Guard against cycles in a hand-written seed.
                        Some(p)
                            if !chain.iter().any(
                                |c| matches!(c, Scope::ManagementGroup { name } if name.eq_ignore_ascii_case(&p)),
                            ) =>
                        {
                            Some(Scope::ManagementGroup { name: p })
                        }
                        _ => Some(Scope::Tenant),
                    }
                }
                Scope::Tenant => {
                    chain.push(Scope::Tenant);
                    None
                }
                _ => {
                    let p = s.parent();
                    chain.push(s);
                    p
                }
            };
            cur = next;
        }
        chain
    }

    /// Is `outer` at or above `inner` in the hierarchy (management groups included)?
    pub fn scope_contains(&self, outer: &Scope, inner: &Scope) -> bool {
        let k = outer.key();
        self.scope_chain(inner).iter().any(|s| s.key() == k)
    }

    /// Does the caller hold `action` (control-plane) at `target`? Roles of every
    /// assignment of the caller at or above the target are considered; within one
    /// role, `notActions` subtract from `actions`. ABAC conditions are not evaluated.
    pub fn is_authorized(&self, caller_oid: &str, action: &str, target: &Scope) -> bool {
        // Principal ids are stored in lower case.
        let caller_oid = caller_oid.to_ascii_lowercase();
        let chain: Vec<String> = self.scope_chain(target).iter().map(|s| s.key()).collect();
        self.state.role_assignments.iter().any(|ra| {
            if ra.principal_id != caller_oid {
                return false;
            }
            let Ok(scope) = Scope::parse(&ra.scope) else {
                return false;
            };
            if !chain.contains(&scope.key()) {
                return false;
            }
            self.role(&ra.role_definition_guid).is_some_and(|r| role_permits(r, action))
        })
    }

    /// The roles the caller holds at `target` or above (what the permissions API reports).
    pub fn roles_of_caller_at(&self, caller_oid: &str, target: &Scope) -> Vec<&RoleDefinition> {
        let caller_oid = caller_oid.to_ascii_lowercase();
        let chain: Vec<String> = self.scope_chain(target).iter().map(|s| s.key()).collect();
        self.state
            .role_assignments
            .iter()
            .filter(|ra| ra.principal_id == caller_oid)
            .filter(|ra| Scope::parse(&ra.scope).is_ok_and(|s| chain.contains(&s.key())))
            .filter_map(|ra| self.role(&ra.role_definition_guid))
            .collect()
    }

    /// `Err(403 AuthorizationFailed)` unless [`Store::is_authorized`].
    pub fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        target: &Scope,
        display_scope: &str,
    ) -> Result<(), ArmError> {
        if self.is_authorized(&caller.oid, action, target) {
            Ok(())
        } else {
            Err(authorization_failed(caller, action, display_scope))
        }
    }

    /// Built-in or custom role by GUID.
    pub fn role(&self, guid: &str) -> Option<&RoleDefinition> {
        builtin_roles().iter().chain(self.state.custom_roles.iter()).find(|r| r.id.eq_ignore_ascii_case(guid))
    }

    /// Custom or built-in role by name (case-insensitive; custom roles first).
    pub fn role_by_name(&self, name: &str) -> Option<&RoleDefinition> {
        self.state.custom_roles.iter().chain(builtin_roles().iter()).find(|r| r.role_name.eq_ignore_ascii_case(name))
    }

    /// Serialize the state for `--state`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.state).unwrap_or_default()
    }
}

/// 404 ResourceNotFound in ARM's wording.
pub fn resource_not_found(scope: &Scope) -> ArmError {
    let rg = scope.resource_group().unwrap_or_default();
    let path = scope.resource_path().unwrap_or_else(|| scope.display());
    ArmError::not_found(
        "ResourceNotFound",
        format!(
            "The Resource '{path}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

pub fn authorization_failed(caller: &Caller, action: &str, scope: &str) -> ArmError {
    ArmError::new(
        403,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.client_name(),
            caller.oid
        ),
    )
}

/// Azure action wildcard match: case-insensitive, `*` matches any run of characters.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let a: Vec<u8> = action.bytes().map(|b| b.to_ascii_lowercase()).collect();
    // Iterative glob with single-star backtracking.
    let (mut pi, mut ai) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ai < a.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if pi < p.len() && p[pi] == a[ai] {
            pi += 1;
            ai += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Does a role grant the control-plane action (actions minus notActions)?
pub fn role_permits(role: &RoleDefinition, action: &str) -> bool {
    role.actions.iter().any(|p| action_matches(p, action))
        && !role.not_actions.iter().any(|p| action_matches(p, action))
}

/// Write `bytes` to `path` atomically (temp file in the same directory + rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state.json".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Load a persisted state file, if it exists.
pub fn load_state(path: &Path) -> Result<Option<State>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("cannot parse state file {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read state file {}: {e}", path.display())),
    }
}

#[cfg(test)]
pub(crate) mod tests;
