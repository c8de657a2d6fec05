//! `data "aksid_cluster"`: the identities of an existing AKS cluster, read from ARM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::assignments::arm_diag;
use crate::azure::cluster::{self, ClusterIdentities};
use crate::clients::ProviderState;
use crate::domain::ids::ResourceId;
use crate::framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, Schema, Type, Value};

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
        let mut d = Diagnostics::new();
        if let Some(id) = config.attr("cluster_id").as_str() {
            if let Err(e) = subscription_of(id) {
                d.error_at(AttributePath::attr("cluster_id"), "Invalid cluster_id", e);
            }
        }
        d
    }

    async fn read(&self, config: &Value) -> Result<Value, Diagnostics> {
        let path = AttributePath::attr("cluster_id");
        let id = config.attr("cluster_id").as_str().unwrap_or_default().to_string();
        let sub = subscription_of(&id).map_err(|e| diag(&path, "Invalid cluster_id", e))?;
        let clients = self.state.clients()?;
        let resp = clients.arm.get(&id, cluster::API_VERSION, Instant::now() + READ_TIMEOUT).await.map_err(|e| {
            let summary = if e.status() == Some(404) { "AKS cluster not found" } else { "Cannot read the AKS cluster" };
            arm_diag(&e, Some(path.clone()), summary)
        })?;
        let c = cluster::parse(&resp.body, &sub).map_err(|e| diag(&path, "Unexpected AKS cluster", e))?;
        Ok(to_value(&id, &c))
    }
}

fn diag(path: &AttributePath, summary: &str, detail: impl Into<String>) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error_at(path.clone(), summary, detail);
    d
}

/// The subscription of a managed-cluster id, checking the id's shape.
fn subscription_of(id: &str) -> Result<String, String> {
    let expected = "expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>";
    let parsed = ResourceId::parse(id).map_err(|e| e.to_string())?;
    let is_cluster =
        parsed.resource_type().is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.ContainerService/managedClusters"));
    match (is_cluster, parsed.subscription_id()) {
        (true, Some(sub)) => Ok(sub.to_string()),
        _ => Err(format!("{expected}, got {id:?}")),
    }
}

fn to_value(id: &str, c: &ClusterIdentities) -> Value {
    Value::object([
        ("cluster_id", Value::string(id)),
        ("control_plane_principal_id", Value::string(&c.control_plane_principal_id)),
        ("control_plane_identity_type", Value::string(&c.control_plane_identity_type)),
        (
            "kubelet_identity",
            Value::object([
                ("object_id", Value::string(&c.kubelet.object_id)),
                ("client_id", Value::string(&c.kubelet.client_id)),
                ("resource_id", Value::string(&c.kubelet.resource_id)),
            ]),
        ),
        ("node_resource_group_id", Value::string(&c.node_resource_group_id)),
        ("oidc_issuer_url", Value::from_opt_string(c.oidc_issuer_url.clone())),
        ("workload_identity_enabled", Value::Bool(c.workload_identity_enabled)),
        ("subnet_ids", Value::list_of_strings(c.subnet_ids.iter().cloned())),
        ("location", Value::string(&c.location)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_shape() {
        let ok = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedClusters/aks";
        assert_eq!(subscription_of(ok).unwrap(), "s");
        assert!(subscription_of("/subscriptions/s/resourceGroups/rg").is_err());
        assert!(subscription_of("aks").is_err());
    }
}
