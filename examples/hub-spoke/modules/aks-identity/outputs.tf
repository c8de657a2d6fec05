# What downstream modules (Helm releases, GitOps manifests, policy checks) consume.

output "pod_labels" {
  description = "Per application, the labels its pod template needs (aadpodidbinding and/or azure.workload.identity/use)."
  value       = { for name, app in aksid_pod_identity.app : name => app.pod_labels }
}

output "client_ids" {
  description = "Per application, the client id of its identity (for AZURE_CLIENT_ID or SDK configuration)."
  value       = { for name, app in aksid_pod_identity.app : name => app.client_id }
}

output "service_accounts" {
  description = "Per workload identity application, the ServiceAccount its pods run as (namespace/name)."
  value = {
    for name, app in aksid_pod_identity.app : name => "${app.namespace}/${app.service_account_name}"
    if app.mode != "aad_pod_identity"
  }
}

output "identities" {
  description = "The cluster's control-plane and kubelet principals, as read from the cluster."
  value       = aksid_cluster_identity_roles.spoke.identities
}

locals {
  assignment_ids = merge(
    { for a in aksid_cluster_identity_roles.spoke.assignments : "cluster/${a.key}" => a.id },
    { for a in aksid_cluster_identity_roles.hub.assignments : "cluster/${a.key}" => a.id },
    merge([for name, app in aksid_pod_identity.app : { for a in app.assignments : "${name}/${a.key}" => a.id }]...),
  )
}

output "assignment_ids" {
  description = "Every role assignment this module manages, by key: cluster/<grant key> for the cluster's identities (spoke and hub), <app>/<grant key> for the applications."
  value       = local.assignment_ids
}

output "access_report" {
  description = "The cluster's access report: a Markdown table and a Mermaid diagram (GitHub renders both), and the counts."
  value = {
    markdown = data.aksid_access_report.cluster.markdown
    mermaid  = data.aksid_access_report.cluster.mermaid
    counts   = data.aksid_access_report.cluster.counts
  }
}
