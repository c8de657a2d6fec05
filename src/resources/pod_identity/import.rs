//! `terraform import aksid_pod_identity.x <cluster_id>/<namespace>/<name>`: the state rebuilt
//! from what the cluster and Azure hold. The AzureIdentity `<name>` (its `resourceID`) or the
//! ServiceAccount `<name>` (its client-id annotation) names the identity; the binding is looked
//! up under its default name `<name>-binding`.

use std::time::{Duration, Instant};

use super::model::{text, PodIdentity, RoleBlock};
use super::{azure_side, kube_client, kube_side};
use crate::azure::identities;
use crate::clients::Clients;
use crate::domain::ownership;
use crate::framework::{Diagnostic, Diagnostics};
use crate::known::Known;
use crate::kube::objects::WORKLOAD_CLIENT_ID_ANNOTATION;
use crate::kube::ObjectKind;
use crate::planner::{engine, IdentityKind, Origin};
use crate::resources::grants::Grant;
use crate::resources::ownership::Markers;

fn invalid(id: &str) -> Diagnostics {
    Diagnostic::error(
        "Invalid import id",
        format!(
            "{id:?}: expected <cluster_id>/<namespace>/<name>, e.g. \
             /subscriptions/<guid>/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/apps/orders"
        ),
    )
    .into()
}

/// `(cluster_id, namespace, name)`.
pub fn parse_id(id: &str) -> Result<(String, String, String), Diagnostics> {
    let mut parts = id.trim_end_matches('/').rsplitn(3, '/');
    let (Some(name), Some(ns), Some(cluster)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(id));
    };
    let mut d = Diagnostics::new();
    crate::resources::assignments::check_id(
        cluster,
        crate::framework::AttributePath::root(),
        Some(super::checks::CLUSTER_TYPE),
        &mut d,
    );
    if d.has_errors() || name.is_empty() || ns.is_empty() {
        return Err(invalid(id));
    }
    Ok((cluster.to_string(), ns.to_string(), name.to_string()))
}

