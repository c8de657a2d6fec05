//! `aksid_role_assignment`: one role assignment, a drop-in for `azurerm_role_assignment` on the
//! same engine as the matrix resource (deterministic names, casing-insensitive comparison,
//! adoption, bounded replication retry, least-privilege policy, ownership markers, import).
//! Glue only: values decode into [`Assignment`]; the planner reviews it; the engine decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::assignments::{self as common, same_id, Attr, BroadScope, Timeouts};
use super::ownership::{apply_response, read_response, remove_unwanted, Markers, Unwanted};
use crate::azure::role_assignments as ra;
use crate::clients::{Clients, ProviderState};
use crate::domain::{names, ownership};
use crate::executor::{self, CreateOp, Created};
use crate::framework::model::{decode, encode_as};
use crate::framework::{
    ApplyRequest, ApplyResponse, AttributePath, Diagnostic, Diagnostics, ImportedResource, MoveRequest, MovedResource,
    PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Value,
};
use crate::known::Known;
use crate::planner::{self, engine, ClusterIntent, DesiredAssignment, ExtraAssignment, IdentityKind, Origin, Step};

mod azurerm;
mod import;
mod schema;

pub use self::schema::schema;

pub struct RoleAssignmentResource {
    state: Arc<ProviderState>,
}

impl RoleAssignmentResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        RoleAssignmentResource { state }
    }
}

/// The typed model: configuration, plan and state decode into it once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: Attr<String>,
    pub name: Attr<String>,
    pub scope: Attr<String>,
    pub role: Attr<String>,
    pub role_definition_name: Attr<String>,
    pub principal_id: Attr<String>,
    pub principal_type: Attr<String>,
    pub description: Attr<String>,
    pub role_definition_id: Attr<String>,
    pub skip_service_principal_aad_check: Attr<bool>,
    pub condition: Attr<String>,
    pub condition_version: Attr<String>,
    pub role_name: Attr<String>,
    pub origin: Attr<String>,
    pub delete_adopted_on_destroy: Attr<bool>,
    pub allow_broad_scope: Option<BroadScope>,
    pub timeouts: Option<Timeouts>,
}

fn known<T>(a: &Attr<T>) -> Option<&T> {
    a.as_ref().and_then(Known::known)
}

fn set(v: impl Into<String>) -> Attr<String> {
    Some(Known::Known(v.into()))
}

const PRINCIPAL_TYPES: [&str; 4] = ["ServicePrincipal", "User", "Group", "ForeignGroup"];

/// Where a planner finding about the single extra assignment points in this resource.
fn path_for(source: &planner::SourcePath) -> AttributePath {
    match (source.attribute.as_str(), source.nested.as_deref()) {
        ("allow_broad_scope", _) => AttributePath::attr("allow_broad_scope").then_attr("justification"),
        (_, Some("role")) => AttributePath::attr("role"),
        (_, Some("scope")) => AttributePath::attr("scope"),
        (_, Some(other)) => AttributePath::attr(other),
        _ => AttributePath::attr("principal_id"),
    }
}

/// Policy and naming for one assignment, via the same planner as the matrix.
fn review(m: &Assignment, role_guid: &str) -> Result<(DesiredAssignment, Diagnostics), Diagnostics> {
    let intent = ClusterIntent {
        control_plane_principal_id: m.principal_id.clone().unwrap_or(Known::Unknown),
        kubelet_principal_id: Known::Known(String::new()),
        node_resource_group_id: Known::Known(String::new()),
        extra: vec![ExtraAssignment {
            identity: IdentityKind::ControlPlane,
            role: role_guid.to_string(),
            scope: known(&m.scope).cloned().unwrap_or_default(),
            description: known(&m.description).cloned(),
        }],
        allow_broad_scope: m.allow_broad_scope.as_ref().and_then(|b| known(&b.justification)).cloned(),
        ..ClusterIntent::default()
    };
    let to_diags = |findings: &[planner::Finding]| common::findings_at(findings, path_for);
    match planner::expand(&intent) {
        Ok(mut e) if !e.assignments.is_empty() => Ok((e.assignments.remove(0), to_diags(&e.warnings))),
        Ok(_) => Err(Diagnostic::error("Nothing to assign", "The assignment folded away; this is a bug.").into()),
        Err(f) => Err(to_diags(&f)),
    }
}

