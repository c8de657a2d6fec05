//! The provider's resolved settings (configuration after environment fallbacks and defaults):
//! plain data shared by the provider, which fills it in, and the clients, which read it.

/// How the provider authenticates to Entra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecret,
    Oidc,
    ManagedIdentity,
    AzureCli,
}

/// The provider configuration after environment fallbacks. Secrets stay out of `Debug`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub subscription_id: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub use_msi: bool,
    pub use_oidc: bool,
    pub oidc_token_file_path: Option<String>,
    pub use_cli: bool,
    pub environment: String,
    pub arm_endpoint: String,
    pub authority_host: String,
    pub ca_certificate: Option<String>,
    pub kubernetes: KubernetesSettings,
}

#[derive(Clone, PartialEq, Eq, Default)]
pub struct KubernetesSettings {
    pub host: Option<String>,
    pub token: Option<String>,
    pub cluster_ca_certificate: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
    pub config_path: Option<String>,
    pub config_context: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("auth", &self.auth_methods())
            .field("environment", &self.environment)
            .field("arm_endpoint", &self.arm_endpoint)
            .field("authority_host", &self.authority_host)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Methods explicitly selected, in the order the credential chain tries them.
    pub fn auth_methods(&self) -> Vec<AuthMethod> {
        let mut m = Vec::new();
        if self.client_secret.is_some() {
            m.push(AuthMethod::ClientSecret);
        }
        if self.use_oidc {
            m.push(AuthMethod::Oidc);
        }
        if self.use_msi {
            m.push(AuthMethod::ManagedIdentity);
        }
        if self.use_cli {
            m.push(AuthMethod::AzureCli);
        }
        m
    }
}
