//! The AKS identity role matrix: from what a cluster uses to the role
//! assignments its identities need.
//!
//! | input | identity | role | scope |
//! |---|---|---|---|
//! | `subnet_ids` | control plane | Network Contributor | each subnet |
//! | `route_table_ids` | control plane | Network Contributor | each route table (kubenet) |
//! | `private_dns_zone_ids` | control plane | Private DNS Zone Contributor | each zone |
//! | `kubelet_identity_id` | control plane | Managed Identity Operator | the BYO kubelet identity |
//! | `acr_ids` | kubelet | AcrPull | each registry (often in a hub subscription) |
//! | `dns_zone_ids` | kubelet | DNS Zone Contributor | each zone |
//! | `aad_pod_identity` | kubelet | Managed Identity Operator + Virtual Machine Contributor | node resource group |
//! | `aad_pod_identity.identity_resource_group_ids` | kubelet | Managed Identity Operator | each identity resource group |
//! | `extra_assignment` | as given | as given | as given |
//!
//! Sources: the AKS managed-identity documentation ("additional cluster
//! identity permissions"), `az aks --attach-acr`, and AAD Pod Identity's
//! role-assignment guide.
//!
//! Every id is parsed and type-checked; grants of the same role to the same
//! identity at the same scope (in any casing) fold into one; each grant gets
//! a stable key; [`super::policy`] then reviews the result.

use std::collections::HashMap;

use crate::domain::ids::{ResourceId, Scope, ScopeKind};
use crate::domain::roles;

use super::policy::{self, describe_type, Finding, ScopeFit, ScopeRequirement, Severity, RESOURCE_GROUP_TYPE};
use super::{is_guid, DesiredAssignment, IdentityKind, Known, RoleRef, SourcePath};

const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
const PRIVATE_DNS_ZONE_CONTRIBUTOR: &str = "b12aa53e-6015-4669-85d0-8515ebb3ae7f";
pub(super) const MANAGED_IDENTITY_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const DNS_ZONE_CONTRIBUTOR: &str = "befefa01-2a29-4197-83a8-272ff33ce314";
const VIRTUAL_MACHINE_CONTRIBUTOR: &str = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c";

const SUBNET: ScopeRequirement =
    ScopeRequirement { resource_type: "Microsoft.Network/virtualNetworks/subnets", noun: "subnet" };
const ROUTE_TABLE: ScopeRequirement =
    ScopeRequirement { resource_type: "Microsoft.Network/routeTables", noun: "route table" };
const PRIVATE_DNS_ZONE: ScopeRequirement =
    ScopeRequirement { resource_type: "Microsoft.Network/privateDnsZones", noun: "private DNS zone" };
const DNS_ZONE: ScopeRequirement = ScopeRequirement { resource_type: "Microsoft.Network/dnsZones", noun: "DNS zone" };
const REGISTRY: ScopeRequirement =
    ScopeRequirement { resource_type: "Microsoft.ContainerRegistry/registries", noun: "container registry" };
pub(super) const USER_ASSIGNED_IDENTITY: ScopeRequirement = ScopeRequirement {
    resource_type: "Microsoft.ManagedIdentity/userAssignedIdentities",
    noun: "user-assigned identity",
};
const RESOURCE_GROUP: ScopeRequirement =
    ScopeRequirement { resource_type: RESOURCE_GROUP_TYPE, noun: "resource group" };

const SUBNET_REASON: &str = "AKS requires the control-plane identity to read and join a bring-your-own subnet \
                             (Network Contributor on the subnet, per the AKS managed-identity documentation).";
const ROUTE_TABLE_REASON: &str = "With kubenet and a bring-your-own route table, AKS requires the control-plane \
                                  identity to read and write its routes (Network Contributor on the route table).";
const PRIVATE_DNS_ZONE_REASON: &str = "A private cluster with a bring-your-own private DNS zone requires the \
                                       control-plane identity to hold Private DNS Zone Contributor on the zone.";
const KUBELET_IDENTITY_REASON: &str = "With a user-assigned kubelet identity, AKS requires the control-plane identity \
                                       to hold Managed Identity Operator on it so that it can assign it to the nodes.";
const ACR_REASON: &str = "Nodes pull images with the kubelet identity, which AKS requires to hold AcrPull on the \
                          registry (what az aks --attach-acr grants).";
const DNS_ZONE_REASON: &str = "Managing records in the DNS zone with the kubelet identity (external-dns, \
                               cert-manager) requires DNS Zone Contributor on the zone.";
const POD_IDENTITY_MIO_REASON: &str = "AAD Pod Identity's MIC requires the kubelet identity to hold Managed Identity \
                                       Operator on the node resource group to assign pod identities to the nodes.";
const POD_IDENTITY_VMC_REASON: &str = "AAD Pod Identity's MIC requires the kubelet identity to hold Virtual Machine \
                                       Contributor on the node resource group to attach identities to the VMs and \
                                       scale sets.";
const POD_IDENTITY_RG_REASON: &str = "AAD Pod Identity requires the kubelet identity to hold Managed Identity \
                                      Operator on each resource group holding pod identities outside the node \
                                      resource group.";

/// AAD Pod Identity (the deprecated OSS project, standard mode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodIdentityIntent {
    pub enabled: bool,
    /// Resource groups holding the pod identities, outside the node resource group.
    pub identity_resource_group_ids: Vec<String>,
}

/// A role assignment beyond the matrix, still reviewed by the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraAssignment {
    pub identity: IdentityKind,
    /// A built-in role name (any case), a role definition GUID, or a role
    /// definition id in tenant or subscription form.
    pub role: String,
    pub scope: String,
    pub description: Option<String>,
}

/// What a cluster uses, as configured (ids as the user wrote them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIntent {
    pub control_plane_principal_id: Known<String>,
    pub kubelet_principal_id: Known<String>,
    /// Needed only with AAD Pod Identity; an empty string counts as absent.
    pub node_resource_group_id: Known<String>,
    pub subnet_ids: Vec<String>,
    pub route_table_ids: Vec<String>,
    pub private_dns_zone_ids: Vec<String>,
    /// A bring-your-own kubelet identity.
    pub kubelet_identity_id: Option<String>,
    pub acr_ids: Vec<String>,
    pub dns_zone_ids: Vec<String>,
    pub aad_pod_identity: Option<PodIdentityIntent>,
    pub extra: Vec<ExtraAssignment>,
    /// The justification that turns policy errors into warnings.
    pub allow_broad_scope: Option<String>,
}

impl Default for ClusterIntent {
    /// No inputs; principals and node resource group unknown.
    fn default() -> Self {
        ClusterIntent {
            control_plane_principal_id: Known::Unknown,
            kubelet_principal_id: Known::Unknown,
            node_resource_group_id: Known::Unknown,
            subnet_ids: Vec::new(),
            route_table_ids: Vec::new(),
            private_dns_zone_ids: Vec::new(),
            kubelet_identity_id: None,
            acr_ids: Vec::new(),
            dns_zone_ids: Vec::new(),
            aad_pod_identity: None,
            extra: Vec::new(),
            allow_broad_scope: None,
        }
    }
}

