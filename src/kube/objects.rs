//! The Kubernetes objects aksid owns for an app identity, and their kinds.
//!
//! - AAD Pod Identity (`aadpodidentity.k8s.io/v1`, CRDs from its Helm chart): an `AzureIdentity`
//!   (`spec.type` 0 = user-assigned MSI, `spec.resourceID`, `spec.clientID`) and an
//!   `AzureIdentityBinding` (`spec.azureIdentity` = the AzureIdentity's name, `spec.selector` =
//!   the value pods carry in their `aadpodidbinding` label). Built as dynamic objects.
//! - Azure Workload Identity: a `ServiceAccount` annotated `azure.workload.identity/client-id`
//!   (and optionally `azure.workload.identity/tenant-id`). Typed.
//!
//! Every object carries `app.kubernetes.io/managed-by: terraform-provider-aksid`.

use std::collections::BTreeMap;

use ::kube::api::{ApiResource, DynamicObject, ObjectMeta, TypeMeta};
use k8s_openapi::api::core::v1::ServiceAccount;
use serde_json::json;

use super::FIELD_MANAGER;

pub const POD_IDENTITY_GROUP: &str = "aadpodidentity.k8s.io";
pub const POD_IDENTITY_API_VERSION: &str = "aadpodidentity.k8s.io/v1";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const WORKLOAD_CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
pub const WORKLOAD_TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";
/// `AzureIdentity.spec.type` for a user-assigned managed identity (1 is a service principal).
pub const USER_ASSIGNED_MSI: i64 = 0;

/// The kinds aksid reads and writes. All are namespaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    ServiceAccount,
    AzureIdentity,
    AzureIdentityBinding,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 3] =
        [ObjectKind::ServiceAccount, ObjectKind::AzureIdentity, ObjectKind::AzureIdentityBinding];

    pub fn kind(self) -> &'static str {
        match self {
            ObjectKind::ServiceAccount => "ServiceAccount",
            ObjectKind::AzureIdentity => "AzureIdentity",
            ObjectKind::AzureIdentityBinding => "AzureIdentityBinding",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            ObjectKind::ServiceAccount => "v1",
            _ => POD_IDENTITY_API_VERSION,
        }
    }

    /// The REST resource name (`…/namespaces/{ns}/{plural}/{name}`).
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::ServiceAccount => "serviceaccounts",
            ObjectKind::AzureIdentity => "azureidentities",
            ObjectKind::AzureIdentityBinding => "azureidentitybindings",
        }
    }

    pub fn api_resource(self) -> ApiResource {
        let (group, version) = match self.api_version().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version()),
        };
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: self.api_version().into(),
            kind: self.kind().into(),
            plural: self.plural().into(),
        }
    }

    /// The kind an object declares in `apiVersion`/`kind`, if it is one of ours.
    pub fn of(obj: &DynamicObject) -> Option<ObjectKind> {
        let types = obj.types.as_ref()?;
        ObjectKind::ALL.into_iter().find(|k| k.api_version() == types.api_version && k.kind() == types.kind)
    }
}

/// Name, namespace and the caller's labels/annotations of one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Meta {
    pub fn new(name: &str, namespace: &str) -> Meta {
        Meta { name: name.into(), namespace: namespace.into(), ..Default::default() }
    }

    /// The managed-by label always wins over a caller's value: it marks what aksid owns.
    fn object_meta(&self, extra_annotations: BTreeMap<String, String>) -> ObjectMeta {
        let mut labels = self.labels.clone();
        labels.insert(MANAGED_BY_LABEL.into(), FIELD_MANAGER.into());
        let mut annotations = self.annotations.clone();
        annotations.extend(extra_annotations);
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }
    }
}

fn dynamic(kind: ObjectKind, meta: ObjectMeta, spec: serde_json::Value) -> DynamicObject {
    DynamicObject {
        types: Some(TypeMeta { api_version: kind.api_version().into(), kind: kind.kind().into() }),
        metadata: meta,
        data: json!({ "spec": spec }),
    }
}

/// An `AzureIdentity` for a user-assigned managed identity.
pub fn azure_identity(meta: &Meta, resource_id: &str, client_id: &str) -> DynamicObject {
    let spec = json!({ "type": USER_ASSIGNED_MSI, "resourceID": resource_id, "clientID": client_id });
    dynamic(ObjectKind::AzureIdentity, meta.object_meta(BTreeMap::new()), spec)
}

/// An `AzureIdentityBinding` of the AzureIdentity named `azure_identity` to pods labelled
/// `aadpodidbinding: <selector>`.
pub fn azure_identity_binding(meta: &Meta, azure_identity: &str, selector: &str) -> DynamicObject {
    let spec = json!({ "azureIdentity": azure_identity, "selector": selector });
    dynamic(ObjectKind::AzureIdentityBinding, meta.object_meta(BTreeMap::new()), spec)
}

/// A workload-identity `ServiceAccount` for the identity `client_id` (in `tenant_id` when given).
pub fn service_account(meta: &Meta, client_id: &str, tenant_id: Option<&str>) -> ServiceAccount {
    let mut annotations = BTreeMap::from([(WORKLOAD_CLIENT_ID_ANNOTATION.to_string(), client_id.to_string())]);
    if let Some(tenant) = tenant_id.filter(|t| !t.is_empty()) {
        annotations.insert(WORKLOAD_TENANT_ID_ANNOTATION.into(), tenant.into());
    }
    ServiceAccount { metadata: meta.object_meta(annotations), ..Default::default() }
}

/// Any serializable Kubernetes object (e.g. a typed `ServiceAccount`) as a dynamic one, for
/// [`super::KubeClient::apply`] and [`super::yaml::render`].
pub fn to_dynamic<T: serde::Serialize>(obj: &T) -> Result<DynamicObject, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(obj)?)
}

