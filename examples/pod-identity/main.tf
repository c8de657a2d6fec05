# Two applications on the spoke cluster, each with its own identity, least-privilege data
# roles and the Kubernetes objects its pods need. The ids match the emulator's example seed
# (emulator/examples/seed.json); point them at your own resources for real Azure. The
# namespaces `reports` and `orders` must exist: aksid does not create namespaces
# (scripts/demo.sh creates them with kubectl).
terraform {
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}

# Credentials and endpoints from the environment (ARM_* / AKSID_*). Without a `kubernetes`
# block the cluster is reached with the kubeconfig of listClusterUserCredential for cluster_id.
provider "aksid" {}

locals {
  spoke   = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks"
  cluster = "${local.spoke}/providers/Microsoft.ContainerService/managedClusters/aks-spoke"
}

# Workload identity with a new identity: created (tagged aksid-created-by) and deleted on
# destroy. Gets a federated credential for ServiceAccount reports/reports.
resource "aksid_pod_identity" "reports" {
  name       = "reports"
  namespace  = "reports"
  mode       = "workload_identity"
  cluster_id = local.cluster

  identity {
    name              = "id-reports"
    resource_group_id = local.spoke
    location          = "westeurope"
    tags              = { app = "reports" }
  }

  role {
    role        = "Storage Blob Data Reader"
    scope       = "${local.spoke}/providers/Microsoft.Storage/storageAccounts/stspokedata"
    description = "reads report templates"
  }
}

# AAD Pod Identity with an existing identity (never deleted by this resource). The kubelet
# identity also gets Managed Identity Operator on this one identity.
resource "aksid_pod_identity" "orders" {
  name        = "orders-api"
  namespace   = "orders"
  mode        = "aad_pod_identity"
  cluster_id  = local.cluster
  identity_id = "${local.spoke}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api"

  role {
    role        = "Azure Service Bus Data Sender"
    scope       = "${local.spoke}/providers/Microsoft.ServiceBus/namespaces/sb-spoke"
    description = "publishes order events"
  }
}

# What each Deployment's pod template needs.
output "pod_labels" {
  value = {
    reports = aksid_pod_identity.reports.pod_labels
    orders  = aksid_pod_identity.orders.pod_labels
  }
}

output "client_ids" {
  value = {
    reports = aksid_pod_identity.reports.client_id
    orders  = aksid_pod_identity.orders.client_id
  }
}

output "service_account" {
  value = "${aksid_pod_identity.reports.namespace}/${aksid_pod_identity.reports.service_account_name}"
}

output "assignments" {
  value = concat(
    [for a in aksid_pod_identity.reports.assignments : a.key],
    [for a in aksid_pod_identity.orders.assignments : a.key],
  )
}

# The objects as YAML, e.g. for a GitOps repository.
output "manifests" {
  value = {
    reports = aksid_pod_identity.reports.manifests
    orders  = aksid_pod_identity.orders.manifests
  }
}
