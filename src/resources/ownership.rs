//! Glue for the ownership rule (`azure::ownership`): the markers recorded in a resource's
//! private state, and the one delete path that destroy and shrinking share.
//!
//! The rule, as documented on the resource pages:
//! - created and imported grants are deleted on destroy, adopted ones only with
//!   `delete_adopted_on_destroy = true`;
//! - nothing is deleted whose ownership marker changed since this object recorded it: another
//!   aksid object (the successor of a `-replace`, a refactor) holds it now.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::assignments::group_failures;
use crate::azure::arm::ArmClient;
use crate::azure::role_assignments::RoleAssignment;
use crate::executor::{self, DeleteOp, Deleted};
use crate::framework::{ApplyResponse, Diagnostic, Diagnostics, PlanResponse, ReadRequest, ReadResponse, Value};
use crate::planner::Origin;

/// Private state: the marker last written or seen per assignment, by lowercased id.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Markers {
    #[serde(default)]
    pub markers: BTreeMap<String, String>,
}

impl Markers {
    /// Decode private state; anything unreadable (older providers wrote none) is empty.
    pub fn from_private(private: &[u8]) -> Markers {
        serde_json::from_slice(private).unwrap_or_default()
    }

    pub fn to_private(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.markers.get(&id.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn record(&mut self, id: &str, marker: Option<&str>) {
        let key = id.to_ascii_lowercase();
        match marker {
            Some(m) => self.markers.insert(key, m.to_string()),
            None => self.markers.remove(&key),
        };
    }

    /// Only the entries for `ids` (what state still holds).
    pub fn retain(&mut self, ids: &[String]) {
        let keep: Vec<String> = ids.iter().map(|i| i.to_ascii_lowercase()).collect();
        self.markers.retain(|k, _| keep.contains(k));
    }
}

/// One recorded grant that is no longer wanted (shrink) or whose object is destroyed.
pub struct Unwanted {
    pub key: String,
    pub id: String,
    pub origin: Origin,
}

/// Remove unwanted grants by the ownership rule. `listed` holds what exists now, by lowercased
/// id, when the caller has listed it (ids missing from it are fetched one by one). Returns the
/// keys of the grants that must stay in state (failed deletes) and the diagnostics: one warning for the
/// adopted grants left in place, one for grants another object holds, grouped errors.
pub async fn remove_unwanted(
    arm: &ArmClient,
    unwanted: Vec<Unwanted>,
    markers: &Markers,
    delete_adopted: bool,
    listed: Option<&BTreeMap<String, RoleAssignment>>,
    parallelism: usize,
    deadline: Instant,
) -> (Vec<String>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let (released, to_delete): (Vec<Unwanted>, Vec<Unwanted>) =
        unwanted.into_iter().partition(|u| u.origin == Origin::Adopted && !delete_adopted);
    if !released.is_empty() {
        diags.push(Diagnostic::warning(
            format!("Left {} adopted role assignment(s) in place", released.len()),
            format!(
                "These grants existed before Terraform managed them (adopted), so they are no longer managed but not \
                 deleted: {}. Set delete_adopted_on_destroy = true to delete adopted grants too.",
                key_list(released.iter().map(|u| u.key.as_str()))
            ),
        ));
    }
    let ops: Vec<DeleteOp> = to_delete
        .iter()
        .map(|u| DeleteOp {
            id: u.id.clone(),
            recorded_marker: markers.get(&u.id).map(str::to_string),
            current: listed.map(|l| l.get(&u.id.to_ascii_lowercase()).cloned()),
        })
        .collect();
    let outcomes = executor::delete_all(arm, &ops, parallelism, deadline).await;
    let mut kept = Vec::new();
    let mut held = Vec::new();
    let mut failures = Vec::new();
    for (u, outcome) in to_delete.into_iter().zip(outcomes) {
        match outcome {
            Ok(Deleted::Gone) => {}
            Ok(Deleted::HeldByAnother(_)) => held.push(u.key),
            Err(e) => {
                failures.push((u.key.clone(), e));
                kept.push(u.key);
            }
        }
    }
    if !held.is_empty() {
        diags.push(Diagnostic::warning(
            format!("Left {} role assignment(s) that another aksid resource now holds", held.len()),
            format!(
                "Another aksid object wrote these grants since this one recorded them (for example the replacement \
                 of this object), so they were not deleted: {}.",
                key_list(held.iter().map(String::as_str))
            ),
        ));
    }
    diags.extend(group_failures("delete", failures));
    (kept, diags)
}

/// The response to ApplyResourceChange: the new state with the updated markers, or on an
/// error before anything was written, the prior state and private state unchanged.
pub fn apply_response(
    result: Result<(Value, Diagnostics), Diagnostics>,
    markers: &Markers,
    prior_state: Value,
    planned_private: Vec<u8>,
) -> ApplyResponse {
    match result {
        Ok((new_state, diagnostics)) => ApplyResponse { new_state, private: markers.to_private(), diagnostics },
        Err(d) => ApplyResponse { new_state: prior_state, private: planned_private, diagnostics: d },
    }
}

/// The response to PlanResourceChange: the planned state with the diagnostics the plan
/// collected (`diagnostics`, e.g. adoption warnings) and any errors it ended with; the private
/// state (ownership markers) carried over.
pub fn plan_response(
    result: Result<Value, Diagnostics>,
    mut diagnostics: Diagnostics,
    prior_private: Vec<u8>,
) -> PlanResponse {
    let mut resp = PlanResponse { planned_private: prior_private, ..Default::default() };
    match result {
        Ok(planned) => resp.planned_state = planned,
        Err(d) => diagnostics.extend(d),
    }
    resp.diagnostics = diagnostics;
    resp
}

/// The response to ReadResource: the refreshed state, or on an error the current one unchanged.
pub fn read_response(result: Result<Value, Diagnostics>, req: ReadRequest) -> ReadResponse {
    match result {
        Ok(new_state) => ReadResponse { new_state, private: req.private, diagnostics: Diagnostics::new() },
        Err(d) => ReadResponse { new_state: req.current_state, private: req.private, diagnostics: d },
    }
}

/// At most this many keys are named in a summary line of a diagnostic detail.
const KEYS_SHOWN: usize = 20;

/// `a, b, c (and N more)`.
pub fn key_list<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = keys.collect();
    let shown = all.iter().take(KEYS_SHOWN).copied().collect::<Vec<_>>().join(", ");
    match all.len().saturating_sub(KEYS_SHOWN) {
        0 => shown,
        more => format!("{shown} (and {more} more)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_through_private_state() {
        let mut m = Markers::default();
        m.record("/SUBSCRIPTIONS/x/providers/Microsoft.Authorization/roleAssignments/A", Some("t1"));
        m.record("/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/b", Some("t2"));
        let back = Markers::from_private(&m.to_private());
        assert_eq!(back, m);
        assert_eq!(back.get("/subscriptions/X/providers/microsoft.authorization/roleassignments/a"), Some("t1"));
        let mut kept = back.clone();
        kept.retain(&["/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/b".into()]);
        assert_eq!(kept.markers.len(), 1);
        assert_eq!(Markers::from_private(b""), Markers::default());
        assert_eq!(Markers::from_private(b"not json"), Markers::default());
    }

    #[test]
    fn key_lists_are_capped() {
        let keys: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
        let text = key_list(keys.iter().map(String::as_str));
        assert!(text.starts_with("k0, k1") && text.ends_with("(and 5 more)"), "{text}");
        assert_eq!(key_list(["a", "b"].into_iter()), "a, b");
    }
}
