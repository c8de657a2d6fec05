//! The Azure side of `aksid_pod_identity`: the cluster's kubelet identity and OIDC issuer, the
//! application's user-assigned identity, and its federated identity credential.

use std::time::Instant;

use super::model::{credential_name, known, text, Credential, PodIdentity, CREATED_BY_TAG};
use crate::azure::arm::ArmError;
use crate::azure::cluster;
use crate::azure::identities::{self, UserAssignedIdentity};
use crate::clients::Clients;
use crate::framework::{AttributePath, Diagnostic, Diagnostics};
use crate::known::Known;
use crate::resources::assignments::{self as common, same_id};

/// Azure's limit of federated credentials per user-assigned identity.
pub const CREDENTIALS_PER_IDENTITY: usize = 20;

fn at(name: &str) -> AttributePath {
    AttributePath::attr(name)
}

fn set(a: &mut Option<Known<String>>, v: &str) {
    // The spelling already held wins when it names the same thing.
    if !known(a).is_some_and(|old| same_id(old, v)) {
        *a = Some(Known::Known(v.to_string()));
    }
}

/// The kubelet principal and OIDC issuer, from the cluster where the configuration does not
/// give them (`config`); unknown while `cluster_id` is.
pub async fn fill_cluster(
    clients: Option<&Clients>,
    m: &mut PodIdentity,
    config: &PodIdentity,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    let from_cluster = (config.kubelet_principal_id.is_none(), config.oidc_issuer_url.is_none());
    if from_cluster == (false, false) {
        return Ok(());
    }
    let (id, clients) = match (&m.cluster_id, clients) {
        (Some(Known::Known(id)), Some(c)) => (id.clone(), c),
        (None, _) => return Ok(()),
        _ => {
            // The cluster is created in this apply (or the provider is not configured yet).
            if from_cluster.0 {
                m.kubelet_principal_id = Some(Known::Unknown);
            }
            if from_cluster.1 {
                m.oidc_issuer_url = Some(Known::Unknown);
            }
            return Ok(());
        }
    };
    let sub = crate::executor::subscription_of(&id).unwrap_or_default();
    let resp = clients
        .arm
        .get(&id, cluster::API_VERSION, deadline)
        .await
        .map_err(|e| common::arm_diag(&e, Some(at("cluster_id")), "Cannot read the AKS cluster"))?;
    let c = cluster::parse(&resp.body, &sub)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Unexpected AKS cluster", e).at(at("cluster_id"))))?;
    if from_cluster.0 {
        set(&mut m.kubelet_principal_id, &c.kubelet.object_id);
    }
    if from_cluster.1 {
        match c.oidc_issuer_url {
            // Byte for byte: the issuer is compared exactly by Entra.
            Some(url) => m.oidc_issuer_url = Some(Known::Known(url)),
            None if m.mode().is_some_and(|md| md.workload_identity()) => {
                return Err(Diagnostic::error(
                    "The cluster has no OIDC issuer",
                    format!(
                        "{id} does not publish an OIDC issuer, which workload identity needs. Enable it with \
                         `az aks update --enable-oidc-issuer --enable-workload-identity` (azurerm: oidc_issuer_enabled and \
                         workload_identity_enabled), or use mode = \"aad_pod_identity\"."
                    ),
                )
                .at(at("cluster_id"))
                .into())
            }
            None => m.oidc_issuer_url = None,
        }
    }
    Ok(())
}

fn take_identity(m: &mut PodIdentity, i: &UserAssignedIdentity) {
    set(&mut m.client_id, &i.client_id);
    set(&mut m.principal_id, &i.principal_id);
    set(&mut m.tenant_id, &i.tenant_id);
}

fn identity_path(m: &PodIdentity) -> AttributePath {
    match m.identity {
        Some(_) => at("identity").then_attr("name"),
        None => at("identity_id"),
    }
}

fn created_by_us(m: &PodIdentity, i: &UserAssignedIdentity) -> bool {
    i.tags.get(CREATED_BY_TAG).is_some_and(|v| v == &m.resource_id())
}

/// At plan: the identity's ids when it exists. An `identity` block naming an identity that
/// exists and that this resource did not create is an error (it would be deleted on destroy).
pub async fn plan_identity(
    clients: Option<&Clients>,
    m: &mut PodIdentity,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    let unknown = |m: &mut PodIdentity| {
        for a in [&mut m.client_id, &mut m.principal_id, &mut m.tenant_id] {
            *a = Some(Known::Unknown);
        }
    };
    let (Some(id), Some(clients)) = (text(&m.identity_id).map(str::to_string), clients) else {
        unknown(m);
        return Ok(());
    };
    let found = identities::get_identity(&clients.arm, &id, deadline)
        .await
        .map_err(|e| common::arm_diag(&e, Some(identity_path(m)), "Cannot read the user-assigned identity"))?;
    match (found, m.identity.is_some()) {
        (Some(i), true) if !created_by_us(m, &i) => Err(Diagnostic::error(
            "The identity already exists",
            format!(
                "{id} exists and was not created by this resource, so it would be deleted on destroy. Use it with \
                 identity_id = \"{id}\" instead of the identity block."
            ),
        )
        .at(identity_path(m))
        .into()),
        (Some(i), _) => {
            take_identity(m, &i);
            Ok(())
        }
        (None, true) => {
            unknown(m);
            Ok(())
        }
        (None, false) => Err(Diagnostic::error(
            "The identity does not exist",
            format!("No user-assigned identity {id} (or the caller cannot read it)."),
        )
        .at(at("identity_id"))
        .into()),
    }
}

