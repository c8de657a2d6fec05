//! Calls on an AKS cluster's ARM resource (`cluster` stays pure parsing): the cluster user
//! kubeconfig (`POST …/listClusterUserCredential`, managedClusters 2025-01-01 per
//! specs/azure-rest-api-specs/containerservice/aks/stable/2025-01-01/managedClusters.json).

use std::time::Instant;

use reqwest::Method;
use serde_json::Value as Json;

use super::arm::{ArmClient, ArmError};
use super::cluster::API_VERSION;

/// The `CredentialResults` body of `listClusterUserCredential` (`{"kubeconfigs": [{"name",
/// "value"}]}`, each value a base64 kubeconfig), as ARM returned it; `kube::settings` reads it.
pub async fn list_user_credential_kubeconfig(
    arm: &ArmClient,
    cluster_id: &str,
    deadline: Instant,
) -> Result<Json, ArmError> {
    let path = format!("{}/listClusterUserCredential", cluster_id.trim_end_matches('/'));
    let resp = arm.send(Method::POST, &path, &[("api-version", API_VERSION)], None, deadline).await?;
    Ok(resp.body)
}
