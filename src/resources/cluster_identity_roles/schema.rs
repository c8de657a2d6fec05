//! The schema of `aksid_cluster_identity_roles` (version 1: the identities read from the
//! cluster live in `identities`, apart from the inputs).

use crate::framework::{Attribute, Block, NestedBlock, Nesting, Schema, Type};
use crate::resources::assignments;
use crate::resources::grants::grant_type;

pub const SCHEMA_VERSION: i64 = 1;
pub const PRINCIPALS: [&str; 3] = ["control_plane_principal_id", "kubelet_principal_id", "node_resource_group_id"];

pub fn identities_type() -> Type {
    Type::object(PRINCIPALS.map(|a| (a, Type::String)))
}

fn ids(name: &str, what: &str) -> Attribute {
    Attribute::optional(name, Type::list(Type::String), what)
}

pub fn schema() -> Schema {
    let s = |n: &str, d: &str| Attribute::optional(n, Type::String, d);
    Schema {
        version: SCHEMA_VERSION,
        block: Block::new(
            "Grants an AKS cluster's control-plane and kubelet identities exactly the role assignments AKS needs, \
             at the smallest scope, from a description of what the cluster uses.",
        )
        .attribute(Attribute::computed("id", Type::String, "The cluster id, or a generated id without one."))
        .attribute(s("cluster_id", "ARM id of the cluster: its identities and node resource group are read from ARM."))
        .attribute(s(
            "control_plane_principal_id",
            "Object id of the control-plane identity (instead of `cluster_id`, e.g. for a cluster created in the same apply).",
        ))
        .attribute(s("kubelet_principal_id", "Object id of the kubelet identity (instead of `cluster_id`)."))
        .attribute(s(
            "node_resource_group_id",
            "ARM id of the node resource group (instead of `cluster_id`; needed for AAD Pod Identity).",
        ))
        .attribute(Attribute::computed(
            "identities",
            identities_type(),
            "The identities the grants are made to: read from the cluster when `cluster_id` is set, else the \
             configured ones. Attributes `control_plane_principal_id`, `kubelet_principal_id`, `node_resource_group_id`.",
        ))
        .attribute(ids("subnet_ids", "Subnets of the cluster: Network Contributor for the control plane on each."))
        .attribute(ids("route_table_ids", "Route tables (kubenet): Network Contributor for the control plane on each."))
        .attribute(ids("private_dns_zone_ids", "Private DNS zones: Private DNS Zone Contributor for the control plane."))
        .attribute(s(
            "kubelet_identity_id",
            "A bring-your-own kubelet identity: Managed Identity Operator for the control plane on it.",
        ))
        .attribute(ids("acr_ids", "Container registries (may be in a hub subscription): AcrPull for the kubelet identity."))
        .attribute(ids("dns_zone_ids", "DNS zones: DNS Zone Contributor for the kubelet identity."))
        .attribute(Attribute::optional("max_parallel_writes", Type::Number, "Role assignment writes in flight, 1 to 64 (default 4)."))
        .attribute(Attribute::optional(
            "delete_adopted_on_destroy",
            Type::Bool,
            "Also delete adopted grants (equivalents that existed before Terraform, e.g. from `az aks update --attach-acr`) \
             on destroy or when they leave the configuration. Default false: they are left in place.",
        ))
        .attribute(Attribute::computed(
            "assignments",
            Type::list(grant_type()),
            "One element per grant: `key`, `name`, `id`, `scope`, `role_definition_id`, `role_name`, `principal_id`, \
             `principal_type`, `identity`, `reason`, `origin` (`created`, `adopted` or `imported`). Names and ids are \
             known at plan whenever scope and principal are.",
        ))
        .block(NestedBlock::new(
            "aad_pod_identity",
            Nesting::Single,
            Block::new("AAD Pod Identity (deprecated project): Managed Identity Operator and Virtual Machine Contributor for the kubelet identity on the node resource group.")
                .attribute(Attribute::optional("enabled", Type::Bool, "Grant what AAD Pod Identity needs."))
                .attribute(ids("identity_resource_group_ids", "Resource groups of the pod identities: Managed Identity Operator for the kubelet identity on each.")),
        ))
        .block(NestedBlock::new(
            "extra_assignment",
            Nesting::List,
            Block::new("A grant the matrix does not know, still subject to the least-privilege policy.")
                .attribute(Attribute::required("identity", Type::String, "`kubelet` or `control_plane`."))
                .attribute(Attribute::required("role", Type::String, "Role name, GUID or role definition id."))
                .attribute(Attribute::required("scope", Type::String, "ARM id of the scope."))
                .attribute(Attribute::optional("description", Type::String, "Written into the assignment.")),
        ))
        .block(
            NestedBlock::new(
                "allow_broad_scope",
                Nesting::Single,
                Block::new("Turns least-privilege errors into warnings; the justification is written into the affected assignments.")
                    .attribute(Attribute::required("justification", Type::String, "Why the broad grant is needed.")),
            ),
        )
        .block(assignments::timeouts_block()),
    }
}
