//! The typed model of `aksid_pod_identity`, and what it means: defaults, the planner's intent,
//! the federated credential, the labels pods need and the Kubernetes objects to write. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::known::Known;
use crate::planner::app::{AppIntent, AppRole};
use crate::planner::{Recorded, SourcePath};
pub use crate::resources::assignments::BroadScope;
use crate::resources::assignments::{Attr, Timeouts};
use crate::resources::grants::Grant;

pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The tag marking an identity this resource created (value: the resource's id), so that a
/// retry after a crash recognises it and destroy deletes only what it created.
pub const CREATED_BY_TAG: &str = "aksid-created-by";
pub const POD_IDENTITY_LABEL: &str = "aadpodidbinding";
pub const WORKLOAD_IDENTITY_LABEL: &str = "azure.workload.identity/use";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodIdentity {
    pub id: Attr<String>,
    pub name: Attr<String>,
    pub namespace: Attr<String>,
    pub mode: Attr<String>,
    pub cluster_id: Attr<String>,
    pub kubelet_principal_id: Attr<String>,
    pub oidc_issuer_url: Attr<String>,
    pub identity_id: Attr<String>,
    pub identity: Option<NewIdentity>,
    pub role: Attr<Vec<RoleBlock>>,
    pub selector: Attr<String>,
    pub binding_name: Attr<String>,
    pub service_account_name: Attr<String>,
    pub service_account_annotations: Attr<BTreeMap<String, Known<String>>>,
    pub service_account_labels: Attr<BTreeMap<String, Known<String>>>,
    pub audiences: Attr<Vec<Known<String>>>,
    pub write_kubernetes_objects: Attr<bool>,
    pub force_conflicts: Attr<bool>,
    pub delete_adopted_on_destroy: Attr<bool>,
    pub client_id: Attr<String>,
    pub principal_id: Attr<String>,
    pub tenant_id: Attr<String>,
    pub assignments: Attr<Vec<Grant>>,
    pub federated_credential: Attr<Credential>,
    pub kubernetes_objects: Attr<Vec<KubeObject>>,
    pub pod_labels: Attr<BTreeMap<String, String>>,
    pub manifests: Attr<String>,
    pub allow_broad_scope: Option<BroadScope>,
    pub timeouts: Option<Timeouts>,
}

/// The `identity` block: a user-assigned identity this resource creates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewIdentity {
    pub name: Attr<String>,
    pub resource_group_id: Attr<String>,
    pub location: Attr<String>,
    pub tags: Attr<BTreeMap<String, Known<String>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleBlock {
    pub role: Attr<String>,
    pub scope: Attr<String>,
    pub description: Attr<String>,
}

/// The federated identity credential (workload identity), as written or as read back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub name: String,
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

/// One Kubernetes object this resource writes, with the fields it owns, flattened
/// (`spec.selector`, `metadata.annotations.<key>`): what plan compares to show drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeObject {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AadPodIdentity,
    WorkloadIdentity,
    Both,
}

pub const MODES: [&str; 3] = ["aad_pod_identity", "workload_identity", "both"];

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "aad_pod_identity" => Some(Mode::AadPodIdentity),
            "workload_identity" => Some(Mode::WorkloadIdentity),
            "both" => Some(Mode::Both),
            _ => None,
        }
    }

    pub fn pod_identity(self) -> bool {
        matches!(self, Mode::AadPodIdentity | Mode::Both)
    }

    pub fn workload_identity(self) -> bool {
        matches!(self, Mode::WorkloadIdentity | Mode::Both)
    }
}

/// The known value of an attribute.
pub fn known<T>(a: &Attr<T>) -> Option<&T> {
    a.as_ref().and_then(Known::known)
}

pub fn text(a: &Attr<String>) -> Option<&str> {
    known(a).map(String::as_str)
}

fn is_unknown<T>(a: &Attr<T>) -> bool {
    matches!(a, Some(Known::Unknown))
}

/// A map attribute with every value known (`None` while anything is unknown); null is empty.
pub fn known_map(a: &Attr<BTreeMap<String, Known<String>>>) -> Option<BTreeMap<String, String>> {
    match a {
        None => Some(BTreeMap::new()),
        Some(Known::Unknown) => None,
        Some(Known::Known(m)) => m.iter().map(|(k, v)| Some((k.clone(), v.known()?.clone()))).collect(),
    }
}

fn set(a: &mut Attr<String>, v: impl Into<String>) {
    *a = Some(Known::Known(v.into()));
}

impl PodIdentity {
    pub fn mode(&self) -> Option<Mode> {
        text(&self.mode).and_then(Mode::parse)
    }

