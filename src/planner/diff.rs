//! Desired versus actual role assignments.
//!
//! ARM compares scopes, role definitions and principals loosely, and so do
//! we: scopes case-insensitively (any casing of `resourceGroups` or of the
//! names, an optional trailing slash), role definitions by GUID only (bare,
//! tenant form or subscription-scoped form), principals case-insensitively.
//!
//! For each desired assignment [`plan_actions`] decides:
//!
//! * **Keep**: the assignment with our deterministic name exists and grants
//!   exactly this;
//! * **Adopt**: an equivalent assignment exists under another name (created
//!   by the portal, the CLI or another tool); creating ours would fail with
//!   `RoleAssignmentExists`, so we track that one instead;
//! * **Replace**: our deterministic name exists but grants something else
//!   (role assignments cannot be updated in place: delete, then create);
//! * **Create**: nothing equivalent exists.
//!
//! [`orphans`] lists assignments recorded earlier (their names are in state)
//! that nothing desired accounts for any more: they are to be deleted.

use std::collections::HashSet;

use crate::domain::ids::ResourceId;
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

/// What to do for one desired assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ours exists and is right.
    Keep { actual: ActualAssignment },
    /// Nothing equivalent exists (or the principal is not known yet).
    Create,
    /// An equivalent assignment exists under another name: track it.
    Adopt { actual: ActualAssignment },
    /// Our deterministic name exists but grants another principal, role or
    /// scope: delete it, then create ours.
    Replace { stale: ActualAssignment },
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

/// Scopes equal case-insensitively, with or without a trailing slash.
fn same_scope(a: &str, b: &str) -> bool {
    match (ResourceId::parse(a.trim()), ResourceId::parse(b.trim())) {
        (Ok(x), Ok(y)) => x == y,
        _ => {
            let norm = |s: &str| {
                let s = s.trim();
                let s = if s.len() > 1 { s.trim_end_matches('/') } else { s };
                s.to_lowercase()
            };
            norm(a) == norm(b)
        }
    }
}

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

/// One action per desired assignment, in the order of `desired`, keyed by
/// [`DesiredAssignment::key`].
pub fn plan_actions(desired: &[DesiredAssignment], actual: &[ActualAssignment]) -> Vec<(String, Action)> {
    desired.iter().map(|d| (d.key.clone(), action(d, actual))).collect()
}

fn action(d: &DesiredAssignment, actual: &[ActualAssignment]) -> Action {
    let Known::Known(name) = d.name() else { return Action::Create };
    let name = name.to_string();
    let ours = actual.iter().find(|a| a.effective_name().eq_ignore_ascii_case(&name));
    if let Some(a) = ours.filter(|a| equivalent(d, a)) {
        return Action::Keep { actual: a.clone() };
    }
    if let Some(a) = actual.iter().find(|a| equivalent(d, a)) {
        return Action::Adopt { actual: a.clone() };
    }
    match ours {
        Some(stale) => Action::Replace { stale: stale.clone() },
        None => Action::Create,
    }
}

