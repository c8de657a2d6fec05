# One spoke cluster's identities: the control-plane and kubelet grants in the spoke, the grants
# on the hub's shared resources, and one identity per application with its roles and the
# Kubernetes objects its pods need.

locals {
  # AAD Pod Identity's MIC needs the cluster-wide kubelet grants on the node resource group.
  pod_identity_used = anytrue([for app in var.apps : app.mode != "workload_identity"])
}

# Spoke side, with the spoke's provider: everything in the spoke subscription.
resource "aksid_cluster_identity_roles" "spoke" {
  cluster_id = var.cluster_id
  subnet_ids = var.subnet_ids

  aad_pod_identity {
    enabled = local.pod_identity_used
  }
}

# Hub side, with the hub's provider: the same identities, granted on the hub's registry and
# private DNS zones. The principals come from the spoke resource (read from the cluster at
# plan), so the hub deployer needs no access to the spoke.
resource "aksid_cluster_identity_roles" "hub" {
  provider = aksid.hub

  control_plane_principal_id = aksid_cluster_identity_roles.spoke.identities.control_plane_principal_id
  kubelet_principal_id       = aksid_cluster_identity_roles.spoke.identities.kubelet_principal_id

  acr_ids              = var.acr_ids
  private_dns_zone_ids = var.private_dns_zone_ids
}

resource "aksid_pod_identity" "app" {
  for_each = var.apps

  name        = each.key
  namespace   = each.value.namespace
  mode        = each.value.mode
  cluster_id  = var.cluster_id
  identity_id = each.value.identity_id

  dynamic "identity" {
    for_each = each.value.identity_id == null ? [each.key] : []
    content {
      name              = "id-${identity.value}"
      resource_group_id = var.identity_resource_group_id
      location          = var.location
    }
  }

  dynamic "role" {
    for_each = each.value.roles
    content {
      role        = role.value.role
      scope       = role.value.scope
      description = role.value.description
    }
  }
}

# Who can do what because of this cluster: every grant of its identities and of its
# applications' identities, in the spoke and in the hub, marked managed / unmanaged / orphaned
# and flagged when broader than the matrix needs. Read again on every plan, so a grant added by
# hand shows up here even though no resource owns it.
data "aksid_access_report" "cluster" {
  cluster_id       = var.cluster_id
  subscription_ids = distinct(concat([split("/", var.cluster_id)[2]], [for id in concat(var.acr_ids, var.private_dns_zone_ids) : split("/", id)[2]]))
  app_identity_ids = [for app in aksid_pod_identity.app : app.identity_id]

  # Adopted grants keep their original name: say which ones this module holds.
  managed_assignment_ids = values(local.assignment_ids)

  # Read after this module's writes: an apply that repairs drift then reports the repaired
  # state, not the state its plan saw.
  depends_on = [aksid_cluster_identity_roles.spoke, aksid_cluster_identity_roles.hub, aksid_pod_identity.app]
}
