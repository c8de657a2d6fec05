//! `aksid_cluster_identity_roles`: an AKS cluster's whole identity role matrix as one resource.
//! Glue only: values decode into the typed model ([`model`]), the planner expands the intent,
//! the engine (`planner::engine`) decides keep / create / adopt / unwanted, and [`remote`] talks
//! to Azure.

mod checks;
mod model;
mod remote;
mod schema;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use self::model::{known, ClusterRoles};
pub use self::schema::schema;
use crate::clients::{Clients, ProviderState};
use crate::domain::ownership;
use crate::framework::model::{decode, encode_as};
use crate::framework::{
    codec, ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, Encoded, EncodedApplyRequest, EncodedPlanRequest,
    EncodedReadRequest, ImportedResource, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema,
    Value,
};
use crate::known::Known;
use crate::planner::ClusterIntent;
use crate::planner::{self, classify::classify, engine, Origin};
use crate::resources::assignments as common;
use crate::resources::grant_ops;
use crate::resources::grants::Grant;
use crate::resources::ownership::{plan_response, Markers};

const DEFAULT_PARALLEL_WRITES: usize = 4;

pub struct ClusterIdentityRoles {
    state: Arc<ProviderState>,
}

impl ClusterIdentityRoles {
    pub fn new(state: Arc<ProviderState>) -> Self {
        ClusterIdentityRoles { state }
    }
}

fn parallelism(m: &ClusterRoles) -> usize {
    known(&m.max_parallel_writes)
        .copied()
        .filter(|n| common::PARALLEL_WRITES_RANGE.contains(n))
        .map_or(DEFAULT_PARALLEL_WRITES, |n| n as usize)
}

fn expand(intent: &ClusterIntent) -> Result<planner::Expansion, Diagnostics> {
    planner::expand(intent).map_err(|f| common::findings_to_diagnostics(&f))
}

fn to_value(m: &ClusterRoles) -> Result<Value, Diagnostics> {
    encode_as(m, &schema().block.value_type())
}

/// Identities: read from the cluster, taken from the inputs, or unknown until apply.
async fn resolve_identities(
    clients: Option<&Clients>,
    m: &mut ClusterRoles,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    match (&m.cluster_id, clients) {
        (Some(Known::Known(_)), Some(c)) => remote::fill_identities(c, m, deadline, false).await?,
        (Some(_), _) => m.identities = Some(Known::Unknown),
        (None, _) => m.identities = Some(Known::Known(m.identities_from_inputs())),
    }
    Ok(())
}

#[async_trait]
impl Resource for ClusterIdentityRoles {
    fn type_name(&self) -> &'static str {
        "aksid_cluster_identity_roles"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    /// Version 0 kept the identities read from the cluster in the inputs; they move to
    /// `identities`, so that the inputs hold only what the user wrote.
    fn upgrade_state(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        let ty = schema().block.value_type();
        let state = codec::from_json(raw_json, &ty)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot read the prior state", e.to_string())))?;
        match version {
            schema::SCHEMA_VERSION => Ok(state),
            0 if state.is_null() => Ok(state),
            0 => {
                let mut m: ClusterRoles = decode(&state)?;
                m.identities = Some(Known::Known(m.identities_from_inputs()));
                if m.cluster_id.is_some() {
                    (m.control_plane_principal_id, m.kubelet_principal_id, m.node_resource_group_id) = (None, None, None);
                }
                to_value(&m)
            }
            other => Err(Diagnostic::error(
                "Unsupported state version",
                format!("aksid_cluster_identity_roles state version {other} is newer than this provider. Upgrade the provider."),
            )
            .into()),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let m: ClusterRoles = match decode(config) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        checks::check(&m, config, &mut d);
        if d.has_errors() {
            return d;
        }
        // Everything the planner can check without Azure, once the inputs are known.
        let custom_roles = m.extras().iter().any(|e| known(&e.role).is_some_and(|r| !model::offline_role(r)));
        if m.scopes_known() && m.cluster_id.is_none() && !custom_roles {
            let mut with_identities = m.clone();
            with_identities.identities = Some(Known::Known(m.identities_from_inputs()));
            if let Err(e) = expand(&with_identities.intent()) {
                d.extend(e);
            }
        }
        d
    }

    // The `*_encoded` entry points are the real ones: the states decode straight into the
    // typed model (see `Encoded`). The `Value` ones serve callers that hold values already.
    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let req = EncodedPlanRequest::from_values(req, &schema().block.value_type());
        self.plan_encoded(req).await.unwrap_or_else(|diagnostics| PlanResponse { diagnostics, ..Default::default() })
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let req = EncodedApplyRequest::from_values(req, &schema().block.value_type());
        self.apply_encoded(req).await.unwrap_or_else(|diagnostics| ApplyResponse { diagnostics, ..Default::default() })
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let req = EncodedReadRequest::from_values(req, &schema().block.value_type());
        self.read_encoded(req).await.unwrap_or_else(|diagnostics| ReadResponse { diagnostics, ..Default::default() })
    }