/// A grant the matrix needs whose scope is not known yet (the node resource
/// group of a cluster that does not exist yet). The set of assignments is
/// then incomplete at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAssignment {
    pub identity: IdentityKind,
    pub role: RoleRef,
    pub reason: String,
    pub source: SourcePath,
}

/// The desired assignments, sorted by key, with the policy's warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub assignments: Vec<DesiredAssignment>,
    pub warnings: Vec<Finding>,
    /// Grants whose scope is unknown at plan time; empty once everything is known.
    pub pending: Vec<PendingAssignment>,
}

/// One list input of the matrix: attribute, ids, identity, role GUID, required type, reason.
type MatrixList<'a> = (&'static str, &'a [String], IdentityKind, &'static str, ScopeRequirement, &'static str);

/// One grant before folding and keying.
struct Grant {
    assignment: DesiredAssignment,
    scope: ResourceId,
    requirement: Option<ScopeRequirement>,
}

/// Collects grants and findings; shared by the cluster matrix and the application expansion
/// ([`super::app`]).
pub(super) struct Builder {
    /// The principal of each identity kind that can get grants.
    principals: Vec<(IdentityKind, Known<String>)>,
    allow_broad_scope: Option<String>,
    grants: Vec<Grant>,
    findings: Vec<Finding>,
    pending: Vec<PendingAssignment>,
}

/// Expands `intent` into the role assignments it needs. Fails with every
/// error found (plus any warnings); succeeds with the assignments sorted by
/// key and the policy's warnings.
pub fn expand(intent: &ClusterIntent) -> Result<Expansion, Vec<Finding>> {
    use IdentityKind::{ControlPlane, Kubelet};
    let mut b = Builder::new(
        vec![(ControlPlane, intent.control_plane_principal_id.clone()), (Kubelet, intent.kubelet_principal_id.clone())],
        intent.allow_broad_scope.clone(),
    );

    let lists: [MatrixList; 5] = [
        ("subnet_ids", &intent.subnet_ids, ControlPlane, NETWORK_CONTRIBUTOR, SUBNET, SUBNET_REASON),
        (
            "route_table_ids",
            &intent.route_table_ids,
            ControlPlane,
            NETWORK_CONTRIBUTOR,
            ROUTE_TABLE,
            ROUTE_TABLE_REASON,
        ),
        (
            "private_dns_zone_ids",
            &intent.private_dns_zone_ids,
            ControlPlane,
            PRIVATE_DNS_ZONE_CONTRIBUTOR,
            PRIVATE_DNS_ZONE,
            PRIVATE_DNS_ZONE_REASON,
        ),
        ("acr_ids", &intent.acr_ids, Kubelet, ACR_PULL, REGISTRY, ACR_REASON),
        ("dns_zone_ids", &intent.dns_zone_ids, Kubelet, DNS_ZONE_CONTRIBUTOR, DNS_ZONE, DNS_ZONE_REASON),
    ];
    for (attribute, ids, identity, role, requirement, reason) in lists {
        for (i, raw) in ids.iter().enumerate() {
            b.matrix(raw, SourcePath::element(attribute, i), identity, &[role], requirement, reason);
        }
    }
    if let Some(raw) = &intent.kubelet_identity_id {
        let source = SourcePath::attribute("kubelet_identity_id");
        b.matrix(
            raw,
            source,
            ControlPlane,
            &[MANAGED_IDENTITY_OPERATOR],
            USER_ASSIGNED_IDENTITY,
            KUBELET_IDENTITY_REASON,
        );
    }
    b.node_resource_group(intent);
    if let Some(pod) = intent.aad_pod_identity.as_ref().filter(|p| p.enabled) {
        let base = SourcePath::attribute("aad_pod_identity").child("identity_resource_group_ids");
        for (i, raw) in pod.identity_resource_group_ids.iter().enumerate() {
            let source = base.nested_element(i);
            b.matrix(raw, source, Kubelet, &[MANAGED_IDENTITY_OPERATOR], RESOURCE_GROUP, POD_IDENTITY_RG_REASON);
        }
    }
    for (i, extra) in intent.extra.iter().enumerate() {
        let reason = format!(
            "Requested in extra_assignment[{i}] for the {}; not part of the AKS identity role matrix.",
            extra.identity.describe()
        );
        b.extra(SourcePath::element("extra_assignment", i), extra, reason);
    }
    b.check_principals();
    b.finish()
}

impl Builder {
    pub(super) fn new(principals: Vec<(IdentityKind, Known<String>)>, allow_broad_scope: Option<String>) -> Builder {
        Builder { principals, allow_broad_scope, grants: Vec::new(), findings: Vec::new(), pending: Vec::new() }
    }

    fn principal(&self, identity: IdentityKind) -> Known<String> {
        self.principals.iter().find(|(k, _)| *k == identity).map_or(Known::Unknown, |(_, p)| p.clone())
    }

    /// A grant whose scope is not known yet.
    pub(super) fn pending(&mut self, pending: PendingAssignment) {
        self.pending.push(pending);
    }

