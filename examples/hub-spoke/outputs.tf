# Per spoke, what the applications' deployments need and what was granted.

output "pod_labels" {
  value = {
    spoke_a = module.spoke_a.pod_labels
    spoke_b = module.spoke_b.pod_labels
  }
}

output "client_ids" {
  value = {
    spoke_a = module.spoke_a.client_ids
    spoke_b = module.spoke_b.client_ids
  }
}

output "service_accounts" {
  value = {
    spoke_a = module.spoke_a.service_accounts
    spoke_b = module.spoke_b.service_accounts
  }
}

output "assignment_ids" {
  value = {
    spoke_a = module.spoke_a.assignment_ids
    spoke_b = module.spoke_b.assignment_ids
  }
}

# Paste into a pull request or a wiki page: GitHub renders the table and the diagram.
output "access_report" {
  value = {
    spoke_a = "${module.spoke_a.access_report.markdown}\n```mermaid\n${module.spoke_a.access_report.mermaid}```\n"
    spoke_b = "${module.spoke_b.access_report.markdown}\n```mermaid\n${module.spoke_b.access_report.mermaid}```\n"
  }
}