    async fn plan_encoded(&self, req: EncodedPlanRequest) -> Result<PlanResponse, Diagnostics> {
        if req.proposed_new_state.is_null() {
            return Ok(PlanResponse { planned_state: Value::Null, ..Default::default() });
        }
        let EncodedPlanRequest { prior_state, proposed_new_state, config, prior_private } = req;
        let planning = Planning::decode(config, proposed_new_state, prior_state);
        let mut diags = Diagnostics::new();
        let result = match planning {
            Ok(p) => plan(self.state.clients().ok().as_deref(), p, &mut diags).await,
            Err(d) => Err(d),
        };
        Ok(plan_response(result, diags, prior_private))
    }

    async fn apply_encoded(&self, req: EncodedApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        let EncodedApplyRequest { prior_state, planned_state, config, planned_private } = req;
        // Kept to the end (the answer if nothing can be written); the rest is freed once decoded.
        let prior_state = prior_state.detached();
        let mut markers = Markers::from_private(&planned_private);
        let result = match self.state.clients() {
            Err(d) => Err(d),
            Ok(clients) if planned_state.is_null() => destroy(&clients, &prior_state, &mut markers).await,
            Ok(clients) => apply(&clients, (config, planned_state), &prior_state, &mut markers).await,
        };
        Ok(match result {
            Ok((new_state, diagnostics)) => ApplyResponse { new_state, private: markers.to_private(), diagnostics },
            // Nothing was written: the prior state and markers stand.
            Err(d) => ApplyResponse { new_state: prior_state.into_value()?, private: planned_private, diagnostics: d },
        })
    }

    async fn read_encoded(&self, req: EncodedReadRequest) -> Result<ReadResponse, Diagnostics> {
        let result = match self.state.clients() {
            Ok(c) => read(&c, &req.current_state).await,
            Err(d) => Err(d),
        };
        let (new_state, diagnostics) = match result {
            Ok(new_state) => (new_state, Diagnostics::new()),
            Err(d) => (req.current_state.into_value()?, d),
        };
        Ok(ReadResponse { new_state, private: req.private, diagnostics })
    }

    async fn import(&self, id: &str) -> Result<Vec<ImportedResource>, Diagnostics> {
        let clients = self.state.clients()?;
        let (state, markers) = import(&clients, id).await?;
        Ok(vec![ImportedResource { state, private: markers.to_private() }])
    }
}

/// A plan's inputs, typed, decoded straight from the wire: at 4,000 grants each state is
/// megabytes, and the peak memory of a plan is the copies alive at once.
struct Planning {
    config: ClusterRoles,
    /// The proposed new state without its `assignments`.
    proposed: ClusterRoles,
    prior: Option<ClusterRoles>,
}

