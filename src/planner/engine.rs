//! The one place that decides what happens to a resource's role assignments. Given what the
//! configuration asks for (desired), what state records (recorded) and what exists in Azure
//! (existing), [`decide`] says per desired grant whether to keep, create or adopt it, and which
//! recorded grants are no longer wanted. Plan, apply, read and import of both role-assignment
//! resources consume this result; the resources only map it to Terraform values and ARM calls.

use super::diff::{equivalent, ActualAssignment};
use super::DesiredAssignment;

/// How a grant came to be managed. It decides destroy: created and imported grants are
/// deleted; adopted ones (equivalents that existed before) are left unless the user opts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Created,
    Adopted,
    Imported,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Created => "created",
            Origin::Adopted => "adopted",
            Origin::Imported => "imported",
        }
    }

    /// State written before origins were recorded holds none: those grants were created.
    pub fn parse(s: Option<&str>) -> Origin {
        match s {
            Some("adopted") => Origin::Adopted,
            Some("imported") => Origin::Imported,
            _ => Origin::Created,
        }
    }
}

/// A grant that state records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub key: String,
    pub id: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub origin: Origin,
}

impl Recorded {
    fn as_actual(&self) -> ActualAssignment {
        ActualAssignment {
            id: self.id.clone(),
            name: String::new(),
            scope: self.scope.clone(),
            role_definition_id: self.role_definition_id.clone(),
            principal_id: self.principal_id.clone(),
            description: None,
        }
    }

    /// Whether `a` (what ARM holds under this grant's id) still grants what was recorded.
    pub fn intact(&self, a: &ActualAssignment) -> bool {
        a.id.eq_ignore_ascii_case(&self.id) && same_grant(&self.as_actual(), a)
    }
}

fn same_grant(x: &ActualAssignment, y: &ActualAssignment) -> bool {
    x.principal_id.eq_ignore_ascii_case(&y.principal_id)
        && x.role_guid() == y.role_guid()
        && super::diff::same_scope(&x.scope, &y.scope)
}

/// What to do for one desired grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// State records it (index into `recorded`): nothing to write.
    Keep(usize),
    /// Write it under its deterministic name.
    Create,
    /// An equivalent exists under another name: manage that one instead of a duplicate.
    Adopt(ActualAssignment),
    /// The principal is not known yet: name, id and origin are decided at apply.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    /// One step per desired grant, in the order of `desired`.
    pub steps: Vec<Step>,
    /// Indexes into `recorded` that no desired grant keeps.
    pub unwanted: Vec<usize>,
}

/// Decide keep / create / adopt per desired grant, and what recorded grants are unwanted.
/// A recorded grant is kept for the desired grant of the same key when it grants the same
/// principal, role and scope. An existing assignment under our own deterministic name is not
/// adopted: writing it again stamps it as ours.
pub fn decide(desired: &[DesiredAssignment], recorded: &[Recorded], existing: &[ActualAssignment]) -> Decisions {
    let mut kept = vec![false; recorded.len()];
    let steps = desired
        .iter()
        .map(|d| {
            let same_key = recorded.iter().enumerate().find(|(i, r)| !kept[*i] && r.key == d.key);
            if let Some((i, _)) = same_key.filter(|(_, r)| equivalent(d, &r.as_actual())) {
                kept[i] = true;
                return Step::Keep(i);
            }
            let Some(ours) = d.name().into_option() else { return Step::Pending };
            let ours = ours.to_string();
            match existing.iter().find(|a| equivalent(d, a) && !a.effective_name().eq_ignore_ascii_case(&ours)) {
                Some(a) => Step::Adopt(a.clone()),
                None => Step::Create,
            }
        })
        .collect();
    let unwanted = (0..recorded.len()).filter(|i| !kept[*i]).collect();
    Decisions { steps, unwanted }
}

