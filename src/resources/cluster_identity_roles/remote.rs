//! What `aksid_cluster_identity_roles` asks of Azure: the cluster's identities, custom role
//! names, the assignments that exist, and carrying out the engine's decisions (writes with
//! ownership markers, removal by the ownership rule).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::model::{known, ClusterRoles, Identities};
use crate::azure::arm::ArmError;
use crate::azure::cluster;
use crate::azure::role_assignments::RoleAssignment;
use crate::clients::Clients;
use crate::domain::ownership;
use crate::executor::{self, CreateOp, Created};
use crate::framework::{AttributePath, Diagnostic, Diagnostics};
use crate::known::Known;
use crate::planner::{DesiredAssignment, Origin};
use crate::resources::assignments::{self as common, same_id};
use crate::resources::grants::Grant;
use crate::resources::ownership::{remove_unwanted, Markers, Unwanted};

pub const CLUSTER_TYPE: (&str, &str) = (
    "Microsoft.ContainerService/managedClusters",
    "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>",
);

/// Read the cluster's identities into `m.identities` (when `cluster_id` is known). With
/// `tolerate_missing`, a cluster that no longer exists leaves them as they are: its role
/// assignments outlive it and are still ours to manage.
pub async fn fill_identities(
    clients: &Clients,
    m: &mut ClusterRoles,
    deadline: Instant,
    tolerate_missing: bool,
) -> Result<(), Diagnostics> {
    let Some(id) = known(&m.cluster_id).cloned() else { return Ok(()) };
    let path = AttributePath::attr("cluster_id");
    let mut invalid = Diagnostics::new();
    common::check_id(&id, path.clone(), Some(CLUSTER_TYPE), &mut invalid);
    let sub = executor::subscription_of(&id).filter(|_| !invalid.has_errors()).ok_or(invalid)?;
    let resp = match clients.arm.get(&id, cluster::API_VERSION, deadline).await {
        Ok(r) => r,
        Err(e) if tolerate_missing && e.status() == Some(404) => return Ok(()),
        Err(e) => return Err(common::arm_diag(&e, Some(path.clone()), "Cannot read the AKS cluster")),
    };
    let c = cluster::parse(&resp.body, &sub)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Unexpected AKS cluster", e).at(path.clone())))?;
    // The spelling already recorded wins over ARM's when both name the same thing.
    let before = known(&m.identities).cloned().unwrap_or_default();
    let keep_or = |old: &Option<Known<String>>, fresh: String| match known(old) {
        Some(o) if same_id(o, &fresh) => old.clone(),
        _ => Some(Known::Known(fresh)),
    };
    m.identities = Some(Known::Known(Identities {
        control_plane_principal_id: keep_or(&before.control_plane_principal_id, c.control_plane_principal_id),
        kubelet_principal_id: keep_or(&before.kubelet_principal_id, c.kubelet.object_id),
        node_resource_group_id: keep_or(&before.node_resource_group_id, c.node_resource_group_id),
    }));
    Ok(())
}

/// A copy of the model in which custom role names of extra assignments are replaced by their
/// GUIDs, looked up at each assignment's scope (the planner knows only built-in names).
pub async fn with_custom_roles_resolved(
    clients: Option<&Clients>,
    m: &ClusterRoles,
    deadline: Instant,
) -> Result<ClusterRoles, Diagnostics> {
    let mut out = m.clone();
    let Some(Known::Known(extras)) = &mut out.extra_assignment else { return Ok(out) };
    for (i, e) in extras.iter_mut().enumerate() {
        let (Some(role), Some(scope)) = (known(&e.role), known(&e.scope)) else { continue };
        if super::model::offline_role(role) {
            continue;
        }
        let at = AttributePath::attr("extra_assignment").then_index(i).then_attr("role");
        let (guid, _) = common::resolve_role(clients.map(|c| &c.arm), role, scope, at, deadline).await?;
        e.role = Some(Known::Known(guid));
    }
    Ok(out)
}

/// The (subscription, principal) pairs to list for these grants.
pub fn pairs<'a>(grants: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    grants.filter_map(|(scope, principal)| Some((executor::subscription_of(scope)?, principal.to_string()))).collect()
}

/// What exists now for the principals of `desired`: one list per principal and subscription.
pub async fn existing_for(
    clients: &Clients,
    desired: &[&DesiredAssignment],
    parallel: usize,
    deadline: Instant,
) -> Result<Vec<crate::planner::ActualAssignment>, ArmError> {
    let listed =
        executor::list_existing(&clients.arm, executor::listing_pairs(desired.iter().copied()), deadline, parallel)
            .await?;
    Ok(listed.iter().map(executor::to_actual).collect())
}

