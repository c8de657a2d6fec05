//! The provider's resolved settings (configuration after environment fallbacks and defaults):
//! plain data shared by the provider, which fills it in, and the clients, which read it.

use std::collections::BTreeMap;

/// How the provider authenticates to Entra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A PKCS#12 certificate of the service principal (path or base64 data).
    ClientCertificate,
    ClientSecret,
    /// A federated token given directly (`oidc_token`) or in a file (`oidc_token_file_path`).
    Oidc,
    /// A token asked of GitHub Actions' ID token endpoint for each Entra request.
    GitHubOidc,
    /// A token asked of an Azure DevOps service connection for each Entra request.
    AzureDevOpsOidc,
    /// The token file, client and tenant the AKS workload identity webhook injects.
    AksWorkloadIdentity,
    ManagedIdentity,
    AzureCli,
}

/// A value and where it came from (the provider argument or the environment variable), so
/// diagnostics name what the user set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sourced {
    pub value: String,
    pub from: String,
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
    /// A federated token given directly (`oidc_token`, `ARM_OIDC_TOKEN`).
    pub oidc_token: Option<String>,
    /// GitHub's or Azure DevOps' token request URL and the bearer token it wants.
    pub oidc_request_url: Option<Sourced>,
    pub oidc_request_token: Option<Sourced>,
    pub ado_service_connection_id: Option<Sourced>,
    pub use_aks_workload_identity: bool,
    /// `AZURE_FEDERATED_TOKEN_FILE` with `use_aks_workload_identity`.
    pub aks_token_file: Option<String>,
    pub client_certificate_path: Option<String>,
    /// Base64 of a PKCS#12 file (`client_certificate`, `ARM_CLIENT_CERTIFICATE`).
    pub client_certificate: Option<String>,
    pub client_certificate_password: Option<String>,
    pub use_cli: bool,
    pub environment: String,
    pub arm_endpoint: String,
    pub authority_host: String,
    pub ca_certificate: Option<String>,
    /// Write tokens of the subscription's throttling bucket left to other tools; `None`: the default.
    pub write_quota_reserve: Option<u32>,
    /// `write_pacing = false`: writes are not paced (they burst and retry on 429).
    pub write_pacing_off: bool,
    pub kubernetes: KubernetesSettings,
}

/// The provider's `kubernetes` block (the hashicorp/kubernetes provider's attributes). Empty
/// strings count as unset (an unset Terraform variable often arrives as ""). Secrets stay out
/// of `Debug`. `kube::settings` turns it into a client configuration.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct KubernetesSettings {
    pub host: Option<String>,
    pub token: Option<String>,
    /// PEM
    pub cluster_ca_certificate: Option<String>,
    /// PEM
    pub client_certificate: Option<String>,
    /// PEM
    pub client_key: Option<String>,
    pub config_path: Option<String>,
    pub config_context: Option<String>,
    pub exec: Option<ExecSettings>,
}

/// The `exec` block: a client-go credential plugin such as `kubelogin`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecSettings {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl KubernetesSettings {
    /// Whether the block sets anything: then it, not ARM, says how to reach every cluster.
    pub fn is_set(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        [
            &self.host,
            &self.token,
            &self.cluster_ca_certificate,
            &self.client_certificate,
            &self.client_key,
            &self.config_path,
            &self.config_context,
        ]
        .into_iter()
        .any(set)
            || self.exec.is_some()
    }
}

impl std::fmt::Debug for KubernetesSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("KubernetesSettings")
            .field("host", &self.host)
            .field("token", &redacted(&self.token))
            .field("cluster_ca_certificate", &self.cluster_ca_certificate.is_some())
            .field("client_certificate", &self.client_certificate.is_some())
            .field("client_key", &redacted(&self.client_key))
            .field("config_path", &self.config_path)
            .field("config_context", &self.config_context)
            .field("exec", &self.exec)
            .finish()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("client_certificate_path", &self.client_certificate_path)
            .field("oidc_request_url", &self.oidc_request_url)
            .field("ado_service_connection_id", &self.ado_service_connection_id)
            .field("auth", &self.auth_methods())
            .field("environment", &self.environment)
            .field("arm_endpoint", &self.arm_endpoint)
            .field("authority_host", &self.authority_host)
            .field("kubernetes", &self.kubernetes)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Methods explicitly selected, in the order the credential chain tries them. Where
    /// azurerm has a precedence, it applies here: a certificate over a secret; with
    /// `use_oidc`, a token given (directly, in a file, or by AKS) over an Azure DevOps service
    /// connection over GitHub's token request.
    pub fn auth_methods(&self) -> Vec<AuthMethod> {
        let mut m = Vec::new();
        if self.client_certificate_path.is_some() || self.client_certificate.is_some() {
            m.push(AuthMethod::ClientCertificate);
        } else if self.client_secret.is_some() {
            m.push(AuthMethod::ClientSecret);
        }
        if self.use_aks_workload_identity {
            m.push(AuthMethod::AksWorkloadIdentity);
        } else if self.use_oidc {
            m.push(self.federated_method());
        }
        if self.use_msi {
            m.push(AuthMethod::ManagedIdentity);
        }
        if self.use_cli {
            m.push(AuthMethod::AzureCli);
        }
        m
    }

    /// Which federated source `use_oidc` means, by what is set.
    fn federated_method(&self) -> AuthMethod {
        if self.oidc_token.is_some() || self.oidc_token_file_path.is_some() {
            AuthMethod::Oidc
        } else if self.ado_service_connection_id.is_some() {
            AuthMethod::AzureDevOpsOidc
        } else if self.oidc_request_url.is_some() || self.oidc_request_token.is_some() {
            AuthMethod::GitHubOidc
        } else {
            AuthMethod::Oidc
        }
    }
}
