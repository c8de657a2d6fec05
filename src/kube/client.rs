//! `KubeClient`: the calls `aksid_pod_identity` makes to a cluster, each bounded by one timeout
//! so that an unreachable API server fails in seconds, naming the host and the credentials.

use std::future::Future;
use std::time::Duration;

use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use ::kube::Client;

use super::error::{chain, Context, KubeError};
use super::objects::{ObjectKind, POD_IDENTITY_API_VERSION};
use super::settings::{CredentialSource, ResolvedKube};
use super::FIELD_MANAGER;

/// A Kubernetes client for one cluster.
#[derive(Clone)]
pub struct KubeClient {
    client: Client,
    host: String,
    credentials: CredentialSource,
    timeout: Duration,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient").field("host", &self.host).field("credentials", &self.credentials).finish()
    }
}

/// Kind, namespace and name of an object to write.
type Address<'a> = (ObjectKind, &'a str, &'a str);

impl KubeClient {
    /// A client whose every call (and the credential set-up, which may run an exec plugin) ends
    /// within `timeout`.
    pub async fn new(resolved: ResolvedKube, timeout: Duration) -> Result<KubeClient, KubeError> {
        let ResolvedKube { mut config, source } = resolved;
        let host = config.cluster_url.to_string();
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.reset_reader_on_write = true;
        let credentials = source.to_string();
        let setup_error =
            |reason: String| KubeError::ClientSetup { host: host.clone(), credentials: credentials.clone(), reason };
        // Building runs an exec credential plugin synchronously: keep it off the async workers.
        let build = tokio::task::spawn_blocking(move || Client::try_from(config));
        let client = match tokio::time::timeout(timeout, build).await {
            Err(_) => {
                let operation = "credential set-up".to_string();
                return Err(KubeError::Timeout { host, credentials, operation, timeout });
            }
            Ok(Err(join)) => return Err(setup_error(join.to_string())),
            Ok(Ok(Err(e))) => return Err(setup_error(chain(&e))),
            Ok(Ok(Ok(client))) => client,
        };
        Ok(KubeClient { client, host, credentials: source, timeout })
    }

    /// The API server URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where the credentials came from.
    pub fn credentials(&self) -> &CredentialSource {
        &self.credentials
    }

    /// Server-side apply of `obj` as field manager `terraform-provider-aksid`. Without `force`,
    /// fields another manager owns make this fail with [`KubeError::ApplyConflict`].
    pub async fn apply(&self, obj: &DynamicObject, force: bool) -> Result<DynamicObject, KubeError> {
        let (kind, ns, name) = address(obj)?;
        let params = apply_params(force);
        let body = for_write(obj);
        let api = self.api(kind, ns);
        self.call("apply", (kind, ns, name), async move { api.patch(name, &params, &Patch::Apply(&body)).await }).await
    }

    /// Creates `obj`; [`KubeError::AlreadyExists`] if it exists.
    pub async fn create(&self, obj: &DynamicObject) -> Result<DynamicObject, KubeError> {
        let (kind, ns, name) = address(obj)?;
        let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        let body = for_write(obj);
        let api = self.api(kind, ns);
        self.call("create", (kind, ns, name), async move { api.create(&params, &body).await }).await
    }

    /// The object, or `None` if it does not exist.
    pub async fn get(&self, kind: ObjectKind, ns: &str, name: &str) -> Result<Option<DynamicObject>, KubeError> {
        let api = self.api(kind, ns);
        self.call("get", (kind, ns, name), async move { api.get_opt(name).await }).await
    }

    /// Deletes the object: `true` if it was there, `false` if it was already gone.
    pub async fn delete(&self, kind: ObjectKind, ns: &str, name: &str) -> Result<bool, KubeError> {
        let api = self.api(kind, ns);
        let fut = async move {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(true),
                Err(::kube::Error::Api(status)) if status.code == 404 => Ok(false),
                Err(e) => Err(e),
            }
        };
        self.call("delete", (kind, ns, name), fut).await
    }

    /// Every object of `kind` in every namespace (e.g. who else binds an identity).
    pub async fn list_all(&self, kind: ObjectKind) -> Result<Vec<DynamicObject>, KubeError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &kind.api_resource());
        let operation = format!("list {} in all namespaces", kind.plural());
        let fut = async move { api.list(&ListParams::default()).await.map(|l| l.items) };
        self.bounded(operation.clone(), operation, fut).await
    }

    /// Whether the cluster serves AAD Pod Identity's `azureidentities` and
    /// `azureidentitybindings` in `aadpodidentity.k8s.io/v1` (discovery).
    pub async fn crds_present(&self) -> Result<bool, KubeError> {
        Ok(self.missing_pod_identity_resources().await?.is_empty())
    }

    /// [`KubeError::CrdsMissing`], saying how to install them, unless [`Self::crds_present`].
    pub async fn require_pod_identity_crds(&self) -> Result<(), KubeError> {
        let missing = self.missing_pod_identity_resources().await?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(KubeError::CrdsMissing {
            host: self.host.clone(),
            missing: missing.into_iter().map(String::from).collect(),
        })
    }

    /// The AAD Pod Identity resources the cluster does not serve.
    pub async fn missing_pod_identity_resources(&self) -> Result<Vec<&'static str>, KubeError> {
        let wanted = [ObjectKind::AzureIdentity.plural(), ObjectKind::AzureIdentityBinding.plural()];
        let client = self.client.clone();
        let fut = async move {
            match client.list_api_group_resources(POD_IDENTITY_API_VERSION).await {
                Ok(list) => Ok(wanted.into_iter().filter(|w| !list.resources.iter().any(|r| r.name == *w)).collect()),
                // An API server answers 404 for a group version nobody serves.
                Err(::kube::Error::Api(status)) if status.code == 404 => Ok(wanted.to_vec()),
                Err(e) => Err(e),
            }
        };
        let operation = format!("discovery of {POD_IDENTITY_API_VERSION}");
        self.bounded(operation.clone(), operation, fut).await
    }

    fn api(&self, kind: ObjectKind, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &kind.api_resource())
    }

    async fn call<T>(
        &self,
        verb: &str,
        (kind, ns, name): Address<'_>,
        fut: impl Future<Output = Result<T, ::kube::Error>>,
    ) -> Result<T, KubeError> {
        let object = format!("{} {ns}/{name}", kind.kind());
        self.bounded(format!("{verb} {object}"), object, fut).await
    }

    async fn bounded<T>(
        &self,
        operation: String,
        object: String,
        fut: impl Future<Output = Result<T, ::kube::Error>>,
    ) -> Result<T, KubeError> {
        let credentials = self.credentials.to_string();
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => {
                Err(KubeError::Timeout { host: self.host.clone(), credentials, operation, timeout: self.timeout })
            }
            Ok(result) => result.map_err(|e| {
                KubeError::from_kube(
                    e,
                    Context { host: &self.host, credentials, operation, object, timeout: self.timeout },
                )
            }),
        }
    }
}