/// Whether `name` is a valid object name (an RFC 1123 subdomain, as for these three kinds).
pub fn is_valid_name(name: &str) -> bool {
    name.len() <= 253 && !name.is_empty() && name.split('.').all(is_dns_label)
}

/// Whether `ns` is a valid namespace name (an RFC 1123 label).
pub fn is_valid_namespace(ns: &str) -> bool {
    is_dns_label(ns)
}

/// Whether `value` is a valid label value (an AzureIdentityBinding selector is matched against
/// the pods' `aadpodidbinding` label, so it must be one).
pub fn is_valid_label_value(value: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    value.is_empty()
        || (value.len() <= 63
            && value.starts_with(alnum)
            && value.ends_with(alnum)
            && value.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.')))
}

fn is_dns_label(s: &str) -> bool {
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(lower)
        && s.ends_with(lower)
        && s.chars().all(|c| lower(c) || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const RID: &str =
        "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders";
    const CLIENT: &str = "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7";

    fn value(obj: &impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(obj).unwrap()
    }

    #[test]
    fn azure_identity_matches_the_crd_schema() {
        let v = value(&azure_identity(&Meta::new("orders", "apps"), RID, CLIENT));
        assert_eq!(v["apiVersion"], "aadpodidentity.k8s.io/v1");
        assert_eq!(v["kind"], "AzureIdentity");
        assert_eq!(v["metadata"]["name"], "orders");
        assert_eq!(v["metadata"]["namespace"], "apps");
        assert_eq!(v["metadata"]["labels"][MANAGED_BY_LABEL], "terraform-provider-aksid");
        // The CRD types spec.type as an integer; a string would be rejected (422).
        assert_eq!(v["spec"], json!({"type": 0, "resourceID": RID, "clientID": CLIENT}));
        assert!(v["spec"]["type"].is_i64());
    }

    #[test]
    fn binding_points_at_the_identity_by_name() {
        let v = value(&azure_identity_binding(&Meta::new("orders-binding", "apps"), "orders", "orders-api"));
        assert_eq!(v["kind"], "AzureIdentityBinding");
        assert_eq!(v["spec"], json!({"azureIdentity": "orders", "selector": "orders-api"}));
        assert_eq!(v["metadata"]["labels"][MANAGED_BY_LABEL], "terraform-provider-aksid");
    }

    #[test]
    fn service_account_has_workload_identity_annotations_and_caller_metadata() {
        let mut meta = Meta::new("orders", "apps");
        meta.labels.insert("team".into(), "payments".into());
        meta.labels.insert(MANAGED_BY_LABEL.into(), "helm".into());
        meta.annotations.insert("note".into(), "x".into());
        let v = value(&service_account(&meta, CLIENT, Some("4aca8002-c6b1-4e6a-8956-0d030db855bf")));
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["kind"], "ServiceAccount");
        let annotations = &v["metadata"]["annotations"];
        assert_eq!(annotations[WORKLOAD_CLIENT_ID_ANNOTATION], CLIENT);
        assert_eq!(annotations[WORKLOAD_TENANT_ID_ANNOTATION], "4aca8002-c6b1-4e6a-8956-0d030db855bf");
        assert_eq!(annotations["note"], "x");
        assert_eq!(v["metadata"]["labels"]["team"], "payments");
        assert_eq!(v["metadata"]["labels"][MANAGED_BY_LABEL], "terraform-provider-aksid");
    }

    #[test]
    fn service_account_without_tenant_has_only_the_client_id() {
        let v = value(&service_account(&Meta::new("orders", "apps"), CLIENT, None));
        let annotations = v["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(annotations.len(), 1);
        assert!(!annotations.contains_key(WORKLOAD_TENANT_ID_ANNOTATION));
    }

    #[test]
    fn typed_objects_convert_to_dynamic_and_keep_their_kind() {
        let sa = service_account(&Meta::new("orders", "apps"), CLIENT, None);
        let dynamic = to_dynamic(&sa).unwrap();
        assert_eq!(ObjectKind::of(&dynamic), Some(ObjectKind::ServiceAccount));
        assert_eq!(dynamic.metadata.name.as_deref(), Some("orders"));
        let back: ServiceAccount = dynamic.try_parse().unwrap();
        assert_eq!(back, sa);
    }

    #[test]
    fn kinds_map_to_their_rest_resources() {
        let ar = ObjectKind::AzureIdentityBinding.api_resource();
        assert_eq!((ar.group.as_str(), ar.version.as_str()), ("aadpodidentity.k8s.io", "v1"));
        assert_eq!(ar.plural, "azureidentitybindings");
        let sa = ObjectKind::ServiceAccount.api_resource();
        assert_eq!((sa.group.as_str(), sa.version.as_str(), sa.plural.as_str()), ("", "v1", "serviceaccounts"));
        let mut other = azure_identity(&Meta::new("a", "b"), RID, CLIENT);
        other.types = Some(TypeMeta { api_version: "v1".into(), kind: "AzureIdentity".into() });
        assert_eq!(ObjectKind::of(&other), None);
        other.types = None;
        assert_eq!(ObjectKind::of(&other), None);
    }

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(is_valid_name("orders-api.v2"));
        assert!(!is_valid_name("Orders"));
        assert!(!is_valid_name("-orders"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(254)));
        assert!(is_valid_namespace("apps"));
        assert!(!is_valid_namespace("apps.prod"));
        assert!(is_valid_label_value("Orders_API.v2"));
        assert!(is_valid_label_value(""));
        assert!(!is_valid_label_value("orders api"));
        assert!(!is_valid_label_value(&"a".repeat(64)));
    }
}
