//! The provider's `kubernetes` block (the same attributes as the hashicorp/kubernetes provider's)
//! and the kubeconfig ARM returns, turned into a `kube::Config`. Pure apart from reading the
//! kubeconfig file that `config_path` names.

use ::kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig, KubeconfigError};
use ::kube::Config;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use super::source::{AuthMethod, CredentialSource, Origin};

/// The provider's `kubernetes` block, defined with the other settings (a leaf module); this
/// module gives it `resolve`.
pub use crate::settings::{ExecSettings, KubernetesSettings as KubeSettings};

/// A usable `kube::Config` and where its credentials came from.
#[derive(Clone, Debug)]
pub struct ResolvedKube {
    pub config: Config,
    pub source: CredentialSource,
}

impl ResolvedKube {
    /// The API server URL, for messages.
    pub fn host(&self) -> String {
        self.config.cluster_url.to_string()
    }
}

/// Configuration errors, each naming the attribute or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no Kubernetes connection is configured: set the provider's kubernetes block (host with token, \
         client_certificate and client_key, or exec; or config_path) or the resource's cluster_id (its \
         credentials then come from Azure Resource Manager, as with az aks get-credentials)"
    )]
    NotConfigured,
    #[error("kubernetes.host {host:?} is not an http(s) URL: {reason}")]
    InvalidHost { host: String, reason: String },
    #[error("kubernetes.client_certificate is set but kubernetes.client_key is not: a client certificate needs its private key")]
    MissingClientKey,
    #[error("kubernetes.client_key is set but kubernetes.client_certificate is not: set both or neither")]
    MissingClientCertificate,
    #[error("kubernetes.{field} is not valid PEM: {reason}")]
    InvalidPem { field: &'static str, reason: String },
    #[error("kubernetes.token and kubernetes.exec are both set: choose one way to authenticate")]
    ConflictingCredentials,
    #[error("kubernetes.exec.{field} must not be empty")]
    EmptyExecField { field: &'static str },
    #[error(
        "kubernetes.config_context is set but kubernetes.config_path is not: the context is looked up in that file"
    )]
    ContextWithoutPath,
    #[error(
        "kubernetes.host {host} has no credentials: set kubernetes.token, kubernetes.client_certificate \
         and client_key, or a kubernetes.exec block"
    )]
    NoCredentials { host: String },
    #[error("cannot read kubeconfig {path}: {reason}")]
    UnreadableKubeconfig { path: String, reason: String },
    #[error("{origin} is not a valid kubeconfig: {reason}")]
    InvalidKubeconfig { origin: String, reason: String },
    #[error("{origin} has no context {context:?} (its contexts: {})", list(available))]
    UnknownContext { origin: String, context: String, available: Vec<String> },
    #[error("{origin} names no current-context: set kubernetes.config_context")]
    NoContext { origin: String },
    #[error("{origin} context {context} cannot be used: {reason}")]
    UnusableContext { origin: String, context: String, reason: String },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `Some` only for a non-blank value.
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