    fn parse(&mut self, raw: &str, source: &SourcePath) -> Option<ResourceId> {
        match ResourceId::parse(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                self.findings.push(Finding::error(
                    source.clone(),
                    format!("Invalid resource id in {source}"),
                    e.to_string(),
                ));
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        identity: IdentityKind,
        role: RoleRef,
        scope: ResourceId,
        source: SourcePath,
        reason: String,
        description: Option<String>,
        requirement: Option<ScopeRequirement>,
    ) {
        let raw = scope.as_str();
        let written = if raw.len() > 1 { raw.strip_suffix('/').unwrap_or(raw) } else { raw };
        let assignment = DesiredAssignment {
            key: String::new(),
            identity,
            role,
            scope: written.to_string(),
            principal_id: self.principal(identity),
            reason,
            description,
            source,
        };
        self.grants.push(Grant { assignment, scope, requirement });
    }

    /// One matrix input: parse, type-check, then grant each role.
    pub(super) fn matrix(
        &mut self,
        raw: &str,
        source: SourcePath,
        identity: IdentityKind,
        role_guids: &[&str],
        requirement: ScopeRequirement,
        reason: &str,
    ) {
        let Some(scope) = self.parse(raw, &source) else { return };
        let fit = policy::fit(&scope, requirement.resource_type);
        if matches!(fit, ScopeFit::Narrower | ScopeFit::Unrelated) {
            self.findings.push(type_mismatch(&source, &scope, requirement));
            return;
        }
        for guid in role_guids {
            let role = builtin(guid);
            self.push(identity, role, scope.clone(), source.clone(), reason.to_string(), None, Some(requirement));
        }
    }

    /// The node resource group: type-checked whenever known, granted on
    /// only with AAD Pod Identity.
    fn node_resource_group(&mut self, intent: &ClusterIntent) {
        let pod_identity = intent.aad_pod_identity.as_ref().is_some_and(|p| p.enabled);
        let source = SourcePath::attribute("node_resource_group_id");
        let roles = [
            (MANAGED_IDENTITY_OPERATOR, POD_IDENTITY_MIO_REASON),
            (VIRTUAL_MACHINE_CONTRIBUTOR, POD_IDENTITY_VMC_REASON),
        ];
        match intent.node_resource_group_id.known().map(|s| s.trim()) {
            None if pod_identity => {
                for (guid, reason) in roles {
                    self.pending.push(PendingAssignment {
                        identity: IdentityKind::Kubelet,
                        role: builtin(guid),
                        reason: reason.to_string(),
                        source: source.clone(),
                    });
                }
            }
            Some("") if pod_identity => self.findings.push(Finding::error(
                source,
                "AAD Pod Identity needs the node resource group",
                "Set node_resource_group_id to the cluster's node resource group \
                 (/subscriptions/<id>/resourceGroups/MC_<rg>_<cluster>_<region>): the kubelet identity needs Managed \
                 Identity Operator and Virtual Machine Contributor on it.",
            )),
            Some(raw) if !raw.is_empty() => {
                let Some(scope) = self.parse(raw, &source) else { return };
                if matches!(policy::fit(&scope, RESOURCE_GROUP_TYPE), ScopeFit::Narrower | ScopeFit::Unrelated) {
                    self.findings.push(type_mismatch(&source, &scope, RESOURCE_GROUP));
                    return;
                }
                if pod_identity {
                    for (guid, reason) in roles {
                        let role = builtin(guid);
                        let (id, src) = (scope.clone(), source.clone());
                        self.push(IdentityKind::Kubelet, role, id, src, reason.to_string(), None, Some(RESOURCE_GROUP));
                    }
                }
            }
            _ => {}
        }
    }

    /// A grant given by role and scope (an `extra_assignment` or an application's `role`
    /// block at `base`), judged by its role's natural scope.
    pub(super) fn extra(&mut self, base: SourcePath, extra: &ExtraAssignment, reason: String) {
        let role = match resolve_role(&extra.role) {
            Ok(role) => Some(role),
            Err((summary, detail)) => {
                self.findings.push(Finding::error(base.child("role"), summary, detail));
                None
            }
        };
        let source = base.child("scope");
        let scope = self.parse(&extra.scope, &source);
        let (Some(role), Some(scope)) = (role, scope) else { return };
        let description = extra.description.clone().filter(|d| !d.trim().is_empty());
        self.push(extra.identity, role, scope, source, reason, description, None);
    }

    /// A known principal id must be a GUID (checked only for identities that get assignments).
    pub(super) fn check_principals(&mut self) {
        for (identity, attribute) in [
            (IdentityKind::ControlPlane, "control_plane_principal_id"),
            (IdentityKind::Kubelet, "kubelet_principal_id"),
        ] {
            let used = self.grants.iter().any(|g| g.assignment.identity == identity);
            if let (true, Known::Known(p)) = (used, self.principal(identity)) {
                if !is_guid(p.trim()) {
                    self.findings.push(Finding::error(
                        SourcePath::attribute(attribute),
                        format!("Invalid principal id for the {}", identity.describe()),
                        format!(
                            "{p:?} is not a principal (object) id; expected a GUID such as \
                             00000000-0000-0000-0000-000000000000."
                        ),
                    ));
                }
            }
        }
    }

    pub(super) fn finish(mut self) -> Result<Expansion, Vec<Finding>> {
        let grants = fold(std::mem::take(&mut self.grants));
        let keys = keys(&grants);
        let (mut assignments, requirements): (Vec<DesiredAssignment>, Vec<Option<ScopeRequirement>>) = grants
            .into_iter()
            .zip(keys)
            .map(|(mut g, key)| {
                g.assignment.key = key;
                (g.assignment, g.requirement)
            })
            .unzip();

        self.findings.extend(policy::review(&mut assignments, &requirements, self.allow_broad_scope.as_deref()));

        if self.findings.iter().any(Finding::is_error) {
            return Err(self.findings);
        }
        assignments.sort_by(|a, b| a.key.cmp(&b.key));
        debug_assert!(self.findings.iter().all(|f| f.severity == Severity::Warning));
        Ok(Expansion { assignments, warnings: self.findings, pending: self.pending })
    }
}

fn builtin(guid: &str) -> RoleRef {
    RoleRef::builtin(roles::by_guid(guid).unwrap_or_else(|| panic!("built-in role {guid} missing from the catalog")))
}

fn type_mismatch(source: &SourcePath, scope: &ResourceId, requirement: ScopeRequirement) -> Finding {
    let given = match scope.scope_kind() {
        ScopeKind::Tenant => "the tenant root".to_string(),
        _ => {
            let t = scope.resource_type().unwrap_or_default();
            format!("a {} id ({t})", describe_type(&t))
        }
    };
    let example =
        policy::narrow_example(&ResourceId::parse("/").expect("tenant root parses"), requirement.resource_type);
    let noun = requirement.noun;
    Finding::error(
        source.clone(),
        format!("Wrong resource type in {source}"),
        format!("Expected a {noun} id like {example}; got {given}: {}", scope.as_str()),
    )
}

/// Resolves an extra assignment's role: a built-in name (any case), a GUID
/// or a role definition id. Unknown GUIDs are custom roles.
fn resolve_role(raw: &str) -> Result<RoleRef, (String, String)> {
    let s = raw.trim();
    if s.is_empty() {
        return Err((
            "Missing role".to_string(),
            "Set role to a built-in role name such as AcrPull, a role definition GUID, or an id like \
             /providers/Microsoft.Authorization/roleDefinitions/<GUID>."
                .to_string(),
        ));
    }
    match roles::parse_role_definition_id(s) {
        Ok(r) => return Ok(RoleRef::from_guid(&r.guid)),
        Err(e) if s.contains('/') => return Err((format!("Invalid role definition id {s:?}"), e.to_string())),
        Err(_) => {}
    }
    if let Some(role) = roles::by_name(s) {
        return Ok(RoleRef::builtin(role));
    }
    let suggestions = roles::suggest(s, 3);
    let hint = match suggestions.as_slice() {
        [] => String::new(),
        [one] => format!("Did you mean {one:?}? "),
        many => {
            format!("Did you mean one of {}? ", many.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "))
        }
    };
    Err((
        format!("Unknown role {s:?}"),
        format!(
            "{hint}Use a built-in role name, a role definition GUID, or a role definition id \
             (/providers/Microsoft.Authorization/roleDefinitions/<GUID>); custom roles are given by GUID or id."
        ),
    ))
}

/// Drops grants that repeat an earlier one: same role at the same scope
/// (case-insensitively) for the same identity, or for the same known
/// principal (then it is literally the same assignment). First wins.
fn fold(grants: Vec<Grant>) -> Vec<Grant> {
    let mut out: Vec<Grant> = Vec::with_capacity(grants.len());
    // Earlier grants by (role, scope key): only those can be repeated, so folding stays linear
    // at thousands of grants.
    let mut by_role_and_scope: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for g in grants {
        let a = &g.assignment;
        let earlier = by_role_and_scope.entry((a.role.guid.clone(), g.scope.key().to_string())).or_default();
        let duplicate = earlier.iter().any(|&i| {
            let b = &out[i].assignment;
            b.identity == a.identity
                || matches!((&a.principal_id, &b.principal_id),
                    (Known::Known(x), Known::Known(y)) if x.trim().eq_ignore_ascii_case(y.trim()))
        });
        if !duplicate {
            earlier.push(out.len());
            out.push(g);
        }
    }
    out
}

/// The short name of a scope: resource names from the resource group down
/// (`vnet-spoke/snet-nodes`, `acrhubshared`), the resource group's name, the
/// subscription id, the management group's name, or `tenant`.
fn short_scope(id: &ResourceId) -> String {
    match id.scope() {
        Scope::Tenant => "tenant".to_string(),
        Scope::ManagementGroup { name } => name.clone(),
        Scope::Subscription { .. } => id.subscription_id().unwrap_or_default().to_ascii_lowercase(),
        Scope::ResourceGroup { resource_group, .. } => resource_group.clone(),
        Scope::Resource { types, .. } => types.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("/"),
        Scope::Extension { parent, types, .. } => {
            let mut parts = vec![short_scope(parent)];
            parts.extend(types.iter().map(|(_, n)| n.clone()));
            parts.join("/")
        }
    }
}

/// `<identity>/<role name>/<short scope>`; colliding keys (case-insensitively)
/// get `@<subscription id>`, and if that is not enough, the short scope is
/// replaced by the canonical id.
fn keys(grants: &[Grant]) -> Vec<String> {
    let prefix = |g: &Grant| format!("{}/{}/", g.assignment.identity.as_str(), g.assignment.role.name);
    let mut keys: Vec<String> = grants.iter().map(|g| format!("{}{}", prefix(g), short_scope(&g.scope))).collect();
    let subscription = |g: &Grant| match g.scope.subscription_id() {
        Some(s) => s.to_ascii_lowercase(),
        None => g.scope.canonical(),
    };
    for step in 0..2 {
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            seen.entry(k.to_lowercase()).or_default().push(i);
        }
        let mut changed = false;
        for group in seen.values().filter(|v| v.len() > 1) {
            for &i in group {
                let g = &grants[i];
                keys[i] = if step == 0 {
                    format!("{}{}@{}", prefix(g), short_scope(&g.scope), subscription(g))
                } else {
                    format!("{}{}", prefix(g), g.scope.canonical())
                };
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPOKE: &str = "00000000-0000-0000-0000-0000000000a1";
    const HUB: &str = "00000000-0000-0000-0000-0000000000b2";
    const CP: &str = "11111111-1111-1111-1111-111111111111";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const SNET_NODES: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
    const SNET_PODS: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods";
    const VNET: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke";
    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
    const DNS: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-dns/providers/Microsoft.Network/dnszones/example.com";
    const PDNS: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io";
    const NODE_RG: &str =
        "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/MC_rg-spoke_aks_westeurope";
    const IDENTITY_RG: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-identities";
    const KUBELET_UAI: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-kubelet";
    const STORAGE: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata";

    fn create_scenario() -> ClusterIntent {
        ClusterIntent {
            control_plane_principal_id: Known::Known(CP.into()),
            kubelet_principal_id: Known::Known(KUBELET.into()),
            node_resource_group_id: Known::Known(NODE_RG.into()),
            subnet_ids: vec![SNET_NODES.into(), SNET_PODS.into()],
            acr_ids: vec![ACR.into()],
            dns_zone_ids: vec![DNS.into()],
            private_dns_zone_ids: vec![PDNS.into()],
            aad_pod_identity: Some(PodIdentityIntent {
                enabled: true,
                identity_resource_group_ids: vec![IDENTITY_RG.into()],
            }),
            ..ClusterIntent::default()
        }
    }

    fn expand_ok(intent: &ClusterIntent) -> Expansion {
        expand(intent).unwrap_or_else(|f| panic!("{}", f.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")))
    }

    fn expand_err(intent: &ClusterIntent) -> Vec<Finding> {
        match expand(intent) {
            Ok(e) => panic!("expected errors, got {:#?}", e.assignments),
            Err(f) => f,
        }
    }

    fn by_key<'a>(e: &'a Expansion, key: &str) -> &'a DesiredAssignment {
        e.assignments
            .iter()
            .find(|a| a.key == key)
            .unwrap_or_else(|| panic!("no {key}; have {:?}", e.assignments.iter().map(|a| &a.key).collect::<Vec<_>>()))
    }

    #[test]
    fn create_scenario_expands_to_exactly_the_matrix() {
        let e = expand_ok(&create_scenario());
        let got: Vec<(&str, IdentityKind, &str, &str, &str)> = e
            .assignments
            .iter()
            .map(|a| (a.key.as_str(), a.identity, a.role.guid.as_str(), a.role.name.as_str(), a.scope.as_str()))
            .collect();
        use IdentityKind::{ControlPlane, Kubelet};
        let want = vec![
            (
                "control_plane/Network Contributor/vnet-spoke/snet-nodes",
                ControlPlane,
                NETWORK_CONTRIBUTOR,
                "Network Contributor",
                SNET_NODES,
            ),
            (
                "control_plane/Network Contributor/vnet-spoke/snet-pods",
                ControlPlane,
                NETWORK_CONTRIBUTOR,
                "Network Contributor",
                SNET_PODS,
            ),
            (
                "control_plane/Private DNS Zone Contributor/privatelink.westeurope.azmk8s.io",
                ControlPlane,
                PRIVATE_DNS_ZONE_CONTRIBUTOR,
                "Private DNS Zone Contributor",
                PDNS,
            ),
            ("kubelet/AcrPull/acrhubshared", Kubelet, ACR_PULL, "AcrPull", ACR),
            ("kubelet/DNS Zone Contributor/example.com", Kubelet, DNS_ZONE_CONTRIBUTOR, "DNS Zone Contributor", DNS),
            (
                "kubelet/Managed Identity Operator/MC_rg-spoke_aks_westeurope",
                Kubelet,
                MANAGED_IDENTITY_OPERATOR,
                "Managed Identity Operator",
                NODE_RG,
            ),
            (
                "kubelet/Managed Identity Operator/rg-identities",
                Kubelet,
                MANAGED_IDENTITY_OPERATOR,
                "Managed Identity Operator",
                IDENTITY_RG,
            ),
            (
                "kubelet/Virtual Machine Contributor/MC_rg-spoke_aks_westeurope",
                Kubelet,
                VIRTUAL_MACHINE_CONTRIBUTOR,
                "Virtual Machine Contributor",
                NODE_RG,
            ),
        ];
        assert_eq!(got, want);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert!(e.pending.is_empty());
        for a in &e.assignments {
            let principal = if a.identity == ControlPlane { CP } else { KUBELET };
            assert_eq!(a.principal_id, Known::Known(principal.to_string()), "{}", a.key);
            assert!(!a.role.custom);
            assert_eq!(a.description, None);
            assert!(a.reason.ends_with('.') && !a.reason.is_empty());
            let name = a.name().into_option().unwrap();
            assert_eq!(name, crate::domain::names::role_assignment_name(&a.scope, principal, &a.role.guid));
            assert_eq!(
                a.id(),
                Known::Known(format!("{}/providers/Microsoft.Authorization/roleAssignments/{name}", a.scope))
            );
            assert_eq!(
                a.role_definition_id(),
                format!("/providers/Microsoft.Authorization/roleDefinitions/{}", a.role.guid)
            );
        }
        // The hub registry keeps its own subscription.
        assert!(by_key(&e, "kubelet/AcrPull/acrhubshared").scope.contains(HUB));
        assert!(by_key(&e, "kubelet/Managed Identity Operator/rg-identities").scope.contains(SPOKE));
        // Sources point at the inputs.
        assert_eq!(
            by_key(&e, "control_plane/Network Contributor/vnet-spoke/snet-pods").source.to_string(),
            "subnet_ids[1]"
        );
        assert_eq!(by_key(&e, "kubelet/AcrPull/acrhubshared").source.to_string(), "acr_ids[0]");
        assert_eq!(
            by_key(&e, "kubelet/Managed Identity Operator/rg-identities").source.to_string(),
            "aad_pod_identity.identity_resource_group_ids[0]"
        );
        assert_eq!(
            by_key(&e, "kubelet/Virtual Machine Contributor/MC_rg-spoke_aks_westeurope").source.to_string(),
            "node_resource_group_id"
        );
        // Reasons cite the requirement.
        assert!(by_key(&e, "kubelet/AcrPull/acrhubshared").reason.contains("attach-acr"));
        assert!(by_key(&e, "kubelet/Virtual Machine Contributor/MC_rg-spoke_aks_westeurope")
            .reason
            .contains("Pod Identity"));
    }

    #[test]
    fn route_tables_and_byo_kubelet_identity_go_to_the_control_plane() {
        let rt = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/routeTables/rt-aks";
        let intent = ClusterIntent {
            route_table_ids: vec![rt.into()],
            kubelet_identity_id: Some(KUBELET_UAI.into()),
            ..ClusterIntent::default()
        };
        let e = expand_ok(&intent);
        let keys: Vec<&str> = e.assignments.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            ["control_plane/Managed Identity Operator/id-kubelet", "control_plane/Network Contributor/rt-aks"]
        );
        assert!(e.assignments.iter().all(|a| a.identity == IdentityKind::ControlPlane));
        assert_eq!(e.assignments[0].source.to_string(), "kubelet_identity_id");
    }

    #[test]
    fn nothing_in_nothing_out() {
        let e = expand_ok(&ClusterIntent::default());
        assert!(e.assignments.is_empty() && e.warnings.is_empty() && e.pending.is_empty());
        // Pod identity disabled: the node resource group grants nothing.
        let intent = ClusterIntent {
            node_resource_group_id: Known::Known(NODE_RG.into()),
            aad_pod_identity: Some(PodIdentityIntent {
                enabled: false,
                identity_resource_group_ids: vec![IDENTITY_RG.into()],
            }),
            ..ClusterIntent::default()
        };
        assert!(expand_ok(&intent).assignments.is_empty());
    }

    #[test]
    fn unknown_principals_leave_names_unknown_but_keys_known() {
        let intent = ClusterIntent {
            control_plane_principal_id: Known::Unknown,
            kubelet_principal_id: Known::Unknown,
            ..create_scenario()
        };
        let e = expand_ok(&intent);
        let known = expand_ok(&create_scenario());
        assert_eq!(
            e.assignments.iter().map(|a| &a.key).collect::<Vec<_>>(),
            known.assignments.iter().map(|a| &a.key).collect::<Vec<_>>()
        );
        for a in &e.assignments {
            assert_eq!(a.principal_id, Known::Unknown);
            assert_eq!(a.name(), Known::Unknown);
            assert_eq!(a.id(), Known::Unknown);
            assert!(a.role_definition_id().ends_with(&a.role.guid));
        }
    }

    #[test]
    fn unknown_node_resource_group_leaves_pod_identity_grants_pending() {
        let intent = ClusterIntent { node_resource_group_id: Known::Unknown, ..create_scenario() };
        let e = expand_ok(&intent);
        assert_eq!(e.assignments.len(), 6);
        let pending: Vec<&str> = e.pending.iter().map(|p| p.role.name.as_str()).collect();
        assert_eq!(pending, ["Managed Identity Operator", "Virtual Machine Contributor"]);
        assert!(e.pending.iter().all(|p| p.identity == IdentityKind::Kubelet));
        assert_eq!(e.pending[0].source.to_string(), "node_resource_group_id");

        let intent = ClusterIntent { node_resource_group_id: Known::Known(" ".into()), ..create_scenario() };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].summary, "AAD Pod Identity needs the node resource group");
    }

    #[test]
    fn casing_variants_give_the_same_names_and_fold() {
        let lower_rg = ACR.replace("resourceGroups", "resourcegroups");
        let lower_ns = ACR
            .replace("Microsoft.ContainerRegistry", "microsoft.containerregistry")
            .replace("registries", "Registries");
        let intent = ClusterIntent {
            kubelet_principal_id: Known::Known(KUBELET.into()),
            acr_ids: vec![lower_rg.clone(), ACR.into(), lower_ns.clone(), format!("{ACR}/"), ACR.to_uppercase()],
            ..ClusterIntent::default()
        };
        let e = expand_ok(&intent);
        assert_eq!(e.assignments.len(), 1, "{:#?}", e.assignments);
        let a = &e.assignments[0];
        assert_eq!(a.scope, lower_rg, "first occurrence wins, as written");
        assert_eq!(a.source.to_string(), "acr_ids[0]");
        assert_eq!(a.key, "kubelet/AcrPull/acrhubshared");

        // Each casing alone gives the same deterministic name and key.
        let names: Vec<_> = [lower_rg.as_str(), ACR, lower_ns.as_str()]
            .iter()
            .map(|s| {
                let e = expand_ok(&ClusterIntent { acr_ids: vec![s.to_string()], ..intent.clone() });
                (e.assignments[0].name(), e.assignments[0].key.clone())
            })
            .collect();
        assert!(names.windows(2).all(|w| w[0] == w[1]), "{names:?}");
        // Principal casing does not change the name either.
        let upper = expand_ok(&ClusterIntent {
            kubelet_principal_id: Known::Known(KUBELET.to_uppercase()),
            acr_ids: vec![ACR.into()],
            ..ClusterIntent::default()
        });
        assert_eq!(upper.assignments[0].name(), names[0].0);
    }

    #[test]
    fn trailing_slash_is_dropped_from_the_scope() {
        let intent = ClusterIntent { acr_ids: vec![format!("{ACR}/")], ..ClusterIntent::default() };
        assert_eq!(expand_ok(&intent).assignments[0].scope, ACR);
    }

    #[test]
    fn extra_duplicating_the_matrix_folds_into_the_matrix_grant() {
        let intent = ClusterIntent {
            acr_ids: vec![ACR.into()],
            extra: vec![ExtraAssignment {
                identity: IdentityKind::Kubelet,
                role: "acrpull".into(),
                scope: ACR.to_lowercase(),
                description: Some("dup".into()),
            }],
            ..ClusterIntent::default()
        };
        let e = expand_ok(&intent);
        assert_eq!(e.assignments.len(), 1);
        assert_eq!(e.assignments[0].source.to_string(), "acr_ids[0]");
        assert_eq!(e.assignments[0].description, None);
    }

    #[test]
    fn same_principal_for_both_identities_folds() {
        let intent = ClusterIntent {
            control_plane_principal_id: Known::Known(CP.into()),
            kubelet_principal_id: Known::Known(CP.to_uppercase()),
            kubelet_identity_id: Some(KUBELET_UAI.into()),
            extra: vec![ExtraAssignment {
                identity: IdentityKind::Kubelet,
                role: "Managed Identity Operator".into(),
                scope: KUBELET_UAI.into(),
                description: None,
            }],
            ..ClusterIntent::default()
        };
        assert_eq!(expand_ok(&intent).assignments.len(), 1);
        // With unknown principals they stay apart (different identities).
        let unknown = ClusterIntent {
            control_plane_principal_id: Known::Unknown,
            kubelet_principal_id: Known::Unknown,
            ..intent
        };
        assert_eq!(expand_ok(&unknown).assignments.len(), 2);
    }

    #[test]
    fn colliding_keys_get_the_subscription_then_the_full_id() {
        let other_sub = ACR.replace(HUB, SPOKE);
        let other_rg = ACR.replace("rg-hub", "rg-hub-2");
        let intent = ClusterIntent { acr_ids: vec![ACR.into(), other_sub.clone()], ..ClusterIntent::default() };
        let keys: Vec<String> = expand_ok(&intent).assignments.into_iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            [format!("kubelet/AcrPull/acrhubshared@{SPOKE}"), format!("kubelet/AcrPull/acrhubshared@{HUB}")]
        );

        let intent = ClusterIntent { acr_ids: vec![ACR.into(), other_rg.clone()], ..ClusterIntent::default() };
        let keys: Vec<String> = expand_ok(&intent).assignments.into_iter().map(|a| a.key).collect();
        // Sorted by key: "rg-hub-2" sorts before "rg-hub/".
        assert_eq!(keys, [format!("kubelet/AcrPull/{other_rg}"), format!("kubelet/AcrPull/{ACR}")]);

        // A different casing of the name in another subscription still collides (keys compare case-insensitively).
        let shouty = other_sub.replace("acrhubshared", "ACRHUBSHARED");
        let intent = ClusterIntent { acr_ids: vec![ACR.into(), shouty], ..ClusterIntent::default() };
        let keys: Vec<String> = expand_ok(&intent).assignments.into_iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            [format!("kubelet/AcrPull/ACRHUBSHARED@{SPOKE}"), format!("kubelet/AcrPull/acrhubshared@{HUB}")]
        );

