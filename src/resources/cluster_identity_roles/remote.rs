//! What `aksid_cluster_identity_roles` asks of Azure: the cluster's identities, custom role
//! names, the assignments that exist, and carrying out the engine's decisions (writes with
//! ownership markers, removal by the ownership rule).

use std::time::Instant;

use super::model::{known, ClusterRoles, Identities};
use crate::azure::cluster;
use crate::clients::Clients;
use crate::executor;
use crate::framework::{AttributePath, Diagnostic, Diagnostics};
use crate::known::Known;
use crate::planner::ClusterIntent;
use crate::resources::assignments::{self as common, same_id};

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

/// The model's intent, with custom role names of extra assignments replaced by their GUIDs,
/// looked up at each assignment's scope (the planner knows only built-in names). Built from
/// the intent rather than a copy of the model, so the grants in state are not copied.
pub async fn intent_with_custom_roles_resolved(
    clients: Option<&Clients>,
    m: &ClusterRoles,
    deadline: Instant,
) -> Result<ClusterIntent, Diagnostics> {
    let mut intent = m.intent();
    // `intent.extra` holds one entry per extra assignment, in order.
    for (i, (e, wanted)) in m.extras().iter().zip(intent.extra.iter_mut()).enumerate() {
        let (Some(role), Some(scope)) = (known(&e.role), known(&e.scope)) else { continue };
        if super::model::offline_role(role) {
            continue;
        }
        let at = AttributePath::attr("extra_assignment").then_index(i).then_attr("role");
        let (guid, _) = common::resolve_role(clients.map(|c| &c.arm), role, scope, at, deadline).await?;
        wanted.role = guid;
    }
    Ok(intent)
}