impl KubeSettings {
    /// The connection these settings describe: a kubeconfig file (with the block's attributes
    /// overriding it), or `host` plus explicit credentials.
    pub async fn resolve(&self) -> Result<ResolvedKube, SettingsError> {
        self.validate()?;
        let explicit = self.explicit_auth()?;
        let mut resolved = match set(&self.config_path) {
            Some(path) => self.load_file(path).await?,
            None => {
                let host = set(&self.host).ok_or(SettingsError::NotConfigured)?;
                if explicit.is_none() {
                    return Err(SettingsError::NoCredentials { host: host.to_string() });
                }
                let config = Config::new(parse_host(host)?);
                ResolvedKube { config, source: source(Origin::Settings, AuthMethod::Anonymous) }
            }
        };
        if let Some(host) = set(&self.host) {
            resolved.config.cluster_url = parse_host(host)?;
        }
        if let Some(pem) = set(&self.cluster_ca_certificate) {
            resolved.config.root_cert = Some(certificates("cluster_ca_certificate", pem)?);
        }
        if let Some(auth) = explicit {
            // The block's credentials replace the kubeconfig user's entirely, so that a
            // token here is never mixed with, say, an exec plugin from the file.
            resolved.config.auth_info = auth;
            resolved.source.overridden = resolved.source.origin != Origin::Settings;
        }
        resolved.source.auth = AuthMethod::of(&resolved.config.auth_info);
        never_interactive(&mut resolved.config);
        Ok(resolved)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        match (set(&self.client_certificate), set(&self.client_key)) {
            (Some(_), None) => return Err(SettingsError::MissingClientKey),
            (None, Some(_)) => return Err(SettingsError::MissingClientCertificate),
            _ => {}
        }
        if set(&self.token).is_some() && self.exec.is_some() {
            return Err(SettingsError::ConflictingCredentials);
        }
        if set(&self.config_context).is_some() && set(&self.config_path).is_none() {
            return Err(SettingsError::ContextWithoutPath);
        }
        if let Some(exec) = &self.exec {
            if exec.command.trim().is_empty() {
                return Err(SettingsError::EmptyExecField { field: "command" });
            }
            if exec.api_version.trim().is_empty() {
                return Err(SettingsError::EmptyExecField { field: "api_version" });
            }
        }
        Ok(())
    }

    /// The credentials given in the block itself, if any.
    fn explicit_auth(&self) -> Result<Option<AuthInfo>, SettingsError> {
        let mut info = AuthInfo::default();
        let mut any = false;
        if let Some(token) = set(&self.token) {
            info.token = Some(token.to_string().into());
            any = true;
        }
        if let (Some(cert), Some(key)) = (set(&self.client_certificate), set(&self.client_key)) {
            certificates("client_certificate", cert)?;
            PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| SettingsError::InvalidPem { field: "client_key", reason: e.to_string() })?;
            let b64 = base64::engine::general_purpose::STANDARD;
            info.client_certificate_data = Some(b64.encode(cert));
            info.client_key_data = Some(b64.encode(key).into());
            any = true;
        }
        if let Some(exec) = &self.exec {
            info.exec = Some(exec_config(exec));
            any = true;
        }
        Ok(any.then_some(info))
    }

    async fn load_file(&self, path: &str) -> Result<ResolvedKube, SettingsError> {
        let expanded = expand_home(path);
        let kubeconfig = Kubeconfig::read_from(&expanded).map_err(|e| match e {
            KubeconfigError::ReadConfig(io, _) => {
                SettingsError::UnreadableKubeconfig { path: path.to_string(), reason: io.to_string() }
            }
            other => {
                SettingsError::InvalidKubeconfig { origin: format!("kubeconfig {path}"), reason: other.to_string() }
            }
        })?;
        let context = pick_context(&kubeconfig, set(&self.config_context), &format!("kubeconfig {path}"))?;
        let origin = Origin::Kubeconfig { path: path.to_string(), context };
        load(kubeconfig, origin).await
    }
}

/// A client for the kubeconfig ARM's `listClusterUserCredential` returned (decoded from its
/// base64 `value`), as `az aks get-credentials` would write it. `context` defaults to the
/// file's current-context.
pub async fn from_kubeconfig_yaml(yaml: &[u8], context: Option<&str>) -> Result<ResolvedKube, SettingsError> {
    let origin_text = "the kubeconfig from ARM listClusterUserCredential";
    let invalid = |reason: String| SettingsError::InvalidKubeconfig { origin: origin_text.into(), reason };
    let text = std::str::from_utf8(yaml).map_err(|e| invalid(e.to_string()))?;
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|e| invalid(e.to_string()))?;
    let context = pick_context(&kubeconfig, context.filter(|c| !c.is_empty()), origin_text)?;
    let mut resolved = load(kubeconfig, Origin::ArmCredential { context }).await?;
    never_interactive(&mut resolved.config);
    Ok(resolved)
}

