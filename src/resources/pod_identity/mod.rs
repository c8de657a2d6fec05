//! `aksid_pod_identity`: an application's user-assigned identity, its least-privilege role
//! assignments, and the Kubernetes objects that let its pods use it (AAD Pod Identity,
//! Workload Identity, or both while migrating). Glue: the typed model ([`model`]), the planner
//! (`planner::app`) and engine through [`grant_ops`], [`azure_side`] and [`kube_side`].
//!
//! Apply order: identity, federated credential, Kubernetes objects, role assignments, and only
//! then what is no longer wanted, so that a migration never removes AAD Pod Identity objects
//! before the workload-identity ones exist.

mod azure_side;
mod checks;
mod import;
mod kube_side;
mod model;
mod schema;
mod sharing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use self::model::{known, text, PodIdentity};
pub use self::schema::schema;
use crate::clients::{Clients, ProviderState};
use crate::framework::model::{decode, encode_as};
use crate::framework::{
    ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, ImportedResource, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Resource, Schema, Value,
};
use crate::known::Known;
use crate::kube::KubeClient;
use crate::planner::app;
use crate::resources::assignments as common;
use crate::resources::grant_ops;
use crate::resources::grants::Grant;
use crate::resources::ownership::{apply_response, plan_response, read_response, Markers};

const PARALLEL_WRITES: usize = 4;

pub struct PodIdentityResource {
    state: Arc<ProviderState>,
}

impl PodIdentityResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        PodIdentityResource { state }
    }
}

fn to_value(m: &PodIdentity) -> Result<Value, Diagnostics> {
    encode_as(m, &schema().block.value_type())
}

