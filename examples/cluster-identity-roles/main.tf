# The whole identity role matrix of an AKS cluster in a hub-and-spoke landing zone, as one
# resource. The ids match the emulator's example seed (emulator/examples/seed.json); point
# them at your own resources for real Azure.
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

  # Control plane: Network Contributor on each subnet, Private DNS Zone Contributor on the zone.
  subnet_ids = [
    "${local.spoke}/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes",
    "${local.spoke}/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods",
  ]
  private_dns_zone_ids = ["${local.hub}/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io"]

  # Kubelet: AcrPull on the hub registry, DNS Zone Contributor for external-dns.
  acr_ids      = ["${local.hub}/Microsoft.ContainerRegistry/registries/acrhubshared"]
  dns_zone_ids = ["${local.hub}/Microsoft.Network/dnszones/apps.contoso.example"]

  # A grant the matrix does not know: still least-privilege checked.
  extra_assignment {
    identity    = "kubelet"
    role        = "Storage Blob Data Reader"
    scope       = "${local.spoke}/providers/Microsoft.Storage/storageAccounts/stspokedata"
    description = "node image cache reads blobs"
  }
}

# Keys are known at plan, so modules can for_each over the grants.
output "assignments" {
  value = { for a in aksid_cluster_identity_roles.aks.assignments : a.key => a.id }
}