fn deadline(m: &Assignment, which: &str) -> Instant {
    Instant::now() + common::timeout_of(&m.timeouts, which)
}

fn to_value(m: &Assignment) -> Result<Value, Diagnostics> {
    encode_as(m, &schema().block.value_type())
}

#[async_trait]
impl Resource for RoleAssignmentResource {
    fn type_name(&self) -> &'static str {
        "aksid_role_assignment"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let m: Assignment = match decode(config) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        common::validate_timeouts(config, &mut d);
        azurerm::validate(&m, &mut d);
        if let Some(scope) = known(&m.scope).filter(|s| *s != "/") {
            common::check_id(scope, AttributePath::attr("scope"), None, &mut d);
        }
        if let Some(n) = known(&m.name).filter(|n| uuid::Uuid::try_parse(n).is_err()) {
            d.error_at(AttributePath::attr("name"), "Invalid name", format!("{n:?}: role assignment names are GUIDs."));
        }
        if let Some(t) = known(&m.principal_type).filter(|t| !PRINCIPAL_TYPES.contains(&t.as_str())) {
            d.error_at(
                AttributePath::attr("principal_type"),
                "Invalid principal_type",
                format!("{t:?}: use ServicePrincipal, User, Group or ForeignGroup."),
            );
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        if req.proposed_new_state.is_null() {
            return PlanResponse { planned_state: Value::Null, ..Default::default() };
        }
        let mut resp = PlanResponse { planned_private: req.prior_private.clone(), ..Default::default() };
        match plan(self.state.clients().ok().as_deref(), &req, &mut resp).await {
            Ok(planned) => resp.planned_state = planned,
            Err(d) => resp.diagnostics.extend(d),
        }
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        let mut markers = Markers::from_private(&req.planned_private);
        let result = if req.planned_state.is_null() {
            destroy(&clients, &req.prior_state, &markers).await
        } else {
            apply(&clients, &req, &mut markers).await
        };
        apply_response(result, &markers, req.prior_state, req.planned_private)
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let result = match self.state.clients() {
            Ok(c) => read(&c, &req.current_state).await,
            Err(d) => Err(d),
        };
        read_response(result, req)
    }

    async fn import(&self, id: &str) -> Result<Vec<ImportedResource>, Diagnostics> {
        let clients = self.state.clients()?;
        let (state, markers) = import::import(&clients, id).await?;
        Ok(vec![ImportedResource { state, private: markers.to_private() }])
    }

    fn move_state(&self, req: &MoveRequest<'_>) -> Result<MovedResource, Diagnostics> {
        let m = azurerm::from_azurerm(req)?;
        // azurerm writes no ownership marker: none is recorded, as after an import.
        Ok(MovedResource { state: to_value(&m)?, private: Markers::default().to_private() })
    }
}

/// Equivalent spellings of what exists (scope casing, principal casing, role forms) plan no change.
fn keep_equivalent_prior(m: &mut Assignment, prior: &Assignment, guid: &str) {
    if let (Some(a), Some(b)) = (known(&m.scope), known(&prior.scope)) {
        if same_id(a, b) {
            m.scope = prior.scope.clone();
        }
    }
    if let (Some(a), Some(b)) = (known(&m.principal_id), known(&prior.principal_id)) {
        if a.eq_ignore_ascii_case(b) {
            m.principal_id = prior.principal_id.clone();
        }
    }
    if !guid.is_empty() && known(&prior.role_definition_id).is_some_and(|r| r.to_ascii_lowercase().ends_with(guid)) {
        m.role = prior.role.clone();
    }
}