#[async_trait]
impl Resource for PodIdentityResource {
    fn type_name(&self) -> &'static str {
        "aksid_pod_identity"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut m: PodIdentity = match decode(config) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        checks::check(&m, config, &mut d);
        if d.has_errors() || !m.inputs_known() {
            return d;
        }
        // Role names, scopes and the policy, with stand-in principals: no Azure needed.
        m.fill_defaults();
        let offline = m.roles().iter().all(|r| text(&r.role).is_none_or(common::offline_role));
        if offline {
            let mut intent = m.intent();
            intent.identity_id =
                m.identity_id.clone().and_then(Known::into_option).map_or(Known::Unknown, Known::Known);
            if let Err(f) = app::expand(&intent) {
                d.extend(common::findings_to_diagnostics(&f));
            }
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        if req.proposed_new_state.is_null() {
            return PlanResponse { planned_state: Value::Null, ..Default::default() };
        }
        let mut diags = Diagnostics::new();
        let result = plan(self.state.clients().ok().as_deref(), &req, &mut diags).await;
        plan_response(result, diags, req.prior_private)
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        let mut markers = Markers::from_private(&req.planned_private);
        let result = if req.planned_state.is_null() {
            destroy(&clients, &req.prior_state, &mut markers).await
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
        let (m, markers) = import::import(&clients, id).await?;
        Ok(vec![ImportedResource { state: to_value(&m)?, private: markers.to_private() }])
    }
}

/// Computed results, all unknown: the plan of a resource whose inputs are not known yet.
fn all_unknown(m: &mut PodIdentity) {
    for a in [&mut m.client_id, &mut m.principal_id, &mut m.tenant_id, &mut m.manifests] {
        *a = Some(Known::Unknown);
    }
    m.assignments = Some(Known::Unknown);
    m.federated_credential = Some(Known::Unknown);
    m.kubernetes_objects = Some(Known::Unknown);
    m.pod_labels = Some(Known::Unknown);
}

/// Optional attributes whose default is computed start from the configuration again, so a
/// removed value plans its default rather than keeping the prior one.
fn from_config(m: &mut PodIdentity, config: &PodIdentity) {
    m.selector = config.selector.clone();
    m.binding_name = config.binding_name.clone();
    m.service_account_name = config.service_account_name.clone();
    m.audiences = config.audiences.clone();
    if config.kubelet_principal_id.is_none() && m.cluster_id.is_none() {
        m.kubelet_principal_id = None;
    }
    if config.oidc_issuer_url.is_none() && m.cluster_id.is_none() {
        m.oidc_issuer_url = None;
    }
    if config.identity_id.is_none() && m.identity.is_none() {
        m.identity_id = None;
    }
}

async fn plan(clients: Option<&Clients>, req: &PlanRequest, diags: &mut Diagnostics) -> Result<Value, Diagnostics> {
    let config: PodIdentity = decode(&req.config)?;
    let mut m: PodIdentity = decode(&req.proposed_new_state)?;
    let prior: Option<PodIdentity> = if req.prior_state.is_null() { None } else { Some(decode(&req.prior_state)?) };
    from_config(&mut m, &config);
    if !m.inputs_known() {
        m.id = Some(Known::Unknown);
        all_unknown(&mut m);
        return to_value(&m);
    }
    m.fill_defaults();
    m.id = Some(Known::Known(m.resource_id()));
    let deadline = Instant::now() + common::timeout_of(&config.timeouts, "create");
    azure_side::fill_cluster(clients, &mut m, &config, deadline).await?;
    azure_side::plan_identity(clients, &mut m, deadline).await?;
    plan_grants(clients, &mut m, prior.as_ref(), deadline, diags).await?;
    m.federated_credential = azure_side::desired_credential(&m);
    if let (Some(Known::Known(c)), Some(clients)) = (&m.federated_credential, clients) {
        azure_side::check_credential_room(clients, &m, c, deadline).await?;
    }
    plan_kubernetes(clients, &mut m, deadline).await?;
    m.pod_labels = Some(Known::Known(m.pod_labels()));
    to_value(&m)
}

/// The expansion with custom role names resolved through ARM (the planner knows built-ins).
async fn expansion(
    clients: Option<&Clients>,
    m: &PodIdentity,
    deadline: Instant,
) -> Result<crate::planner::Expansion, Diagnostics> {
    let mut intent = m.intent();
    for (i, r) in intent.roles.iter_mut().enumerate() {
        if r.role.is_empty() || common::offline_role(&r.role) {
            continue;
        }
        let at = crate::framework::AttributePath::attr("role").then_index(i).then_attr("role");
        let (guid, _) = common::resolve_role(clients.map(|c| &c.arm), &r.role, &r.scope, at, deadline).await?;
        r.role = guid;
    }
    app::expand(&intent).map_err(|f| common::findings_to_diagnostics(&f))
}

async fn plan_grants(
    clients: Option<&Clients>,
    m: &mut PodIdentity,
    prior: Option<&PodIdentity>,
    deadline: Instant,
    diags: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    let expansion = expansion(clients, m, deadline).await?;
    diags.extend(common::findings_to_diagnostics(&expansion.warnings));
    if !expansion.pending.is_empty() {
        m.assignments = Some(Known::Unknown);
        return Ok(());
    }
    let recorded = prior.map(PodIdentity::recorded).unwrap_or_default();
    let prior_grants = prior.map(PodIdentity::grants).unwrap_or_default();
    let grants =
        grant_ops::plan(clients, &expansion.assignments, &recorded, &prior_grants, PARALLEL_WRITES, deadline, diags)
            .await?;
    m.assignments = Some(Known::Known(grants));
    Ok(())
}

/// The cluster's client for this resource: the provider's `kubernetes` block, else credentials
/// from ARM for `cluster_id`.
async fn kube_client(clients: &Clients, m: &PodIdentity, deadline: Instant) -> Result<Arc<KubeClient>, Diagnostics> {
    let timeout = deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(60));
    clients
        .kube
        .client(&clients.arm, &clients.settings.kubernetes, text(&m.cluster_id), timeout)
        .await
        .map_err(|e| kube_side::kube_diag("Cannot reach the cluster's Kubernetes API", &e))
}

/// The objects and manifests; with AAD Pod Identity, the CRDs must be served (checked now, so
/// a missing installation is a plan error, not half an apply).
async fn plan_kubernetes(clients: Option<&Clients>, m: &mut PodIdentity, deadline: Instant) -> Result<(), Diagnostics> {
    let desired = kube_side::desired(m);
    m.manifests = Some(match &desired {
        Some(d) => Known::Known(kube_side::manifests(d)?),
        None => Known::Unknown,
    });
    if !m.writes_objects() {
        m.kubernetes_objects = None;
        return Ok(());
    }
    m.kubernetes_objects = Some(match desired {
        Some(d) => Known::Known(d.into_iter().map(|d| d.record).collect()),
        None => Known::Unknown,
    });
    let cluster_known = !matches!(m.cluster_id, Some(Known::Unknown));
    if let (Some(clients), true, true) = (clients, m.mode().is_some_and(|md| md.pod_identity()), cluster_known) {
        let kube = kube_client(clients, m, deadline).await?;
        kube.require_pod_identity_crds().await.map_err(|e| {
            Diagnostics::from(
                Diagnostic::error("AAD Pod Identity is not installed", e.to_string())
                    .at(crate::framework::AttributePath::attr("mode")),
            )
        })?;
    }
    Ok(())
}