impl Planning {
    /// One value at a time, each one's bytes freed as soon as it is decoded.
    fn decode(config: Encoded, proposed: Encoded, prior: Encoded) -> Result<Planning, Diagnostics> {
        let prior = if prior.is_null() { None } else { Some(prior.into_model()?) };
        // The proposal carries the prior grants (a computed attribute); the plan replaces them.
        let proposed = proposed.into_model_except(&["assignments"])?;
        Ok(Planning { config: config.into_model()?, proposed, prior })
    }
}

async fn plan(clients: Option<&Clients>, p: Planning, diags: &mut Diagnostics) -> Result<Value, Diagnostics> {
    let Planning { config, proposed: mut m, prior } = p;
    if let Some(p) = &prior {
        m.keep_equivalent_prior(p);
    }
    let deadline = Instant::now() + common::timeout_of(&config.timeouts, "create");
    drop(config);
    resolve_identities(clients, &mut m, deadline).await?;
    if m.id.is_none() {
        m.id = Some(Known::Unknown);
    }
    if !m.scopes_known() {
        m.assignments = Some(Known::Unknown);
        return to_value(&m);
    }
    let expansion = expand(&remote::intent_with_custom_roles_resolved(clients, &m, deadline).await?)?;
    diags.extend(common::findings_to_diagnostics(&expansion.warnings));
    if !expansion.pending.is_empty() {
        // Grants whose scope (the node resource group) is not known yet.
        m.assignments = Some(Known::Unknown);
        return to_value(&m);
    }
    let recorded = prior.as_ref().map(ClusterRoles::recorded).unwrap_or_default();
    let prior_grants = prior.as_ref().and_then(|p| known(&p.assignments)).map_or(&[][..], Vec::as_slice);
    let grants =
        grant_ops::plan(clients, &expansion.assignments, &recorded, prior_grants, parallelism(&m), deadline, diags)
            .await?;
    drop((expansion, recorded, prior));
    m.assignments = Some(Known::Known(grants));
    to_value(&m)
}

/// `prior_state` stays with the caller: it is the answer if this fails. The config and plan are
/// freed once decoded.
async fn apply(
    clients: &Clients,
    (config_wire, planned_wire): (Encoded, Encoded),
    prior_state: &Encoded,
    markers: &mut Markers,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let (config, mut m): (ClusterRoles, ClusterRoles) = (config_wire.into_model()?, planned_wire.into_model()?);
    let mut prior: ClusterRoles = if prior_state.is_null() { ClusterRoles::default() } else { prior_state.decode()? };
    let deadline = Instant::now() + common::timeout_of(&config.timeouts, "create");
    if !matches!(m.id, Some(Known::Known(_))) {
        m.id =
            Some(Known::Known(known(&config.cluster_id).cloned().unwrap_or_else(|| uuid::Uuid::new_v4().to_string())));
    }
    if m.cluster_id.is_none() {
        m.identities = Some(Known::Known(m.identities_from_inputs()));
    } else if !matches!(m.identities, Some(Known::Known(ref i)) if known(&i.kubelet_principal_id).is_some()) {
        remote::fill_identities(clients, &mut m, deadline, false).await?;
    }
    let expansion = expand(&remote::intent_with_custom_roles_resolved(Some(clients), &m, deadline).await?)?;
    let planned: Vec<Grant> = take_grants(&mut m);
    let recorded = prior.recorded();
    let prior_grants = take_grants(&mut prior);
    let parallel = parallelism(&m);
    let (mut result, unwanted, mut diags) = grant_ops::apply(
        clients,
        &expansion.assignments,
        &planned,
        (&recorded, &prior_grants),
        markers,
        parallel,
        deadline,
    )
    .await;
    if !unwanted.is_empty() {
        let (kept, d) = grant_ops::remove(clients, unwanted, markers, m.delete_adopted(), parallel, deadline).await;
        diags.extend(d);
        result.extend(kept);
    }
    drop((expansion, planned, recorded, prior_grants));
    markers.retain(&result.iter().filter_map(|g| g.id.known().cloned()).collect::<Vec<_>>());
    m.assignments = Some(Known::Known(result));
    Ok((to_value(&m)?, diags))
}

