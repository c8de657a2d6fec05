//! The aksid provider: its configuration and the resources, data sources and functions it
//! offers. Clients built at Configure time are shared with resources through `ProviderState`.

pub mod config;

use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::framework::{DataSource, Diagnostics, Provider, Resource, Schema, Value};
use crate::resources;

/// The provider's source address, as users write it in `required_providers`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/aksid/aksid";

/// What Configure produced, shared with every resource.
#[derive(Default)]
pub struct ProviderState {
    settings: RwLock<Option<Arc<config::Settings>>>,
}

impl ProviderState {
    pub fn settings(&self) -> Option<Arc<config::Settings>> {
        self.settings.read().ok().and_then(|s| s.clone())
    }
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
                if let Ok(mut slot) = self.state.settings.write() {
                    *slot = Some(Arc::new(settings));
                }
                Diagnostics::new()
            }
            Err(d) => d,
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(resources::role_definition::RoleDefinitionDataSource)]
    }
}
