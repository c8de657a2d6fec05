//! The planner: pure logic between a resource's typed configuration and Azure.
//!
//! * [`matrix`] turns what a cluster uses (subnets, registries, DNS zones, a
//!   BYO kubelet identity, AAD Pod Identity, …) into the role assignments its
//!   two identities need: the AKS identity role matrix.
//! * [`policy`] refuses privileged roles and scopes broader than the matrix
//!   needs, unless the configuration carries a written justification.
//! * [`diff`] says when an assignment Azure holds grants what a desired one asks.
//! * [`engine`] decides, per desired assignment, to keep, create or adopt, and which
//!   recorded assignments are no longer wanted: the one engine plan, apply, read and import
//!   of both role-assignment resources consume.
//! * [`report`] classifies the assignments a cluster's identities hold (managed, unmanaged,
//!   orphaned, broader than needed) and renders them as Markdown and Mermaid.
//!
//! Nothing here does I/O or knows about Terraform values: inputs are plain
//! strings, values unknown at plan time are [`Known::Unknown`], and problems
//! come back as [`Finding`]s that point at the input ([`SourcePath`]) so the
//! resource layer can turn them into diagnostics on the right attribute.

pub mod app;
pub mod classify;
pub mod diff;
pub mod engine;
pub mod matrix;
pub mod policy;
pub mod report;

use std::fmt;

use uuid::Uuid;

use crate::domain::names;
use crate::domain::roles::{self, BuiltinRole};

pub use diff::{equivalent, ActualAssignment};
pub use engine::{decide, Decisions, Origin, Recorded, Step};
pub use matrix::{expand, ClusterIntent, Expansion, ExtraAssignment, PendingAssignment, PodIdentityIntent};
pub use policy::{Finding, ScopeFit, ScopeRequirement, Severity};

const ROLE_ASSIGNMENTS_SEGMENT: &str = "/providers/Microsoft.Authorization/roleAssignments/";
const ROLE_DEFINITIONS_SEGMENT: &str = "/providers/Microsoft.Authorization/roleDefinitions/";

/// Which of a cluster's identities an assignment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityKind {
    /// The cluster (control-plane) identity: `identity.principalId`, or the
    /// principal of its user-assigned identity.
    ControlPlane,
    /// The kubelet identity: `identityProfile.kubeletidentity.objectId`.
    Kubelet,
    /// An application's user-assigned identity (`aksid_pod_identity`).
    App,
}

impl IdentityKind {
    /// `"control_plane"` or `"kubelet"`: the first segment of assignment keys
    /// and the value users write in `extra_assignment.identity`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::ControlPlane => "control_plane",
            IdentityKind::Kubelet => "kubelet",
            IdentityKind::App => "app",
        }
    }

    /// Parses the cluster identities' [`IdentityKind::as_str`] (ASCII case-insensitively), what
    /// `extra_assignment.identity` accepts.
    pub fn parse(s: &str) -> Option<IdentityKind> {
        [IdentityKind::ControlPlane, IdentityKind::Kubelet]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Prose for messages: "control-plane identity" or "kubelet identity".
    pub fn describe(self) -> &'static str {
        match self {
            IdentityKind::ControlPlane => "control-plane identity",
            IdentityKind::Kubelet => "kubelet identity",
            IdentityKind::App => "application identity",
        }
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::known::Known;

/// A resolved role definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleRef {
    /// Lowercase GUID.
    pub guid: String,
    /// The built-in role's name; for a custom role, the GUID (the resource
    /// layer resolves custom roles through ARM).
    pub name: String,
    /// True when the GUID is not in the built-in catalog.
    pub custom: bool,
}

impl RoleRef {
    pub fn builtin(role: &BuiltinRole) -> RoleRef {
        RoleRef { guid: role.guid.to_ascii_lowercase(), name: role.name.clone(), custom: false }
    }

    /// A built-in role when the catalog has `guid`, otherwise a custom role
    /// named by its GUID.
    pub fn from_guid(guid: &str) -> RoleRef {
        match roles::by_guid(guid) {
            Some(role) => RoleRef::builtin(role),
            None => {
                let guid = guid.trim().to_ascii_lowercase();
                RoleRef { name: guid.clone(), guid, custom: true }
            }
        }
    }

