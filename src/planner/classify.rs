//! The matrix in reverse, for `terraform import`: given the role assignments a cluster's
//! identities already hold, recover the inputs that would produce them, so that importing an
//! existing cluster and writing the matching configuration plans no changes.

use crate::domain::ids::ResourceId;
use crate::domain::roles;

use super::diff::{same_scope, ActualAssignment};
use super::{ExtraAssignment, IdentityKind};

const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
const PRIVATE_DNS_ZONE_CONTRIBUTOR: &str = "b12aa53e-6015-4669-85d0-8515ebb3ae7f";
const MANAGED_IDENTITY_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const DNS_ZONE_CONTRIBUTOR: &str = "befefa01-2a29-4197-83a8-272ff33ce314";
const VIRTUAL_MACHINE_CONTRIBUTOR: &str = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c";

/// Inputs recovered from existing assignments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    pub subnet_ids: Vec<String>,
    pub route_table_ids: Vec<String>,
    pub private_dns_zone_ids: Vec<String>,
    pub kubelet_identity_id: Option<String>,
    pub acr_ids: Vec<String>,
    pub dns_zone_ids: Vec<String>,
    pub pod_identity_enabled: bool,
    pub identity_resource_group_ids: Vec<String>,
    pub extra: Vec<ExtraAssignment>,
}

fn type_is(scope: &str, resource_type: &str) -> bool {
    ResourceId::parse(scope)
        .ok()
        .and_then(|id| id.resource_type())
        .is_some_and(|t| t.eq_ignore_ascii_case(resource_type))
}

/// Sort assignments of the two identities into matrix inputs; anything else becomes an
/// extra assignment. Assignments of other principals are ignored.
pub fn classify(actual: &[ActualAssignment], control_plane: &str, kubelet: &str, node_rg: &str) -> Classified {
    let mut c = Classified::default();
    let mut on_node_rg = NodeRgRoles::default();
    for a in actual {
        let Some(identity) = identity_of(a, control_plane, kubelet) else {
            continue;
        };
        let role = a.role_guid();
        let matched = match identity {
            IdentityKind::ControlPlane => control_plane_input(&mut c, &role, &a.scope),
            IdentityKind::Kubelet => kubelet_input(&mut c, &mut on_node_rg, a, &role, node_rg),
            // identity_of names only the cluster's two identities.
            IdentityKind::App => false,
        };
        if !matched {
            c.extra.push(extra(identity, a));
        }
    }
    settle_pod_identity(&mut c, on_node_rg);
    c
}

/// The two kubelet roles on the node resource group that, together, mean pod identity is on.
#[derive(Default)]
struct NodeRgRoles<'a> {
    managed_identity_operator: Option<&'a ActualAssignment>,
    virtual_machine_contributor: Option<&'a ActualAssignment>,
}

fn identity_of(a: &ActualAssignment, control_plane: &str, kubelet: &str) -> Option<IdentityKind> {
    if a.principal_id.eq_ignore_ascii_case(control_plane) {
        Some(IdentityKind::ControlPlane)
    } else if a.principal_id.eq_ignore_ascii_case(kubelet) {
        Some(IdentityKind::Kubelet)
    } else {
        None
    }
}

/// Record a control-plane assignment as the matrix input it comes from; false if none does.
fn control_plane_input(c: &mut Classified, role: &str, scope: &str) -> bool {
    match role {
        NETWORK_CONTRIBUTOR if type_is(scope, "Microsoft.Network/virtualNetworks/subnets") => {
            c.subnet_ids.push(scope.to_string());
        }
        NETWORK_CONTRIBUTOR if type_is(scope, "Microsoft.Network/routeTables") => {
            c.route_table_ids.push(scope.to_string());
        }
        PRIVATE_DNS_ZONE_CONTRIBUTOR if type_is(scope, "Microsoft.Network/privateDnsZones") => {
            c.private_dns_zone_ids.push(scope.to_string());
        }
        // Only the first identity found can be the kubelet identity; others are extras.
        MANAGED_IDENTITY_OPERATOR
            if c.kubelet_identity_id.is_none()
                && type_is(scope, "Microsoft.ManagedIdentity/userAssignedIdentities") =>
        {
            c.kubelet_identity_id = Some(scope.to_string());
        }
        _ => return false,
    }
    true
}