pub async fn import(clients: &Clients, id: &str) -> Result<(PodIdentity, Markers), Diagnostics> {
    let (cluster_id, ns, name) = parse_id(id)?;
    let s = |v: &str| Some(Known::Known(v.to_string()));
    let mut m = PodIdentity { cluster_id: s(&cluster_id), namespace: s(&ns), name: s(&name), ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(300);
    let kube = kube_client(clients, &m, deadline).await?;
    let get = |kind, n: String| {
        let kube = kube.clone();
        let ns = ns.clone();
        async move { kube.get(kind, &ns, &n).await.map_err(|e| kube_side::kube_diag("Cannot read the cluster", &e)) }
    };
    let azure_identity = get(ObjectKind::AzureIdentity, name.clone()).await?;
    let binding = get(ObjectKind::AzureIdentityBinding, format!("{name}-binding")).await?;
    let service_account = get(ObjectKind::ServiceAccount, name.clone()).await?;
    let mode = match (azure_identity.is_some(), service_account.is_some()) {
        (true, true) => "both",
        (true, false) => "aad_pod_identity",
        (false, true) => "workload_identity",
        (false, false) => {
            return Err(Diagnostic::error(
                "Nothing to import",
                format!("Neither AzureIdentity {ns}/{name} nor ServiceAccount {ns}/{name} exists in {cluster_id}."),
            )
            .into())
        }
    };
    m.mode = s(mode);
    m.selector = binding.as_ref().and_then(|b| b.data["spec"]["selector"].as_str()).and_then(s);
    m.identity_id = match azure_identity.as_ref().and_then(|a| a.data["spec"]["resourceID"].as_str()) {
        Some(rid) => s(rid),
        None => {
            let client_id = service_account
                .as_ref()
                .and_then(|sa| sa.metadata.annotations.as_ref()?.get(WORKLOAD_CLIENT_ID_ANNOTATION).cloned())
                .unwrap_or_default();
            s(&identity_by_client_id(clients, &cluster_id, &client_id, deadline).await?)
        }
    };
    m.fill_defaults();
    m.id = s(&m.resource_id());
    let config = PodIdentity::default();
    azure_side::fill_cluster(Some(clients), &mut m, &config, deadline).await?;
    azure_side::plan_identity(Some(clients), &mut m, deadline).await?;
    import_credential(clients, &mut m, deadline).await?;
    if let Some(desired) = kube_side::desired(&m) {
        let records: Vec<_> = desired.into_iter().map(|d| d.record).collect();
        m.kubernetes_objects = Some(Known::Known(kube_side::read(&kube, &records).await?));
    }
    m.write_kubernetes_objects = None;
    let markers = import_grants(clients, &mut m, deadline).await?;
    m.pod_labels = Some(Known::Known(m.pod_labels()));
    m.manifests = Some(Known::Known(kube_side::manifests(&kube_side::desired(&m).unwrap_or_default())?));
    Ok((m, markers))
}

/// The identity whose client id the ServiceAccount names, searched in the cluster's subscription.
async fn identity_by_client_id(
    clients: &Clients,
    cluster_id: &str,
    client_id: &str,
    deadline: Instant,
) -> Result<String, Diagnostics> {
    let sub = crate::executor::subscription_of(cluster_id).unwrap_or_default();
    let all = identities::list_identities(&clients.arm, &sub, deadline)
        .await
        .map_err(|e| azure_side::arm(&e, "Cannot list user-assigned identities"))?;
    all.into_iter().find(|i| i.client_id.eq_ignore_ascii_case(client_id)).map(|i| i.id).ok_or_else(|| {
        Diagnostic::error(
            "Identity not found",
            format!("No user-assigned identity with client id {client_id:?} in subscription {sub}."),
        )
        .into()
    })
}

async fn import_credential(clients: &Clients, m: &mut PodIdentity, deadline: Instant) -> Result<(), Diagnostics> {
    let Some(Known::Known(wanted)) = azure_side::desired_credential(m) else {
        m.federated_credential = None;
        return Ok(());
    };
    let found = azure_side::read_credential(clients, &wanted, deadline)
        .await
        .map_err(|e| azure_side::arm(&e, "Cannot read the federated identity credential"))?;
    m.federated_credential = found.map(Known::Known);
    Ok(())
}

/// The application identity's role assignments become `role` blocks; those and the kubelet's
/// Managed Identity Operator on the identity are recorded as imported grants.
async fn import_grants(clients: &Clients, m: &mut PodIdentity, deadline: Instant) -> Result<Markers, Diagnostics> {
    let (Some(principal), Some(kubelet)) = (text(&m.principal_id), text(&m.kubelet_principal_id)) else {
        return Ok(Markers::default());
    };
    let subs = crate::resources::grant_ops::subscriptions(clients, deadline).await?;
    let pairs = subs.iter().flat_map(|s| [(s.clone(), principal.to_string()), (s.clone(), kubelet.to_string())]);
    let listed = crate::executor::list_existing(&clients.arm, pairs, deadline, 4)
        .await
        .map_err(|e| azure_side::arm(&e, "Cannot list role assignments"))?;
    let existing: Vec<_> = listed.iter().map(crate::executor::to_actual).collect();
    let roles: Vec<RoleBlock> = existing
        .iter()
        .filter(|a| a.principal_id.eq_ignore_ascii_case(principal))
        .map(|a| RoleBlock {
            role: Some(Known::Known(crate::planner::RoleRef::from_guid(&a.role_guid()).name)),
            scope: Some(Known::Known(a.scope.clone())),
            description: None,
        })
        .collect();
    m.role = (!roles.is_empty()).then_some(Known::Known(roles));
    let mut check = m.clone();
    check.allow_broad_scope = Some(super::model::BroadScope { justification: Some(Known::Known("imported".into())) });
    let expansion = super::expansion(Some(clients), &check, deadline).await?;
    let mut markers = Markers::default();
    let mut grants = Vec::new();
    for (d, a) in engine::equivalents(&expansion.assignments, &existing) {
        if d.identity == IdentityKind::Kubelet || d.identity == IdentityKind::App {
            let marker = listed.iter().find(|l| l.id == a.id).and_then(|l| ownership::marker(l.description.as_deref()));
            markers.record(&a.id, marker);
            let mut g = Grant::planned(d, Some(a), Origin::Imported);
            g.set_origin(Origin::Imported);
            grants.push(g);
        }
    }
    m.assignments = Some(Known::Known(grants));
    Ok(markers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_split_at_the_last_two_segments() {
        let c = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
        let (cluster, ns, name) = parse_id(&format!("{c}/apps/orders")).unwrap();
        assert_eq!((cluster.as_str(), ns.as_str(), name.as_str()), (c, "apps", "orders"));
        assert!(parse_id("apps/orders").is_err());
        assert!(parse_id(&format!("{c}/orders")).is_err());
    }
}
