//! Server-side-apply conflicts: which other field managers own which fields, read from the
//! 409 `Status` (`details.causes[]` with reason `FieldManagerConflict`, message
//! `conflict with "<manager>" [with subresource "<s>"] using <apiVersion>`, field `.spec.x`).

use std::collections::BTreeMap;

use ::kube::core::Status;

/// One field another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    pub manager: String,
    pub field: String,
}

const FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// The conflicts a 409 from server-side apply lists; empty for any other status.
pub fn field_conflicts(status: &Status) -> Vec<FieldConflict> {
    let Some(details) = &status.details else { return Vec::new() };
    details
        .causes
        .iter()
        .filter(|c| c.reason == FIELD_MANAGER_CONFLICT)
        .map(|c| FieldConflict { manager: manager_of(&c.message), field: c.field.clone() })
        .collect()
}

/// The quoted manager name in `conflict with "<manager>" …`; the whole message otherwise.
fn manager_of(message: &str) -> String {
    message
        .split_once("conflict with \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| message.trim().to_string())
}

/// `"kubectl" owns .spec.a, .spec.b; "helm" owns .metadata.labels.x`, managers in order of name.
pub fn describe(conflicts: &[FieldConflict]) -> String {
    let mut by_manager: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in conflicts {
        by_manager.entry(&c.manager).or_default().push(&c.field);
    }
    by_manager
        .iter()
        .map(|(manager, fields)| format!("\"{manager}\" owns {}", fields.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: serde_json::Value) -> Status {
        serde_json::from_value(body).unwrap()
    }

    fn conflict_status() -> Status {
        status(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "Apply failed with 3 conflicts: conflict with \"kubectl-client-side-apply\" using v1: .spec.clientID",
            "details": {"causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using aadpodidentity.k8s.io/v1", "field": ".spec.clientID"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"helm\" with subresource \"status\" using v1", "field": ".metadata.labels.team"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using aadpodidentity.k8s.io/v1", "field": ".spec.resourceID"}
            ]}
        }))
    }

    #[test]
    fn causes_name_manager_and_field() {
        let conflicts = field_conflicts(&conflict_status());
        assert_eq!(conflicts.len(), 3);
        assert_eq!(conflicts[1], FieldConflict { manager: "helm".into(), field: ".metadata.labels.team".into() });
        assert_eq!(conflicts[0].manager, "kubectl-client-side-apply");
    }

    #[test]
    fn description_groups_fields_by_manager() {
        assert_eq!(
            describe(&field_conflicts(&conflict_status())),
            "\"helm\" owns .metadata.labels.team; \"kubectl-client-side-apply\" owns .spec.clientID, .spec.resourceID"
        );
    }

    #[test]
    fn other_statuses_have_no_field_conflicts() {
        let stale = status(serde_json::json!({
            "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "the object has been modified",
            "details": {"causes": [{"reason": "FieldValueInvalid", "message": "x", "field": "metadata.resourceVersion"}]}
        }));
        assert!(field_conflicts(&stale).is_empty());
        assert!(field_conflicts(&status(serde_json::json!({"code": 409}))).is_empty());
    }

    #[test]
    fn unexpected_cause_messages_are_kept_whole() {
        let odd = status(serde_json::json!({"code": 409, "details": {"causes": [
            {"reason": "FieldManagerConflict", "message": "owned elsewhere", "field": ".spec.selector"}
        ]}}));
        assert_eq!(field_conflicts(&odd)[0].manager, "owned elsewhere");
    }
}