async fn apply(
    clients: &Clients,
    req: &ApplyRequest,
    markers: &mut Markers,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let config: PodIdentity = decode(&req.config)?;
    let mut m: PodIdentity = decode(&req.planned_state)?;
    let prior: PodIdentity = if req.prior_state.is_null() { PodIdentity::default() } else { decode(&req.prior_state)? };
    let deadline = Instant::now() + common::timeout_of(&config.timeouts, "create");
    m.id = Some(Known::Known(m.resource_id()));
    if known(&m.kubelet_principal_id).is_none() || known(&m.oidc_issuer_url).is_none() && m.oidc_issuer_url.is_some() {
        azure_side::fill_cluster(Some(clients), &mut m, &config, deadline).await?;
    }
    azure_side::ensure_identity(clients, &mut m, deadline).await?;
    let planned_grants = m.grants();
    // State holds what exists: the prior records until each step succeeds.
    m.assignments = Some(Known::Known(prior.grants()));
    m.federated_credential = prior.federated_credential.clone();
    m.kubernetes_objects = prior.kubernetes_objects.clone().filter(|_| m.writes_objects());
    m.pod_labels = Some(Known::Known(m.pod_labels()));
    let desired = kube_side::desired(&m).unwrap_or_default();
    m.manifests = Some(Known::Known(kube_side::manifests(&desired)?));
    let mut diags = Diagnostics::new();
    if let Some(Known::Known(c)) = azure_side::desired_credential(&m) {
        match azure_side::put_credential(clients, &m, &c, deadline).await {
            Ok(c) => m.federated_credential = Some(Known::Known(c)),
            Err(e) => {
                return Ok((to_value(&m)?, azure_side::arm(&e, "Cannot write the federated identity credential")))
            }
        }
    }
    let kube = if m.writes_objects() || !prior.objects().is_empty() {
        Some(kube_client(clients, &m, deadline).await?)
    } else {
        None
    };
    if let (Some(kube), true) = (&kube, m.writes_objects()) {
        let written = kube_side::write(kube, &desired, &prior.objects(), m.force(), &mut diags).await;
        let (objects, failed) = match written {
            Ok(w) => (w, None),
            Err((w, d)) => (w, Some(d)),
        };
        let mut all = objects.clone();
        all.extend(kube_side::unwanted(&prior.objects(), &objects));
        m.kubernetes_objects = Some(Known::Known(all));
        if let Some(d) = failed {
            diags.extend(d);
            return Ok((to_value(&m)?, diags));
        }
    }
    let unwanted_grants = apply_grants(clients, &mut m, &prior, planned_grants, markers, deadline, &mut diags).await?;
    if diags.has_errors() {
        let mut all = m.grants();
        all.extend(unwanted_grants);
        m.assignments = Some(Known::Known(all));
        return Ok((to_value(&m)?, diags));
    }
    let wanted = desired.iter().map(|d| d.record.clone()).collect();
    remove_unwanted(clients, kube.as_deref(), &mut m, &prior, wanted, deadline, &mut diags).await;
    let own = own_credentials(&m, &prior);
    let (kept, d) = sharing::release(clients, kube.as_deref(), &m, &own, unwanted_grants, markers, deadline).await;
    diags.extend(d);
    let mut all = m.grants();
    all.extend(kept);
    markers.retain(&all.iter().filter_map(|g| g.id.known().cloned()).collect::<Vec<_>>());
    m.assignments = Some(Known::Known(all));
    Ok((to_value(&m)?, diags))
}

/// The credentials this resource wrote or writes (not other users of the identity).
fn own_credentials(m: &PodIdentity, prior: &PodIdentity) -> Vec<String> {
    [m.credential(), prior.credential()].into_iter().flatten().map(|c| c.name).collect()
}

/// Keep, adopt or create the wanted grants; returns the recorded ones no longer wanted.
async fn apply_grants(
    clients: &Clients,
    m: &mut PodIdentity,
    prior: &PodIdentity,
    planned: Vec<Grant>,
    markers: &mut Markers,
    deadline: Instant,
    diags: &mut Diagnostics,
) -> Result<Vec<Grant>, Diagnostics> {
    let expansion = expansion(Some(clients), m, deadline).await?;
    let recorded = (prior.recorded(), prior.grants());
    let (result, unwanted, d) = grant_ops::apply(
        clients,
        &expansion.assignments,
        &planned,
        (&recorded.0, &recorded.1),
        markers,
        PARALLEL_WRITES,
        deadline,
    )
    .await;
    m.assignments = Some(Known::Known(result));
    diags.extend(d);
    Ok(unwanted)
}

