//! Least privilege by default.
//!
//! Every desired assignment is reviewed against three rules:
//!
//! 1. no privileged role (Owner, Contributor, User Access Administrator,
//!    Role Based Access Control Administrator);
//! 2. no subscription, management-group or tenant scope;
//! 3. no scope broader than needed: for a matrix input, an id whose type is
//!    an ancestor of the type the AKS requirement is about (a resource group
//!    or VNet where a registry or subnet is expected); for an extra
//!    assignment of a role whose natural scope is one resource (AcrPull, the
//!    data-plane roles, …), a resource group or an ancestor resource.
//!
//! A violation is an error unless the configuration sets `allow_broad_scope`
//! with a justification: then it is a warning, and the justification is
//! written into the affected assignments' descriptions so that the reason
//! travels with the grant in Azure. Type mismatches (a storage account in
//! `acr_ids`) are not policy and are never downgraded; see [`super::matrix`].

use std::fmt;

use crate::domain::ids::{ResourceId, ScopeKind};

use super::{DesiredAssignment, SourcePath};

/// Prefix of the description written into assignments allowed by a justification.
pub const BROAD_SCOPE_NOTE: &str = "aksid: broad scope allowed: ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem with the configuration: `summary` says what is wrong, `detail`
/// how to fix it, `source` which input it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub source: SourcePath,
    pub summary: String,
    pub detail: String,
}

impl Finding {
    pub fn error(source: SourcePath, summary: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding { severity: Severity::Error, source, summary: summary.into(), detail: detail.into() }
    }

    pub fn warning(source: SourcePath, summary: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding { severity: Severity::Warning, source, summary: summary.into(), detail: detail.into() }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level} at {}: {}: {}", self.source, self.summary, self.detail)
    }
}

/// The resource type an input must name, e.g. a subnet for `subnet_ids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRequirement {
    /// Full ARM type, e.g. `Microsoft.Network/virtualNetworks/subnets` or
    /// `Microsoft.Resources/resourceGroups`.
    pub resource_type: &'static str,
    /// Prose for messages, e.g. "subnet".
    pub noun: &'static str,
}

pub const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/resourceGroups";

/// How a scope relates to the resource type that is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFit {
    /// The scope is a resource of that type.
    Exact,
    /// The scope contains resources of that type (a VNet for a subnet, a
    /// resource group or subscription for anything in it, the tenant).
    Broader,
    /// The scope lies inside a resource of that type (a blob container of a
    /// storage account).
    Narrower,
    /// Anything else (a storage account where a registry is expected).
    Unrelated,
}

/// Relates `scope` to `resource_type` (compared case-insensitively).
pub fn fit(scope: &ResourceId, resource_type: &str) -> ScopeFit {
    let wanted = resource_type.to_ascii_lowercase();
    let wanted_rg = wanted == RESOURCE_GROUP_TYPE.to_ascii_lowercase();
    match scope.scope_kind() {
        ScopeKind::Tenant | ScopeKind::ManagementGroup => ScopeFit::Broader,
        ScopeKind::Subscription => {
            if wanted == "microsoft.resources/subscriptions" {
                ScopeFit::Exact
            } else {
                ScopeFit::Broader
            }
        }
        ScopeKind::ResourceGroup => {
            if wanted_rg {
                ScopeFit::Exact
            } else if wanted == "microsoft.resources/subscriptions" {
                ScopeFit::Narrower
            } else {
                ScopeFit::Broader
            }
        }
        ScopeKind::Resource => {
            if wanted_rg {
                return ScopeFit::Narrower;
            }
            let given = scope.resource_type().unwrap_or_default().to_ascii_lowercase();
            if given == wanted {
                ScopeFit::Exact
            } else if wanted.strip_prefix(given.as_str()).is_some_and(|rest| rest.starts_with('/')) {
                ScopeFit::Broader
            } else if given.strip_prefix(wanted.as_str()).is_some_and(|rest| rest.starts_with('/')) {
                ScopeFit::Narrower
            } else {
                ScopeFit::Unrelated
            }
        }
        ScopeKind::Extension => ScopeFit::Unrelated,
    }
}

/// A role whose natural scope is a single resource.
struct NarrowRole {
    guid: &'static str,
    /// Natural scope types, the preferred one first.
    types: &'static [&'static str],
    /// What the role grants on a broader scope: "pull on every registry".
    grants: &'static str,
}

