variable "cluster_id" {
  description = "ARM id of the spoke's AKS cluster (Microsoft.ContainerService/managedClusters)."
  type        = string
}

variable "subnet_ids" {
  description = "The cluster's node and pod subnets in the spoke: Network Contributor for the control plane."
  type        = list(string)
}

variable "acr_ids" {
  description = "Registries in the hub the nodes pull from: AcrPull for the kubelet identity."
  type        = list(string)
  default     = []
}

variable "private_dns_zone_ids" {
  description = "Private DNS zones in the hub for the private API server: Private DNS Zone Contributor for the control plane."
  type        = list(string)
  default     = []
}

variable "identity_resource_group_id" {
  description = "Resource group in the spoke where new application identities are created."
  type        = string
}

variable "location" {
  description = "Azure region of new application identities."
  type        = string
}

variable "apps" {
  description = <<-EOT
    Applications on the cluster, by name (the name of their Kubernetes objects). `mode` is
    aad_pod_identity, workload_identity or both; `identity_id` an existing user-assigned identity,
    or null to create `id-<name>` in identity_resource_group_id; `roles` what the identity may do
    (`description` may be null).
  EOT
  type = map(object({
    namespace   = string
    mode        = string
    identity_id = string
    roles = list(object({
      role        = string
      scope       = string
      description = string
    }))
  }))
}
