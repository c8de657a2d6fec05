# The ids of examples/hub-spoke/emulator-seed.json (see README.md); replace them with your own
# subscriptions and resources for Azure.

hub = {
  subscription_id = "5fae6b32-bc92-44dd-8d0e-033ad40d0455"
  acr_id          = "/subscriptions/5fae6b32-bc92-44dd-8d0e-033ad40d0455/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubcontoso"
  private_dns_zone_ids = {
    westeurope  = "/subscriptions/5fae6b32-bc92-44dd-8d0e-033ad40d0455/resourceGroups/rg-hub-shared/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io"
    northeurope = "/subscriptions/5fae6b32-bc92-44dd-8d0e-033ad40d0455/resourceGroups/rg-hub-shared/providers/Microsoft.Network/privateDnsZones/privatelink.northeurope.azmk8s.io"
  }
}

spoke_a = {
  subscription_id            = "053360cf-e43d-4e4b-a6a6-fd86058c10be"
  cluster_id                 = "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-a"
  identity_resource_group_id = "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks"
  location                   = "westeurope"
  subnet_ids = [
    "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke-a/subnets/snet-nodes",
    "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke-a/subnets/snet-pods",
  ]
  apps = {
    # Runs today on AAD Pod Identity, with the identity it already has.
    orders-api = {
      namespace   = "orders"
      mode        = "aad_pod_identity"
      identity_id = "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api"
      roles = [{
        role        = "Azure Service Bus Data Sender"
        scope       = "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.ServiceBus/namespaces/sb-spoke-a"
        description = "publishes order events"
      }]
    }
    # New on Workload Identity: its identity (id-reports) is created.
    reports = {
      namespace   = "reports"
      mode        = "workload_identity"
      identity_id = null
      roles = [{
        role        = "Storage Blob Data Reader"
        scope       = "/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.Storage/storageAccounts/stspokeadata"
        description = null
      }]
    }
  }
}

spoke_b = {
  subscription_id            = "59244c7c-f38c-4e4c-bf63-529f80113222"
  cluster_id                 = "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-b"
  identity_resource_group_id = "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks"
  location                   = "northeurope"
  subnet_ids = [
    "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke-b/subnets/snet-nodes",
    "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke-b/subnets/snet-pods",
  ]
  apps = {
    # Runs today on AAD Pod Identity, with the identity it already has.
    orders-api = {
      namespace   = "orders"
      mode        = "aad_pod_identity"
      identity_id = "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api"
      roles = [{
        role        = "Azure Service Bus Data Sender"
        scope       = "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.ServiceBus/namespaces/sb-spoke-b"
        description = "publishes order events"
      }]
    }
    # New on Workload Identity: its identity (id-reports) is created.
    reports = {
      namespace   = "reports"
      mode        = "workload_identity"
      identity_id = null
      roles = [{
        role        = "Storage Blob Data Reader"
        scope       = "/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.Storage/storageAccounts/stspokebdata"
        description = null
      }]
    }
  }
}
