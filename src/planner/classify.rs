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
    let (mut mio_on_node_rg, mut vmc_on_node_rg) = (None, None);
    for a in actual {
        let role = a.role_guid();
        let scope = a.scope.clone();
        let identity = if a.principal_id.eq_ignore_ascii_case(control_plane) {
            IdentityKind::ControlPlane
        } else if a.principal_id.eq_ignore_ascii_case(kubelet) {
            IdentityKind::Kubelet
        } else {
            continue;
        };
        let matched = match (identity, role.as_str()) {
            (IdentityKind::ControlPlane, NETWORK_CONTRIBUTOR)
                if type_is(&scope, "Microsoft.Network/virtualNetworks/subnets") =>
            {
                c.subnet_ids.push(scope.clone());
                true
            }
            (IdentityKind::ControlPlane, NETWORK_CONTRIBUTOR) if type_is(&scope, "Microsoft.Network/routeTables") => {
                c.route_table_ids.push(scope.clone());
                true
            }
            (IdentityKind::ControlPlane, PRIVATE_DNS_ZONE_CONTRIBUTOR)
                if type_is(&scope, "Microsoft.Network/privateDnsZones") =>
            {
                c.private_dns_zone_ids.push(scope.clone());
                true
            }
            (IdentityKind::ControlPlane, MANAGED_IDENTITY_OPERATOR)
                if c.kubelet_identity_id.is_none()
                    && type_is(&scope, "Microsoft.ManagedIdentity/userAssignedIdentities") =>
            {
                c.kubelet_identity_id = Some(scope.clone());
                true
            }
            (IdentityKind::Kubelet, ACR_PULL) if type_is(&scope, "Microsoft.ContainerRegistry/registries") => {
                c.acr_ids.push(scope.clone());
                true
            }
            (IdentityKind::Kubelet, DNS_ZONE_CONTRIBUTOR) if type_is(&scope, "Microsoft.Network/dnszones") => {
                c.dns_zone_ids.push(scope.clone());
                true
            }
            (IdentityKind::Kubelet, MANAGED_IDENTITY_OPERATOR) if same_scope(&scope, node_rg) => {
                mio_on_node_rg = Some(a);
                true
            }
            (IdentityKind::Kubelet, VIRTUAL_MACHINE_CONTRIBUTOR) if same_scope(&scope, node_rg) => {
                vmc_on_node_rg = Some(a);
                true
            }
            (IdentityKind::Kubelet, MANAGED_IDENTITY_OPERATOR)
                if type_is(&scope, "Microsoft.Resources/resourceGroups") =>
            {
                c.identity_resource_group_ids.push(scope.clone());
                true
            }
            _ => false,
        };
        if !matched {
            c.extra.push(extra(identity, a));
        }
    }
    match (mio_on_node_rg, vmc_on_node_rg) {
        (Some(_), Some(_)) => c.pod_identity_enabled = true,
        (one, other) => {
            for a in one.into_iter().chain(other) {
                c.extra.push(extra(IdentityKind::Kubelet, a));
            }
        }
    }
    // Without pod identity, identity resource groups are plain extras too.
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
    c
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
