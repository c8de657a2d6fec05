//! Deterministic role-assignment names.
//!
//! A role assignment's name must be a GUID, and it is globally unique. We
//! derive it from what the assignment *is* (scope, principal, role) so that
//! it is known at plan time, stays the same when Azure echoes the scope in
//! another casing, and matches the convention of Bicep's
//! `getRoleAssignmentName()`: ARM's `guid()` (a UUIDv5 in namespace
//! [`ARM_GUID_NAMESPACE`] over its arguments joined with `-`) applied to the
//! lowercased scope without trailing slashes, the lowercased principal id and
//! the lowercased role definition GUID.

use uuid::Uuid;

use super::ids::ResourceId;

/// The UUIDv5 namespace of ARM's `guid()` template function.
pub const ARM_GUID_NAMESPACE: Uuid = uuid::uuid!("11fb06fb-712d-4ddd-98c7-e71bbd588830");

/// The deterministic name of the role assignment of `role_definition_guid`
/// to `principal_id` at `scope`:
/// `uuidv5(ARM_GUID_NAMESPACE, lower(scope without trailing "/") + "-" + lower(principal_id) + "-" + lower(role_definition_guid))`.
///
/// Casing differences (`/resourcegroups/` vs `/resourceGroups/`,
/// `microsoft.network`, upper-case GUIDs) and trailing slashes do not change
/// the result. The tenant root scope `/` contributes an empty string.
///
/// `role_definition_guid` must be the bare GUID, not a role definition id
/// such as `/providers/Microsoft.Authorization/roleDefinitions/<guid>`:
/// callers resolve names and ids first (see `azure::roles`);
/// [`try_role_assignment_name`] checks its inputs instead.
pub fn role_assignment_name(scope: &str, principal_id: &str, role_definition_guid: &str) -> Uuid {
    let input = format!(
        "{}-{}-{}",
        scope.trim_end_matches('/').to_lowercase(),
        principal_id.to_lowercase(),
        role_definition_guid.to_lowercase()
    );
    Uuid::new_v5(&ARM_GUID_NAMESPACE, input.as_bytes())
}

/// [`role_assignment_name`] for a parsed scope. The same as passing
/// `scope.as_str()`, so any casing of the scope gives the same name.
pub fn role_assignment_name_at(scope: &ResourceId, principal_id: &str, role_definition_guid: &str) -> Uuid {
    role_assignment_name(scope.as_str(), principal_id, role_definition_guid)
}

/// Why [`try_role_assignment_name`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("principal id {0:?} is not a GUID (expected the object id, 8-4-4-4-12 hexadecimal digits)")]
    PrincipalNotGuid(String),
    #[error(
        "role {0:?} is not a role definition GUID; resolve role names and role definition ids to their GUID first"
    )]
    RoleNotGuid(String),
}

/// [`role_assignment_name`] after checking that `principal_id` and
/// `role_definition_guid` are GUIDs (8-4-4-4-12 hex digits, either case).
/// The scope is not checked; parse it with [`ResourceId::parse`] for that.
pub fn try_role_assignment_name(
    scope: &str,
    principal_id: &str,
    role_definition_guid: &str,
) -> Result<Uuid, NameError> {
    if !is_guid(principal_id) {
        return Err(NameError::PrincipalNotGuid(principal_id.to_string()));
    }
    if !is_guid(role_definition_guid) {
        return Err(NameError::RoleNotGuid(role_definition_guid.to_string()));
    }
    Ok(role_assignment_name(scope, principal_id, role_definition_guid))
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aks";
    const PRINCIPAL: &str = "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c";
    /// Network Contributor.
    const ROLE: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";

    /// Computed independently with Python:
    /// `uuid.uuid5(uuid.UUID('11fb06fb-712d-4ddd-98c7-e71bbd588830'),
    ///   '/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-spoke-1/providers/microsoft.network/virtualnetworks/vnet/subnets/aks-2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c-4d97b98b-1d4f-4787-a291-c67834d212e7')`.
    const KNOWN: &str = "104ede2e-f554-5315-beda-e1db62835e87";

    #[test]
    fn matches_independent_vector() {
        assert_eq!(role_assignment_name(SCOPE, PRINCIPAL, ROLE).to_string(), KNOWN);
        let uuid = role_assignment_name(SCOPE, PRINCIPAL, ROLE);
        assert_eq!(uuid.get_version_num(), 5);
    }

    #[test]
    fn stable_across_casing_and_trailing_slash() {
        let base = role_assignment_name(SCOPE, PRINCIPAL, ROLE);
        let variants = [
            SCOPE.to_string(),
            format!("{SCOPE}/"),
            SCOPE.to_lowercase(),
            SCOPE.to_uppercase(),
            SCOPE.replace("resourceGroups", "resourcegroups").replace("Microsoft.Network", "microsoft.network"),
            format!("{}/", SCOPE.replace("resourceGroups", "RESOURCEGROUPS")),
        ];
        for scope in &variants {
            assert_eq!(role_assignment_name(scope, PRINCIPAL, ROLE), base, "{scope}");
            assert_eq!(role_assignment_name(scope, &PRINCIPAL.to_uppercase(), &ROLE.to_uppercase()), base, "{scope}");
        }
    }

    #[test]
    fn different_inputs_give_different_names() {
        let base = role_assignment_name(SCOPE, PRINCIPAL, ROLE);
        let vnet = SCOPE.trim_end_matches("/subnets/aks");
        assert_ne!(role_assignment_name(vnet, PRINCIPAL, ROLE), base);
        assert_ne!(role_assignment_name(SCOPE, "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2d", ROLE), base);
        // AcrPull instead of Network Contributor.
        assert_ne!(role_assignment_name(SCOPE, PRINCIPAL, "7f951dda-4ed3-4680-a7ca-43fe172d538d"), base);
        // Swapping principal and role is a different name too.
        assert_ne!(role_assignment_name(SCOPE, ROLE, PRINCIPAL), base);
    }

    #[test]
    fn parsed_scope_gives_the_same_name() {
        let id = ResourceId::parse(&SCOPE.replace("resourceGroups", "resourcegroups")).unwrap();
        assert_eq!(role_assignment_name_at(&id, PRINCIPAL, ROLE).to_string(), KNOWN);
    }

    #[test]
    fn checked_variant_rejects_non_guids() {
        assert_eq!(try_role_assignment_name(SCOPE, PRINCIPAL, ROLE).unwrap().to_string(), KNOWN);
        let role_id = format!("/providers/Microsoft.Authorization/roleDefinitions/{ROLE}");
        let err = try_role_assignment_name(SCOPE, PRINCIPAL, &role_id).unwrap_err();
        assert_eq!(err, NameError::RoleNotGuid(role_id));
        assert!(err.to_string().contains("resolve role names"), "{err}");
        assert!(matches!(
            try_role_assignment_name(SCOPE, "AcrPull", ROLE),
            Err(NameError::PrincipalNotGuid(p)) if p == "AcrPull"
        ));
    }
}
