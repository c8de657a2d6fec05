//! The Kubernetes clients of one provider configuration, shared by the resources: one per
//! cluster, built on first use and kept for the life of the process.
//!
//! The provider's `kubernetes` block, when it sets anything, says how to reach every cluster.
//! Otherwise a resource's `cluster_id` is reached with the kubeconfig ARM's
//! `listClusterUserCredential` returns for it, as `az aks get-credentials` writes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::client::KubeClient;
use super::error::KubeError;
use super::settings::{from_kubeconfig_yaml, kubeconfig_from_credential_results, ResolvedKube, SettingsError};
use crate::azure::arm::{ArmClient, ArmError};
use crate::azure::clusters_api::list_user_credential_kubeconfig;
use crate::settings::KubernetesSettings;

/// The cache key of the `kubernetes` block; ARM ids start with '/', so it cannot collide.
const BLOCK_KEY: &str = "kubernetes block";

/// The action `listClusterUserCredential` needs (in "Azure Kubernetes Service Cluster User Role").
const LIST_USER_CREDENTIAL_ACTION: &str = "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action";

/// Clients per cluster (case-insensitive ARM id, or the `kubernetes` block).
#[derive(Default)]
pub struct Connections {
    /// Where each cluster is and how to authenticate, so that another timeout does not repeat
    /// the ARM call.
    resolved: Mutex<HashMap<String, ResolvedKube>>,
    /// Keyed by cluster and timeout: a client's timeout is fixed when it is built.
    clients: Mutex<HashMap<String, Arc<KubeClient>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent even if a holder panicked: each update is one insert.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connections {
    /// The client for `cluster_id`'s API server: from the provider's `kubernetes` block when it
    /// sets anything (then the same client for every cluster), else from ARM
    /// listClusterUserCredential for `cluster_id` (as `az aks get-credentials` does), cached per
    /// cluster (case-insensitive id). Neither → [`SettingsError::NotConfigured`].
    /// Every call of the client, and getting the credentials from ARM, ends within `timeout`.
    pub async fn client(
        &self,
        arm: &ArmClient,
        settings: &KubernetesSettings,
        cluster_id: Option<&str>,
        timeout: Duration,
    ) -> Result<Arc<KubeClient>, KubeError> {
        let cluster = cluster_id.map(str::trim).filter(|c| !c.is_empty());
        let (key, from_arm) = match (settings.is_set(), cluster) {
            (true, _) => (BLOCK_KEY.to_string(), None),
            (false, Some(id)) => (id.to_ascii_lowercase(), Some(id)),
            (false, None) => return Err(SettingsError::NotConfigured.into()),
        };
        let client_key = format!("{key}\n{}", timeout.as_millis());
        if let Some(client) = lock(&self.clients).get(&client_key).cloned() {
            return Ok(client);
        }
        let resolved = self.resolved(&key, arm, settings, from_arm, timeout).await?;
        let client = Arc::new(KubeClient::new(resolved, timeout).await?);
        // Two callers may have built one concurrently: all get the first one stored.
        Ok(lock(&self.clients).entry(client_key).or_insert(client).clone())
    }

    async fn resolved(
        &self,
        key: &str,
        arm: &ArmClient,
        settings: &KubernetesSettings,
        from_arm: Option<&str>,
        timeout: Duration,
    ) -> Result<ResolvedKube, KubeError> {
        if let Some(resolved) = lock(&self.resolved).get(key).cloned() {
            return Ok(resolved);
        }
        let resolved = match from_arm {
            None => settings.resolve().await?,
            Some(cluster_id) => arm_kubeconfig(arm, cluster_id, Instant::now() + timeout).await?,
        };
        Ok(lock(&self.resolved).entry(key.to_string()).or_insert(resolved).clone())
    }
}

/// The cluster user kubeconfig ARM returns for `cluster_id`.
async fn arm_kubeconfig(arm: &ArmClient, cluster_id: &str, deadline: Instant) -> Result<ResolvedKube, KubeError> {
    let body = list_user_credential_kubeconfig(arm, cluster_id, deadline).await.map_err(|e| {
        KubeError::ClusterCredentials { cluster: cluster_id.to_string(), reason: e.to_string(), advice: advice(&e) }
    })?;
    let unusable = |e: SettingsError| KubeError::ClusterCredentials {
        cluster: cluster_id.to_string(),
        reason: e.to_string(),
        advice: "Set the provider's kubernetes block to reach the cluster without ARM".into(),
    };
    let yaml = kubeconfig_from_credential_results(&body, None).map_err(unusable)?;
    from_kubeconfig_yaml(&yaml, None).await.map_err(unusable)
}

/// What to do about a failed `listClusterUserCredential`.
fn advice(e: &ArmError) -> String {
    let block = "set the provider's kubernetes block to reach the cluster without ARM";
    match e.status() {
        Some(401 | 403) => format!(
            "The provider's Azure identity needs {LIST_USER_CREDENTIAL_ACTION} on the cluster (the built-in role \
             \"Azure Kubernetes Service Cluster User Role\" has it), or {block}"
        ),
        Some(404) => format!(
            "Check the resource's cluster_id (no such cluster, or not in a subscription the provider's identity \
             can read), or {block}"
        ),
        _ if matches!(e, ArmError::Auth(_)) => format!("Fix the provider's Azure authentication, or {block}"),
        _ => format!("Check that Azure Resource Manager is reachable from where Terraform runs, or {block}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ArmError {
        ArmError::Api {
            method: "POST".into(),
            path: "/x/listClusterUserCredential".into(),
            status,
            code: "AuthorizationFailed".into(),
            message: "no".into(),
            request_id: String::new(),
            correlation_id: String::new(),
        }
    }

    #[test]
    fn advice_names_the_missing_permission_or_the_cluster_id() {
        assert!(advice(&api(403)).contains(LIST_USER_CREDENTIAL_ACTION));
        assert!(advice(&api(404)).contains("cluster_id"));
        for e in [api(403), api(404), api(500), ArmError::Timeout("gave up".into())] {
            assert!(advice(&e).contains("kubernetes block"), "{e}");
        }
    }
}