    pub fn roles(&self) -> &[RoleBlock] {
        known(&self.role).map_or(&[], Vec::as_slice)
    }

    pub fn writes_objects(&self) -> bool {
        known(&self.write_kubernetes_objects).copied().unwrap_or(true)
    }

    pub fn force(&self) -> bool {
        known(&self.force_conflicts).copied().unwrap_or(false)
    }

    pub fn delete_adopted(&self) -> bool {
        known(&self.delete_adopted_on_destroy).copied().unwrap_or(false)
    }

    /// Everything the user wrote that the plan derives from is known.
    pub fn inputs_known(&self) -> bool {
        let strings = [
            &self.name,
            &self.namespace,
            &self.mode,
            &self.identity_id,
            &self.selector,
            &self.binding_name,
            &self.service_account_name,
        ];
        let identity_known = self.identity.as_ref().is_none_or(|i| {
            !is_unknown(&i.name)
                && !is_unknown(&i.resource_group_id)
                && !is_unknown(&i.location)
                && known_map(&i.tags).is_some()
        });
        let roles_known = !is_unknown(&self.role)
            && self
                .roles()
                .iter()
                .all(|r| !is_unknown(&r.role) && !is_unknown(&r.scope) && !is_unknown(&r.description));
        strings.iter().all(|a| !is_unknown(a))
            && identity_known
            && roles_known
            && known_map(&self.service_account_annotations).is_some()
            && known_map(&self.service_account_labels).is_some()
            && !is_unknown(&self.audiences)
            && known(&self.audiences).is_none_or(|v| v.iter().all(Known::is_known))
            && !is_unknown(&self.write_kubernetes_objects)
            && !is_unknown(&self.allow_broad_scope.as_ref().and_then(|b| b.justification.clone()))
    }

    /// Fill the defaults of optional attributes left unset: selector and service account
    /// (the name), binding (`<name>-binding`), audiences, and the identity's id from its block.
    pub fn fill_defaults(&mut self) {
        let name = text(&self.name).unwrap_or_default().to_string();
        if self.selector.is_none() {
            set(&mut self.selector, name.clone());
        }
        if self.binding_name.is_none() {
            set(&mut self.binding_name, format!("{name}-binding"));
        }
        if self.service_account_name.is_none() {
            set(&mut self.service_account_name, name);
        }
        if self.audiences.is_none() {
            self.audiences = Some(Known::Known(vec![Known::Known(DEFAULT_AUDIENCE.to_string())]));
        }
        if let Some(id) = self.identity.as_ref().and_then(NewIdentity::resource_id) {
            if text(&self.identity_id).is_none_or(|old| !crate::resources::assignments::same_id(old, &id)) {
                set(&mut self.identity_id, id);
            }
        }
    }

    /// `<cluster_id>/<namespace>/<name>`, or `<namespace>/<name>` without a cluster id.
    pub fn resource_id(&self) -> String {
        let (ns, name) = (text(&self.namespace).unwrap_or_default(), text(&self.name).unwrap_or_default());
        match text(&self.cluster_id) {
            Some(c) => format!("{}/{ns}/{name}", c.trim_end_matches('/')),
            None => format!("{ns}/{name}"),
        }
    }

    pub fn audiences(&self) -> Vec<String> {
        known(&self.audiences).map_or_else(Vec::new, |v| v.iter().filter_map(|a| a.known().cloned()).collect())
    }