/// What the prior state holds and the configuration no longer wants: Kubernetes objects of a
/// mode left behind, and a federated credential under another name.
#[allow(clippy::too_many_arguments)]
async fn remove_unwanted(
    clients: &Clients,
    kube: Option<&KubeClient>,
    m: &mut PodIdentity,
    prior: &PodIdentity,
    wanted: Vec<model::KubeObject>,
    deadline: Instant,
    diags: &mut Diagnostics,
) {
    let unwanted = kube_side::unwanted(&prior.objects(), &wanted);
    if let (Some(kube), false, true) = (kube, unwanted.is_empty(), m.writes_objects()) {
        let (kept, d) = kube_side::remove(kube, unwanted).await;
        diags.extend(d);
        let mut all = m
            .objects()
            .into_iter()
            .filter(|o| wanted.iter().any(|w| w.kind == o.kind && w.name == o.name && w.namespace == o.namespace))
            .collect::<Vec<_>>();
        all.extend(kept);
        m.kubernetes_objects = Some(Known::Known(all));
    } else if !m.writes_objects() && !prior.objects().is_empty() {
        diags.push(Diagnostic::warning(
            "Kubernetes objects left in place",
            "write_kubernetes_objects is false: the objects this resource wrote stay in the cluster (for GitOps to take over) and are no longer managed.",
        ));
    }
    let old = prior.credential();
    let new = m.credential();
    if let Some(old) = old.filter(|o| new.as_ref().is_none_or(|n| !n.id.eq_ignore_ascii_case(&o.id))) {
        if let Err(e) = azure_side::delete_credential(clients, &old, deadline).await {
            diags.extend(azure_side::arm(&e, &format!("Cannot delete the federated identity credential {}", old.id)));
        }
    }
}

async fn destroy(clients: &Clients, prior: &Value, markers: &mut Markers) -> Result<(Value, Diagnostics), Diagnostics> {
    let mut m: PodIdentity = decode(prior)?;
    let deadline = Instant::now() + common::timeout_of(&m.timeouts, "delete");
    let mut diags = Diagnostics::new();
    let objects = m.objects();
    if !objects.is_empty() {
        let kube = kube_client(clients, &m, deadline).await?;
        let (kept, d) = kube_side::remove(&kube, objects).await;
        diags.extend(d);
        m.kubernetes_objects = Some(Known::Known(kept));
    }
    if let Some(c) = m.credential() {
        match azure_side::delete_credential(clients, &c, deadline).await {
            Ok(()) => m.federated_credential = None,
            Err(e) => diags.extend(azure_side::arm(&e, "Cannot delete the federated identity credential")),
        }
    }
    let kube = match m.writes_objects() {
        true => kube_client(clients, &m, deadline).await.ok(),
        false => None,
    };
    let own = own_credentials(&m, &m);
    let (left, d) = sharing::release(clients, kube.as_deref(), &m, &own, m.grants(), markers, deadline).await;
    diags.extend(d);
    markers.retain(&left.iter().filter_map(|g| g.id.known().cloned()).collect::<Vec<_>>());
    m.assignments = Some(Known::Known(left));
    if !diags.has_errors() {
        match azure_side::delete_identity(clients, &m, deadline).await {
            Ok(()) => return Ok((Value::Null, diags)),
            Err(d) => diags.extend(d),
        }
    }
    // Keep what still exists in state, so nothing is orphaned.
    Ok((to_value(&m)?, diags))
}

async fn read(clients: &Clients, current: &Value) -> Result<Value, Diagnostics> {
    let mut m: PodIdentity = decode(current)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    if let Some(id) = text(&m.identity_id).map(str::to_string) {
        let found = crate::azure::identities::get_identity(&clients.arm, &id, deadline)
            .await
            .map_err(|e| azure_side::arm(&e, "Cannot read the user-assigned identity"))?;
        if found.is_none() {
            // Gone: the next plan creates it again (identity block) or reports it.
            (m.client_id, m.principal_id, m.tenant_id) = (None, None, None);
        }
    }
    m.assignments = Some(Known::Known(grant_ops::read(clients, m.grants(), PARALLEL_WRITES, deadline).await?));
    if let Some(c) = m.credential() {
        let now = azure_side::read_credential(clients, &c, deadline)
            .await
            .map_err(|e| azure_side::arm(&e, "Cannot read the federated identity credential"))?;
        m.federated_credential = now.map(Known::Known);
    }
    let objects = m.objects();
    if !objects.is_empty() {
        let kube = kube_client(clients, &m, deadline).await?;
        m.kubernetes_objects = Some(Known::Known(kube_side::read(&kube, &objects).await?));
    }
    to_value(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_schema_agree() {
        crate::framework::model::assert_model_matches_schema::<PodIdentity>(&schema().block);
    }
}
