//! Errors of the Kubernetes layer, worded so that a Terraform user knows what to fix. Each
//! names the API server and where the credentials came from when that helps.

use std::time::Duration;

use super::conflict::{describe, field_conflicts, FieldConflict};
use super::settings::SettingsError;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error(transparent)]
    Settings(#[from] SettingsError),

    #[error(
        "cannot get the Kubernetes credentials of cluster {cluster} from Azure Resource Manager \
         (listClusterUserCredential): {reason}. {advice}."
    )]
    ClusterCredentials { cluster: String, reason: String, advice: String },

    #[error("cannot set up a Kubernetes client for {host} with credentials from {credentials}: {reason}")]
    ClientSetup { host: String, credentials: String, reason: String },

    #[error(
        "cannot reach the Kubernetes API server at {host} (credentials from {credentials}): {reason}. \
         Check that the address is right and reachable from where Terraform runs \
         (a private cluster's API server is only reachable from its network)"
    )]
    Unreachable { host: String, credentials: String, reason: String },

    #[error(
        "the Kubernetes API server at {host} did not complete {operation} within {}s (credentials from \
         {credentials}). Check that it is reachable from where Terraform runs, or raise the timeout",
        timeout.as_secs_f32()
    )]
    Timeout { host: String, credentials: String, operation: String, timeout: Duration },

    #[error(
        "the Kubernetes API server at {host} rejected the credentials from {credentials} (401 Unauthorized): \
         {message}. Refresh or replace them (an expired token, or a kubeconfig for another cluster?)"
    )]
    Unauthorized { host: String, credentials: String, message: String },

    #[error(
        "the Kubernetes user from {credentials} may not {operation} on {host} (403 Forbidden): {message}. \
         Grant it Kubernetes RBAC (on AKS with Azure RBAC, a role such as \
         \"Azure Kubernetes Service RBAC Writer\" on the cluster or namespace)"
    )]
    Forbidden { host: String, credentials: String, operation: String, message: String },

    #[error(
        "cannot apply {object}: fields are managed by another field manager: {}. Change them where they are \
         managed, or apply with force to take them over",
        describe(conflicts)
    )]
    ApplyConflict { object: String, conflicts: Vec<FieldConflict> },

    #[error("{object} already exists on {host}: import it, or delete it first")]
    AlreadyExists { host: String, object: String },

    #[error(
        "AAD Pod Identity is not installed on the cluster at {host}: it does not serve {} in \
         aadpodidentity.k8s.io/v1. Install AAD Pod Identity (its Helm chart \
         aad-pod-identity/aad-pod-identity installs the CRDs), or use workload identity instead \
         (AAD Pod Identity is deprecated)",
        missing.join(" and ")
    )]
    CrdsMissing { host: String, missing: Vec<String> },

    #[error("{object} is not an object aksid manages (ServiceAccount v1, AzureIdentity or AzureIdentityBinding aadpodidentity.k8s.io/v1 with a name and a namespace)")]
    UnsupportedObject { object: String },

    #[error("{operation} on {host} failed: {message} ({code} {reason})")]
    Api { host: String, operation: String, code: u16, reason: String, message: String },

    #[error("{operation} on {host} failed: {reason}")]
    Other { host: String, operation: String, reason: String },
}

/// What was being done, for turning a kube-rs error into a [`KubeError`].
pub(crate) struct Context<'a> {
    pub host: &'a str,
    pub credentials: String,
    /// e.g. "get AzureIdentity apps/orders"
    pub operation: String,
    /// e.g. "AzureIdentity apps/orders"
    pub object: String,
    pub timeout: Duration,
}

