//! Several pod identities may share one managed identity (one identity for the pods of several
//! services). Their grants then coincide: the kubelet's Managed Identity Operator on the
//! identity, and identical roles of the identity. The first resource creates such a grant, the
//! others adopt it. Removing one of them must not take the grant from the others:
//!
//! - a grant still needed by another user of the identity is left in place (and no longer
//!   recorded here), with a warning naming the users: the kubelet's grant while another
//!   AzureIdentity in the cluster names the identity, an application grant while anything
//!   else uses the identity (such an AzureIdentity, or a workload-identity federated credential);
//! - the last user removes it, even when it adopted it or a sibling stamped it last, if an aksid
//!   object made it (its description carries an aksid ownership marker); grants made outside
//!   aksid stay adopted. (So a `create_before_destroy` replacement is not supported: the old
//!   object would remove what its successor shares with it.)
//!
//! Per identity, the check and the removal run under one lock, so that when one `terraform
//! destroy` removes all users at once, the last one sees no other users and removes the grant.

use std::time::Instant;

use super::model::{text, PodIdentity};
use crate::azure::identities;
use crate::azure::role_assignments;
use crate::clients::Clients;
use crate::domain::ownership;
use crate::framework::{Diagnostic, Diagnostics};
use crate::kube::{KubeClient, ObjectKind};
use crate::locks::KeyedLocks;
use crate::resources::assignments::{id_key, same_id};
use crate::resources::grant_ops;
use crate::resources::grants::Grant;
use crate::resources::ownership::{key_list, Markers};

static IDENTITY_USERS: KeyedLocks = KeyedLocks::new();

/// Who else uses the identity.
#[derive(Debug, Default)]
struct Users {
    /// AzureIdentity objects in this cluster naming the identity (not this resource's).
    pod_identity: Vec<String>,
    /// Federated credentials for Kubernetes service accounts (not this resource's).
    workload_identity: Vec<String>,
}

impl Users {
    /// The users that still need `g`, if any.
    fn of(&self, g: &Grant) -> Vec<String> {
        match g.identity.as_str() {
            "kubelet" => self.pod_identity.clone(),
            _ => self.pod_identity.iter().chain(&self.workload_identity).cloned().collect(),
        }
    }
}

async fn users(
    clients: &Clients,
    kube: Option<&KubeClient>,
    m: &PodIdentity,
    own_credentials: &[String],
    deadline: Instant,
) -> Result<Users, Diagnostics> {
    let Some(identity) = text(&m.identity_id) else { return Ok(Users::default()) };
    let credentials = match identities::list_credentials(&clients.arm, identity, deadline).await {
        Ok(c) => c,
        Err(e) if e.status() == Some(404) => Vec::new(),
        Err(e) => return Err(super::azure_side::arm(&e, "Cannot list the identity's federated credentials")),
    };
    let workload_identity = credentials
        .into_iter()
        .filter(|c| c.subject.starts_with("system:serviceaccount:"))
        .filter(|c| !own_credentials.iter().any(|o| o.eq_ignore_ascii_case(&c.name)))
        .map(|c| format!("federated credential {} ({})", c.name, c.subject))
        .collect();
    let mut pod_identity = Vec::new();
    if let Some(kube) = kube {
        let (ns, name) = (text(&m.namespace).unwrap_or_default(), text(&m.name).unwrap_or_default());
        let all = kube
            .list_all(ObjectKind::AzureIdentity)
            .await
            .map_err(|e| super::kube_side::kube_diag("Cannot list the cluster's AzureIdentities", &e))?;
        for a in all {
            let (a_ns, a_name) =
                (a.metadata.namespace.clone().unwrap_or_default(), a.metadata.name.clone().unwrap_or_default());
            let names_it = a.data["spec"]["resourceID"].as_str().is_some_and(|r| same_id(r, identity));
            if names_it && !(a_ns == ns && a_name == name) {
                pod_identity.push(format!("AzureIdentity {a_ns}/{a_name}"));
            }
        }
    }
    Ok(Users { pod_identity, workload_identity })
}

/// Remove `grants` (no longer wanted, or the resource is destroyed) unless another user of the
/// identity still needs them. Returns the grants that must stay in state and the diagnostics.
pub async fn release(
    clients: &Clients,
    kube: Option<&KubeClient>,
    m: &PodIdentity,
    own_credentials: &[String],
    grants: Vec<Grant>,
    markers: &Markers,
    deadline: Instant,
) -> (Vec<Grant>, Diagnostics) {
    if grants.is_empty() {
        return (grants, Diagnostics::new());
    }
    let lock = IDENTITY_USERS.get(&id_key(text(&m.identity_id).unwrap_or_default()));
    let _held = lock.lock().await;
    let users = match users(clients, kube, m, own_credentials, deadline).await {
        Ok(u) => u,
        // Unknown users: keep everything recorded, nothing is lost.
        Err(d) => return (grants, d),
    };
    let mut diags = Diagnostics::new();
    let (shared, own): (Vec<Grant>, Vec<Grant>) = grants.into_iter().partition(|g| !users.of(g).is_empty());
    if !shared.is_empty() {
        let who: Vec<String> =
            shared.iter().flat_map(|g| users.of(g)).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        diags.push(Diagnostic::warning(
            format!("Left {} role assignment(s) that other users of the identity need", shared.len()),
            format!(
                "{} {} still use(s) the identity, so these grants stay (and are no longer managed here): {}.",
                text(&m.identity_id).unwrap_or_default(),
                key_list(who.iter().map(String::as_str)),
                key_list(shared.iter().map(|g| g.key.as_str()))
            ),
        ));
    }
    // No one else needs these: grants an aksid object wrote are removed whoever wrote them
    // last (siblings sharing the identity stamp the same assignment in turn); others by the
    // ownership rule.
    let mut made_by_aksid = Vec::new();
    let mut current = markers.clone();
    let mut rest = Vec::new();
    for g in own {
        match aksid_marker(clients, &g, deadline).await {
            Some(token) => {
                current.record(g.id.known().map_or("", String::as_str), Some(&token));
                made_by_aksid.push(g);
            }
            None => rest.push(g),
        }
    }
    let (mut kept, d) = grant_ops::remove(clients, rest, markers, m.delete_adopted(), 4, deadline).await;
    diags.extend(d);
    let (kept_aksid, d) = grant_ops::remove(clients, made_by_aksid, &current, true, 4, deadline).await;
    diags.extend(d);
    kept.extend(kept_aksid);
    (kept, diags)
}

/// The ownership marker an aksid object wrote into the assignment, if any.
async fn aksid_marker(clients: &Clients, g: &Grant, deadline: Instant) -> Option<String> {
    let id = g.id.known()?;
    let a = role_assignments::get(&clients.arm, id, deadline).await.ok()??;
    ownership::marker(a.description.as_deref()).map(str::to_string)
}