    /// `system:serviceaccount:<namespace>:<service account>`.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            text(&self.namespace).unwrap_or_default(),
            text(&self.service_account_name).unwrap_or_default()
        )
    }

    /// The labels a pod template needs for the identity in this mode.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        if let Some(mode) = self.mode() {
            if mode.pod_identity() {
                labels.insert(POD_IDENTITY_LABEL.to_string(), text(&self.selector).unwrap_or_default().to_string());
            }
            if mode.workload_identity() {
                labels.insert(WORKLOAD_IDENTITY_LABEL.to_string(), "true".to_string());
            }
        }
        labels
    }

    /// The planner's view; the principals are those known so far.
    pub fn intent(&self) -> AppIntent {
        let principal = |a: &Attr<String>| match a {
            Some(Known::Known(p)) => Known::Known(p.clone()),
            _ => Known::Unknown,
        };
        AppIntent {
            app_principal_id: principal(&self.principal_id),
            kubelet_principal_id: principal(&self.kubelet_principal_id),
            identity_id: principal(&self.identity_id),
            identity_source: match self.identity {
                Some(_) => SourcePath::attribute("identity").child("name"),
                None => SourcePath::attribute("identity_id"),
            },
            roles: self
                .roles()
                .iter()
                .map(|r| AppRole {
                    role: text(&r.role).unwrap_or_default().to_string(),
                    scope: text(&r.scope).unwrap_or_default().to_string(),
                    description: text(&r.description).map(str::to_string),
                })
                .collect(),
            aad_pod_identity: self.mode().is_some_and(Mode::pod_identity),
            allow_broad_scope: self
                .allow_broad_scope
                .as_ref()
                .map(|b| text(&b.justification).unwrap_or_default().to_string()),
        }
    }

    /// The grants state records, for the engine.
    pub fn recorded(&self) -> Vec<Recorded> {
        known(&self.assignments).map_or_else(Vec::new, |g| g.iter().filter_map(Grant::recorded).collect())
    }

    pub fn grants(&self) -> Vec<Grant> {
        known(&self.assignments).cloned().unwrap_or_default()
    }

    pub fn objects(&self) -> Vec<KubeObject> {
        known(&self.kubernetes_objects).cloned().unwrap_or_default()
    }

    pub fn credential(&self) -> Option<Credential> {
        known(&self.federated_credential).cloned()
    }
}

impl NewIdentity {
    /// `<resource group id>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    pub fn resource_id(&self) -> Option<String> {
        let rg = text(&self.resource_group_id)?.trim_end_matches('/');
        Some(format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}", text(&self.name)?))
    }
}

/// The federated credential's name: `<namespace>-<service account>-<8 hex of the issuer>`,
/// so that one identity federated to several clusters gets one credential per cluster, within
/// Azure's rules (3–120 characters: letters, digits, `-`, `_`; starting with a letter or digit).
pub fn credential_name(namespace: &str, service_account: &str, issuer: &str) -> String {
    let hash = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, issuer.as_bytes()).simple().to_string();
    let base: String = format!("{namespace}-{service_account}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(100)
        .collect();
    format!("{base}-{}", &hash[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(mode: &str) -> PodIdentity {
        PodIdentity {
            name: Some(Known::Known("orders".into())),
            namespace: Some(Known::Known("apps".into())),
            mode: Some(Known::Known(mode.into())),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_follow_the_name() {
        let mut m = model("both");
        m.fill_defaults();
        assert_eq!(text(&m.selector), Some("orders"));
        assert_eq!(text(&m.binding_name), Some("orders-binding"));
        assert_eq!(text(&m.service_account_name), Some("orders"));
        assert_eq!(m.audiences(), [DEFAULT_AUDIENCE]);
        assert_eq!(m.subject(), "system:serviceaccount:apps:orders");
    }

    #[test]
    fn pod_labels_follow_the_mode() {
        let mut m = model("aad_pod_identity");
        m.selector = Some(Known::Known("orders-sel".into()));
        assert_eq!(m.pod_labels(), BTreeMap::from([(POD_IDENTITY_LABEL.into(), "orders-sel".into())]));
        m.mode = Some(Known::Known("workload_identity".into()));
        assert_eq!(m.pod_labels(), BTreeMap::from([(WORKLOAD_IDENTITY_LABEL.into(), "true".into())]));
        m.mode = Some(Known::Known("both".into()));
        assert_eq!(m.pod_labels().len(), 2);
    }

    #[test]
    fn the_identity_block_names_the_identity_id() {
        let mut m = model("workload_identity");
        m.identity = Some(NewIdentity {
            name: Some(Known::Known("id-orders".into())),
            resource_group_id: Some(Known::Known("/subscriptions/s/resourceGroups/rg".into())),
            ..Default::default()
        });
        m.fill_defaults();
        assert_eq!(
            text(&m.identity_id),
            Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders")
        );
    }

    #[test]
    fn credential_names_differ_per_issuer_and_follow_azure_rules() {
        let a = credential_name("apps", "orders.v1", "https://issuer.example/a/");
        let b = credential_name("apps", "orders.v1", "https://issuer.example/b/");
        assert_ne!(a, b);
        assert!(a.starts_with("apps-orders-v1-"), "{a}");
        let long = credential_name(&"n".repeat(63), &"s".repeat(253), "i");
        assert!(long.len() <= 120 && long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{long}");
    }

    #[test]
    fn modes_parse_exactly() {
        assert_eq!(Mode::parse("both"), Some(Mode::Both));
        assert_eq!(Mode::parse("Both"), None);
        assert!(Mode::AadPodIdentity.pod_identity() && !Mode::AadPodIdentity.workload_identity());
    }
}