/// Kind, namespace and name, or [`KubeError::UnsupportedObject`].
fn address(obj: &DynamicObject) -> Result<Address<'_>, KubeError> {
    let kind = ObjectKind::of(obj);
    let ns = obj.metadata.namespace.as_deref().filter(|s| !s.is_empty());
    let name = obj.metadata.name.as_deref().filter(|s| !s.is_empty());
    match (kind, ns, name) {
        (Some(kind), Some(ns), Some(name)) => Ok((kind, ns, name)),
        _ => {
            let types = obj.types.as_ref().map(|t| format!("{} {}", t.api_version, t.kind));
            let object = format!(
                "{} {}/{}",
                types.unwrap_or_else(|| "an object without apiVersion/kind".into()),
                ns.unwrap_or("<no namespace>"),
                name.unwrap_or("<no name>")
            );
            Err(KubeError::UnsupportedObject { object })
        }
    }
}

fn apply_params(force: bool) -> PatchParams {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    params
}

/// The object without the fields the server owns (an apply that sets managedFields or a stale
/// resourceVersion is rejected).
fn for_write(obj: &DynamicObject) -> DynamicObject {
    let mut clean = obj.clone();
    let meta = &mut clean.metadata;
    meta.uid = None;
    meta.resource_version = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.managed_fields = None;
    clean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::objects::{azure_identity, Meta};

    #[test]
    fn only_our_kinds_with_name_and_namespace_can_be_written() {
        let good = azure_identity(&Meta::new("orders", "apps"), "/x", "y");
        assert_eq!(address(&good).unwrap(), (ObjectKind::AzureIdentity, "apps", "orders"));
        let mut no_ns = good.clone();
        no_ns.metadata.namespace = None;
        let e = address(&no_ns).unwrap_err();
        assert!(e.to_string().contains("<no namespace>/orders"), "{e}");
        let mut other = good.clone();
        other.types.as_mut().unwrap().kind = "Pod".into();
        assert!(matches!(address(&other), Err(KubeError::UnsupportedObject { .. })));
    }

    #[test]
    fn apply_is_a_server_side_apply_patch() {
        let obj = azure_identity(&Meta::new("orders", "apps"), "/x", "y");
        let request = ::kube::core::Request::new("/apis/aadpodidentity.k8s.io/v1/namespaces/apps/azureidentities")
            .patch("orders", &apply_params(true), &Patch::Apply(&for_write(&obj)))
            .unwrap();
        assert_eq!(request.method(), "PATCH");
        assert_eq!(request.headers()["content-type"], "application/apply-patch+yaml");
        let query = request.uri().query().unwrap();
        assert!(query.contains("fieldManager=terraform-provider-aksid") && query.contains("force=true"), "{query}");
        assert!(!apply_params(false).force);
    }

    #[tokio::test]
    async fn a_kubeconfig_proxy_is_accepted() {
        let yaml = "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: https://aks.example:443\n    proxy-url: http://proxy.example:3128\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\n";
        let resolved = crate::kube::settings::from_kubeconfig_yaml(yaml.as_bytes(), None).await.unwrap();
        assert!(resolved.config.proxy_url.is_some());
        KubeClient::new(resolved, Duration::from_secs(5)).await.unwrap();
    }

    #[tokio::test]
    async fn a_failing_exec_plugin_is_a_setup_error_naming_it() {
        let settings = crate::kube::settings::KubeSettings {
            host: Some("https://aks.example".into()),
            exec: Some(crate::kube::settings::ExecSettings {
                api_version: "client.authentication.k8s.io/v1beta1".into(),
                command: "/nonexistent/kubelogin".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resolved = settings.resolve().await.unwrap();
        let e = KubeClient::new(resolved, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, KubeError::ClientSetup { .. }), "{e}");
        assert!(e.to_string().contains("kubernetes.exec /nonexistent/kubelogin"), "{e}");
    }

    #[test]
    fn server_owned_fields_are_not_sent() {
        let mut obj = azure_identity(&Meta::new("orders", "apps"), "/x", "y");
        obj.metadata.resource_version = Some("7".into());
        obj.metadata.uid = Some("u".into());
        obj.metadata.managed_fields = Some(vec![Default::default()]);
        let clean = for_write(&obj);
        assert!(clean.metadata.resource_version.is_none() && clean.metadata.uid.is_none());
        assert!(clean.metadata.managed_fields.is_none());
        assert_eq!(clean.metadata.labels, obj.metadata.labels);
        assert_eq!(clean.data, obj.data);
    }
}