const REGISTRY: &[&str] = &["Microsoft.ContainerRegistry/registries"];
const NETWORK: &[&str] = &[
    "Microsoft.Network/virtualNetworks/subnets",
    "Microsoft.Network/routeTables",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/loadBalancers",
    "Microsoft.Network/natGateways",
    "Microsoft.Network/applicationGateways",
    "Microsoft.Network/privateEndpoints",
];
const DNS_ZONE: &[&str] = &["Microsoft.Network/dnsZones"];
const PRIVATE_DNS_ZONE: &[&str] = &["Microsoft.Network/privateDnsZones"];
const IDENTITY: &[&str] = &["Microsoft.ManagedIdentity/userAssignedIdentities"];
const COMPUTE: &[&str] = &["Microsoft.Compute/virtualMachineScaleSets", "Microsoft.Compute/virtualMachines"];
const BLOB: &[&str] =
    &["Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices/containers"];
const QUEUE: &[&str] = &["Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/queueServices/queues"];
const SERVICE_BUS: &[&str] = &[
    "Microsoft.ServiceBus/namespaces",
    "Microsoft.ServiceBus/namespaces/queues",
    "Microsoft.ServiceBus/namespaces/topics",
];
const EVENT_HUBS: &[&str] = &["Microsoft.EventHub/namespaces", "Microsoft.EventHub/namespaces/eventhubs"];
const KEY_VAULT: &[&str] = &["Microsoft.KeyVault/vaults"];
const CLUSTER: &[&str] = &["Microsoft.ContainerService/managedClusters"];
const COSMOS: &[&str] = &["Microsoft.DocumentDB/databaseAccounts"];

const NARROW_ROLES: &[NarrowRole] = &[
    NarrowRole { guid: "7f951dda-4ed3-4680-a7ca-43fe172d538d", types: REGISTRY, grants: "pull on every registry" },
    NarrowRole { guid: "8311e382-0749-4cb8-b61a-304f252e45ec", types: REGISTRY, grants: "push on every registry" },
    NarrowRole {
        guid: "b93aa761-3e63-49ed-ac28-beffa264f7ac",
        types: REGISTRY,
        grants: "read on every repository of every registry",
    },
    NarrowRole {
        guid: "4d97b98b-1d4f-4787-a291-c67834d212e7",
        types: NETWORK,
        grants: "write on every subnet, peering, route table and gateway",
    },
    NarrowRole { guid: "befefa01-2a29-4197-83a8-272ff33ce314", types: DNS_ZONE, grants: "write on every DNS zone" },
    NarrowRole {
        guid: "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
        types: PRIVATE_DNS_ZONE,
        grants: "write on every private DNS zone",
    },
    NarrowRole {
        guid: "f1a07417-d97a-45cb-824c-7a7467783830",
        types: IDENTITY,
        grants: "the right to assign every user-assigned identity",
    },
    NarrowRole {
        guid: "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        types: IDENTITY,
        grants: "write on every user-assigned identity and its federated credentials",
    },
    NarrowRole {
        guid: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
        types: COMPUTE,
        grants: "write on every virtual machine and scale set",
    },
    NarrowRole {
        guid: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        types: BLOB,
        grants: "read on the blobs of every storage account",
    },
    NarrowRole {
        guid: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        types: BLOB,
        grants: "write on the blobs of every storage account",
    },
    NarrowRole {
        guid: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        types: BLOB,
        grants: "full control of the blobs of every storage account",
    },
    NarrowRole {
        guid: "19e7f393-937e-4f77-808e-94535e297925",
        types: QUEUE,
        grants: "read on the queues of every storage account",
    },
    NarrowRole {
        guid: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        types: QUEUE,
        grants: "write on the queues of every storage account",
    },
    NarrowRole {
        guid: "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
        types: QUEUE,
        grants: "send to the queues of every storage account",
    },
    NarrowRole {
        guid: "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
        types: SERVICE_BUS,
        grants: "send on every Service Bus namespace",
    },
    NarrowRole {
        guid: "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
        types: SERVICE_BUS,
        grants: "receive on every Service Bus namespace",
    },
    NarrowRole {
        guid: "090c5cfd-751d-490a-894a-3ce6f1109419",
        types: SERVICE_BUS,
        grants: "full control of every Service Bus namespace",
    },
    NarrowRole {
        guid: "2b629674-e913-4c01-ae53-ef4638d8f975",
        types: EVENT_HUBS,
        grants: "send on every Event Hubs namespace",
    },
    NarrowRole {
        guid: "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
        types: EVENT_HUBS,
        grants: "receive on every Event Hubs namespace",
    },
    NarrowRole {
        guid: "f526a384-b230-433a-b45c-95f59c4a2dec",
        types: EVENT_HUBS,
        grants: "full control of every Event Hubs namespace",
    },
    NarrowRole {
        guid: "4633458b-17de-408a-b874-0445c86b69e6",
        types: KEY_VAULT,
        grants: "read on the secrets of every key vault",
    },
    NarrowRole {
        guid: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        types: KEY_VAULT,
        grants: "write on the secrets of every key vault",
    },
    NarrowRole {
        guid: "12338af0-0e69-4776-bea7-57ae8d297424",
        types: KEY_VAULT,
        grants: "use of the keys of every key vault",
    },
    NarrowRole {
        guid: "a4417e6f-fecd-4de8-b567-7b0420556985",
        types: KEY_VAULT,
        grants: "write on the certificates of every key vault",
    },
    NarrowRole { guid: "21090545-7ca7-4776-b22c-e363652d74d2", types: KEY_VAULT, grants: "read on every key vault" },
    NarrowRole {
        guid: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
        types: CLUSTER,
        grants: "user credentials of every cluster",
    },
    NarrowRole {
        guid: "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
        types: CLUSTER,
        grants: "admin credentials of every cluster",
    },
    NarrowRole { guid: "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8", types: CLUSTER, grants: "write on every cluster" },
    NarrowRole {
        guid: "7f6c6a51-bcf8-42ba-9220-52d62157d7db",
        types: CLUSTER,
        grants: "Kubernetes read in every cluster",
    },
    NarrowRole {
        guid: "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
        types: CLUSTER,
        grants: "Kubernetes write in every cluster",
    },
    NarrowRole {
        guid: "3498e952-d568-435e-9b2c-8d77e338d7f7",
        types: CLUSTER,
        grants: "Kubernetes admin in every cluster",
    },
    NarrowRole {
        guid: "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
        types: CLUSTER,
        grants: "Kubernetes cluster-admin in every cluster",
    },
    NarrowRole {
        guid: "fbdf93bf-df7d-467e-a4d2-9458aa1360c8",
        types: COSMOS,
        grants: "read (and read-only keys) on every Cosmos DB account",
    },
];