/// At apply: create the identity of an `identity` block (tagged as ours), or read the given one.
pub async fn ensure_identity(clients: &Clients, m: &mut PodIdentity, deadline: Instant) -> Result<(), Diagnostics> {
    let id = text(&m.identity_id).unwrap_or_default().to_string();
    let path = identity_path(m);
    let found = identities::get_identity(&clients.arm, &id, deadline)
        .await
        .map_err(|e| common::arm_diag(&e, Some(path.clone()), "Cannot read the user-assigned identity"))?;
    let identity = match (found, &m.identity) {
        (Some(i), _) => i,
        (None, Some(block)) => {
            let mut tags = super::model::known_map(&block.tags).unwrap_or_default();
            tags.insert(CREATED_BY_TAG.to_string(), m.resource_id());
            let location = text(&block.location).unwrap_or_default();
            identities::put_identity(&clients.arm, &id, location, &tags, deadline)
                .await
                .map_err(|e| common::arm_diag(&e, Some(path), "Cannot create the user-assigned identity"))?
        }
        (None, None) => {
            return Err(Diagnostic::error("The identity does not exist", format!("No user-assigned identity {id}."))
                .at(path)
                .into())
        }
    };
    take_identity(m, &identity);
    Ok(())
}

/// Delete the identity when this resource created it.
pub async fn delete_identity(clients: &Clients, m: &PodIdentity, deadline: Instant) -> Result<(), Diagnostics> {
    let Some(id) = text(&m.identity_id).filter(|_| m.identity.is_some()) else { return Ok(()) };
    match identities::get_identity(&clients.arm, id, deadline).await {
        Ok(Some(i)) if created_by_us(m, &i) => {
            identities::delete_identity(&clients.arm, id, deadline).await.map(|_| ())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
    .map_err(|e| common::arm_diag(&e, None, "Cannot delete the user-assigned identity"))
}

/// The credential the configuration wants (workload identity), unknown while the issuer or the
/// identity is, null in AAD Pod Identity mode.
pub fn desired_credential(m: &PodIdentity) -> Option<Known<Credential>> {
    if !m.mode()?.workload_identity() {
        return None;
    }
    let (Some(issuer), Some(identity_id)) = (text(&m.oidc_issuer_url), text(&m.identity_id)) else {
        return Some(Known::Unknown);
    };
    let (ns, sa) = (text(&m.namespace).unwrap_or_default(), text(&m.service_account_name).unwrap_or_default());
    let name = credential_name(ns, sa, issuer);
    Some(Known::Known(Credential {
        id: format!("{}/federatedIdentityCredentials/{name}", identity_id.trim_end_matches('/')),
        name,
        issuer: issuer.to_string(),
        subject: m.subject(),
        audiences: m.audiences(),
    }))
}

/// At plan: a new credential on an identity that already has Azure's maximum is an error now,
/// not a failed apply.
pub async fn check_credential_room(
    clients: &Clients,
    m: &PodIdentity,
    wanted: &Credential,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    let Some(identity_id) = text(&m.identity_id).filter(|_| known(&m.principal_id).is_some()) else { return Ok(()) };
    let existing = identities::list_credentials(&clients.arm, identity_id, deadline)
        .await
        .map_err(|e| common::arm_diag(&e, Some(identity_path(m)), "Cannot list federated identity credentials"))?;
    if existing.iter().any(|c| c.name.eq_ignore_ascii_case(&wanted.name)) || existing.len() < CREDENTIALS_PER_IDENTITY {
        return Ok(());
    }
    Err(Diagnostic::error(
        "Too many federated credentials on one identity",
        format!(
            "{identity_id} already has {} federated identity credentials, Azure's limit is {CREDENTIALS_PER_IDENTITY}; \
             this resource would add {:?}. Use another identity for this application, or remove unused credentials.",
            existing.len(),
            wanted.name
        ),
    )
    .at(identity_path(m))
    .into())
}

/// Write the credential (serialised per identity in the ARM client).
pub async fn put_credential(
    clients: &Clients,
    m: &PodIdentity,
    c: &Credential,
    deadline: Instant,
) -> Result<Credential, ArmError> {
    let identity_id = text(&m.identity_id).unwrap_or_default();
    identities::put_credential(&clients.arm, identity_id, &c.name, &c.issuer, &c.subject, &c.audiences, deadline)
        .await?;
    Ok(c.clone())
}

/// Delete a credential this resource wrote (gone already is fine).
pub async fn delete_credential(clients: &Clients, c: &Credential, deadline: Instant) -> Result<(), ArmError> {
    let identity_id = c.id.rsplit_once("/federatedIdentityCredentials/").map_or("", |(i, _)| i);
    identities::delete_credential(&clients.arm, identity_id, &c.name, deadline).await.map(|_| ())
}

/// The recorded credential as Azure has it now (`None` when deleted).
pub async fn read_credential(
    clients: &Clients,
    c: &Credential,
    deadline: Instant,
) -> Result<Option<Credential>, ArmError> {
    let identity_id = c.id.rsplit_once("/federatedIdentityCredentials/").map_or("", |(i, _)| i);
    let found = identities::get_credential(&clients.arm, identity_id, &c.name, deadline).await?;
    Ok(found.map(|f| Credential { issuer: f.issuer, subject: f.subject, audiences: f.audiences, ..c.clone() }))
}

pub fn arm(e: &ArmError, summary: &str) -> Diagnostics {
    common::arm_diag(e, None, summary)
}