async fn plan(clients: Option<&Clients>, req: &PlanRequest, resp: &mut PlanResponse) -> Result<Value, Diagnostics> {
    let config: Assignment = decode(&req.config)?;
    let mut m: Assignment = decode(&req.proposed_new_state)?;
    let prior: Option<Assignment> = if req.prior_state.is_null() { None } else { Some(decode(&req.prior_state)?) };
    let dl = deadline(&config, "create");
    if m.principal_type.is_none() {
        m.principal_type = set(common::PRINCIPAL_TYPE);
    }
    azurerm::role_from_config(&config, &mut m);
    if let Some(p) = &prior {
        keep_equivalent_prior(&mut m, p, "");
    }
    let (Some(role), Some(scope)) = (known(&m.role).cloned(), known(&m.scope).cloned()) else {
        // Unknown role or scope: everything derived waits for apply.
        (m.id, m.role_name) = (Some(Known::Unknown), Some(Known::Unknown));
        m.role_definition_id = config.role_definition_id.clone().or(Some(Known::Unknown));
        if m.name.is_none() || config.name.is_none() {
            m.name = Some(Known::Unknown);
        }
        m.origin = m.origin.or(Some(Known::Unknown));
        return to_value(&m);
    };
    let (guid, role_name) =
        common::resolve_role(clients.map(|c| &c.arm), &role, &scope, AttributePath::attr("role"), dl).await?;
    if let Some(p) = &prior {
        keep_equivalent_prior(&mut m, p, &guid);
    }
    let (desired, warnings) = review(&m, &guid)?;
    resp.diagnostics.extend(warnings);
    azurerm::plan_role_definition_id(&config, &mut m, prior.as_ref(), &guid)?;
    m.role_name = set(role_name);
    // Changing what is granted replaces the assignment.
    let changed = |f: fn(&Assignment) -> &Attr<String>| prior.as_ref().is_some_and(|p| f(&m) != f(p));
    for (attr, f) in [
        ("scope", (|a: &Assignment| &a.scope) as fn(&Assignment) -> &Attr<String>),
        ("principal_id", |a| &a.principal_id),
        ("role", |a| &a.role),
        ("principal_type", |a| &a.principal_type),
    ] {
        if changed(f) {
            resp.requires_replace.push(AttributePath::attr(attr));
        }
    }
    let replacing = !resp.requires_replace.is_empty();
    if config.name.is_some() {
        if changed(|a| &a.name) {
            resp.requires_replace.push(AttributePath::attr("name"));
        }
    } else if let (Some(p), false) = (&prior, replacing) {
        m.name = p.name.clone();
    } else {
        plan_name(clients, &mut m, &desired, dl, &mut resp.diagnostics).await?;
    }
    azurerm::plan_role_definition_name(&config, &mut m, prior.as_ref(), replacing);
    if m.origin.is_none() && (prior.is_none() || replacing) {
        m.origin = set(Origin::Created.as_str());
    }
    if prior.is_none() || replacing {
        m.id = match known(&m.name) {
            Some(n) => set(ra::assignment_id(&scope, n)),
            None => Some(Known::Unknown),
        };
    }
    to_value(&m)
}

/// The name of a new assignment: deterministic, or that of an equivalent to adopt (the engine
/// decides); unknown with the principal.
async fn plan_name(
    clients: Option<&Clients>,
    m: &mut Assignment,
    desired: &DesiredAssignment,
    dl: Instant,
    diags: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    let Known::Known(principal) = &desired.principal_id else {
        (m.name, m.origin) = (Some(Known::Unknown), Some(Known::Unknown));
        return Ok(());
    };
    let existing = match clients {
        Some(c) => ra::list_at_scope_for_principal(&c.arm, &desired.scope, principal, dl)
            .await
            .map_err(|e| common::arm_diag(&e, None, "Cannot list existing role assignments"))?,
        None => Vec::new(),
    };
    let actual: Vec<_> = existing.iter().map(executor::to_actual).collect();
    let decided = engine::decide(std::slice::from_ref(desired), &[], &actual);
    match &decided.steps[0] {
        Step::Adopt(a) => {
            diags.push(Diagnostic::warning(
                "Adopting an existing role assignment",
                format!("{} already exists (created outside Terraform); it will be managed by this resource.", a.id),
            ));
            (m.name, m.origin) = (set(a.effective_name()), set(Origin::Adopted.as_str()));
        }
        _ => {
            m.name = desired.name().map(|u| u.to_string()).into_option().map(Known::Known);
            m.origin = set(Origin::Created.as_str());
        }
    }
    Ok(())
}

