//! The schema of `aksid_role_assignment`.

use crate::framework::{Attribute, Block, NestedBlock, Nesting, Schema, Type};
use crate::resources::assignments as common;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new(
            "One Azure role assignment: a drop-in for `azurerm_role_assignment` with deterministic names, \
             adoption of equivalent assignments made outside Terraform, and a least-privilege policy.",
        )
        .attribute(Attribute::computed("id", Type::String, "ARM id of the assignment."))
        .attribute(Attribute::optional_computed(
            "name",
            Type::String,
            "Assignment name (a GUID). Default: deterministic from scope, principal and role, so known at plan.",
        ))
        .attribute(Attribute::required("scope", Type::String, "ARM id of the scope (any casing)."))
        .attribute(Attribute::optional_computed(
            "role",
            Type::String,
            "Role: built-in name (any case), role definition GUID, or role definition id (tenant or subscription form). \
             Custom role names are looked up at the scope. Exactly one of `role`, `role_definition_name` and \
             `role_definition_id` is required.",
        ))
        .attribute(Attribute::optional_computed(
            "role_definition_name",
            Type::String,
            "azurerm's spelling of `role` by name; an alternative to `role`.",
        ))
        .attribute(Attribute::required("principal_id", Type::String, "Object id of the principal."))
        .attribute(Attribute::optional_computed(
            "principal_type",
            Type::String,
            "`ServicePrincipal` (default, avoids replication failures for new managed identities), `User` or `Group`.",
        ))
        .attribute(Attribute::optional("description", Type::String, "Description of the assignment."))
        .attribute(Attribute::optional_computed(
            "role_definition_id",
            Type::String,
            "Role definition id. As an argument, azurerm's spelling of `role` by id (an alternative to `role`); \
             otherwise computed (tenant form, or the spelling state already holds).",
        ))
        .attribute(Attribute::optional_computed(
            "skip_service_principal_aad_check",
            Type::Bool,
            "Accepted for azurerm compatibility. No effect: the principal type is always sent (default \
             `ServicePrincipal`), which is what this flag did in azurerm.",
        ))
        .attribute(Attribute::optional(
            "condition",
            Type::String,
            "Accepted for azurerm compatibility only: ABAC conditions are not supported, so a non-empty value is an \
             error (keep such assignments in azurerm).",
        ))
        .attribute(Attribute::optional_computed(
            "condition_version",
            Type::String,
            "Accepted for azurerm compatibility; meaningful only with `condition`.",
        ))
        .attribute(Attribute::computed("role_name", Type::String, "Role name (the GUID for an unnamed custom role)."))
        .attribute(Attribute::computed(
            "origin",
            Type::String,
            "`created`, `adopted` (an equivalent assignment existed before and is managed instead of a duplicate) or `imported`.",
        ))
        .attribute(Attribute::optional(
            "delete_adopted_on_destroy",
            Type::Bool,
            "Also delete the assignment on destroy when it was adopted. Default false: an adopted assignment is left in place.",
        ))
        .block(NestedBlock::new(
            "allow_broad_scope",
            Nesting::Single,
            Block::new("Turns least-privilege errors into warnings; the justification is written into the description.")
                .attribute(Attribute::required("justification", Type::String, "Why the broad grant is needed.")),
        ))
        .block(common::timeouts_block()),
    }
}
