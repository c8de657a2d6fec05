# Who can do what because of an AKS cluster: every role assignment of its identities and of
# its applications' identities, in both subscriptions of the hub-and-spoke landing zone. The
# ids match the emulator's example seed (emulator/examples/seed.json).
terraform {
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}

# Credentials and endpoints from the environment (ARM_* / AKSID_*).
provider "aksid" {}

locals {
  hub   = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers"
  spoke = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks"
}

resource "aksid_cluster_identity_roles" "aks" {
  cluster_id = "${local.spoke}/providers/Microsoft.ContainerService/managedClusters/aks-spoke"
  subnet_ids = ["${local.spoke}/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes"]
  acr_ids    = ["${local.hub}/Microsoft.ContainerRegistry/registries/acrhubshared"]
}

data "aksid_access_report" "aks" {
  cluster_id       = aksid_cluster_identity_roles.aks.cluster_id
  subscription_ids = ["9c195f54-5580-4cd2-9e24-3114522757f4", "ad089f8f-9110-4b0c-9b4b-410b023815eb"]
  app_identity_ids = ["${local.spoke}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api"]

  # Adopted grants keep their original name: say which ones the resource holds.
  managed_assignment_ids = [for a in aksid_cluster_identity_roles.aks.assignments : a.id]
}

# Paste into a pull request or wiki page: GitHub renders both.
output "report" {
  value = "${data.aksid_access_report.aks.markdown}\n```mermaid\n${data.aksid_access_report.aks.mermaid}```\n"
}

output "needs_attention" {
  value = [
    for a in data.aksid_access_report.aks.assignments : a
    if a.status != "managed" || a.broader_than_needed
  ]
}
