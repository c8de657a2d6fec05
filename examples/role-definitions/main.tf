# Look up the built-in roles an AKS cluster's identities need, offline: no Azure call is made,
# so the ids are known at plan time and can feed role assignments in the same plan.
terraform {
  required_providers {
    aksid = {
      source = "aksid/aksid"
    }
  }
}

provider "aksid" {}

locals {
  aks_roles = ["Network Contributor", "AcrPull", "DNS Zone Contributor", "Private DNS Zone Contributor",
  "Managed Identity Operator", "Virtual Machine Contributor", "Storage Blob Data Reader"]
}

data "aksid_role_definition" "aks" {
  for_each = toset(local.aks_roles)
  name     = each.value
}

# The same role, addressed by the id form `az role assignment list` prints.
data "aksid_role_definition" "owner" {
  id = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
}

output "role_definition_ids" {
  value = { for name, r in data.aksid_role_definition.aks : name => r.role_definition_id }
}

output "owner_is_privileged" {
  value = data.aksid_role_definition.owner.privileged
}