async fn apply(
    clients: &Clients,
    req: &ApplyRequest,
    markers: &mut Markers,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let config: Assignment = decode(&req.config)?;
    let mut m: Assignment = decode(&req.planned_state)?;
    let prior: Option<Assignment> = if req.prior_state.is_null() { None } else { Some(decode(&req.prior_state)?) };
    let dl = deadline(&config, "create");
    let scope = known(&m.scope).cloned().unwrap_or_default();
    let role = known(&m.role).cloned().unwrap_or_default();
    let (guid, role_name) =
        common::resolve_role(Some(&clients.arm), &role, &scope, AttributePath::attr("role"), dl).await?;
    let (desired, _) = review(&m, &guid)?;
    azurerm::applied_role_definition_id(&mut m, &guid);
    m.role_name = set(&role_name);
    // An assignment adopted at plan existed before: it is managed as it is, not rewritten.
    if known(&m.origin).map(String::as_str) == Some(Origin::Adopted.as_str()) && known(&m.id).is_some() {
        return Ok((to_value(&m)?, Diagnostics::new()));
    }
    let principal = known(&m.principal_id).cloned().unwrap_or_default();
    let name =
        known(&m.name).cloned().unwrap_or_else(|| names::role_assignment_name(&scope, &principal, &guid).to_string());
    let id = known(&m.id).cloned().unwrap_or_default();
    let prior_name = prior.as_ref().and_then(|p| known(&p.name)).cloned().unwrap_or_default();
    let op = CreateOp {
        key: format!("{role_name} on {scope}"),
        scope: scope.clone(),
        name: name.clone(),
        role_guid: guid.clone(),
        principal_id: principal,
        principal_type: known(&m.principal_type).cloned().unwrap_or_else(|| common::PRINCIPAL_TYPE.into()),
        description: desired.description.clone(),
        token: ownership::new_token(),
        name_recorded: prior_name.eq_ignore_ascii_case(&name) || markers.get(&id).is_some(),
        desired,
    };
    let outcome = executor::create_all(&clients.arm, std::slice::from_ref(&op), 1, dl).await.pop();
    let created = match outcome {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Err(common::group_failures("create", vec![(op.key, e)])),
        None => return Err(Diagnostic::error("Nothing was written", "This is a bug.").into()),
    };
    let a = created.assignment();
    // ARM may answer in its canonical casing: the planned spelling of the same id stays.
    for (mine, theirs) in [(&mut m.name, &a.name), (&mut m.id, &a.id)] {
        if !known(mine).is_some_and(|p| same_id(p, theirs)) {
            *mine = set(theirs);
        }
    }
    let id = known(&m.id).cloned().unwrap_or_default();
    if let Created::Adopted(_) = created {
        m.origin = set(Origin::Adopted.as_str());
        markers.record(&id, ownership::marker(a.description.as_deref()));
    } else {
        markers.record(&id, Some(&op.token));
    }
    markers.retain(std::slice::from_ref(&id));
    Ok((to_value(&m)?, Diagnostics::new()))
}

async fn read(clients: &Clients, current: &Value) -> Result<Value, Diagnostics> {
    let m: Assignment = decode(current)?;
    let id = known(&m.id).cloned().unwrap_or_default();
    let found = ra::get(&clients.arm, &id, Instant::now() + Duration::from_secs(300))
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot read the role assignment"))?;
    let recorded = planner::Recorded {
        key: id.clone(),
        id,
        scope: known(&m.scope).cloned().unwrap_or_default(),
        role_definition_id: known(&m.role_definition_id).cloned().unwrap_or_default(),
        principal_id: known(&m.principal_id).cloned().unwrap_or_default(),
        origin: Origin::parse(known(&m.origin).map(String::as_str)),
    };
    // Gone, or the name now points at another grant: plan a new one. The remote description
    // may carry the broad-scope justification and the ownership marker, so it is not compared.
    match found {
        Some(a) if recorded.intact(&executor::to_actual(&a)) => Ok(current.clone()),
        _ => Ok(Value::Null),
    }
}

/// Delete by the ownership rule: an adopted assignment is left unless `delete_adopted_on_destroy`,
/// and one that another aksid object stamped since is left to that object.
async fn destroy(clients: &Clients, prior: &Value, markers: &Markers) -> Result<(Value, Diagnostics), Diagnostics> {
    let m: Assignment = decode(prior)?;
    let id = known(&m.id).cloned().unwrap_or_default();
    let unwanted = Unwanted { key: id.clone(), id, origin: Origin::parse(known(&m.origin).map(String::as_str)) };
    let delete_adopted = known(&m.delete_adopted_on_destroy).copied().unwrap_or(false);
    let dl = deadline(&m, "delete");
    let (kept, diags) = remove_unwanted(&clients.arm, vec![unwanted], markers, delete_adopted, None, 1, dl).await;
    Ok((if kept.is_empty() { Value::Null } else { prior.clone() }, diags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_schema_agree() {
        crate::framework::model::assert_model_matches_schema::<Assignment>(&schema().block);
    }
}
