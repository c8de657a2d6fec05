//! One element of a resource's `assignments`: a grant as Terraform shows it, typed. Built from
//! what the planner wants and what the engine decided; read back as what state records.

use serde::{Deserialize, Serialize};

use super::assignments::{Attr, PRINCIPAL_TYPE};
use crate::azure::role_assignments::RoleAssignment;
use crate::framework::Type;
use crate::known::Known;
use crate::planner::{ActualAssignment, DesiredAssignment, Origin, Recorded};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub key: String,
    pub name: Known<String>,
    pub id: Known<String>,
    pub scope: String,
    pub role_definition_id: String,
    pub role_name: String,
    pub principal_id: Known<String>,
    pub principal_type: String,
    pub identity: String,
    pub reason: String,
    /// Absent in state written before origins were recorded (those grants were created).
    pub origin: Attr<String>,
}

/// The element type of `assignments`.
pub fn grant_type() -> Type {
    Type::object([
        ("key", Type::String),
        ("name", Type::String),
        ("id", Type::String),
        ("scope", Type::String),
        ("role_definition_id", Type::String),
        ("role_name", Type::String),
        ("principal_id", Type::String),
        ("principal_type", Type::String),
        ("identity", Type::String),
        ("reason", Type::String),
        ("origin", Type::String),
    ])
}

impl Grant {
    /// The planned element for `d` written under its deterministic name (or, with `adopted`,
    /// the equivalent found under another name). While the principal is unknown, so are the
    /// name, the id and whether an equivalent will be adopted.
    pub fn planned(d: &DesiredAssignment, adopted: Option<&ActualAssignment>, origin: Origin) -> Grant {
        let (name, id) = match adopted {
            Some(a) => (Known::Known(a.effective_name().to_string()), Known::Known(a.id.clone())),
            None => (d.name().map(|u| u.to_string()), d.id()),
        };
        let origin = match adopted {
            Some(_) => Origin::Adopted,
            None => origin,
        };
        Grant {
            key: d.key.clone(),
            name,
            id,
            scope: d.scope.clone(),
            role_definition_id: d.role_definition_id(),
            role_name: d.role.name.clone(),
            principal_id: d.principal_id.clone(),
            principal_type: PRINCIPAL_TYPE.to_string(),
            identity: d.identity.as_str().to_string(),
            reason: d.reason.clone(),
            origin: if d.principal_id.is_known() {
                Some(Known::Known(origin.as_str().into()))
            } else {
                Some(Known::Unknown)
            },
        }
    }

    pub fn origin(&self) -> Origin {
        Origin::parse(self.origin.as_ref().and_then(Known::known).map(String::as_str))
    }

    pub fn set_origin(&mut self, o: Origin) {
        self.origin = Some(Known::Known(o.as_str().to_string()));
    }

    /// Fully known (everything decided), as state holds it.
    pub fn is_known(&self) -> bool {
        self.name.is_known() && self.id.is_known() && self.principal_id.is_known()
    }

    /// What state records of it, for the engine (None while anything is unknown).
    pub fn recorded(&self) -> Option<Recorded> {
        Some(Recorded {
            key: self.key.clone(),
            id: self.id.known()?.clone(),
            scope: self.scope.clone(),
            role_definition_id: self.role_definition_id.clone(),
            principal_id: self.principal_id.known()?.clone(),
            origin: self.origin(),
        })
    }

    /// ARM answered for this grant: keep the planned spelling of the same name and id (ARM may
    /// answer in its canonical casing), take ARM's where it differs.
    pub fn settle(&mut self, a: &RoleAssignment) {
        for (mine, theirs) in [(&mut self.name, &a.name), (&mut self.id, &a.id)] {
            if !mine.known().is_some_and(|m| m.eq_ignore_ascii_case(theirs)) {
                *mine = Known::Known(theirs.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::{decode, encode_as};
    use crate::framework::Value;
    use crate::planner::{IdentityKind, RoleRef, SourcePath};

    fn desired(principal: Known<String>) -> DesiredAssignment {
        DesiredAssignment {
            key: "kubelet/AcrPull/acr".into(),
            identity: IdentityKind::Kubelet,
            role: RoleRef::from_guid("7f951dda-4ed3-4680-a7ca-43fe172d538d"),
            scope: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr".into(),
            principal_id: principal,
            reason: "r".into(),
            description: None,
            source: SourcePath::element("acr_ids", 0),
        }
    }

    #[test]
    fn grants_round_trip_through_values_with_unknowns() {
        for principal in [Known::Known("22222222-2222-2222-2222-222222222222".to_string()), Known::Unknown] {
            let g = Grant::planned(&desired(principal.clone()), None, Origin::Created);
            let v = encode_as(&g, &grant_type()).unwrap();
            assert_eq!(v.attr("origin").is_unknown(), !principal.is_known());
            let back: Grant = decode(&v).unwrap();
            assert_eq!(back, g);
        }
    }

    #[test]
    fn state_without_origin_reads_as_created() {
        let g = Grant::planned(&desired(Known::Known("p".into())), None, Origin::Created);
        let mut v = encode_as(&g, &grant_type()).unwrap();
        v.set_attr("origin", Value::Null);
        let back: Grant = decode(&v).unwrap();
        assert_eq!(back.origin(), Origin::Created);
        assert!(back.recorded().is_some());
    }

    #[test]
    fn settle_keeps_the_planned_spelling() {
        let mut g = Grant::planned(&desired(Known::Known("p".into())), None, Origin::Created);
        let planned_id = g.id.clone();
        let a = RoleAssignment {
            id: planned_id.known().unwrap().to_uppercase(),
            name: g.name.known().unwrap().to_uppercase(),
            scope: String::new(),
            role_definition_id: String::new(),
            principal_id: "p".into(),
            principal_type: String::new(),
            description: None,
        };
        g.settle(&a);
        assert_eq!(g.id, planned_id);
        let other = RoleAssignment { id: "/x/roleAssignments/other".into(), name: "other".into(), ..a };
        g.settle(&other);
        assert_eq!(g.name, Known::Known("other".to_string()));
    }
}
