//! The Kubernetes side of `aksid_pod_identity`, on kube-rs.
//!
//! - [`settings`] (pure): the provider's `kubernetes` block, or a kubeconfig returned by ARM,
//!   turned into a `kube::Config` plus a record of where the credentials came from.
//! - [`source`] (pure): that record of where the credentials came from.
//! - [`objects`] (pure): the objects aksid owns in a cluster (AAD Pod Identity's `AzureIdentity`
//!   and `AzureIdentityBinding`, a workload-identity `ServiceAccount`) and their kinds.
//! - [`yaml`] (pure): those objects as a multi-document YAML string.
//! - [`conflict`] (pure): server-side-apply conflicts read from a `Status`.
//! - [`client`] (I/O): apply, get, create, delete and discovery with a bounded timeout.
//! - [`connect`] (I/O): the clients of one provider configuration, per cluster, from the
//!   `kubernetes` block or ARM's listClusterUserCredential.
//! - [`error`]: the errors, worded for a Terraform user.

pub mod client;
pub mod conflict;
pub mod connect;
pub mod error;
pub mod objects;
pub mod settings;
pub mod source;
pub mod yaml;

pub use client::KubeClient;
pub use connect::Connections;
pub use error::KubeError;
pub use objects::ObjectKind;
pub use settings::{CredentialSource, ExecSettings, KubeSettings, ResolvedKube, SettingsError};

/// The field manager (server-side apply) and `app.kubernetes.io/managed-by` value of aksid.
pub const FIELD_MANAGER: &str = "terraform-provider-aksid";