/// Write `to_create` (planned grants), stamping each with a fresh ownership marker. Returns
/// the grants as state records them and the failures (key, error).
pub async fn create(
    clients: &Clients,
    to_create: Vec<(Grant, &DesiredAssignment)>,
    markers: &mut Markers,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Grant>, Vec<(String, ArmError)>) {
    let token = ownership::new_token();
    let ops: Vec<CreateOp> = to_create
        .iter()
        .map(|(g, d)| {
            let id = g.id.known().cloned().unwrap_or_default();
            CreateOp {
                key: d.key.clone(),
                scope: d.scope.clone(),
                name: g.name.known().cloned().unwrap_or_default(),
                role_guid: d.role.guid.clone(),
                principal_id: d.principal_id.known().cloned().unwrap_or_default(),
                principal_type: common::PRINCIPAL_TYPE.to_string(),
                description: d.description.clone(),
                token: token.clone(),
                // Our earlier write under this name is recorded (even if refresh found it changed).
                name_recorded: markers.get(&id).is_some(),
                desired: (*d).clone(),
            }
        })
        .collect();
    let outcomes = executor::create_all(&clients.arm, &ops, parallel, deadline).await;
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for (((mut g, _), op), outcome) in to_create.into_iter().zip(ops).zip(outcomes) {
        match outcome {
            Ok(Created::Created(a)) => {
                g.settle(&a);
                markers.record(g.id.known().map_or(&a.id, |i| i), Some(&op.token));
                done.push(g);
            }
            Ok(Created::Adopted(a)) => {
                // Made concurrently since the plan: managed as it is.
                g.settle(&a);
                g.set_origin(Origin::Adopted);
                done.push(g);
            }
            Err(e) => failures.push((op.key, e)),
        }
    }
    (done, failures)
}

/// Remove unwanted grants by the ownership rule, after one list per principal and
/// subscription. Returns the grants that must stay in state and the diagnostics.
pub async fn remove(
    clients: &Clients,
    unwanted: Vec<Grant>,
    markers: &Markers,
    delete_adopted: bool,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Grant>, Diagnostics) {
    let keyed: Vec<(Grant, Unwanted)> = unwanted.into_iter().map(|g| (g.clone(), unwanted_of(&g))).collect();
    let scopes: Vec<(String, String)> =
        keyed.iter().filter_map(|(g, _)| Some((g.scope.clone(), g.principal_id.known()?.clone()))).collect();
    let listed = match executor::list_existing(
        &clients.arm,
        pairs(scopes.iter().map(|(s, p)| (s.as_str(), p.as_str()))),
        deadline,
        parallel,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            let kept = keyed.into_iter().map(|(g, _)| g).collect();
            return (kept, common::arm_diag(&e, None, "Cannot list role assignments before deleting them"));
        }
    };
    let by_id: BTreeMap<String, RoleAssignment> = listed.into_iter().map(|a| (a.id.to_ascii_lowercase(), a)).collect();
    let by_key: HashMap<String, Grant> = keyed.iter().map(|(g, _)| (g.key.clone(), g.clone())).collect();
    // Scopes outside any subscription were not listed: those are fetched one by one.
    let (listable, single): (Vec<Unwanted>, Vec<Unwanted>) =
        keyed.into_iter().map(|(_, u)| u).partition(|u| executor::subscription_of(&u.id).is_some());
    let (mut kept, mut diags) =
        remove_unwanted(&clients.arm, listable, markers, delete_adopted, Some(&by_id), parallel, deadline).await;
    if !single.is_empty() {
        let (k, d) = remove_unwanted(&clients.arm, single, markers, delete_adopted, None, parallel, deadline).await;
        kept.extend(k);
        diags.extend(d);
    }
    let kept = kept.iter().filter_map(|k| by_key.get(k)).cloned().collect();
    (kept, diags)
}

fn unwanted_of(g: &Grant) -> Unwanted {
    Unwanted { key: g.key.clone(), id: g.id.known().cloned().unwrap_or_default(), origin: g.origin() }
}

/// Every subscription the caller can see (grants may live in a hub subscription).
pub async fn subscriptions(clients: &Clients, deadline: Instant) -> Result<Vec<String>, Diagnostics> {
    let subs = clients
        .arm
        .get("/subscriptions", "2022-12-01", deadline)
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot list subscriptions"))?;
    Ok(subs
        .body
        .get("value")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("subscriptionId").and_then(|v| v.as_str()).map(str::to_string))
        .collect())
}
