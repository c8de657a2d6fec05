//! The aksid provider: its configuration and the resources, data sources and functions it
//! offers. Clients built at Configure time are shared with resources through `ProviderState`.

pub mod config;

use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::azure::arm::ArmClient;
use crate::azure::credentials::CredentialChain;
use crate::azure::http;
use crate::framework::{
    AttributePath, DataSource, Diagnostic, Diagnostics, Function, Provider, Resource, Schema, Value,
};
use crate::functions;
use crate::resources;

/// The provider's source address, as users write it in `required_providers`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/aksid/aksid";

/// What Configure produced: the resolved settings and the clients built from them.
pub struct Clients {
    pub settings: config::Settings,
    pub arm: ArmClient,
}

/// Shared between the provider and every resource; filled in by Configure.
#[derive(Default)]
pub struct ProviderState {
    clients: RwLock<Option<Arc<Clients>>>,
}

impl ProviderState {
    /// The configured clients, or an error diagnostic for resources used before Configure
    /// (which Terraform never does) or with an unknown provider configuration.
    pub fn clients(&self) -> Result<Arc<Clients>, Diagnostics> {
        self.clients.read().ok().and_then(|c| c.clone()).ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The aksid provider configuration is not known yet (it may depend on a resource that is not created). \
                 Apply that resource first, or use -target.",
            )
            .into()
        })
    }
}

fn build_clients(settings: config::Settings) -> Result<Clients, Diagnostics> {
    let http = http::build_client(settings.ca_certificate.as_deref()).map_err(|e| {
        let d: Diagnostics =
            Diagnostic::error("Invalid ca_certificate", e).at(AttributePath::attr("ca_certificate")).into();
        d
    })?;
    let chain = Arc::new(CredentialChain::new(&settings, http.clone()));
    let arm = ArmClient::new(http, &settings.arm_endpoint, chain, &settings.environment);
    Ok(Clients { settings, arm })
}

#[derive(Default)]
pub struct AksidProvider {
    state: Arc<ProviderState>,
}

impl AksidProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Provider for AksidProvider {
    fn schema(&self) -> Schema {
        config::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        config::validate(config)
    }

    async fn configure(&self, config: &Value, _terraform_version: &str) -> Diagnostics {
        // Unknown provider configuration (e.g. from a resource not yet created) is resolved
        // when it becomes known; until then nothing that needs it can run.
        match config::resolve(config, &|k| std::env::var(k).ok()) {
            Ok(settings) => {
                tracing::debug!(settings = ?settings, "provider configured");
                match build_clients(settings) {
                    Ok(clients) => {
                        if let Ok(mut slot) = self.state.clients.write() {
                            *slot = Some(Arc::new(clients));
                        }
                        Diagnostics::new()
                    }
                    Err(d) => d,
                }
            }
            Err(d) => d,
        }
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        vec![Arc::new(functions::role_assignment_name::RoleAssignmentName)]
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(resources::cluster_identity_roles::ClusterIdentityRoles::new(self.state.clone())),
            Arc::new(resources::role_assignment::RoleAssignmentResource::new(self.state.clone())),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(resources::role_definition::RoleDefinitionDataSource),
            Arc::new(resources::cluster::ClusterDataSource::new(self.state.clone())),
        ]
    }
}
