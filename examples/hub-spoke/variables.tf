variable "hub" {
  description = "The hub subscription and its shared resources: the registry, and the private DNS zone of AKS API servers per region."
  type = object({
    subscription_id      = string
    acr_id               = string
    private_dns_zone_ids = map(string)
  })
}

# One object per spoke (provider configurations cannot be created with for_each, so each spoke
# is its own module block).
variable "spoke_a" {
  description = "Spoke A: its subscription, cluster, subnets and applications (see modules/aks-identity for `apps`)."
  type = object({
    subscription_id            = string
    cluster_id                 = string
    subnet_ids                 = list(string)
    identity_resource_group_id = string
    location                   = string
    apps = map(object({
      namespace   = string
      mode        = string
      identity_id = string
      roles       = list(object({ role = string, scope = string, description = string }))
    }))
  })
}

variable "spoke_b" {
  description = "Spoke B, as spoke_a."
  type = object({
    subscription_id            = string
    cluster_id                 = string
    subnet_ids                 = list(string)
    identity_resource_group_id = string
    location                   = string
    apps = map(object({
      namespace   = string
      mode        = string
      identity_id = string
      roles       = list(object({ role = string, scope = string, description = string }))
    }))
  })
}
