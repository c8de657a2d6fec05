# Read an AKS cluster's identities (what `az aks show --query identity` and identityProfile
# report). Runs against real Azure, or offline against aksid-emulator (see `make demo`).
terraform {
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}

variable "cluster_id" {
  type    = string
  default = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke"
}

# Authentication and endpoints come from the environment (ARM_TENANT_ID, ARM_CLIENT_ID,
# ARM_CLIENT_SECRET, AKSID_ARM_ENDPOINT, AKSID_AUTHORITY_HOST, AKSID_CA_CERTIFICATE).
provider "aksid" {}

data "aksid_cluster" "aks" {
  cluster_id = var.cluster_id
}

output "control_plane_principal_id" {
  value = data.aksid_cluster.aks.control_plane_principal_id
}

output "kubelet_identity" {
  value = data.aksid_cluster.aks.kubelet_identity
}

output "node_resource_group_id" {
  value = data.aksid_cluster.aks.node_resource_group_id
}

output "oidc_issuer_url" {
  value = data.aksid_cluster.aks.oidc_issuer_url
}

output "subnet_ids" {
  value = data.aksid_cluster.aks.subnet_ids
}
