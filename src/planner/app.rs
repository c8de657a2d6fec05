//! An application's grants (`aksid_pod_identity`): the roles its own user-assigned identity
//! holds, and, with AAD Pod Identity, Managed Identity Operator for the cluster's kubelet
//! identity on that one identity (the fine-grained form the AAD Pod Identity docs recommend
//! instead of the whole resource group). Same parsing, keys, folding and least-privilege
//! review as the cluster matrix.

use super::matrix::{Builder, ExtraAssignment, PendingAssignment, MANAGED_IDENTITY_OPERATOR, USER_ASSIGNED_IDENTITY};
use super::policy::Finding;
use super::{Expansion, IdentityKind, Known, RoleRef, SourcePath};

const KUBELET_MIO_REASON: &str = "AAD Pod Identity's MIC assigns the application identity to the nodes, which \
                                  requires the kubelet identity to hold Managed Identity Operator on it.";

/// A role the application asks for (a `role` block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRole {
    pub role: String,
    pub scope: String,
    pub description: Option<String>,
}

/// What an application's identity needs, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIntent {
    /// The application identity's principal (object) id; unknown until it exists.
    pub app_principal_id: Known<String>,
    pub kubelet_principal_id: Known<String>,
    /// ARM id of the application identity; unknown while its inputs are.
    pub identity_id: Known<String>,
    /// Where a problem with `identity_id` is reported (`identity_id` or `identity.name`).
    pub identity_source: SourcePath,
    pub roles: Vec<AppRole>,
    /// AAD Pod Identity objects are wanted: the kubelet needs Managed Identity Operator.
    pub aad_pod_identity: bool,
    pub allow_broad_scope: Option<String>,
}

/// Expands `intent` into its role assignments, sorted by key, or every error found.
pub fn expand(intent: &AppIntent) -> Result<Expansion, Vec<Finding>> {
    let mut b = Builder::new(
        vec![
            (IdentityKind::App, intent.app_principal_id.clone()),
            (IdentityKind::Kubelet, intent.kubelet_principal_id.clone()),
        ],
        intent.allow_broad_scope.clone(),
    );
    for (i, r) in intent.roles.iter().enumerate() {
        let extra = ExtraAssignment {
            identity: IdentityKind::App,
            role: r.role.clone(),
            scope: r.scope.clone(),
            description: r.description.clone(),
        };
        let reason = format!("Requested in role[{i}] for the application identity.");
        b.extra(SourcePath::element("role", i), &extra, reason);
    }
    if intent.aad_pod_identity {
        match &intent.identity_id {
            Known::Known(id) => b.matrix(
                id,
                intent.identity_source.clone(),
                IdentityKind::Kubelet,
                &[MANAGED_IDENTITY_OPERATOR],
                USER_ASSIGNED_IDENTITY,
                KUBELET_MIO_REASON,
            ),
            Known::Unknown => b.pending(PendingAssignment {
                identity: IdentityKind::Kubelet,
                role: RoleRef::from_guid(MANAGED_IDENTITY_OPERATOR),
                reason: KUBELET_MIO_REASON.to_string(),
                source: intent.identity_source.clone(),
            }),
        }
    }
    b.check_principals();
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "33333333-3333-3333-3333-333333333333";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders";
    const STORAGE: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata";
    const DATA_RG: &str = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-data";

    fn intent(roles: &[(&str, &str)], aad: bool) -> AppIntent {
        AppIntent {
            app_principal_id: Known::Known(APP.into()),
            kubelet_principal_id: Known::Known(KUBELET.into()),
            identity_id: Known::Known(IDENTITY.into()),
            identity_source: SourcePath::attribute("identity_id"),
            roles: roles
                .iter()
                .map(|(r, s)| AppRole { role: r.to_string(), scope: s.to_string(), description: None })
                .collect(),
            aad_pod_identity: aad,
            allow_broad_scope: None,
        }
    }

    #[test]
    fn roles_go_to_the_app_and_the_kubelet_gets_mio_on_the_identity_only_with_pod_identity() {
        let wi = expand(&intent(&[("Storage Blob Data Reader", STORAGE)], false)).unwrap();
        assert_eq!(wi.assignments.len(), 1);
        let a = &wi.assignments[0];
        assert_eq!((a.identity, a.key.as_str()), (IdentityKind::App, "app/Storage Blob Data Reader/stdata"));
        assert_eq!(a.principal_id, Known::Known(APP.to_string()));

        let pod = expand(&intent(&[("Storage Blob Data Reader", STORAGE)], true)).unwrap();
        let keys: Vec<&str> = pod.assignments.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["app/Storage Blob Data Reader/stdata", "kubelet/Managed Identity Operator/id-orders"]);
        let mio = &pod.assignments[1];
        assert_eq!((mio.scope.as_str(), mio.principal_id.known().map(String::as_str)), (IDENTITY, Some(KUBELET)));
    }

    #[test]
    fn broad_or_privileged_roles_need_a_justification_and_errors_point_at_the_role_block() {
        for (role, scope, at) in [
            ("Owner", STORAGE, "role[0].role"),
            ("Contributor", STORAGE, "role[0].role"),
            ("Storage Blob Data Owner", STORAGE, "role[0].role"),
            ("Storage Blob Data Reader", "/subscriptions/00000000-0000-0000-0000-0000000000a1", "role[0].scope"),
            ("Storage Blob Data Reader", DATA_RG, "role[0].scope"),
        ] {
            let errors = expand(&intent(&[(role, scope)], false)).unwrap_err();
            assert!(errors.iter().any(|f| f.is_error() && f.source.to_string() == at), "{role} {scope}: {errors:?}");
            let mut allowed = intent(&[(role, scope)], false);
            allowed.allow_broad_scope = Some("ticket SEC-1".into());
            let ok = expand(&allowed).unwrap();
            assert!(!ok.warnings.is_empty());
            assert!(ok.assignments[0].description.as_deref().unwrap().contains("ticket SEC-1"));
        }
    }

    #[test]
    fn an_unknown_identity_leaves_the_kubelet_grant_pending() {
        let mut i = intent(&[], true);
        i.identity_id = Known::Unknown;
        i.app_principal_id = Known::Unknown;
        let e = expand(&i).unwrap();
        assert!(e.assignments.is_empty());
        assert_eq!(e.pending.len(), 1);
        assert_eq!(e.pending[0].identity, IdentityKind::Kubelet);
    }

    #[test]
    fn an_identity_id_of_another_type_is_an_error_on_its_attribute() {
        let mut i = intent(&[], true);
        i.identity_id = Known::Known(STORAGE.into());
        let errors = expand(&i).unwrap_err();
        assert_eq!(errors[0].source.to_string(), "identity_id");
    }

    #[test]
    fn unknown_roles_are_errors_with_suggestions() {
        let errors = expand(&intent(&[("Storage Blob Data Raeder", STORAGE)], false)).unwrap_err();
        assert_eq!(errors[0].source.to_string(), "role[0].role");
        assert!(errors[0].detail.contains("Storage Blob Data Reader"), "{}", errors[0].detail);
    }
}
