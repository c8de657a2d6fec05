//! One file per resource or data source: schema and glue between Terraform values and the
//! pure logic in `crate::azure`. No business rules live here.

pub mod access_report;
pub mod assignments;
pub mod cluster;
pub mod cluster_identity_roles;
pub mod grant_ops;
pub mod grants;
pub mod ownership;
pub mod pod_identity;
pub mod role_assignment;
pub mod role_definition;
