//! Provider functions (`provider::aksid::NAME(...)`, Terraform ≥ 1.8 and OpenTofu ≥ 1.7).

pub mod role_assignment_name;