/// For import: each desired grant with the existing assignment that grants it, if any.
pub fn equivalents<'a>(
    desired: &'a [DesiredAssignment],
    existing: &'a [ActualAssignment],
) -> impl Iterator<Item = (&'a DesiredAssignment, &'a ActualAssignment)> {
    desired.iter().filter_map(move |d| existing.iter().find(|a| equivalent(d, a)).map(|a| (d, a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::names::role_assignment_name;
    use crate::known::Known;
    use crate::planner::{IdentityKind, RoleRef, SourcePath};

    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acr";
    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const OTHER: &str = "33333333-3333-3333-3333-333333333333";
    const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
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

    fn actual(name: &str, scope: &str, role: &str, principal: &str) -> ActualAssignment {
        ActualAssignment {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            name: name.into(),
            scope: scope.into(),
            role_definition_id: format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            principal_id: principal.into(),
            description: None,
        }
    }

    fn recorded(key: &str, a: &ActualAssignment, origin: Origin) -> Recorded {
        Recorded {
            key: key.into(),
            id: a.id.clone(),
            scope: a.scope.clone(),
            role_definition_id: a.role_definition_id.clone(),
            principal_id: a.principal_id.clone(),
            origin,
        }
    }

    fn pull() -> DesiredAssignment {
        desired("kubelet/AcrPull/acr", ACR, ACR_PULL, Known::Known(KUBELET))
    }

    #[test]
    fn recorded_grants_are_kept_by_key_and_grant() {
        let a = actual("n1", &ACR.to_lowercase(), ACR_PULL, &KUBELET.to_uppercase());
        let r = vec![recorded("kubelet/AcrPull/acr", &a, Origin::Adopted)];
        let d = decide(&[pull()], &r, &[]);
        assert_eq!(d, Decisions { steps: vec![Step::Keep(0)], unwanted: vec![] });
        // Same key, other principal: not the same grant; the old one is unwanted.
        let moved = desired("kubelet/AcrPull/acr", ACR, ACR_PULL, Known::Known(OTHER));
        let d = decide(&[moved], &r, &[]);
        assert_eq!(d.steps, vec![Step::Create]);
        assert_eq!(d.unwanted, vec![0]);
    }

    #[test]
    fn equivalents_under_another_name_are_adopted_ours_are_rewritten() {
        let foreign = actual("cc97febf-558a-4304-8434-c250813acd87", ACR, ACR_PULL, KUBELET);
        assert_eq!(decide(&[pull()], &[], std::slice::from_ref(&foreign)).steps, vec![Step::Adopt(foreign)]);
        let ours = role_assignment_name(ACR, KUBELET, ACR_PULL).to_string();
        let same_name = actual(&ours, ACR, ACR_PULL, KUBELET);
        assert_eq!(decide(&[pull()], &[], &[same_name]).steps, vec![Step::Create]);
        let unrelated = actual("x", SUBNET, NETWORK_CONTRIBUTOR, KUBELET);
        assert_eq!(decide(&[pull()], &[], &[unrelated]).steps, vec![Step::Create]);
    }

    #[test]
    fn unknown_principals_wait_and_keep_nothing_recorded_from_being_unwanted_twice() {
        let pending = desired("kubelet/AcrPull/acr", ACR, ACR_PULL, Known::Unknown);
        let a = actual("n1", ACR, ACR_PULL, KUBELET);
        let d = decide(&[pending], &[recorded("kubelet/AcrPull/acr", &a, Origin::Created)], &[]);
        assert_eq!(d.steps, vec![Step::Pending]);
        assert_eq!(d.unwanted, vec![0]);
    }

    #[test]
    fn intact_compares_id_principal_role_and_scope() {
        let a = actual("n1", ACR, ACR_PULL, KUBELET);
        let r = recorded("k", &a, Origin::Created);
        assert!(r.intact(&actual("N1", &ACR.to_uppercase(), ACR_PULL, KUBELET)));
        assert!(!r.intact(&actual("n1", ACR, ACR_PULL, OTHER)));
        assert!(!r.intact(&actual("n2", ACR, ACR_PULL, KUBELET)));
    }

    #[test]
    fn origins_round_trip_and_default_to_created() {
        for o in [Origin::Created, Origin::Adopted, Origin::Imported] {
            assert_eq!(Origin::parse(Some(o.as_str())), o);
        }
        assert_eq!(Origin::parse(None), Origin::Created);
    }

    #[test]
    fn import_finds_equivalents() {
        let a = actual("n1", ACR, ACR_PULL, KUBELET);
        let wanted = [pull()];
        let found: Vec<_> = equivalents(&wanted, std::slice::from_ref(&a)).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, &a);
    }
}