impl KubeError {
    pub(crate) fn from_kube(err: ::kube::Error, cx: Context<'_>) -> KubeError {
        let host = cx.host.to_string();
        match err {
            ::kube::Error::Api(status) => match status.code {
                401 => KubeError::Unauthorized { host, credentials: cx.credentials, message: status.message },
                403 => KubeError::Forbidden {
                    host,
                    credentials: cx.credentials,
                    operation: cx.operation,
                    message: status.message,
                },
                409 if !field_conflicts(&status).is_empty() => {
                    KubeError::ApplyConflict { object: cx.object, conflicts: field_conflicts(&status) }
                }
                409 if status.is_already_exists() => KubeError::AlreadyExists { host, object: cx.object },
                code => KubeError::Api {
                    host,
                    operation: cx.operation,
                    code,
                    reason: status.reason,
                    message: status.message,
                },
            },
            e @ (::kube::Error::HyperError(_) | ::kube::Error::Service(_)) if timed_out(&e) => {
                KubeError::Timeout { host, credentials: cx.credentials, operation: cx.operation, timeout: cx.timeout }
            }
            e @ (::kube::Error::HyperError(_) | ::kube::Error::Service(_)) => {
                KubeError::Unreachable { host, credentials: cx.credentials, reason: chain(&e) }
            }
            e @ ::kube::Error::Auth(_) => {
                KubeError::ClientSetup { host, credentials: cx.credentials, reason: chain(&e) }
            }
            e => KubeError::Other { host, operation: cx.operation, reason: chain(&e) },
        }
    }
}

/// Whether a connect/read timeout of the HTTP stack caused `err`.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        next = e.source();
    }
    false
}

/// An error and its sources in one line, skipping a source whose text its parent already shows.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::kube::core::Status;

    fn cx() -> Context<'static> {
        Context {
            host: "https://aks.example:443/",
            credentials: "kubernetes.token".into(),
            operation: "apply AzureIdentity apps/orders".into(),
            object: "AzureIdentity apps/orders".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn api(body: serde_json::Value) -> ::kube::Error {
        ::kube::Error::Api(Box::new(serde_json::from_value::<Status>(body).unwrap()))
    }

    #[test]
    fn unauthorized_names_host_and_credentials() {
        let e = KubeError::from_kube(
            api(serde_json::json!({"code": 401, "reason": "Unauthorized", "message": "Unauthorized"})),
            cx(),
        );
        let text = e.to_string();
        assert!(matches!(e, KubeError::Unauthorized { .. }));
        assert!(text.contains("https://aks.example:443/") && text.contains("kubernetes.token"), "{text}");
    }

    #[test]
    fn forbidden_names_the_operation() {
        let e =
            KubeError::from_kube(api(serde_json::json!({"code": 403, "reason": "Forbidden", "message": "no"})), cx());
        assert!(e.to_string().contains("may not apply AzureIdentity apps/orders"), "{e}");
    }

    #[test]
    fn apply_conflict_lists_managers_and_fields() {
        let e = KubeError::from_kube(
            api(
                serde_json::json!({"code": 409, "reason": "Conflict", "message": "Apply failed", "details": {"causes": [
                    {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl\" using v1", "field": ".spec.clientID"}
                ]}}),
            ),
            cx(),
        );
        let text = e.to_string();
        assert!(matches!(e, KubeError::ApplyConflict { .. }));
        assert!(
            text.contains("\"kubectl\" owns .spec.clientID") && text.contains("AzureIdentity apps/orders"),
            "{text}"
        );
    }

    #[test]
    fn already_exists_and_other_codes() {
        let exists = api(serde_json::json!({"code": 409, "reason": "AlreadyExists", "message": "exists"}));
        assert!(matches!(KubeError::from_kube(exists, cx()), KubeError::AlreadyExists { .. }));
        let invalid = api(serde_json::json!({"code": 422, "reason": "Invalid", "message": "spec.type: Invalid value"}));
        let e = KubeError::from_kube(invalid, cx());
        assert!(matches!(e, KubeError::Api { code: 422, .. }));
        assert!(e.to_string().contains("spec.type: Invalid value"), "{e}");
    }

    #[test]
    fn connection_errors_are_unreachable_unless_they_timed_out() {
        let refused = ::kube::Error::Service(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        let e = KubeError::from_kube(refused, cx());
        assert!(matches!(e, KubeError::Unreachable { .. }), "{e}");
        assert!(
            e.to_string().contains("https://aks.example:443/") && e.to_string().contains("kubernetes.token"),
            "{e}"
        );
        let slow = ::kube::Error::Service(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)));
        let e = KubeError::from_kube(slow, cx());
        assert!(matches!(e, KubeError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("within 5s"), "{e}");
    }

    #[test]
    fn chain_joins_sources_without_repeats() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner detail")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner detail")]
        struct Inner(#[source] std::io::Error);
        let e = Outer(Inner(std::io::Error::other("connection refused")));
        assert_eq!(chain(&e), "outer: inner detail: connection refused");
    }
}