    /// The catalog entry, for built-in roles.
    pub fn builtin_role(&self) -> Option<&'static BuiltinRole> {
        roles::by_guid(&self.guid)
    }

    /// Owner, Contributor, User Access Administrator or Role Based Access
    /// Control Administrator. Custom roles are never reported here: their
    /// permissions are only known after an ARM lookup.
    pub fn privileged(&self) -> bool {
        !self.custom && self.builtin_role().is_some_and(BuiltinRole::privileged)
    }

    /// The tenant form, `/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub fn definition_id(&self) -> String {
        format!("{ROLE_DEFINITIONS_SEGMENT}{}", self.guid)
    }
}

/// Which input produced an assignment or a finding, e.g. `acr_ids[1]`,
/// `extra_assignment[2].scope`,
/// `aad_pod_identity.identity_resource_group_ids[0]` or
/// `allow_broad_scope.justification`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourcePath {
    /// Top-level attribute or block name.
    pub attribute: String,
    /// Element of that attribute, when it is a list.
    pub index: Option<usize>,
    /// Attribute inside the element (or inside the single nested block).
    pub nested: Option<String>,
    /// Element of the nested attribute, when it is a list.
    pub nested_index: Option<usize>,
}

impl SourcePath {
    /// A top-level attribute: `node_resource_group_id`.
    pub fn attribute(name: &str) -> SourcePath {
        SourcePath { attribute: name.to_string(), index: None, nested: None, nested_index: None }
    }

    /// An element of a top-level list: `acr_ids[1]`.
    pub fn element(name: &str, index: usize) -> SourcePath {
        SourcePath { index: Some(index), ..SourcePath::attribute(name) }
    }

    /// An attribute inside this path: `extra_assignment[2]` → `extra_assignment[2].scope`.
    /// Replaces any nested attribute already present (a sibling).
    pub fn child(&self, name: &str) -> SourcePath {
        SourcePath { nested: Some(name.to_string()), nested_index: None, ..self.clone() }
    }

    /// An element of the nested list: `aad_pod_identity.identity_resource_group_ids` → `…[0]`.
    pub fn nested_element(&self, index: usize) -> SourcePath {
        SourcePath { nested_index: Some(index), ..self.clone() }
    }
}

impl fmt::Display for SourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.attribute)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        if let Some(n) = &self.nested {
            write!(f, ".{n}")?;
        }
        if let Some(i) = self.nested_index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

/// One role assignment the configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredAssignment {
    /// Stable, human-readable and unique within the resource:
    /// `<identity>/<role name>/<short scope name>`, e.g. `kubelet/AcrPull/acrhubshared`.
    pub key: String,
    pub identity: IdentityKind,
    pub role: RoleRef,
    /// The scope as the user wrote it (never rewritten), without a trailing slash.
    pub scope: String,
    pub principal_id: Known<String>,
    /// Why the assignment exists, in one sentence.
    pub reason: String,
    /// Written into the assignment's `description` (e.g. the justification of a broad scope).
    pub description: Option<String>,
    /// The input that produced it.
    pub source: SourcePath,
}

impl DesiredAssignment {
    /// The deterministic name ([`names::role_assignment_name`]), once the principal is known.
    pub fn name(&self) -> Known<Uuid> {
        self.principal_id.as_ref().map(|p| names::role_assignment_name(&self.scope, p, &self.role.guid))
    }

    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`, once the name is known.
    pub fn id(&self) -> Known<String> {
        let scope = if self.scope == "/" { "" } else { self.scope.as_str() };
        self.name().map(|n| format!("{scope}{ROLE_ASSIGNMENTS_SEGMENT}{n}"))
    }

    /// The tenant form `/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub fn role_definition_id(&self) -> String {
        self.role.definition_id()
    }
}

use crate::domain::is_guid;

#[cfg(test)]
mod tests {
    use super::*;

    const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aks";
    const PRINCIPAL: &str = "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c";
    const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";