/// The grants of `m`, moved out (none when unknown or null).
fn take_grants(m: &mut ClusterRoles) -> Vec<Grant> {
    m.assignments.take().and_then(Known::into_option).unwrap_or_default()
}

async fn destroy(
    clients: &Clients,
    prior: &Encoded,
    markers: &mut Markers,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let mut m: ClusterRoles = prior.decode()?;
    let deadline = Instant::now() + common::timeout_of(&m.timeouts, "delete");
    let grants = take_grants(&mut m);
    let (left, diags) =
        grant_ops::remove(clients, grants, markers, m.delete_adopted(), parallelism(&m), deadline).await;
    if left.is_empty() {
        return Ok((Value::Null, diags));
    }
    // Keep what still exists in state, so nothing is orphaned.
    markers.retain(&left.iter().filter_map(|g| g.id.known().cloned()).collect::<Vec<_>>());
    m.assignments = Some(Known::Known(left));
    Ok((to_value(&m)?, diags))
}

async fn read(clients: &Clients, current: &Encoded) -> Result<Value, Diagnostics> {
    let mut m: ClusterRoles = current.decode()?;
    let deadline = Instant::now() + Duration::from_secs(300);
    // A deleted cluster does not delete its role assignments: keep reading them.
    remote::fill_identities(clients, &mut m, deadline, true).await?;
    let grants = take_grants(&mut m);
    let still = grant_ops::read(clients, grants, parallelism(&m), deadline).await?;
    m.assignments = Some(Known::Known(still));
    to_value(&m)
}

async fn import(clients: &Clients, id: &str) -> Result<(Value, Markers), Diagnostics> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut m = ClusterRoles {
        cluster_id: Some(Known::Known(id.to_string())),
        id: Some(Known::Known(id.to_string())),
        ..ClusterRoles::default()
    };
    remote::fill_identities(clients, &mut m, deadline, false).await?;
    let ids = known(&m.identities).cloned().unwrap_or_default();
    let text = |a: &Option<Known<String>>| known(a).cloned().unwrap_or_default();
    let (cp, kubelet, node_rg) =
        (text(&ids.control_plane_principal_id), text(&ids.kubelet_principal_id), text(&ids.node_resource_group_id));
    let subs = grant_ops::subscriptions(clients, deadline).await?;
    let pairs = subs.iter().flat_map(|s| [(s.clone(), cp.clone()), (s.clone(), kubelet.clone())]);
    let listed = crate::executor::list_existing(&clients.arm, pairs, deadline, 4)
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot list role assignments"))?;
    let existing: Vec<_> = listed.iter().map(crate::executor::to_actual).collect();
    model::fill_inputs(&mut m, &classify(&existing, &cp, &kubelet, &node_rg));
    // Elements exactly as the matrix names them, with the real assignment names.
    let mut check = m.clone();
    check.allow_broad_scope = Some(model::BroadScope { justification: Some(Known::Known("imported".into())) });
    let expansion = expand(&check.intent())?;
    let mut markers = Markers::default();
    let mut grants = Vec::new();
    for (d, a) in engine::equivalents(&expansion.assignments, &existing) {
        // Imported grants are the user's explicit request to manage them: destroyed like
        // created ones, as long as nobody stamps them in between.
        let marker = listed.iter().find(|l| l.id == a.id).and_then(|l| ownership::marker(l.description.as_deref()));
        markers.record(&a.id, marker);
        let mut g = Grant::planned(d, Some(a), Origin::Imported);
        g.set_origin(Origin::Imported);
        grants.push(g);
    }
    m.assignments = Some(Known::Known(grants));
    Ok((to_value(&m)?, markers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_schema_agree() {
        crate::framework::model::assert_model_matches_schema::<ClusterRoles>(&schema().block);
    }

    #[test]
    fn id_lists_are_the_schema_lists() {
        let m = ClusterRoles::default();
        assert_eq!(m.id_lists().len(), model::ID_LISTS.len());
        assert!(model::strings(&None).is_some_and(|v| v.is_empty()));
    }
}
