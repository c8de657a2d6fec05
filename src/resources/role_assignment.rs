//! `aksid_role_assignment`: one role assignment, a drop-in for `azurerm_role_assignment` on the
//! same engine as the matrix resource (deterministic names, casing-insensitive comparison,
//! adoption, bounded replication retry, least-privilege policy, import).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::assignments::{self as common, same_id};
use super::ownership::{remove_unwanted, Markers, Unwanted};
use crate::azure::role_assignments as ra;
use crate::clients::{Clients, ProviderState};
use crate::domain::ownership;
use crate::domain::{names, roles};
use crate::executor::{self, CreateOp, Created};
use crate::framework::{
    ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic, Diagnostics, ImportedResource,
    NestedBlock, Nesting, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type, Value,
};
use crate::planner::{self, equivalent, ClusterIntent, ExtraAssignment, IdentityKind, Known};

pub struct RoleAssignmentResource {
    state: Arc<ProviderState>,
}

impl RoleAssignmentResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        RoleAssignmentResource { state }
    }
}

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
        .attribute(Attribute::required(
            "role",
            Type::String,
            "Role: built-in name (any case), role definition GUID, or role definition id (tenant or subscription form). \
             Custom role names are looked up at the scope.",
        ))
        .attribute(Attribute::required("principal_id", Type::String, "Object id of the principal."))
        .attribute(Attribute::optional_computed(
            "principal_type",
            Type::String,
            "`ServicePrincipal` (default, avoids replication failures for new managed identities), `User` or `Group`.",
        ))
        .attribute(Attribute::optional("description", Type::String, "Description of the assignment."))
        .attribute(Attribute::computed(
            "role_definition_id",
            Type::String,
            "Tenant-scoped role definition id.",
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
fn review(v: &Value, role_guid: &str) -> Result<(planner::DesiredAssignment, Diagnostics), Diagnostics> {
    let principal = match v.attr("principal_id") {
        Value::String(s) => Known::Known(s.clone()),
        _ => Known::Unknown,
    };
    let intent = ClusterIntent {
        control_plane_principal_id: principal,
        kubelet_principal_id: Known::Known(String::new()),
        node_resource_group_id: Known::Known(String::new()),
        extra: vec![ExtraAssignment {
            identity: IdentityKind::ControlPlane,
            role: role_guid.to_string(),
            scope: v.attr("scope").as_str().unwrap_or_default().to_string(),
            description: v.attr("description").as_str().map(str::to_string),
        }],
        allow_broad_scope: v.attr("allow_broad_scope").attr("justification").as_str().map(str::to_string),
        ..ClusterIntent::default()
    };
    let to_diags = |findings: &[planner::Finding]| common::findings_at(findings, path_for);
    match planner::expand(&intent) {
        Ok(mut e) if !e.assignments.is_empty() => Ok((e.assignments.remove(0), to_diags(&e.warnings))),
        Ok(_) => Err(Diagnostic::error("Nothing to assign", "The assignment folded away; this is a bug.").into()),
        Err(f) => Err(to_diags(&f)),
    }
}

fn deadline(v: &Value, which: &str) -> Instant {
    Instant::now() + common::timeout(v.attr("timeouts"), which)
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
        let mut d = Diagnostics::new();
        common::validate_timeouts(config, &mut d);
        if let Some(scope) = config.attr("scope").as_str().filter(|s| *s != "/") {
            common::check_id(scope, AttributePath::attr("scope"), None, &mut d);
        }
        if let Some(n) = config.attr("name").as_str() {
            if uuid::Uuid::try_parse(n).is_err() {
                d.error_at(
                    AttributePath::attr("name"),
                    "Invalid name",
                    format!("{n:?}: role assignment names are GUIDs."),
                );
            }
        }
        if let Some(t) = config.attr("principal_type").as_str() {
            if !["ServicePrincipal", "User", "Group", "ForeignGroup"].contains(&t) {
                d.error_at(
                    AttributePath::attr("principal_type"),
                    "Invalid principal_type",
                    format!("{t:?}: use ServicePrincipal, User, Group or ForeignGroup."),
                );
            }
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        if req.proposed_new_state.is_null() {
            return PlanResponse { planned_state: Value::Null, ..Default::default() };
        }
        let prior = &req.prior_state;
        let mut planned = req.proposed_new_state.clone();
        let mut resp = PlanResponse { planned_private: req.prior_private.clone(), ..Default::default() };
        let clients = self.state.clients().ok();
        let dl = deadline(&req.config, "create");

        // Equivalent spellings of what exists plan no change.
        if !prior.is_null() {
            if let (Some(a), Some(b)) = (planned.attr("scope").as_str(), prior.attr("scope").as_str()) {
                if same_id(a, b) {
                    planned.set_attr("scope", prior.attr("scope").clone());
                }
            }
            if let (Some(a), Some(b)) = (planned.attr("principal_id").as_str(), prior.attr("principal_id").as_str()) {
                if a.eq_ignore_ascii_case(b) {
                    planned.set_attr("principal_id", prior.attr("principal_id").clone());
                }
            }
        }
        if planned.attr("principal_type").is_null() {
            planned.set_attr("principal_type", Value::string(common::PRINCIPAL_TYPE));
        }
        let (Some(role), Some(scope)) =
            (planned.attr("role").as_str().map(str::to_string), planned.attr("scope").as_str().map(str::to_string))
        else {
            // Unknown role or scope: everything derived waits for apply.
            for a in ["id", "role_definition_id", "role_name"] {
                planned.set_attr(a, Value::Unknown);
            }
            if planned.attr("name").is_null() || req.config.attr("name").is_null() {
                planned.set_attr("name", Value::Unknown);
            }
            resp.planned_state = planned;
            return resp;
        };
        let (guid, role_name) = match common::resolve_role(
            clients.as_ref().map(|c| &c.arm),
            &role,
            &scope,
            AttributePath::attr("role"),
            dl,
        )
        .await
        {
            Ok(r) => r,
            Err(d) => {
                resp.diagnostics.push(d);
                return resp;
            }
        };
        if let Some(prior_role) = prior.attr("role_definition_id").as_str() {
            if prior_role.to_ascii_lowercase().ends_with(&guid) {
                planned.set_attr("role", prior.attr("role").clone());
            }
        }
        let (desired, warnings) = match review(&planned, &guid) {
            Ok(x) => x,
            Err(d) => {
                resp.diagnostics = d;
                return resp;
            }
        };
        resp.diagnostics.extend(warnings);
        planned.set_attr("role_definition_id", Value::string(desired.role_definition_id()));
        planned.set_attr("role_name", Value::string(&role_name));

        // Name: configured, kept from prior, adopted, or deterministic.
        let replace = |attr: &str| -> bool { !prior.is_null() && planned.attr(attr) != prior.attr(attr) };
        let mut requires = Vec::new();
        for attr in ["scope", "principal_id", "role", "principal_type"] {
            if replace(attr) {
                requires.push(AttributePath::attr(attr));
            }
        }
        let replacing = !requires.is_empty();
        if !req.config.attr("name").is_null() {
            if replace("name") {
                requires.push(AttributePath::attr("name"));
            }
        } else if !prior.is_null() && !replacing {
            planned.set_attr("name", prior.attr("name").clone());
        } else {
            // Adoption (an equivalent under another name) can only be decided for a known principal.
            let origin =
                if desired.principal_id.is_known() { Value::string(common::ORIGIN_CREATED) } else { Value::Unknown };
            planned.set_attr("origin", origin);
            let fresh = match &desired.principal_id {
                Known::Known(p) => Value::String(names::role_assignment_name(&scope, p, &guid).to_string()),
                Known::Unknown => Value::Unknown,
            };
            planned.set_attr("name", fresh);
            // Adopt an equivalent assignment made outside Terraform.
            if let (Some(c), Known::Known(p)) = (&clients, &desired.principal_id) {
                match ra::list_at_scope_for_principal(&c.arm, &scope, p, dl).await {
                    Ok(existing) => {
                        let ours = planned.attr("name").as_str().unwrap_or_default().to_ascii_lowercase();
                        if let Some(a) = existing.iter().find(|a| {
                            equivalent(&desired, &executor::to_actual(a)) && a.name.to_ascii_lowercase() != ours
                        }) {
                            resp.diagnostics.push(Diagnostic::warning(
                                "Adopting an existing role assignment",
                                format!("{} already exists (created outside Terraform); it will be managed by this resource.", a.id),
                            ));
                            planned.set_attr("name", Value::string(&a.name));
                            planned.set_attr("origin", Value::string(common::ORIGIN_ADOPTED));
                        }
                    }
                    Err(e) => {
                        resp.diagnostics.extend(common::arm_diag(&e, None, "Cannot list existing role assignments"));
                        return resp;
                    }
                }
            }
        }
        if planned.attr("origin").is_null() && (prior.is_null() || replacing) {
            planned.set_attr("origin", Value::string(common::ORIGIN_CREATED));
        }
        if prior.is_null() || replacing {
            planned.set_attr(
                "id",
                match planned.attr("name").as_str() {
                    Some(n) => Value::String(ra::assignment_id(&scope, n)),
                    None => Value::Unknown,
                },
            );
        }
        resp.requires_replace = requires;
        resp.planned_state = planned;
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        let mut markers = Markers::from_private(&req.planned_private);
        if req.planned_state.is_null() {
            return destroy(&clients, req.prior_state, markers).await;
        }
        let mut state = req.planned_state.clone();
        let dl = deadline(&req.config, "create");
        let scope = state.attr("scope").as_str().unwrap_or_default().to_string();
        let role = state.attr("role").as_str().unwrap_or_default().to_string();
        let (guid, role_name) =
            match common::resolve_role(Some(&clients.arm), &role, &scope, AttributePath::attr("role"), dl).await {
                Ok(r) => r,
                Err(d) => {
                    return ApplyResponse { new_state: req.prior_state, diagnostics: d.into(), ..Default::default() }
                }
            };
        let (desired, _) = match review(&state, &guid) {
            Ok(x) => x,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        state.set_attr(
            "role_definition_id",
            Value::string(format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}")),
        );
        state.set_attr("role_name", Value::string(&role_name));
        // An assignment adopted at plan existed before: it is managed as it is, not rewritten.
        if state.attr("origin").as_str() == Some(common::ORIGIN_ADOPTED) && state.attr("id").as_str().is_some() {
            return ApplyResponse { new_state: state, private: req.planned_private, diagnostics: Diagnostics::new() };
        }
        let principal = state.attr("principal_id").as_str().unwrap_or_default().to_string();
        let name = match state.attr("name").as_str() {
            Some(n) => n.to_string(),
            None => names::role_assignment_name(&scope, &principal, &guid).to_string(),
        };
        let prior_name = req.prior_state.attr("name").as_str().unwrap_or_default();
        let op = CreateOp {
            key: format!("{role_name} on {scope}"),
            scope: scope.clone(),
            name: name.clone(),
            role_guid: guid.clone(),
            principal_id: principal,
            principal_type: state.attr("principal_type").as_str().unwrap_or(common::PRINCIPAL_TYPE).to_string(),
            description: desired.description.clone(),
            token: ownership::new_token(),
            name_recorded: prior_name.eq_ignore_ascii_case(&name)
                || markers.get(state.attr("id").as_str().unwrap_or_default()).is_some(),
            desired,
        };
        let mut outcome = executor::create_all(&clients.arm, std::slice::from_ref(&op), 1, dl).await;
        match outcome.pop() {
            Some(Ok(created)) => {
                let a = created.assignment();
                // ARM may answer in its canonical casing: the planned spelling of the same id stays.
                for (attr, fresh) in [("name", &a.name), ("id", &a.id)] {
                    if !state.attr(attr).as_str().is_some_and(|p| same_id(p, fresh)) {
                        state.set_attr(attr, Value::string(fresh));
                    }
                }
                let id = state.attr("id").as_str().unwrap_or_default().to_string();
                if let Created::Adopted(_) = created {
                    state.set_attr("origin", Value::string(common::ORIGIN_ADOPTED));
                    markers.record(&id, ownership::marker(a.description.as_deref()));
                } else {
                    markers.record(&id, Some(&op.token));
                }
                markers.retain(std::slice::from_ref(&id));
                ApplyResponse { new_state: state, private: markers.to_private(), diagnostics: Diagnostics::new() }
            }
            Some(Err(e)) => ApplyResponse {
                new_state: req.prior_state,
                diagnostics: common::group_failures("create", vec![(op.key, e)]),
                ..Default::default()
            },
            None => ApplyResponse { new_state: req.prior_state, ..Default::default() },
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ReadResponse { new_state: req.current_state, private: req.private, diagnostics: d },
        };
        let state = req.current_state.clone();
        let id = state.attr("id").as_str().unwrap_or_default().to_string();
        let found = match ra::get(&clients.arm, &id, Instant::now() + Duration::from_secs(300)).await {
            Ok(f) => f,
            Err(e) => {
                return ReadResponse {
                    new_state: req.current_state,
                    private: req.private,
                    diagnostics: common::arm_diag(&e, None, "Cannot read the role assignment"),
                }
            }
        };
        let intact = found.as_ref().is_some_and(|a| {
            a.principal_id.eq_ignore_ascii_case(state.attr("principal_id").as_str().unwrap_or_default())
                && same_id(&a.scope, state.attr("scope").as_str().unwrap_or_default())
                && a.role_definition_id.to_ascii_lowercase().rsplit('/').next()
                    == state
                        .attr("role_definition_id")
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .rsplit('/')
                        .next()
        });
        if !intact {
            // Gone, or the name now points at another grant: plan a new one.
            return ReadResponse { new_state: Value::Null, private: req.private, diagnostics: Diagnostics::new() };
        }
        // The remote description may carry the broad-scope justification next to the user's
        // text, so it is not compared.
        ReadResponse { new_state: state, private: req.private, diagnostics: Diagnostics::new() }
    }

    async fn import(&self, id: &str) -> Result<Vec<ImportedResource>, Diagnostics> {
        let clients = self.state.clients()?;
        let found = ra::get(&clients.arm, id, Instant::now() + Duration::from_secs(300))
            .await
            .map_err(|e| common::arm_diag(&e, None, "Cannot read the role assignment"))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error("Role assignment not found", format!("{id} does not exist.")))
            })?;
        let guid = found.role_definition_id.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
        let role_name = roles::by_guid(&guid).map_or_else(|| guid.clone(), |r| r.name.clone());
        let mut state = crate::framework::codec::from_json(b"{}", &schema().block.value_type())
            .map_err(|e| Diagnostics::from(Diagnostic::error("Internal error", e.to_string())))?;
        let scope = if found.scope.is_empty() {
            id.split("/providers/Microsoft.Authorization/roleAssignments/").next().unwrap_or_default().to_string()
        } else {
            found.scope.clone()
        };
        for (k, v) in [
            ("id", Value::string(&found.id)),
            ("name", Value::string(&found.name)),
            ("scope", Value::string(scope)),
            ("role", Value::string(&role_name)),
            ("principal_id", Value::string(&found.principal_id)),
            (
                "principal_type",
                Value::string(if found.principal_type.is_empty() {
                    common::PRINCIPAL_TYPE
                } else {
                    &found.principal_type
                }),
            ),
            ("description", Value::from_opt_string(ownership::strip(found.description.as_deref()))),
            ("origin", Value::string(common::ORIGIN_IMPORTED)),
            ("role_definition_id", Value::string(format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"))),
            ("role_name", Value::string(role_name)),
        ] {
            state.set_attr(k, v);
        }
        let mut markers = Markers::default();
        markers.record(&found.id, ownership::marker(found.description.as_deref()));
        Ok(vec![ImportedResource { state, private: markers.to_private() }])
    }
}

/// Delete by the ownership rule: an adopted assignment is left unless `delete_adopted_on_destroy`,
/// and one that another aksid object stamped since is left to that object.
async fn destroy(clients: &Clients, prior: Value, markers: Markers) -> ApplyResponse {
    let delete_adopted = prior.attr("delete_adopted_on_destroy").as_bool().unwrap_or(false);
    let unwanted = Unwanted {
        key: prior.attr("id").as_str().unwrap_or_default().to_string(),
        id: prior.attr("id").as_str().unwrap_or_default().to_string(),
        origin: prior.attr("origin").as_str().unwrap_or(common::ORIGIN_CREATED).to_string(),
        elem: prior.clone(),
    };
    let dl = deadline(&prior, "delete");
    let (kept, diagnostics) =
        remove_unwanted(&clients.arm, vec![unwanted], &markers, delete_adopted, None, 1, dl).await;
    let new_state = if kept.is_empty() { Value::Null } else { prior };
    ApplyResponse { new_state, private: markers.to_private(), diagnostics }
}
