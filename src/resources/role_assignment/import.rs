//! `terraform import` of one role assignment by its ARM id: the state matches what exists,
//! recorded as imported (destroy deletes it).

use std::time::{Duration, Instant};

use super::{common, set, to_value, Assignment};
use crate::azure::role_assignments as ra;
use crate::clients::Clients;
use crate::domain::{ownership, roles};
use crate::executor;
use crate::framework::{Diagnostic, Diagnostics, Value};
use crate::known::Known;
use crate::planner::Origin;
use crate::resources::ownership::Markers;

pub async fn import(clients: &Clients, id: &str) -> Result<(Value, Markers), Diagnostics> {
    let found = ra::get(&clients.arm, id, Instant::now() + Duration::from_secs(300))
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot read the role assignment"))?
        .ok_or_else(|| {
            Diagnostics::from(Diagnostic::error("Role assignment not found", format!("{id} does not exist.")))
        })?;
    let guid = executor::to_actual(&found).role_guid();
    let role_name = roles::by_guid(&guid).map_or_else(|| guid.clone(), |r| r.name.clone());
    let scope = if found.scope.is_empty() {
        id.split("/providers/Microsoft.Authorization/roleAssignments/").next().unwrap_or_default().to_string()
    } else {
        found.scope.clone()
    };
    let principal_type = if found.principal_type.is_empty() { common::PRINCIPAL_TYPE } else { &found.principal_type };
    let m = Assignment {
        id: set(&found.id),
        name: set(&found.name),
        scope: set(scope),
        role: set(&role_name),
        role_definition_name: set(&role_name),
        principal_id: set(&found.principal_id),
        principal_type: set(principal_type),
        description: ownership::strip(found.description.as_deref()).map(Known::Known),
        role_definition_id: set(format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}")),
        role_name: set(role_name),
        origin: set(Origin::Imported.as_str()),
        ..Assignment::default()
    };
    let mut markers = Markers::default();
    markers.record(&found.id, ownership::marker(found.description.as_deref()));
    Ok((to_value(&m)?, markers))
}
