//! Desired versus actual role assignments: when an assignment ARM holds grants what a desired
//! one asks for.
//!
//! ARM compares scopes, role definitions and principals loosely, and so do we: scopes
//! case-insensitively (any casing of `resourceGroups` or of the names, an optional trailing
//! slash), role definitions by GUID only (bare, tenant form or subscription-scoped form),
//! principals case-insensitively. What to do about it is decided in `engine`.

use crate::domain::roles;

use super::{DesiredAssignment, Known};

/// A role assignment as read from ARM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualAssignment {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub description: Option<String>,
}

impl ActualAssignment {
    /// `name`, or the last segment of `id` when `name` is empty.
    pub fn effective_name(&self) -> &str {
        if self.name.is_empty() {
            self.id.trim_end_matches('/').rsplit('/').next().unwrap_or_default()
        } else {
            &self.name
        }
    }

    /// The role definition GUID, lowercase, from any id form.
    pub fn role_guid(&self) -> String {
        role_guid(&self.role_definition_id)
    }
}

/// The GUID at the end of a role definition id in any form, lowercase.
fn role_guid(role_definition_id: &str) -> String {
    match roles::parse_role_definition_id(role_definition_id) {
        Ok(r) => r.guid,
        Err(_) => {
            role_definition_id.trim().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_ascii_lowercase()
        }
    }
}

pub(super) use crate::domain::ids::same_id as same_scope;

fn same_role_and_scope(d: &DesiredAssignment, a: &ActualAssignment) -> bool {
    a.role_guid() == d.role.guid.to_ascii_lowercase() && same_scope(&d.scope, &a.scope)
}

/// True when `a` grants what `d` asks for: same scope (case-insensitively),
/// same role GUID (any id form), same principal (case-insensitively). False
/// while `d`'s principal is unknown.
pub fn equivalent(d: &DesiredAssignment, a: &ActualAssignment) -> bool {
    let Known::Known(principal) = &d.principal_id else { return false };
    principal.trim().eq_ignore_ascii_case(a.principal_id.trim()) && same_role_and_scope(d, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{IdentityKind, RoleRef, SourcePath};

    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const OTHER: &str = "33333333-3333-3333-3333-333333333333";
    const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    const ACR_PUSH: &str = "8311e382-0749-4cb8-b61a-304f252e45ec";

    fn desired(key: &str, scope: &str, role: &str, principal: Known<&str>) -> DesiredAssignment {
        DesiredAssignment {
            key: key.into(),
            identity: IdentityKind::Kubelet,
            role: RoleRef::from_guid(role),
            scope: scope.into(),
            principal_id: principal.map(str::to_string),
            reason: "r".into(),
            description: None,
            source: SourcePath::element("acr_ids", 0),
        }
    }

    fn acr_pull() -> DesiredAssignment {
        desired("kubelet/AcrPull/acrhubshared", ACR, ACR_PULL, Known::Known(KUBELET))
    }

    fn actual(name: &str, scope: &str, role_definition_id: &str, principal: &str) -> ActualAssignment {
        ActualAssignment {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            name: name.into(),
            scope: scope.into(),
            role_definition_id: role_definition_id.into(),
            principal_id: principal.into(),
            description: None,
        }
    }

    fn sub_role(guid: &str) -> String {
        format!("/subscriptions/00000000-0000-0000-0000-0000000000b2/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    }

    #[test]
    fn role_id_forms_are_equivalent() {
        let d = acr_pull();
        for role in [
            format!("/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"),
            sub_role(ACR_PULL),
            sub_role(&ACR_PULL.to_uppercase()).to_lowercase(),
            ACR_PULL.to_string(),
            ACR_PULL.to_uppercase(),
            format!("{}/", sub_role(ACR_PULL)),
        ] {
            assert!(equivalent(&d, &actual("x", ACR, &role, KUBELET)), "{role}");
        }
        assert!(!equivalent(&d, &actual("x", ACR, &sub_role(ACR_PUSH), KUBELET)));
    }

    #[test]
    fn scope_and_principal_casing_are_equivalent() {
        let d = acr_pull();
        for scope in [
            ACR.to_string(),
            ACR.replace("resourceGroups", "resourcegroups"),
            ACR.to_lowercase(),
            ACR.to_uppercase(),
            format!("{ACR}/"),
        ] {
            assert!(equivalent(&d, &actual("x", &scope, ACR_PULL, &KUBELET.to_uppercase())), "{scope}");
        }
        assert!(!equivalent(&d, &actual("x", SUBNET, ACR_PULL, KUBELET)));
        assert!(!equivalent(&d, &actual("x", ACR, ACR_PULL, OTHER)));
        // The parent scope is not the same scope.
        let rg = ACR.split("/providers/").next().unwrap();
        assert!(!equivalent(&d, &actual("x", rg, ACR_PULL, KUBELET)));
        // Unknown principal: never equivalent.
        let unknown = desired("k", ACR, ACR_PULL, Known::Unknown);
        assert!(!equivalent(&unknown, &actual("x", ACR, ACR_PULL, KUBELET)));
    }

    #[test]
    fn scopes_that_do_not_parse_compare_textually() {
        assert!(same_scope("/weird//scope/", "/WEIRD//scope"));
        assert!(!same_scope("/weird//scope", "/weird//other"));
        assert!(same_scope("/", "/"));
    }

    #[test]
    fn names_fall_back_to_the_id() {
        let mut a = actual("0b5fe924-9a61-425c-96af-cfe6e287ca2d", ACR, ACR_PULL, KUBELET);
        a.name.clear();
        assert_eq!(a.effective_name(), "0b5fe924-9a61-425c-96af-cfe6e287ca2d");
    }
}
