//! Where the Kubernetes credentials came from, for error messages ("kubernetes.token",
//! "kubeconfig ~/.kube/config context aks-dev (exec kubelogin)", …).

use std::fmt;

use ::kube::config::AuthInfo;

/// Which configuration the connection was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The provider's `kubernetes` block alone (`host` plus credentials).
    Settings,
    /// A kubeconfig file named by `kubernetes.config_path`.
    Kubeconfig { path: String, context: String },
    /// The kubeconfig that ARM's `listClusterUserCredential` returned.
    ArmCredential { context: String },
}

/// How the client authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Token,
    TokenFile,
    ClientCertificate,
    Exec { command: String },
    AuthProvider { name: String },
    Basic,
    Anonymous,
}

/// Origin and method together; `overridden` when the `kubernetes` block replaced the
/// credentials of a kubeconfig user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSource {
    pub origin: Origin,
    pub auth: AuthMethod,
    pub overridden: bool,
}

impl AuthMethod {
    /// The method kube-rs will use for `info`, in kube-rs's order of precedence.
    pub fn of(info: &AuthInfo) -> AuthMethod {
        if let Some(provider) = &info.auth_provider {
            AuthMethod::AuthProvider { name: provider.name.clone() }
        } else if info.username.is_some() && info.password.is_some() {
            AuthMethod::Basic
        } else if info.token.is_some() {
            AuthMethod::Token
        } else if info.token_file.is_some() {
            AuthMethod::TokenFile
        } else if let Some(exec) = &info.exec {
            AuthMethod::Exec { command: exec.command.clone().unwrap_or_default() }
        } else if info.client_certificate.is_some() || info.client_certificate_data.is_some() {
            AuthMethod::ClientCertificate
        } else {
            AuthMethod::Anonymous
        }
    }

    /// The `kubernetes` block attribute that supplies this method.
    fn attribute(&self) -> String {
        match self {
            AuthMethod::Token => "kubernetes.token".into(),
            AuthMethod::ClientCertificate => "kubernetes.client_certificate".into(),
            AuthMethod::Exec { command } => format!("kubernetes.exec {command}"),
            other => format!("kubernetes.host with {other}"),
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Token => f.write_str("token"),
            AuthMethod::TokenFile => f.write_str("token file"),
            AuthMethod::ClientCertificate => f.write_str("client certificate"),
            AuthMethod::Exec { command } => write!(f, "exec {command}"),
            AuthMethod::AuthProvider { name } => write!(f, "auth-provider {name}"),
            AuthMethod::Basic => f.write_str("basic auth"),
            AuthMethod::Anonymous => f.write_str("no credentials"),
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = if self.overridden { format!("with {}", self.auth.attribute()) } else { format!("({})", self.auth) };
        match &self.origin {
            Origin::Settings => f.write_str(&self.auth.attribute()),
            Origin::Kubeconfig { path, context } => write!(f, "kubeconfig {path} context {context} {auth}"),
            Origin::ArmCredential { context } => {
                write!(f, "ARM listClusterUserCredential kubeconfig context {context} {auth}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(origin: Origin, auth: AuthMethod, overridden: bool) -> String {
        CredentialSource { origin, auth, overridden }.to_string()
    }

    #[test]
    fn settings_sources_name_the_attribute() {
        assert_eq!(src(Origin::Settings, AuthMethod::Token, false), "kubernetes.token");
        assert_eq!(src(Origin::Settings, AuthMethod::ClientCertificate, false), "kubernetes.client_certificate");
        let exec = AuthMethod::Exec { command: "kubelogin".into() };
        assert_eq!(src(Origin::Settings, exec, false), "kubernetes.exec kubelogin");
    }

    #[test]
    fn kubeconfig_sources_name_file_context_and_method() {
        let origin = Origin::Kubeconfig { path: "/home/u/.kube/config".into(), context: "aks-dev".into() };
        let exec = AuthMethod::Exec { command: "kubelogin".into() };
        assert_eq!(
            src(origin.clone(), exec, false),
            "kubeconfig /home/u/.kube/config context aks-dev (exec kubelogin)"
        );
        assert_eq!(
            src(origin, AuthMethod::Token, true),
            "kubeconfig /home/u/.kube/config context aks-dev with kubernetes.token"
        );
        let arm = Origin::ArmCredential { context: "aks-spoke".into() };
        assert_eq!(
            src(arm, AuthMethod::Token, false),
            "ARM listClusterUserCredential kubeconfig context aks-spoke (token)"
        );
    }

    #[test]
    fn method_follows_kube_precedence() {
        let mut info = AuthInfo { client_certificate_data: Some("x".into()), ..Default::default() };
        assert_eq!(AuthMethod::of(&info), AuthMethod::ClientCertificate);
        info.exec = Some(::kube::config::ExecConfig { command: Some("kubelogin".into()), ..Default::default() });
        assert_eq!(AuthMethod::of(&info), AuthMethod::Exec { command: "kubelogin".into() });
        info.token = Some("t".to_string().into());
        assert_eq!(AuthMethod::of(&info), AuthMethod::Token);
        assert_eq!(AuthMethod::of(&AuthInfo::default()), AuthMethod::Anonymous);
    }
}
