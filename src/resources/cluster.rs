//! `data "aksid_cluster"`: the identities of an existing AKS cluster, read from ARM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use super::assignments::{arm_diag, Attr};
use crate::azure::cluster::{self, ClusterIdentities};
use crate::clients::ProviderState;
use crate::domain::ids::ResourceId;
use crate::framework::model::{decode, encode_as};
use crate::framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, Schema, Type, Value};
use crate::known::Known;

/// The typed model of the data source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ClusterData {
    cluster_id: Attr<String>,
    control_plane_principal_id: Option<String>,
    control_plane_identity_type: Option<String>,
    kubelet_identity: Option<Kubelet>,
    node_resource_group_id: Option<String>,
    oidc_issuer_url: Option<String>,
    workload_identity_enabled: Option<bool>,
    subnet_ids: Option<Vec<String>>,
    location: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Kubelet {
    object_id: String,
    client_id: String,
    resource_id: String,
}

/// How long one read may take, retries included.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

pub struct ClusterDataSource {
    state: Arc<ProviderState>,
}

impl ClusterDataSource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        ClusterDataSource { state }
    }
}

fn kubelet_type() -> Type {
    Type::object([("object_id", Type::String), ("client_id", Type::String), ("resource_id", Type::String)])
}

#[async_trait]
impl DataSource for ClusterDataSource {
    fn type_name(&self) -> &'static str {
        "aksid_cluster"
    }

    fn schema(&self) -> Schema {
        let c = |n: &str, t: Type, d: &str| Attribute::computed(n, t, d);
        Schema {
            version: 0,
            block: Block::new(
                "Reads the identities of an AKS cluster — what `az aks show --query identity` and \
                 `identityProfile` report — to feed role assignments.",
            )
            .attribute(Attribute::required("cluster_id", Type::String, "ARM id of the managed cluster."))
            .attribute(c(
                "control_plane_principal_id",
                Type::String,
                "Object id of the control-plane identity (system- or user-assigned).",
            ))
            .attribute(c("control_plane_identity_type", Type::String, "`SystemAssigned` or `UserAssigned`."))
            .attribute(c(
                "kubelet_identity",
                kubelet_type(),
                "The kubelet identity: `object_id` (use in role assignments), `client_id`, `resource_id`.",
            ))
            .attribute(c("node_resource_group_id", Type::String, "ARM id of the node resource group."))
            .attribute(c("oidc_issuer_url", Type::String, "OIDC issuer URL (null when the issuer is disabled)."))
            .attribute(c("workload_identity_enabled", Type::Bool, "Whether Workload Identity is enabled."))
            .attribute(c("subnet_ids", Type::list(Type::String), "Node and pod subnets of the agent pools."))
            .attribute(c("location", Type::String, "Azure region.")),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let m: ClusterData = match decode(config) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        if let Some(Known::Known(id)) = &m.cluster_id {
            if let Err(e) = checked_cluster_subscription(id) {
                d.error_at(AttributePath::attr("cluster_id"), "Invalid cluster_id", e);
            }
        }
        d
    }

    async fn read(&self, config: &Value) -> Result<Value, Diagnostics> {
        let path = AttributePath::attr("cluster_id");
        let m: ClusterData = decode(config)?;
        let id = m.cluster_id.and_then(Known::into_option).unwrap_or_default();
        let sub = checked_cluster_subscription(&id).map_err(|e| diag(&path, "Invalid cluster_id", e))?;
        let clients = self.state.clients()?;
        let resp = clients.arm.get(&id, cluster::API_VERSION, Instant::now() + READ_TIMEOUT).await.map_err(|e| {
            let summary = if e.status() == Some(404) { "AKS cluster not found" } else { "Cannot read the AKS cluster" };
            arm_diag(&e, Some(path.clone()), summary)
        })?;
        let c = cluster::parse(&resp.body, &sub).map_err(|e| diag(&path, "Unexpected AKS cluster", e))?;
        encode_as(&to_model(&id, &c), &self.schema().block.value_type())
    }
}

fn diag(path: &AttributePath, summary: &str, detail: impl Into<String>) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error_at(path.clone(), summary, detail);
    d
}

/// The subscription of a managed-cluster id, checking the id's shape.
fn checked_cluster_subscription(id: &str) -> Result<String, String> {
    let expected = "expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>";
    let parsed = ResourceId::parse(id).map_err(|e| e.to_string())?;
    let is_cluster =
        parsed.resource_type().is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.ContainerService/managedClusters"));
    match (is_cluster, crate::domain::ids::subscription_of(id)) {
        (true, Some(_)) => Ok(parsed.subscription_id().unwrap_or_default().to_string()),
        _ => Err(format!("{expected}, got {id:?}")),
    }
}

fn to_model(id: &str, c: &ClusterIdentities) -> ClusterData {
    ClusterData {
        cluster_id: Some(Known::Known(id.to_string())),
        control_plane_principal_id: Some(c.control_plane_principal_id.clone()),
        control_plane_identity_type: Some(c.control_plane_identity_type.clone()),
        kubelet_identity: Some(Kubelet {
            object_id: c.kubelet.object_id.clone(),
            client_id: c.kubelet.client_id.clone(),
            resource_id: c.kubelet.resource_id.clone(),
        }),
        node_resource_group_id: Some(c.node_resource_group_id.clone()),
        oidc_issuer_url: c.oidc_issuer_url.clone(),
        workload_identity_enabled: Some(c.workload_identity_enabled),
        subnet_ids: Some(c.subnet_ids.clone()),
        location: Some(c.location.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_schema_agree() {
        let ds = ClusterDataSource::new(Arc::default());
        crate::framework::model::assert_model_matches_schema::<ClusterData>(&ds.schema().block);
    }

    #[test]
    fn cluster_id_shape() {
        let ok = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedClusters/aks";
        assert_eq!(checked_cluster_subscription(ok).unwrap(), "s");
        assert!(checked_cluster_subscription("/subscriptions/s/resourceGroups/rg").is_err());
        assert!(checked_cluster_subscription("aks").is_err());
    }
}