    fn assignment(principal: Known<String>) -> DesiredAssignment {
        DesiredAssignment {
            key: "control_plane/Network Contributor/vnet/aks".into(),
            identity: IdentityKind::ControlPlane,
            role: RoleRef::from_guid(NETWORK_CONTRIBUTOR),
            scope: SUBNET.into(),
            principal_id: principal,
            reason: "test".into(),
            description: None,
            source: SourcePath::element("subnet_ids", 0),
        }
    }

    #[test]
    fn name_and_id_follow_the_deterministic_name() {
        let a = assignment(Known::Known(PRINCIPAL.into()));
        // Vector computed independently in azure::names' tests.
        assert_eq!(a.name(), Known::Known(uuid::uuid!("104ede2e-f554-5315-beda-e1db62835e87")));
        assert_eq!(
            a.id(),
            Known::Known(format!(
                "{SUBNET}/providers/Microsoft.Authorization/roleAssignments/104ede2e-f554-5315-beda-e1db62835e87"
            ))
        );
        assert_eq!(
            a.role_definition_id(),
            "/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"
        );
    }

    #[test]
    fn unknown_principal_means_unknown_name_and_id() {
        let a = assignment(Known::Unknown);
        assert_eq!(a.name(), Known::Unknown);
        assert_eq!(a.id(), Known::Unknown);
        assert!(a.role_definition_id().ends_with(NETWORK_CONTRIBUTOR));
    }

    #[test]
    fn tenant_scope_id_has_no_double_slash() {
        let mut a = assignment(Known::Known(PRINCIPAL.into()));
        a.scope = "/".into();
        let id = a.id().into_option().unwrap();
        assert!(id.starts_with("/providers/Microsoft.Authorization/roleAssignments/"), "{id}");
    }

    #[test]
    fn role_refs() {
        let builtin = RoleRef::from_guid("7F951DDA-4ED3-4680-A7CA-43FE172D538D");
        assert_eq!(
            builtin,
            RoleRef { guid: "7f951dda-4ed3-4680-a7ca-43fe172d538d".into(), name: "AcrPull".into(), custom: false }
        );
        assert!(!builtin.privileged());
        let custom = RoleRef::from_guid("11111111-2222-3333-4444-55555555555A");
        assert!(custom.custom);
        assert_eq!(custom.name, "11111111-2222-3333-4444-55555555555a");
        assert_eq!(custom.guid, custom.name);
        assert!(!custom.privileged());
        assert!(RoleRef::from_guid("8e3af657-a8ff-443c-a75c-2fe8c4bcb635").privileged());
    }

    #[test]
    fn source_paths_display_like_attribute_paths() {
        assert_eq!(SourcePath::element("acr_ids", 1).to_string(), "acr_ids[1]");
        assert_eq!(SourcePath::element("extra_assignment", 2).child("scope").to_string(), "extra_assignment[2].scope");
        assert_eq!(
            SourcePath::element("extra_assignment", 2).child("scope").child("role").to_string(),
            "extra_assignment[2].role"
        );
        assert_eq!(
            SourcePath::attribute("aad_pod_identity")
                .child("identity_resource_group_ids")
                .nested_element(0)
                .to_string(),
            "aad_pod_identity.identity_resource_group_ids[0]"
        );
        assert_eq!(
            SourcePath::attribute("allow_broad_scope").child("justification").to_string(),
            "allow_broad_scope.justification"
        );
    }

    #[test]
    fn identity_kinds() {
        assert_eq!(IdentityKind::ControlPlane.as_str(), "control_plane");
        assert_eq!(IdentityKind::Kubelet.to_string(), "kubelet");
        assert_eq!(IdentityKind::parse(" Kubelet "), Some(IdentityKind::Kubelet));
        assert_eq!(IdentityKind::parse("control_plane"), Some(IdentityKind::ControlPlane));
        assert_eq!(IdentityKind::parse("cluster"), None);
    }

    #[test]
    fn known_helpers() {
        let k: Known<String> = Some("x".to_string()).into();
        assert!(k.is_known());
        assert_eq!(k.known().map(String::as_str), Some("x"));
        assert_eq!(k.clone().map(|s| s.len()), Known::Known(1));
        let u: Known<String> = None.into();
        assert_eq!(u.as_ref().map(|s| s.len()), Known::Unknown);
        assert_eq!(u.into_option(), None);
    }
}