fn narrow_role(guid: &str) -> Option<&'static NarrowRole> {
    NARROW_ROLES.iter().find(|r| r.guid.eq_ignore_ascii_case(guid))
}

/// The resource types a role is naturally scoped to (the preferred one
/// first), for roles whose natural scope is a single resource; `None` for
/// roles without one (Reader, custom roles, …).
pub fn natural_scope_types(role_guid: &str) -> Option<&'static [&'static str]> {
    narrow_role(role_guid).map(|r| r.types)
}

/// Prose for a resource type: "subnet", "container registry", …
pub fn describe_type(resource_type: &str) -> String {
    let last = resource_type.rsplit('/').next().unwrap_or(resource_type).to_ascii_lowercase();
    let noun = match last.as_str() {
        "subnets" => "subnet",
        "virtualnetworks" => "virtual network",
        "routetables" => "route table",
        "networksecuritygroups" => "network security group",
        "publicipaddresses" => "public IP address",
        "loadbalancers" => "load balancer",
        "natgateways" => "NAT gateway",
        "applicationgateways" => "application gateway",
        "privateendpoints" => "private endpoint",
        "dnszones" => "DNS zone",
        "privatednszones" => "private DNS zone",
        "registries" => "container registry",
        "userassignedidentities" => "user-assigned identity",
        "virtualmachines" => "virtual machine",
        "virtualmachinescalesets" => "virtual machine scale set",
        "storageaccounts" => "storage account",
        "containers" => "blob container",
        "queues" => "queue",
        "topics" => "topic",
        "namespaces" => "namespace",
        "eventhubs" => "event hub",
        "vaults" => "key vault",
        "managedclusters" => "AKS cluster",
        "databaseaccounts" => "Cosmos DB account",
        "resourcegroups" => "resource group",
        "subscriptions" => "subscription",
        "managementgroups" => "management group",
        _ => return format!("{resource_type} resource"),
    };
    noun.to_string()
}