/// The decoded kubeconfig from a `listClusterUserCredential` response body
/// (`{"kubeconfigs":[{"name","value":<base64>}]}`); the first one unless `name` picks another.
pub fn kubeconfig_from_credential_results(
    body: &serde_json::Value,
    name: Option<&str>,
) -> Result<Vec<u8>, SettingsError> {
    let invalid = |reason: &str| SettingsError::InvalidKubeconfig {
        origin: "the listClusterUserCredential response".into(),
        reason: reason.into(),
    };
    let entries = body.get("kubeconfigs").and_then(|v| v.as_array()).ok_or_else(|| invalid("no kubeconfigs"))?;
    let entry = match name {
        Some(n) => entries.iter().find(|e| e.get("name").and_then(|v| v.as_str()) == Some(n)),
        None => entries.first(),
    }
    .ok_or_else(|| invalid("the requested kubeconfig is not in the response"))?;
    let value = entry.get("value").and_then(|v| v.as_str()).ok_or_else(|| invalid("kubeconfig without value"))?;
    base64::engine::general_purpose::STANDARD.decode(value.trim()).map_err(|_| invalid("value is not base64"))
}

fn source(origin: Origin, auth: AuthMethod) -> CredentialSource {
    CredentialSource { origin, auth, overridden: false }
}

fn origin_text(origin: &Origin) -> (String, String) {
    match origin {
        Origin::Kubeconfig { path, context } => (format!("kubeconfig {path}"), context.clone()),
        Origin::ArmCredential { context } => {
            ("the kubeconfig from ARM listClusterUserCredential".into(), context.clone())
        }
        Origin::Settings => ("the kubernetes block".into(), String::new()),
    }
}

/// The context to use: the requested one, else current-context; it must exist.
fn pick_context(kubeconfig: &Kubeconfig, wanted: Option<&str>, origin: &str) -> Result<String, SettingsError> {
    let name = wanted
        .map(str::to_string)
        .or_else(|| kubeconfig.current_context.clone().filter(|c| !c.is_empty()))
        .ok_or_else(|| SettingsError::NoContext { origin: origin.into() })?;
    if kubeconfig.contexts.iter().any(|c| c.name == name) {
        Ok(name)
    } else {
        let available = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        Err(SettingsError::UnknownContext { origin: origin.into(), context: name, available })
    }
}

async fn load(kubeconfig: Kubeconfig, origin: Origin) -> Result<ResolvedKube, SettingsError> {
    let (origin_name, context) = origin_text(&origin);
    let options = KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| SettingsError::UnusableContext { origin: origin_name, context, reason: e.to_string() })?;
    let auth = AuthMethod::of(&config.auth_info);
    Ok(ResolvedKube { config, source: source(origin, auth) })
}

fn exec_config(exec: &ExecSettings) -> ExecConfig {
    let env = exec
        .env
        .iter()
        .map(|(k, v)| [("name".to_string(), k.clone()), ("value".to_string(), v.clone())].into_iter().collect())
        .collect();
    ExecConfig {
        api_version: Some(exec.api_version.clone()),
        command: Some(exec.command.clone()),
        args: Some(exec.args.clone()),
        env: Some(env),
        ..Default::default()
    }
}

/// Terraform owns the terminal: a credential plugin must never wait for input.
fn never_interactive(config: &mut Config) {
    if let Some(exec) = &mut config.auth_info.exec {
        exec.interactive_mode = Some(ExecInteractiveMode::Never);
    }
}

/// `https://` is assumed for a bare `host[:port]`, as client-go does.
fn parse_host(host: &str) -> Result<http::Uri, SettingsError> {
    let invalid = |reason: &str| SettingsError::InvalidHost { host: host.to_string(), reason: reason.to_string() };
    let host = host.trim();
    let text = if host.contains("://") { host.to_string() } else { format!("https://{host}") };
    let url = url::Url::parse(&text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("the scheme must be https (or http)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host name"));
    }
    text.parse().map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))
}

fn certificates(field: &'static str, pem: &str) -> Result<Vec<Vec<u8>>, SettingsError> {
    let invalid = |reason: String| SettingsError::InvalidPem { field, reason };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => path.into(),
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
