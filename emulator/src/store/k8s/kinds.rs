//! The resource types the emulator's Kubernetes API serves.

use super::schema::{self, Schema};

/// A served resource type.
#[derive(Debug)]
pub struct Kind {
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub schema: &'static Schema,
    /// Custom resources carry `metadata.generation` bumps on spec changes.
    pub custom: bool,
    /// Top-level fields the server sets and no manager owns (a namespace's `spec`/`status`).
    pub server_owned: &'static [&'static str],
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `serviceaccounts` or `azureidentities.aadpodidentity.k8s.io` (used in messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `ServiceAccount` or `AzureIdentity.aadpodidentity.k8s.io` (used in Invalid messages).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub const POD_IDENTITY_GROUP: &str = "aadpodidentity.k8s.io";

pub static KINDS: [Kind; 4] = [
    Kind {
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["ns"],
        schema: &schema::NAMESPACE,
        custom: false,
        server_owned: &["spec", "status"],
    },
    Kind {
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["sa"],
        schema: &schema::SERVICE_ACCOUNT,
        custom: false,
        server_owned: &[],
    },
    Kind {
        plural: "azureidentities",
        singular: "azureidentity",
        kind: "AzureIdentity",
        group: POD_IDENTITY_GROUP,
        version: "v1",
        namespaced: true,
        short_names: &[],
        schema: &schema::AZURE_IDENTITY,
        custom: true,
        server_owned: &[],
    },
    Kind {
        plural: "azureidentitybindings",
        singular: "azureidentitybinding",
        kind: "AzureIdentityBinding",
        group: POD_IDENTITY_GROUP,
        version: "v1",
        namespaced: true,
        short_names: &[],
        schema: &schema::AZURE_IDENTITY_BINDING,
        custom: true,
        server_owned: &[],
    },
];

pub fn kind_by_plural(group: &str, plural: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.group == group && k.plural == plural)
}

pub fn namespace_kind() -> &'static Kind {
    &KINDS[0]
}

pub fn service_account_kind() -> &'static Kind {
    &KINDS[1]
}