/// "resource group rg-spoke", "virtual network vnet-spoke", "the tenant root", …
pub fn describe_scope(scope: &ResourceId) -> String {
    match scope.scope_kind() {
        ScopeKind::Tenant => "the tenant root".to_string(),
        _ => {
            let ty = scope.resource_type().unwrap_or_default();
            format!("{} {}", describe_type(&ty), scope.name().unwrap_or_default())
        }
    }
}

/// An id of `resource_type` inside `scope`, with `<name>` placeholders, to
/// show as the narrow alternative: for a VNet and subnets,
/// `<vnet id>/subnets/<name>`; for a resource group and registries,
/// `<rg id>/providers/Microsoft.ContainerRegistry/registries/<name>`.
pub fn narrow_example(scope: &ResourceId, resource_type: &str) -> String {
    let base = scope.as_str().trim_end_matches('/');
    let mut parts = resource_type.split('/');
    let namespace = parts.next().unwrap_or_default();
    let types: Vec<&str> = parts.collect();
    let provider_path = |types: &[&str]| -> String { types.iter().map(|t| format!("/{t}/<name>")).collect::<String>() };
    let full = |prefix: &str| format!("{prefix}/providers/{namespace}{}", provider_path(&types));

    if resource_type.eq_ignore_ascii_case(RESOURCE_GROUP_TYPE) {
        return match scope.scope_kind() {
            ScopeKind::Subscription => format!("{base}/resourceGroups/<name>"),
            _ => "/subscriptions/<subscription id>/resourceGroups/<name>".to_string(),
        };
    }
    match scope.scope_kind() {
        ScopeKind::Subscription => full(&format!("{base}/resourceGroups/<resource group>")),
        ScopeKind::ResourceGroup => full(base),
        ScopeKind::Resource if fit(scope, resource_type) == ScopeFit::Broader => {
            let given_depth = scope.resource_type().map_or(0, |t| t.split('/').count() - 1);
            format!("{base}{}", provider_path(&types[given_depth.min(types.len())..]))
        }
        _ => full("/subscriptions/<subscription id>/resourceGroups/<resource group>"),
    }
}

/// The data-plane owner roles, reviewed like privileged roles: beyond reading and writing the
/// data they hand out access to it (blob ACLs, Service Bus and Event Hubs authorization rules),
/// which an application identity never needs.
fn data_owner_power(guid: &str) -> Option<&'static str> {
    match guid {
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b" => {
            Some("read, write and delete every blob and set its POSIX access control lists and owner")
        }
        "090c5cfd-751d-490a-894a-3ce6f1109419" => {
            Some("send, receive and manage every queue, topic and its access rules")
        }
        "f526a384-b230-433a-b45c-95f59c4a2dec" => Some("send, receive and manage every event hub and its access rules"),
        _ => None,
    }
}

/// What a privileged role can do, for messages.
fn privileged_power(guid: &str) -> &'static str {
    if let Some(power) = data_owner_power(guid) {
        return power;
    }
    match guid {
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" => "manage every resource and grant any role to anyone",
        "b24988ac-6180-42a0-ab88-20f7382dd24c" => "create, change and delete every resource",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9" => "grant any role to anyone",
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168" => "grant roles to anyone",
        _ => "manage access",
    }
}

const OPT_OUT: &str = "If this is intended, set allow_broad_scope with a justification; the finding then becomes a \
                       warning and the justification is recorded in the assignment's description.";

/// The policy violations of one assignment, as errors. `requirement` is the
/// resource type the matrix input that produced it must name (`None` for
/// extra assignments, which are judged by their role's natural scope).
/// Assignments whose scope does not parse yield no findings (the matrix
/// reports those).
pub fn violations(assignment: &DesiredAssignment, requirement: Option<ScopeRequirement>) -> Vec<Finding> {
    let mut out: Vec<Finding> = privileged_role_finding(assignment).into_iter().collect();
    let Ok(scope) = ResourceId::parse(&assignment.scope) else {
        return out;
    };
    let narrow = narrow_role(&assignment.role.guid);
    // A scope above every resource group is broad whatever the role; nothing more to say.
    if let Some(finding) = above_resource_group_finding(assignment, &scope, requirement, narrow) {
        out.push(finding);
        return out;
    }
    out.extend(broader_than_needed_finding(assignment, &scope, requirement, narrow));
    out
}

