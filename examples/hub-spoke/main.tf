# A hub-and-spoke landing zone: the hub subscription holds the shared container registry and
# the private DNS zones of the AKS API servers; each spoke subscription holds one AKS cluster,
# its subnets and its applications. See docs/guides/hub-spoke.md.
#
# One provider configuration per subscription. Credentials and endpoints come from the
# environment (ARM_* / AKSID_*); give an alias its own client_id (and secret or OIDC) when
# another principal deploys that subscription.
provider "aksid" {
  alias           = "hub"
  subscription_id = var.hub.subscription_id
}

provider "aksid" {
  alias           = "spoke_a"
  subscription_id = var.spoke_a.subscription_id
}

provider "aksid" {
  alias           = "spoke_b"
  subscription_id = var.spoke_b.subscription_id
}

module "spoke_a" {
  source = "./modules/aks-identity"
  providers = {
    aksid     = aksid.spoke_a
    aksid.hub = aksid.hub
  }

  cluster_id                 = var.spoke_a.cluster_id
  subnet_ids                 = var.spoke_a.subnet_ids
  identity_resource_group_id = var.spoke_a.identity_resource_group_id
  location                   = var.spoke_a.location
  acr_ids                    = [var.hub.acr_id]
  private_dns_zone_ids       = [var.hub.private_dns_zone_ids[var.spoke_a.location]]
  apps                       = var.spoke_a.apps
}

module "spoke_b" {
  source = "./modules/aks-identity"
  providers = {
    aksid     = aksid.spoke_b
    aksid.hub = aksid.hub
  }

  cluster_id                 = var.spoke_b.cluster_id
  subnet_ids                 = var.spoke_b.subnet_ids
  identity_resource_group_id = var.spoke_b.identity_resource_group_id
  location                   = var.spoke_b.location
  acr_ids                    = [var.hub.acr_id]
  private_dns_zone_ids       = [var.hub.private_dns_zone_ids[var.spoke_b.location]]
  apps                       = var.spoke_b.apps
}
