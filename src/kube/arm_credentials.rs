//! ARM's `listClusterUserCredential` for one cluster, the call `az aks get-credentials` makes.
//!
//! Stand-in: the same function is being added as
//! `crate::azure::cluster::list_user_credential_kubeconfig`; once it lands, this file goes and
//! `connect` imports that one.

use std::time::Instant;

use reqwest::Method;
use serde_json::Value as Json;

use crate::azure::arm::{ArmClient, ArmError};
use crate::azure::cluster::API_VERSION;

/// The response body (`{"kubeconfigs":[{"name","value":<base64>}]}`) of
/// `POST {cluster_id}/listClusterUserCredential`.
pub async fn list_user_credential_kubeconfig(
    arm: &ArmClient,
    cluster_id: &str,
    deadline: Instant,
) -> Result<Json, ArmError> {
    let path = format!("{}/listClusterUserCredential", cluster_id.trim_end_matches('/'));
    let response = arm.send(Method::POST, &path, &[("api-version", API_VERSION)], None, deadline).await?;
    Ok(response.body)
}