/// Rule 1: the role must not be privileged.
fn privileged_role_finding(assignment: &DesiredAssignment) -> Option<Finding> {
    let role = &assignment.role;
    if !role.privileged() && data_owner_power(&role.guid).is_none() {
        return None;
    }
    let who = assignment.identity.describe();
    // Grants given by role and scope (extra_assignment, role blocks) carry the scope as the
    // source; the role has its own attribute: point at it.
    let source = match assignment.source.nested.as_deref() {
        Some("scope") => assignment.source.child("role"),
        _ => assignment.source.clone(),
    };
    Some(Finding::error(
        source,
        format!("Privileged role {} is not allowed", role.name),
        format!(
            "{} can {} at its scope; aksid only grants the narrow roles an identity needs. Use the specific role \
             the {who} needs instead (for example AcrPull to pull images, Storage Blob Data Reader to read \
             blobs, Key Vault Secrets User to read secrets, Network Contributor on a subnet). {OPT_OUT}",
            role.name,
            privileged_power(&role.guid),
        ),
    ))
}

/// Rule 2: no subscription, management-group or tenant scope.
fn above_resource_group_finding(
    assignment: &DesiredAssignment,
    scope: &ResourceId,
    requirement: Option<ScopeRequirement>,
    narrow: Option<&NarrowRole>,
) -> Option<Finding> {
    let level = match scope.scope_kind() {
        ScopeKind::Subscription => "subscription",
        ScopeKind::ManagementGroup => "management group",
        ScopeKind::Tenant => "tenant",
        _ => return None,
    };
    let who = assignment.identity.describe();
    // The narrow type to suggest: the requirement's, else the role's natural one.
    let wanted = match (requirement, narrow) {
        (Some(r), _) => Some((r.resource_type, r.noun.to_string())),
        (None, Some(n)) => Some((n.types[0], describe_type(n.types[0]))),
        (None, None) => None,
    };
    let grants = narrow.map_or_else(String::new, |n| format!(" ({} in it)", n.grants));
    let alternative = match wanted {
        Some((t, noun)) => format!("pass the {noun} id {}", narrow_example(scope, t)),
        None => "scope it to the resource group or, better, the resource the identity uses".to_string(),
    };
    Some(Finding::error(
        assignment.source.clone(),
        format!("Role assignment at {level} scope"),
        format!(
            "{} for the {who} on {} applies to every resource group and resource below it{grants}; \
             {alternative}. {OPT_OUT}",
            assignment.role.name,
            describe_scope(scope),
        ),
    ))
}

/// Rule 3: the scope must not be an ancestor of the narrow type needed.
fn broader_than_needed_finding(
    assignment: &DesiredAssignment,
    scope: &ResourceId,
    requirement: Option<ScopeRequirement>,
    narrow: Option<&NarrowRole>,
) -> Option<Finding> {
    let t = broader_than(scope, requirement, narrow)?;
    let who = assignment.identity.describe();
    let role = &assignment.role;
    let noun = match requirement {
        Some(r) => r.noun.to_string(),
        None => describe_type(t),
    };
    Some(Finding::error(
        assignment.source.clone(),
        format!("Scope broader than needed for {}", role.name),
        format!(
            "{} on {} grants {} in it, not only the {noun} the {who} needs; pass the {noun} id {}. {OPT_OUT}",
            role.name,
            describe_scope(scope),
            narrow.map_or("access to every resource", |n| n.grants),
            narrow_example(scope, t),
        ),
    ))
}

/// The narrow type that `scope` is an ancestor of: the requirement's, or for an extra
/// assignment one of its role's natural types (unless the scope fits another of them).
fn broader_than(
    scope: &ResourceId,
    requirement: Option<ScopeRequirement>,
    narrow: Option<&NarrowRole>,
) -> Option<&'static str> {
    match (requirement, narrow) {
        (Some(r), _) => (fit(scope, r.resource_type) == ScopeFit::Broader).then_some(r.resource_type),
        (None, Some(n)) => {
            let fits: Vec<ScopeFit> = n.types.iter().map(|t| fit(scope, t)).collect();
            if fits.iter().any(|f| matches!(f, ScopeFit::Exact | ScopeFit::Narrower)) {
                None
            } else {
                n.types.iter().zip(&fits).find(|(_, f)| **f == ScopeFit::Broader).map(|(t, _)| *t)
            }
        }
        (None, None) => None,
    }
}

