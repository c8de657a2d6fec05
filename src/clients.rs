//! What Configure produces and every resource uses: the resolved settings and the clients built
//! from them, shared through `ProviderState`. A leaf below the provider and the resources, so
//! neither has to import the other for it.

use std::sync::{Arc, RwLock};

use crate::azure::arm::ArmClient;
use crate::azure::permissions::PermissionCache;
use crate::framework::{Diagnostic, Diagnostics};
use crate::kube::connect::Connections;
use crate::settings::Settings;

/// What Configure produced: the resolved settings and the clients built from them.
pub struct Clients {
    pub settings: Settings,
    pub arm: ArmClient,
    /// Kubernetes clients per cluster, built on first use.
    pub kube: Connections,
    /// What the caller may do where, asked once per scope and run (the plan-time check).
    pub permissions: PermissionCache,
}

/// Shared between the provider and every resource; filled in by Configure.
#[derive(Default)]
pub struct ProviderState {
    clients: RwLock<Option<Arc<Clients>>>,
}

impl ProviderState {
    /// The configured clients, or an error diagnostic for resources used before Configure
    /// (which Terraform never does) or with an unknown provider configuration.
    /// Install what Configure built.
    pub fn set(&self, clients: Clients) {
        if let Ok(mut slot) = self.clients.write() {
            *slot = Some(Arc::new(clients));
        }
    }

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