/// Record a kubelet assignment as the matrix input it comes from; false if none does. The
/// node resource group roles are only set aside: whether they count depends on both.
fn kubelet_input<'a>(
    c: &mut Classified,
    on_node_rg: &mut NodeRgRoles<'a>,
    a: &'a ActualAssignment,
    role: &str,
    node_rg: &str,
) -> bool {
    let scope = a.scope.as_str();
    match role {
        ACR_PULL if type_is(scope, "Microsoft.ContainerRegistry/registries") => {
            c.acr_ids.push(scope.to_string());
        }
        DNS_ZONE_CONTRIBUTOR if type_is(scope, "Microsoft.Network/dnszones") => {
            c.dns_zone_ids.push(scope.to_string());
        }
        MANAGED_IDENTITY_OPERATOR if same_scope(scope, node_rg) => {
            on_node_rg.managed_identity_operator = Some(a);
        }
        VIRTUAL_MACHINE_CONTRIBUTOR if same_scope(scope, node_rg) => {
            on_node_rg.virtual_machine_contributor = Some(a);
        }
        MANAGED_IDENTITY_OPERATOR if type_is(scope, "Microsoft.Resources/resourceGroups") => {
            c.identity_resource_group_ids.push(scope.to_string());
        }
        _ => return false,
    }
    true
}

/// Pod identity is enabled only when both node resource group roles are present; otherwise
/// those roles and the identity resource groups are plain extras.
fn settle_pod_identity(c: &mut Classified, on_node_rg: NodeRgRoles<'_>) {
    match (on_node_rg.managed_identity_operator, on_node_rg.virtual_machine_contributor) {
        (Some(_), Some(_)) => c.pod_identity_enabled = true,
        (one, other) => {
            for a in one.into_iter().chain(other) {
                c.extra.push(extra(IdentityKind::Kubelet, a));
            }
        }
    }
    if !c.pod_identity_enabled {
        for scope in std::mem::take(&mut c.identity_resource_group_ids) {
            c.extra.push(ExtraAssignment {
                identity: IdentityKind::Kubelet,
                role: role_name(MANAGED_IDENTITY_OPERATOR),
                scope,
                description: None,
            });
        }
    }
}

fn role_name(guid: &str) -> String {
    roles::by_guid(guid).map_or_else(|| guid.to_string(), |r| r.name.clone())
}

fn extra(identity: IdentityKind, a: &ActualAssignment) -> ExtraAssignment {
    ExtraAssignment {
        identity,
        role: role_name(&a.role_guid()),
        scope: a.scope.clone(),
        description: a.description.clone().filter(|d| !d.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CP: &str = "11111111-1111-1111-1111-111111111111";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const NODE_RG: &str = "/subscriptions/s/resourceGroups/MC_rg_aks_westeurope";

    fn a(principal: &str, role: &str, scope: &str) -> ActualAssignment {
        ActualAssignment {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/x"),
            name: "x".into(),
            scope: scope.into(),
            role_definition_id: format!("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            principal_id: principal.into(),
            description: None,
        }
    }

    #[test]
    fn recovers_every_matrix_input() {
        let subnet = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/n";
        let acr = "/subscriptions/hub/resourceGroups/shared/providers/Microsoft.ContainerRegistry/registries/acr";
        let zone = "/subscriptions/hub/resourceGroups/shared/providers/Microsoft.Network/dnszones/example.com";
        let pzone = "/subscriptions/hub/resourceGroups/shared/providers/Microsoft.Network/privateDnsZones/p.io";
        let id_rg = "/subscriptions/s/resourceGroups/identities";
        let kv = "/subscriptions/s/resourceGroups/apps/providers/Microsoft.KeyVault/vaults/kv";
        let actual = vec![
            a(CP, NETWORK_CONTRIBUTOR, subnet),
            a(CP, PRIVATE_DNS_ZONE_CONTRIBUTOR, pzone),
            a(KUBELET, ACR_PULL, acr),
            a(KUBELET, DNS_ZONE_CONTRIBUTOR, zone),
            a(KUBELET, MANAGED_IDENTITY_OPERATOR, &NODE_RG.replace("resourceGroups", "resourcegroups")),
            a(KUBELET, VIRTUAL_MACHINE_CONTRIBUTOR, NODE_RG),
            a(KUBELET, MANAGED_IDENTITY_OPERATOR, id_rg),
            a(KUBELET, "4633458b-17de-408a-b874-0445c86b69e6", kv),
            a("33333333-3333-3333-3333-333333333333", ACR_PULL, acr),
        ];
        let c = classify(&actual, CP, KUBELET, NODE_RG);
        assert_eq!(c.subnet_ids, vec![subnet]);
        assert_eq!(c.private_dns_zone_ids, vec![pzone]);
        assert_eq!(c.acr_ids, vec![acr]);
        assert_eq!(c.dns_zone_ids, vec![zone]);
        assert!(c.pod_identity_enabled);
        assert_eq!(c.identity_resource_group_ids, vec![id_rg]);
        assert_eq!(c.extra.len(), 1, "{:?}", c.extra);
        assert_eq!(c.extra[0].role, "Key Vault Secrets User");
    }

    #[test]
    fn half_of_pod_identity_is_an_extra() {
        let c = classify(&[a(KUBELET, MANAGED_IDENTITY_OPERATOR, NODE_RG)], CP, KUBELET, NODE_RG);
        assert!(!c.pod_identity_enabled);
        assert_eq!(c.extra.len(), 1);
        assert_eq!(c.extra[0].role, "Managed Identity Operator");
    }
}