/// The trimmed justification of `allow_broad_scope`, if it has one.
pub fn justification(allow_broad_scope: Option<&str>) -> Option<&str> {
    allow_broad_scope.map(str::trim).filter(|j| !j.is_empty())
}

/// The error on `allow_broad_scope.justification` when it is set but empty
/// or whitespace.
pub fn justification_finding(allow_broad_scope: Option<&str>) -> Option<Finding> {
    allow_broad_scope.filter(|j| j.trim().is_empty()).map(|_| {
        Finding::error(
            SourcePath::attribute("allow_broad_scope").child("justification"),
            "allow_broad_scope needs a justification",
            "Explain why a privileged role or broad scope is needed (for example \"NAT gateway in a shared resource \
             group, see ticket NET-123\"). It is recorded in the description of every role assignment it allows.",
        )
    })
}

/// Reviews every assignment. `requirements[i]` is the requirement of
/// `assignments[i]` (missing entries mean none). Without a justification
/// violations are errors; with one they are warnings and the affected
/// assignments' descriptions record the justification.
pub fn review(
    assignments: &mut [DesiredAssignment],
    requirements: &[Option<ScopeRequirement>],
    allow_broad_scope: Option<&str>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = justification_finding(allow_broad_scope).into_iter().collect();
    let justification = justification(allow_broad_scope);
    for (i, a) in assignments.iter_mut().enumerate() {
        let found = violations(a, requirements.get(i).copied().flatten());
        if found.is_empty() {
            continue;
        }
        match justification {
            None => out.extend(found),
            Some(j) => {
                let note = format!("{BROAD_SCOPE_NOTE}{j}");
                a.description = Some(match a.description.as_deref().map(str::trim) {
                    Some(d) if !d.is_empty() => format!("{d} ({note})"),
                    _ => note,
                });
                out.extend(found.into_iter().map(|f| Finding {
                    severity: Severity::Warning,
                    detail: format!("{} Allowed by allow_broad_scope: {j}", f.detail.replace(OPT_OUT, "").trim_end()),
                    ..f
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles;
    use crate::planner::{IdentityKind, Known, RoleRef};

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";
    const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke";
    const VNET: &str =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke";
    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
    const STORAGE: &str =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata";
    const SUBNET_REQ: ScopeRequirement =
        ScopeRequirement { resource_type: "Microsoft.Network/virtualNetworks/subnets", noun: "subnet" };
    const ACR_REQ: ScopeRequirement =
        ScopeRequirement { resource_type: "Microsoft.ContainerRegistry/registries", noun: "container registry" };

    fn id(s: &str) -> ResourceId {
        ResourceId::parse(s).unwrap()
    }

    fn extra(role: &str, scope: &str) -> DesiredAssignment {
        DesiredAssignment {
            key: "k".into(),
            identity: IdentityKind::Kubelet,
            role: RoleRef::builtin(roles::by_name(role).unwrap()),
            scope: scope.into(),
            principal_id: Known::Unknown,
            reason: "r".into(),
            description: None,
            source: SourcePath::element("extra_assignment", 0).child("scope"),
        }
    }

    #[test]
    fn fit_relates_scopes_to_types() {
        let subnet_t = SUBNET_REQ.resource_type;
        assert_eq!(fit(&id(SUBNET), subnet_t), ScopeFit::Exact);
        assert_eq!(fit(&id(&SUBNET.to_lowercase()), subnet_t), ScopeFit::Exact);
        assert_eq!(fit(&id(VNET), subnet_t), ScopeFit::Broader);
        assert_eq!(fit(&id(RG), subnet_t), ScopeFit::Broader);
        assert_eq!(fit(&id(SUB), subnet_t), ScopeFit::Broader);
        assert_eq!(fit(&id("/"), subnet_t), ScopeFit::Broader);
        assert_eq!(fit(&id("/providers/Microsoft.Management/managementGroups/mg"), subnet_t), ScopeFit::Broader);
        assert_eq!(fit(&id(VNET), "Microsoft.Network/virtualNetworks"), ScopeFit::Exact);
        assert_eq!(fit(&id(SUBNET), "Microsoft.Network/virtualNetworks"), ScopeFit::Narrower);
        assert_eq!(fit(&id(STORAGE), ACR_REQ.resource_type), ScopeFit::Unrelated);
        assert_eq!(fit(&id(RG), RESOURCE_GROUP_TYPE), ScopeFit::Exact);
        assert_eq!(fit(&id(SUB), RESOURCE_GROUP_TYPE), ScopeFit::Broader);
        assert_eq!(fit(&id(ACR), RESOURCE_GROUP_TYPE), ScopeFit::Narrower);
        let dns = format!("{RG}/providers/Microsoft.Network/dnszones/example.com");
        assert_eq!(fit(&id(&dns), "Microsoft.Network/dnsZones"), ScopeFit::Exact);
        let assignment = format!("{RG}/providers/Microsoft.Authorization/roleAssignments/x");
        assert_eq!(fit(&id(&assignment), ACR_REQ.resource_type), ScopeFit::Unrelated);
    }

    #[test]
    fn narrow_examples_build_on_the_given_scope() {
        assert_eq!(narrow_example(&id(VNET), SUBNET_REQ.resource_type), format!("{VNET}/subnets/<name>"));
        assert_eq!(
            narrow_example(&id(RG), ACR_REQ.resource_type),
            format!("{RG}/providers/Microsoft.ContainerRegistry/registries/<name>")
        );
        assert_eq!(
            narrow_example(&id(RG), SUBNET_REQ.resource_type),
            format!("{RG}/providers/Microsoft.Network/virtualNetworks/<name>/subnets/<name>")
        );
        assert_eq!(
            narrow_example(&id(SUB), ACR_REQ.resource_type),
            format!("{SUB}/resourceGroups/<resource group>/providers/Microsoft.ContainerRegistry/registries/<name>")
        );
        assert_eq!(narrow_example(&id(SUB), RESOURCE_GROUP_TYPE), format!("{SUB}/resourceGroups/<name>"));
        assert!(narrow_example(&id("/"), ACR_REQ.resource_type)
            .starts_with("/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/"));
    }

    #[test]
    fn privileged_roles_are_errors_pointing_at_the_role() {
        for name in ["Owner", "Contributor", "User Access Administrator", "Role Based Access Control Administrator"] {
            let found = violations(&extra(name, STORAGE), None);
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            let f = &found[0];
            assert!(f.is_error());
            assert_eq!(f.source.to_string(), "extra_assignment[0].role");
            assert!(f.summary.contains(name), "{f}");
            assert!(f.detail.contains("Storage Blob Data Reader"), "{f}");
            assert!(f.detail.contains("allow_broad_scope"), "{f}");
        }
    }

    #[test]
    fn reader_on_a_resource_group_is_fine_but_not_on_a_subscription() {
        assert!(violations(&extra("Reader", RG), None).is_empty());
        let found = violations(&extra("Reader", SUB), None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].summary, "Role assignment at subscription scope");
        assert!(found[0].detail.contains("resource group"), "{}", found[0]);
    }

    #[test]
    fn narrow_roles_on_resource_groups_are_broad() {
        let found = violations(&extra("Storage Blob Data Reader", RG), None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].summary, "Scope broader than needed for Storage Blob Data Reader");
        assert_eq!(found[0].source.to_string(), "extra_assignment[0].scope");
        assert!(
            found[0].detail.contains(&format!("{RG}/providers/Microsoft.Storage/storageAccounts/<name>")),
            "{}",
            found[0]
        );
        // The account itself and a container of it are fine.
        assert!(violations(&extra("Storage Blob Data Reader", STORAGE), None).is_empty());
        let container = format!("{STORAGE}/blobServices/default/containers/images");
        assert!(violations(&extra("Storage Blob Data Reader", &container), None).is_empty());
        // A resource of an unrelated type is not policy's business.
        assert!(violations(&extra("AcrPull", STORAGE), None).is_empty());
        // Network Contributor on a VNet through an extra assignment is broad too.
        let found = violations(&extra("Network Contributor", VNET), None);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains(&format!("{VNET}/subnets/<name>")), "{}", found[0]);
    }

    #[test]
    fn matrix_requirements_decide_breadth() {
        let mut a = extra("AcrPull", RG);
        a.source = SourcePath::element("acr_ids", 0);
        let found = violations(&a, Some(ACR_REQ));
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.starts_with("AcrPull on resource group rg-spoke grants pull on every registry in it"));
        assert!(found[0].detail.contains("pass the container registry id"));
        assert_eq!(found[0].source.to_string(), "acr_ids[0]");

        let mut a = extra("Network Contributor", VNET);
        a.identity = IdentityKind::ControlPlane;
        let found = violations(&a, Some(SUBNET_REQ));
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("virtual network vnet-spoke grants write on every subnet, peering"));
        assert!(found[0].detail.contains(&format!("pass the subnet id {VNET}/subnets/<name>")));
    }

    #[test]
    fn management_group_and_tenant_scopes() {
        let found = violations(&extra("AcrPull", "/providers/Microsoft.Management/managementGroups/corp"), None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].summary, "Role assignment at management group scope");
        assert!(found[0].detail.contains("Microsoft.ContainerRegistry/registries/<name>"));
        let found = violations(&extra("AcrPull", "/"), None);
        assert_eq!(found[0].summary, "Role assignment at tenant scope");
    }

    #[test]
    fn privileged_and_broad_are_reported_together() {
        let found = violations(&extra("Owner", SUB), None);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].source.to_string(), "extra_assignment[0].role");
        assert_eq!(found[1].source.to_string(), "extra_assignment[0].scope");
    }

    #[test]
    fn review_downgrades_with_a_justification() {
        let mut assignments = vec![extra("Contributor", RG), extra("AcrPull", ACR)];
        let found = review(&mut assignments, &[], None);
        assert_eq!(found.len(), 1);
        assert!(found[0].is_error());
        assert_eq!(assignments[0].description, None);

        let found = review(&mut assignments, &[], Some("  NAT gateway lives in the shared RG (NET-123) "));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0]
            .detail
            .ends_with("Allowed by allow_broad_scope: NAT gateway lives in the shared RG (NET-123)"));
        assert!(!found[0].detail.contains("set allow_broad_scope"), "{}", found[0]);
        assert_eq!(
            assignments[0].description.as_deref(),
            Some("aksid: broad scope allowed: NAT gateway lives in the shared RG (NET-123)")
        );
        assert_eq!(assignments[1].description, None, "untouched assignments keep no description");
    }

    #[test]
    fn justification_is_appended_to_a_user_description() {
        let mut a = extra("AcrPull", RG);
        a.description = Some("pull for batch jobs".into());
        let mut assignments = vec![a];
        review(&mut assignments, &[], Some("legacy registries"));
        assert_eq!(
            assignments[0].description.as_deref(),
            Some("pull for batch jobs (aksid: broad scope allowed: legacy registries)")
        );
    }

    #[test]
    fn empty_justification_is_an_error_and_downgrades_nothing() {
        let mut assignments = vec![extra("Owner", RG)];
        let found = review(&mut assignments, &[], Some("   "));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].source.to_string(), "allow_broad_scope.justification");
        assert!(found.iter().all(Finding::is_error));
        assert_eq!(assignments[0].description, None);
        assert_eq!(justification_finding(Some("")).unwrap().summary, "allow_broad_scope needs a justification");
        assert_eq!(justification_finding(Some(" why ")), None);
        assert_eq!(justification_finding(None), None);
        assert_eq!(justification(None), None);
        assert_eq!(justification(Some(" \t")), None);
        assert_eq!(justification(Some(" why ")), Some("why"));
    }

    #[test]
    fn narrow_role_table_matches_the_catalog() {
        for r in NARROW_ROLES {
            let role = roles::by_guid(r.guid).unwrap_or_else(|| panic!("{} not in the catalog", r.guid));
            assert!(!role.privileged(), "{}", role.name);
            assert!(!r.types.is_empty());
            for t in r.types {
                assert!(!describe_type(t).ends_with(" resource"), "no noun for {t}");
            }
        }
        assert_eq!(natural_scope_types("7F951DDA-4ED3-4680-A7CA-43FE172D538D"), Some(REGISTRY));
        assert_eq!(natural_scope_types("acdd72a7-3385-48ef-bd42-f606fba81ae7"), None, "Reader has no natural resource");
    }

    #[test]
    fn unparsable_scopes_only_get_role_findings() {
        assert!(violations(&extra("AcrPull", "not an id"), None).is_empty());
        assert_eq!(violations(&extra("Owner", "not an id"), None).len(), 1);
    }
}