        // Different roles or identities never collide.
        let intent = ClusterIntent {
            subnet_ids: vec![SNET_NODES.into()],
            extra: vec![ExtraAssignment {
                identity: IdentityKind::Kubelet,
                role: "Network Contributor".into(),
                scope: SNET_NODES.into(),
                description: None,
            }],
            ..ClusterIntent::default()
        };
        let keys: Vec<String> = expand_ok(&intent).assignments.into_iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            [
                "control_plane/Network Contributor/vnet-spoke/snet-nodes",
                "kubelet/Network Contributor/vnet-spoke/snet-nodes"
            ]
        );
    }

    #[test]
    fn short_scope_names() {
        let id = |s: &str| ResourceId::parse(s).unwrap();
        assert_eq!(short_scope(&id(SNET_NODES)), "vnet-spoke/snet-nodes");
        assert_eq!(short_scope(&id(ACR)), "acrhubshared");
        assert_eq!(short_scope(&id(NODE_RG)), "MC_rg-spoke_aks_westeurope");
        assert_eq!(short_scope(&id(&format!("/subscriptions/{}", SPOKE.to_uppercase()))), SPOKE);
        assert_eq!(short_scope(&id("/providers/Microsoft.Management/managementGroups/corp")), "corp");
        assert_eq!(short_scope(&id("/")), "tenant");
    }

    #[test]
    fn unparsable_ids_point_at_their_input() {
        let intent = ClusterIntent {
            subnet_ids: vec![SNET_NODES.into(), "snet-nodes".into()],
            acr_ids: vec!["".into()],
            aad_pod_identity: Some(PodIdentityIntent {
                enabled: true,
                identity_resource_group_ids: vec!["/subscriptions//x".into()],
            }),
            node_resource_group_id: Known::Known(NODE_RG.into()),
            extra: vec![ExtraAssignment {
                identity: IdentityKind::Kubelet,
                role: "AcrPull".into(),
                scope: "https://management.azure.com/subscriptions/x?api-version=1".into(),
                description: None,
            }],
            ..ClusterIntent::default()
        };
        let errors = expand_err(&intent);
        let at: Vec<String> = errors.iter().map(|f| f.source.to_string()).collect();
        assert_eq!(
            at,
            [
                "subnet_ids[1]",
                "acr_ids[0]",
                "aad_pod_identity.identity_resource_group_ids[0]",
                "extra_assignment[0].scope"
            ]
        );
        assert!(errors.iter().all(|f| f.is_error() && f.summary.starts_with("Invalid resource id in ")));
        assert!(errors[0].detail.contains("must start with"), "{}", errors[0]);
        assert!(errors[1].detail.contains("empty"), "{}", errors[1]);
    }

    #[test]
    fn wrong_resource_types_are_errors() {
        let pdns_as_dns = PDNS;
        let vnet_as_route_table = VNET;
        let cases: Vec<(ClusterIntent, &str, &str)> = vec![
            (
                ClusterIntent { acr_ids: vec![STORAGE.into()], ..ClusterIntent::default() },
                "acr_ids[0]",
                "container registry",
            ),
            (ClusterIntent { subnet_ids: vec![ACR.into()], ..ClusterIntent::default() }, "subnet_ids[0]", "subnet"),
            (
                ClusterIntent { route_table_ids: vec![vnet_as_route_table.into()], ..ClusterIntent::default() },
                "route_table_ids[0]",
                "route table",
            ),
            (
                ClusterIntent { dns_zone_ids: vec![pdns_as_dns.into()], ..ClusterIntent::default() },
                "dns_zone_ids[0]",
                "DNS zone",
            ),
            (
                ClusterIntent { private_dns_zone_ids: vec![DNS.into()], ..ClusterIntent::default() },
                "private_dns_zone_ids[0]",
                "private DNS zone",
            ),
            (
                ClusterIntent { kubelet_identity_id: Some(ACR.into()), ..ClusterIntent::default() },
                "kubelet_identity_id",
                "user-assigned identity",
            ),
            (
                ClusterIntent {
                    aad_pod_identity: Some(PodIdentityIntent {
                        enabled: true,
                        identity_resource_group_ids: vec![KUBELET_UAI.into()],
                    }),
                    node_resource_group_id: Known::Known(NODE_RG.into()),
                    ..ClusterIntent::default()
                },
                "aad_pod_identity.identity_resource_group_ids[0]",
                "resource group",
            ),
            (
                ClusterIntent { node_resource_group_id: Known::Known(ACR.into()), ..ClusterIntent::default() },
                "node_resource_group_id",
                "resource group",
            ),
            (
                ClusterIntent {
                    subnet_ids: vec![format!("{SNET_NODES}/providers/Microsoft.Authorization/roleAssignments/x")],
                    ..ClusterIntent::default()
                },
                "subnet_ids[0]",
                "subnet",
            ),
        ];
        for (intent, at, noun) in cases {
            let errors = expand_err(&intent);
            assert_eq!(errors.len(), 1, "{at}: {errors:?}");
            assert_eq!(errors[0].source.to_string(), at);
            assert_eq!(errors[0].summary, format!("Wrong resource type in {at}"));
            assert!(
                errors[0].detail.starts_with(&format!("Expected a {noun} id like /subscriptions/")),
                "{}",
                errors[0]
            );
        }
        // dnszones in any casing is a DNS zone.
        let lower = DNS.replace("dnszones", "DNSZONES");
        let e = expand_ok(&ClusterIntent { dns_zone_ids: vec![lower], ..ClusterIntent::default() });
        assert_eq!(e.assignments[0].role.name, "DNS Zone Contributor");
    }

    #[test]
    fn type_mismatch_is_not_downgraded_by_a_justification() {
        let intent = ClusterIntent {
            acr_ids: vec![STORAGE.into()],
            allow_broad_scope: Some("hub registries are managed centrally".into()),
            ..ClusterIntent::default()
        };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].is_error());
        assert!(errors[0].detail.contains("storage account"), "{}", errors[0]);
    }

    fn rg(name: &str) -> String {
        format!("/subscriptions/{SPOKE}/resourceGroups/{name}")
    }

    fn extra(role: &str, scope: &str) -> ExtraAssignment {
        ExtraAssignment { identity: IdentityKind::Kubelet, role: role.into(), scope: scope.into(), description: None }
    }

    #[test]
    fn privileged_roles_in_extra_assignments_are_errors() {
        for role in ["Owner", "contributor", "User Access Administrator", "Role Based Access Control Administrator"] {
            let intent = ClusterIntent { extra: vec![extra(role, STORAGE)], ..ClusterIntent::default() };
            let errors = expand_err(&intent);
            assert_eq!(errors.len(), 1, "{role}: {errors:?}");
            assert_eq!(errors[0].source.to_string(), "extra_assignment[0].role");
            assert!(errors[0].summary.starts_with("Privileged role "), "{}", errors[0]);
            assert!(errors[0].detail.contains("Use the specific role"), "{}", errors[0]);
        }
        // By GUID and by id, too.
        for role in [
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "/subscriptions/00000000-0000-0000-0000-0000000000a1/providers/Microsoft.Authorization/roleDefinitions/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        ] {
            let intent = ClusterIntent { extra: vec![extra(role, STORAGE)], ..ClusterIntent::default() };
            assert_eq!(expand_err(&intent)[0].source.to_string(), "extra_assignment[0].role");
        }
    }

    #[test]
    fn subscription_and_management_group_scopes_are_errors() {
        let sub = format!("/subscriptions/{SPOKE}");
        for (scope, summary) in [
            (sub.as_str(), "Role assignment at subscription scope"),
            ("/providers/Microsoft.Management/managementGroups/corp", "Role assignment at management group scope"),
        ] {
            let intent =
                ClusterIntent { extra: vec![extra("Storage Blob Data Reader", scope)], ..ClusterIntent::default() };
            let errors = expand_err(&intent);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].summary, summary);
            assert_eq!(errors[0].source.to_string(), "extra_assignment[0].scope");
            assert!(errors[0].detail.contains("Microsoft.Storage/storageAccounts/<name>"), "{}", errors[0]);
        }
        // A matrix input given a subscription is one finding, with the narrow alternative.
        let intent = ClusterIntent { acr_ids: vec![sub.clone()], ..ClusterIntent::default() };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].summary, "Role assignment at subscription scope");
        assert!(
            errors[0].detail.contains(&format!("pass the container registry id {sub}/resourceGroups/")),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn acr_pull_on_a_resource_group_is_an_error() {
        let intent = ClusterIntent { acr_ids: vec![rg("rg-hub")], ..ClusterIntent::default() };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        let f = &errors[0];
        assert_eq!(f.source.to_string(), "acr_ids[0]");
        assert_eq!(f.summary, "Scope broader than needed for AcrPull");
        assert!(f.detail.contains("AcrPull on resource group rg-hub grants pull on every registry in it"), "{f}");
        assert!(
            f.detail.contains(&format!(
                "pass the container registry id {}/providers/Microsoft.ContainerRegistry/registries/<name>",
                rg("rg-hub")
            )),
            "{f}"
        );
    }

    #[test]
    fn network_contributor_on_a_vnet_is_an_error() {
        let intent = ClusterIntent { subnet_ids: vec![VNET.into()], ..ClusterIntent::default() };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        let f = &errors[0];
        assert_eq!(f.source.to_string(), "subnet_ids[0]");
        assert!(
            f.detail
                .contains("Network Contributor on virtual network vnet-spoke grants write on every subnet, peering"),
            "{f}"
        );
        assert!(f.detail.contains(&format!("pass the subnet id {VNET}/subnets/<name>")), "{f}");
    }

    #[test]
    fn narrow_extra_roles_on_resource_groups_are_errors() {
        for (role, narrow) in [
            ("AcrPull", "Microsoft.ContainerRegistry/registries/<name>"),
            ("DNS Zone Contributor", "Microsoft.Network/dnsZones/<name>"),
            ("Private DNS Zone Contributor", "Microsoft.Network/privateDnsZones/<name>"),
            ("Network Contributor", "Microsoft.Network/virtualNetworks/<name>/subnets/<name>"),
            ("Azure Service Bus Data Sender", "Microsoft.ServiceBus/namespaces/<name>"),
            ("Azure Event Hubs Data Receiver", "Microsoft.EventHub/namespaces/<name>"),
            ("Key Vault Secrets User", "Microsoft.KeyVault/vaults/<name>"),
            ("Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts/<name>"),
        ] {
            let intent = ClusterIntent { extra: vec![extra(role, &rg("rg-apps"))], ..ClusterIntent::default() };
            let errors = expand_err(&intent);
            assert_eq!(errors.len(), 1, "{role}");
            assert_eq!(errors[0].summary, format!("Scope broader than needed for {role}"));
            assert!(errors[0].detail.contains(narrow), "{role}: {}", errors[0]);
        }
        // Reader on a resource group and a custom role on a resource group are not judged.
        let custom = "/subscriptions/00000000-0000-0000-0000-0000000000a1/providers/Microsoft.Authorization/roleDefinitions/0d0d0d0d-0000-4000-8000-000000000001";
        let intent = ClusterIntent {
            extra: vec![extra("Reader", &rg("rg-apps")), extra(custom, &rg("rg-apps"))],
            ..ClusterIntent::default()
        };
        assert_eq!(expand_ok(&intent).assignments.len(), 2);
    }

    #[test]
    fn justification_turns_every_policy_error_into_a_warning() {
        let justification = "shared NAT gateway lives in rg-network (ticket NET-123)";
        let intent = ClusterIntent {
            kubelet_principal_id: Known::Known(KUBELET.into()),
            acr_ids: vec![rg("rg-hub")],
            subnet_ids: vec![VNET.into()],
            extra: vec![
                ExtraAssignment {
                    description: Some("legacy ops".into()),
                    ..extra("Owner", &format!("/subscriptions/{SPOKE}"))
                },
                extra("Contributor", &rg("rg-network")),
                extra("Storage Blob Data Reader", STORAGE),
            ],
            allow_broad_scope: Some(format!(" {justification} ")),
            ..ClusterIntent::default()
        };
        let e = expand_ok(&intent);
        // AcrPull on RG, NC on VNet, Owner (role + subscription), Contributor.
        assert_eq!(e.warnings.len(), 5, "{:#?}", e.warnings);
        assert!(e.warnings.iter().all(|w| w.severity == Severity::Warning && w.detail.contains(justification)));
        let note = format!("aksid: broad scope allowed: {justification}");
        let desc = |key: &str| by_key(&e, key).description.clone();
        assert_eq!(desc("kubelet/AcrPull/rg-hub"), Some(note.clone()));
        assert_eq!(desc("control_plane/Network Contributor/vnet-spoke"), Some(note.clone()));
        assert_eq!(desc(&format!("kubelet/Owner/{SPOKE}")), Some(format!("legacy ops ({note})")));
        assert_eq!(desc("kubelet/Contributor/rg-network"), Some(note));
        assert_eq!(desc("kubelet/Storage Blob Data Reader/stdata"), None, "not affected");
    }

    #[test]
    fn empty_justification_is_an_error() {
        let intent = ClusterIntent {
            acr_ids: vec![rg("rg-hub")],
            allow_broad_scope: Some("  ".into()),
            ..ClusterIntent::default()
        };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].source.to_string(), "allow_broad_scope.justification");
        assert!(errors.iter().all(Finding::is_error));
        // Empty but nothing to allow: still an error.
        let intent = ClusterIntent { allow_broad_scope: Some(String::new()), ..ClusterIntent::default() };
        assert_eq!(expand_err(&intent).len(), 1);
    }

    #[test]
    fn extra_roles_resolve_by_name_guid_and_id() {
        let guid = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
        for role in [
            "Storage Blob Data Reader".to_string(),
            "storage blob data reader".to_string(),
            guid.to_uppercase(),
            format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
            format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
            format!("/subscriptions/{SPOKE}/providers/microsoft.authorization/ROLEDEFINITIONS/{guid}/"),
        ] {
            let e = expand_ok(&ClusterIntent { extra: vec![extra(&role, STORAGE)], ..ClusterIntent::default() });
            let r = &e.assignments[0].role;
            assert_eq!(
                (r.guid.as_str(), r.name.as_str(), r.custom),
                (guid, "Storage Blob Data Reader", false),
                "{role}"
            );
        }
        let custom = "0D0D0D0D-0000-4000-8000-000000000001";
        let e = expand_ok(&ClusterIntent {
            extra: vec![ExtraAssignment { description: Some("  ".into()), ..extra(custom, STORAGE) }],
            ..ClusterIntent::default()
        });
        let a = &e.assignments[0];
        assert!(a.role.custom);
        assert_eq!(a.role.name, custom.to_lowercase());
        assert_eq!(a.key, format!("kubelet/{}/stdata", custom.to_lowercase()));
        assert_eq!(a.description, None, "blank descriptions are dropped");
        assert_eq!(a.source.to_string(), "extra_assignment[0].scope");
        assert!(a.reason.contains("extra_assignment[0]"));
    }

    #[test]
    fn unknown_roles_suggest_built_ins() {
        let intent = ClusterIntent {
            extra: vec![
                extra("AcrPul", ACR),
                extra("", ACR),
                extra("/providers/Microsoft.Authorization/roleDefinitions/nope", ACR),
            ],
            ..ClusterIntent::default()
        };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 3);
        assert!(errors.iter().all(|f| f.source.nested.as_deref() == Some("role")));
        assert_eq!(errors[0].summary, "Unknown role \"AcrPul\"");
        assert!(errors[0].detail.contains("\"AcrPull\""), "{}", errors[0]);
        assert_eq!(errors[1].summary, "Missing role");
        assert!(errors[2].summary.starts_with("Invalid role definition id"), "{}", errors[2]);
    }

    #[test]
    fn principals_must_be_guids_when_used() {
        let intent = ClusterIntent {
            kubelet_principal_id: Known::Known("kubelet".into()),
            control_plane_principal_id: Known::Known("also bad but unused".into()),
            acr_ids: vec![ACR.into()],
            ..ClusterIntent::default()
        };
        let errors = expand_err(&intent);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].source.to_string(), "kubelet_principal_id");
    }

    #[test]
    fn all_errors_are_reported_at_once_type_errors_before_policy() {
        let intent = ClusterIntent {
            subnet_ids: vec![VNET.into()],
            acr_ids: vec![STORAGE.into()],
            extra: vec![extra("Owner", STORAGE)],
            ..ClusterIntent::default()
        };
        let at: Vec<String> = expand_err(&intent).iter().map(|f| f.source.to_string()).collect();
        assert_eq!(at, ["acr_ids[0]", "subnet_ids[0]", "extra_assignment[0].role"]);
    }

    #[test]
    fn matrix_roles_are_in_the_catalog() {
        for (guid, name) in [
            (NETWORK_CONTRIBUTOR, "Network Contributor"),
            (PRIVATE_DNS_ZONE_CONTRIBUTOR, "Private DNS Zone Contributor"),
            (MANAGED_IDENTITY_OPERATOR, "Managed Identity Operator"),
            (ACR_PULL, "AcrPull"),
            (DNS_ZONE_CONTRIBUTOR, "DNS Zone Contributor"),
            (VIRTUAL_MACHINE_CONTRIBUTOR, "Virtual Machine Contributor"),
        ] {
            let role = builtin(guid);
            assert_eq!(role.name, name);
            assert!(!role.privileged());
        }
    }

    /// Randomly recased fixed segments, namespaces and types of an id.
    fn recase(id: &str, flips: &[bool]) -> String {
        let fixed = [
            "subscriptions",
            "resourcegroups",
            "providers",
            "microsoft.network",
            "virtualnetworks",
            "subnets",
            "microsoft.containerregistry",
            "registries",
        ];
        id.split('/')
            .enumerate()
            .map(|(i, seg)| {
                let flip = flips.get(i).copied().unwrap_or(false);
                if flip && fixed.contains(&seg.to_ascii_lowercase().as_str()) {
                    if seg.chars().any(|c| c.is_ascii_uppercase()) {
                        seg.to_ascii_lowercase()
                    } else {
                        seg.to_ascii_uppercase()
                    }
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    proptest! {
        #[test]
        fn recased_inputs_keep_keys_and_names_and_fold(flips in proptest::collection::vec(any::<bool>(), 16), slash in any::<bool>()) {
            let base = create_scenario();
            let mut recased = base.clone();
            let tail = if slash { "/" } else { "" };
            recased.subnet_ids = base.subnet_ids.iter().map(|s| format!("{}{tail}", recase(s, &flips))).collect();
            recased.acr_ids = base.acr_ids.iter().map(|s| recase(s, &flips)).collect();
            let a = expand_ok(&base);
            let b = expand_ok(&recased);
            let summary = |e: &Expansion| e.assignments.iter().map(|a| (a.key.clone(), a.name())).collect::<Vec<_>>();
            prop_assert_eq!(summary(&a), summary(&b));

            // Both casings together fold into the original count.
            let mut both = base.clone();
            both.subnet_ids.extend(recased.subnet_ids.clone());
            both.acr_ids.extend(recased.acr_ids.clone());
            prop_assert_eq!(summary(&expand_ok(&both)), summary(&a));
        }
    }
}
