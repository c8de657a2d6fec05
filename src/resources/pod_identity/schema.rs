//! The schema of `aksid_pod_identity`.

use crate::framework::{Attribute, Block, NestedBlock, Nesting, Schema, Type};
use crate::resources::assignments;
use crate::resources::grants::grant_type;

pub fn credential_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("id", Type::String),
        ("issuer", Type::String),
        ("subject", Type::String),
        ("audiences", Type::list(Type::String)),
    ])
}

pub fn object_type() -> Type {
    Type::object([
        ("kind", Type::String),
        ("namespace", Type::String),
        ("name", Type::String),
        ("fields", Type::map(Type::String)),
    ])
}

fn identity_block() -> NestedBlock {
    NestedBlock::new(
        "identity",
        Nesting::Single,
        Block::new("A user-assigned managed identity this resource creates (and deletes on destroy), instead of `identity_id`.")
            .attribute(Attribute::required("name", Type::String, "Name of the identity."))
            .attribute(Attribute::required("resource_group_id", Type::String, "ARM id of its resource group."))
            .attribute(Attribute::required("location", Type::String, "Azure region, e.g. `westeurope`."))
            .attribute(Attribute::optional("tags", Type::map(Type::String), "Tags of the identity.")),
    )
}

fn role_block() -> NestedBlock {
    NestedBlock::new(
        "role",
        Nesting::List,
        Block::new("A role the application identity holds, reviewed by the least-privilege policy.")
            .attribute(Attribute::required(
                "role",
                Type::String,
                "Role name (e.g. `Storage Blob Data Reader`), GUID or role definition id.",
            ))
            .attribute(Attribute::required(
                "scope",
                Type::String,
                "ARM id of the scope: the one resource the application uses.",
            ))
            .attribute(Attribute::optional("description", Type::String, "Written into the assignment.")),
    )
}

fn inputs(block: Block) -> Block {
    let s = |n: &str, d: &str| Attribute::optional(n, Type::String, d);
    let oc = |n: &str, d: &str| Attribute::optional_computed(n, Type::String, d);
    block
        .attribute(Attribute::required("name", Type::String, "Name of the application's identity objects in Kubernetes (an RFC 1123 subdomain)."))
        .attribute(Attribute::required("namespace", Type::String, "Kubernetes namespace of the application (an RFC 1123 label)."))
        .attribute(Attribute::required(
            "mode",
            Type::String,
            "`aad_pod_identity`, `workload_identity`, or `both` (the migration state: both sets of objects exist).",
        ))
        .attribute(s("cluster_id", "ARM id of the AKS cluster: its kubelet identity and OIDC issuer are read from it, and its credentials used when the provider has no `kubernetes` block."))
        .attribute(oc("kubelet_principal_id", "Object id of the kubelet identity (instead of reading it from `cluster_id`, e.g. for a cluster created in the same apply)."))
        .attribute(oc("oidc_issuer_url", "The cluster's OIDC issuer URL, byte for byte (instead of reading it from `cluster_id`)."))
        .attribute(oc("identity_id", "ARM id of an existing user-assigned identity (not deleted on destroy); computed with an `identity` block."))
        .attribute(oc("selector", "AAD Pod Identity: the `aadpodidbinding` label value pods carry (default: `name`)."))
        .attribute(oc("binding_name", "AAD Pod Identity: name of the AzureIdentityBinding (default: `<name>-binding`)."))
        .attribute(oc("service_account_name", "Workload identity: the ServiceAccount (default: `name`)."))
        .attribute(Attribute::optional("service_account_annotations", Type::map(Type::String), "Workload identity: extra ServiceAccount annotations."))
        .attribute(Attribute::optional("service_account_labels", Type::map(Type::String), "Workload identity: extra ServiceAccount labels."))
        .attribute(Attribute::optional_computed(
            "audiences",
            Type::list(Type::String),
            "Workload identity: audiences of the federated credential (default `[\"api://AzureADTokenExchange\"]`).",
        ))
        .attribute(Attribute::optional(
            "write_kubernetes_objects",
            Type::Bool,
            "Write the Kubernetes objects (default true). With false, only the Azure side is managed and `manifests` holds the objects for GitOps.",
        ))
        .attribute(Attribute::optional(
            "force_conflicts",
            Type::Bool,
            "Take over Kubernetes fields another field manager owns (default false: such a conflict is an error naming the manager).",
        ))
        .attribute(Attribute::optional(
            "delete_adopted_on_destroy",
            Type::Bool,
            "Also delete adopted role assignments (equivalents that existed before) on destroy. Default false.",
        ))
}

fn outputs(block: Block) -> Block {
    let c = |n: &str, t: Type, d: &str| Attribute::computed(n, t, d);
    block
        .attribute(c("id", Type::String, "`<cluster_id>/<namespace>/<name>` (`<namespace>/<name>` without `cluster_id`)."))
        .attribute(c("client_id", Type::String, "Client id of the application identity."))
        .attribute(c("principal_id", Type::String, "Principal (object) id of the application identity."))
        .attribute(c("tenant_id", Type::String, "Tenant of the application identity."))
        .attribute(c(
            "assignments",
            Type::list(grant_type()),
            "One element per grant (the application's roles, and the kubelet's Managed Identity Operator with AAD Pod Identity).",
        ))
        .attribute(c("federated_credential", credential_type(), "Workload identity: the federated identity credential (`name`, `id`, `issuer`, `subject`, `audiences`)."))
        .attribute(c(
            "kubernetes_objects",
            Type::list(object_type()),
            "The Kubernetes objects written (`kind`, `namespace`, `name`) and the fields this resource owns in them, flattened (`spec.selector`, `metadata.annotations.<key>`).",
        ))
        .attribute(c("pod_labels", Type::map(Type::String), "The labels a pod template needs: `aadpodidbinding = <selector>` and/or `azure.workload.identity/use = \"true\"`."))
        .attribute(c("manifests", Type::String, "The Kubernetes objects as multi-document YAML (for GitOps)."))
}

pub fn schema() -> Schema {
    let block = Block::new(
        "An application's user-assigned identity, its least-privilege role assignments, and the Kubernetes objects that let its pods use it: AAD Pod Identity, Workload Identity, or both during the migration.",
    );
    Schema {
        version: 0,
        block: outputs(inputs(block))
            .block(identity_block())
            .block(role_block())
            .block(NestedBlock::new(
                "allow_broad_scope",
                Nesting::Single,
                Block::new("Turns least-privilege errors into warnings; the justification is written into the affected assignments.")
                    .attribute(Attribute::required("justification", Type::String, "Why the broad grant is needed.")),
            ))
            .block(assignments::timeouts_block()),
    }
}