/// Assignments whose names are in `previous_names` (what we created or
/// adopted before) that no desired assignment keeps, adopts or replaces:
/// delete them. An assignment that matches the role and scope of a desired
/// assignment whose principal is still unknown is not reported (it may turn
/// out to be the same grant).
pub fn orphans(
    previous_names: &[String],
    desired: &[DesiredAssignment],
    actual: &[ActualAssignment],
) -> Vec<ActualAssignment> {
    let previous: HashSet<String> = previous_names.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
    let claimed: HashSet<String> = plan_actions(desired, actual)
        .into_iter()
        .filter_map(|(_, action)| match action {
            Action::Keep { actual } | Action::Adopt { actual } | Action::Replace { stale: actual } => {
                Some(actual.effective_name().to_ascii_lowercase())
            }
            Action::Create => None,
        })
        .collect();
    actual
        .iter()
        .filter(|a| {
            let name = a.effective_name().to_ascii_lowercase();
            previous.contains(&name)
                && !claimed.contains(&name)
                && !desired.iter().any(|d| !d.principal_id.is_known() && same_role_and_scope(d, a))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::names::role_assignment_name;
    use crate::planner::{IdentityKind, RoleRef, SourcePath};

    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const OTHER: &str = "33333333-3333-3333-3333-333333333333";
    const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    const ACR_PUSH: &str = "8311e382-0749-4cb8-b61a-304f252e45ec";
    const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";

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

    fn ours() -> String {
        role_assignment_name(ACR, KUBELET, ACR_PULL).to_string()
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
    fn keep_when_our_name_is_right() {
        let a = actual(&ours().to_uppercase(), &ACR.to_lowercase(), &sub_role(ACR_PULL), KUBELET);
        let plan = plan_actions(&[acr_pull()], std::slice::from_ref(&a));
        assert_eq!(plan, vec![("kubelet/AcrPull/acrhubshared".to_string(), Action::Keep { actual: a })]);
    }

    #[test]
    fn create_when_nothing_matches() {
        let unrelated = actual("11111111-0000-0000-0000-000000000000", SUBNET, NETWORK_CONTRIBUTOR, KUBELET);
        assert_eq!(plan_actions(&[acr_pull()], &[unrelated])[0].1, Action::Create);
        assert_eq!(plan_actions(&[acr_pull()], &[])[0].1, Action::Create);
        // Unknown principal: create (the name is not known yet).
        let unknown = desired("k", ACR, ACR_PULL, Known::Unknown);
        let existing = actual(&ours(), ACR, ACR_PULL, KUBELET);
        assert_eq!(plan_actions(&[unknown], &[existing])[0].1, Action::Create);
    }

    #[test]
    fn adopt_an_equivalent_under_another_name() {
        let portal = actual(
            "aaaaaaaa-0000-0000-0000-000000000001",
            &ACR.replace("resourceGroups", "resourcegroups"),
            &sub_role(ACR_PULL),
            KUBELET,
        );
        let plan = plan_actions(&[acr_pull()], std::slice::from_ref(&portal));
        assert_eq!(plan[0].1, Action::Adopt { actual: portal });
    }

    #[test]
    fn replace_when_our_name_grants_something_else() {
        for stale in [
            actual(&ours(), ACR, ACR_PULL, OTHER),
            actual(&ours(), ACR, &sub_role(ACR_PUSH), KUBELET),
            actual(&ours(), SUBNET, ACR_PULL, KUBELET),
        ] {
            let plan = plan_actions(&[acr_pull()], std::slice::from_ref(&stale));
            assert_eq!(plan[0].1, Action::Replace { stale: stale.clone() });
        }
    }

    #[test]
    fn adopt_wins_over_replace_and_the_stale_one_becomes_an_orphan() {
        let stale = actual(&ours(), ACR, ACR_PULL, OTHER);
        let portal = actual("aaaaaaaa-0000-0000-0000-000000000001", ACR, ACR_PULL, KUBELET);
        let all = [stale.clone(), portal.clone()];
        let plan = plan_actions(&[acr_pull()], &all);
        assert_eq!(plan[0].1, Action::Adopt { actual: portal });
        assert_eq!(orphans(&[ours()], &[acr_pull()], &all), vec![stale.clone()]);
        // Not ours before: left alone.
        assert!(orphans(&[], &[acr_pull()], &all).is_empty());
    }

    #[test]
    fn actions_follow_desired_order_and_keys() {
        let subnet = desired(
            "control_plane/Network Contributor/vnet-spoke/snet-nodes",
            SUBNET,
            NETWORK_CONTRIBUTOR,
            Known::Known(OTHER),
        );
        let plan = plan_actions(&[acr_pull(), subnet.clone()], &[actual(&ours(), ACR, ACR_PULL, KUBELET)]);
        let keys: Vec<&str> = plan.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["kubelet/AcrPull/acrhubshared", "control_plane/Network Contributor/vnet-spoke/snet-nodes"]);
        assert!(matches!(plan[0].1, Action::Keep { .. }));
        assert_eq!(plan[1].1, Action::Create);
    }

    #[test]
    fn orphans_are_previous_assignments_no_longer_desired() {
        let kept = actual(&ours(), ACR, ACR_PULL, KUBELET);
        let dropped_name = role_assignment_name(SUBNET, OTHER, NETWORK_CONTRIBUTOR).to_string();
        let dropped = actual(&dropped_name, SUBNET, NETWORK_CONTRIBUTOR, OTHER);
        let foreign = actual("bbbbbbbb-0000-0000-0000-000000000001", SUBNET, NETWORK_CONTRIBUTOR, OTHER);
        let adopted = actual("aaaaaaaa-0000-0000-0000-000000000001", SUBNET, ACR_PUSH, KUBELET);
        let want_push = desired("kubelet/AcrPush/snet", SUBNET, ACR_PUSH, Known::Known(KUBELET));
        let all = [kept.clone(), dropped.clone(), foreign, adopted.clone()];
        let previous = vec![ours(), dropped_name.to_uppercase(), adopted.name.clone(), "gone-0000".to_string()];

        let found = orphans(&previous, &[acr_pull(), want_push.clone()], &all);
        assert_eq!(found, vec![dropped.clone()]);
        // Nothing desired any more: everything previous that still exists goes.
        assert_eq!(orphans(&previous, &[], &all), vec![kept, dropped, adopted]);
    }

    #[test]
    fn orphans_wait_for_unknown_principals() {
        let old = actual(&ours(), ACR, ACR_PULL, KUBELET);
        let unknown = desired("kubelet/AcrPull/acrhubshared", ACR, ACR_PULL, Known::Unknown);
        assert!(orphans(&[ours()], &[unknown], std::slice::from_ref(&old)).is_empty());
        // Once the principal is known and differs, the old one is an orphan.
        let moved = desired("kubelet/AcrPull/acrhubshared", ACR, ACR_PULL, Known::Known(OTHER));
        assert_eq!(orphans(&[ours()], &[moved], std::slice::from_ref(&old)), vec![old]);
    }

    #[test]
    fn names_fall_back_to_the_id() {
        let mut a = actual(&ours(), ACR, ACR_PULL, KUBELET);
        a.name.clear();
        assert_eq!(a.effective_name(), ours());
        assert!(matches!(plan_actions(&[acr_pull()], &[a])[0].1, Action::Keep { .. }));
    }
}
