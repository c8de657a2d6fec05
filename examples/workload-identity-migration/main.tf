# Moving one application from AAD Pod Identity to Workload Identity without downtime, one
# `mode` at a time (see docs/guides/pod-identity-to-workload-identity.md):
#
#   terraform apply                              # aad_pod_identity: what runs today
#   terraform apply -var mode=both               # + federated credential and ServiceAccount
#   terraform apply -var mode=workload_identity  # - AzureIdentity, binding, kubelet grant
#
# The ids match the emulator's example seed (emulator/examples/seed.json). The namespace
# `orders` must exist: aksid does not create namespaces.
terraform {
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}

# Credentials and endpoints from the environment (ARM_* / AKSID_*).
provider "aksid" {}

variable "mode" {
  description = "aad_pod_identity (before), both (while pods move over), workload_identity (after)."
  type        = string
  default     = "aad_pod_identity"

  validation {
    condition     = contains(["aad_pod_identity", "both", "workload_identity"], var.mode)
    error_message = "The mode must be aad_pod_identity, both or workload_identity."
  }
}

locals {
  spoke = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks"
}

# The identity the application already uses through AAD Pod Identity stays the same: only how
# pods get its tokens changes, so its role assignments are untouched by the migration.
resource "aksid_pod_identity" "orders" {
  name        = "orders-api"
  namespace   = "orders"
  mode        = var.mode
  cluster_id  = "${local.spoke}/providers/Microsoft.ContainerService/managedClusters/aks-spoke"
  identity_id = "${local.spoke}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api"

  role {
    role  = "Azure Service Bus Data Sender"
    scope = "${local.spoke}/providers/Microsoft.ServiceBus/namespaces/sb-spoke"
  }
}

# Labels for the pod template: aadpodidbinding, azure.workload.identity/use, or both.
output "pod_labels" {
  value = aksid_pod_identity.orders.pod_labels
}

# The pod template's serviceAccountName once workload identity is on.
output "service_account_name" {
  value = var.mode == "aad_pod_identity" ? null : aksid_pod_identity.orders.service_account_name
}

output "client_id" {
  value = aksid_pod_identity.orders.client_id
}

# Null until mode = "both": issuer (byte for byte the cluster's), subject, audiences.
output "federated_credential" {
  value = aksid_pod_identity.orders.federated_credential
}

output "assignments" {
  value = [for a in aksid_pod_identity.orders.assignments : a.key]
}
