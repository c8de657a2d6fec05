//! Unit tests of the business rules (no HTTP).

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::identities::{FicRequest, IdentityRef};
use super::rbac::{parse_ra_filter, parse_rd_filter, RaFilter, RaRequest};
use super::*;
use crate::seed::Seed;

pub const TENANT: &str = "10000000-0000-0000-0000-000000000001";
pub const SUB: &str = "20000000-0000-0000-0000-000000000001";
pub const SUB2: &str = "20000000-0000-0000-0000-000000000002";
pub const ADMIN: &str = "30000000-0000-0000-0000-000000000001";
pub const CONTRIB: &str = "30000000-0000-0000-0000-000000000002";
pub const READER: &str = "30000000-0000-0000-0000-000000000003";
pub const UAA: &str = "30000000-0000-0000-0000-000000000004";
pub const RBAC_ADMIN: &str = "30000000-0000-0000-0000-000000000005";
pub const NOBODY: &str = "30000000-0000-0000-0000-000000000006";
pub const LATE: &str = "30000000-0000-0000-0000-000000000007";
pub const MG_OWNER: &str = "30000000-0000-0000-0000-000000000008";
pub const TARGET: &str = "40000000-0000-0000-0000-000000000001";
pub const TARGET2: &str = "40000000-0000-0000-0000-000000000002";
pub const GROUP: &str = "40000000-0000-0000-0000-000000000003";
pub const OWNER_ROLE: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const READER_ROLE: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
pub const CUSTOM_ROLE: &str = "50000000-0000-0000-0000-000000000001";
pub const ACR: &str = "/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr";
pub const SUBNET: &str = "/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s1";

pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

fn sp(name: &str, oid: &str, n: u32) -> serde_json::Value {
    json!({"display_name": name, "object_id": oid, "client_id": format!("60000000-0000-0000-0000-00000000000{n}"), "secrets": ["s3cret"]})
}

pub fn seed() -> Seed {
    let v = json!({
        "tenants": [{"id": TENANT}],
        "management_groups": [{"name": "mg-root", "subscriptions": [SUB]}],
        "subscriptions": [{"id": SUB}, {"id": SUB2}],
        "resource_groups": [{"subscription": SUB, "name": "rg"}, {"subscription": SUB2, "name": "rg2"}],
        "resources": [
            {"id": ACR},
            {"id": "/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet",
             "properties": {"subnets": [{"name": "s1", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
        ],
        "user_assigned_identities": [
            {"id": "/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
             "location": "westeurope",
             "federated_credentials": [{"name": "fic1", "issuer": "https://issuer.example/", "subject": "system:serviceaccount:ns:sa"}]}
        ],
        "service_principals": [
            sp("admin", ADMIN, 1), sp("contrib", CONTRIB, 2), sp("reader", READER, 3), sp("uaa", UAA, 4),
            sp("rbac", RBAC_ADMIN, 5), sp("nobody", NOBODY, 6), sp("mg", MG_OWNER, 8),
            {"display_name": "late", "object_id": LATE, "client_id": "60000000-0000-0000-0000-000000000007", "available_after_secs": 60,
             "federated": [{"issuer": "https://gh.example", "subject": "repo:x"}]}
        ],
        "principals": [
            {"object_id": TARGET, "kind": "ServicePrincipal"},
            {"object_id": TARGET2, "kind": "User"},
            {"object_id": GROUP, "kind": "Group", "display_name": "aks-admins"}
        ],
        "custom_roles": [
            {"id": CUSTOM_ROLE, "role_name": "RG Reader", "actions": ["*/read"], "assignable_scopes": ["/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg"]}
        ],
        "role_assignments": [
            {"scope": format!("/subscriptions/{SUB}"), "role_definition_name": "Owner", "principal_id": ADMIN},
            {"scope": format!("/subscriptions/{SUB2}"), "role_definition_name": "Owner", "principal_id": ADMIN},
            {"scope": format!("/subscriptions/{SUB}"), "role_definition_name": "Contributor", "principal_id": CONTRIB},
            {"scope": format!("/subscriptions/{SUB}"), "role_definition_name": "Reader", "principal_id": READER},
            {"scope": format!("/subscriptions/{SUB}/resourceGroups/rg"), "role_definition_name": "User Access Administrator", "principal_id": UAA},
            {"scope": ACR, "role_definition_name": "Role Based Access Control Administrator", "principal_id": RBAC_ADMIN},
            {"scope": "/providers/Microsoft.Management/managementGroups/mg-root", "role_definition_name": "Owner", "principal_id": MG_OWNER}
        ]
    });
    serde_json::from_value(v).unwrap()
}

pub fn store() -> Store {
    Store::from_seed(&seed(), t0()).unwrap()
}

pub fn caller(oid: &str) -> Caller {
    Caller { oid: oid.into(), tid: TENANT.into(), appid: Some("app".into()) }
}

fn req(role: &str, principal: &str) -> RaRequest {
    RaRequest {
        role_definition_id: format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        principal_id: principal.into(),
        principal_type: Some("ServicePrincipal".into()),
        ..Default::default()
    }
}

fn user_req(role: &str, principal: &str) -> RaRequest {
    RaRequest { principal_type: Some("User".into()), ..req(role, principal) }
}

const N1: &str = "a0000000-0000-0000-0000-000000000001";
const N2: &str = "a0000000-0000-0000-0000-000000000002";

fn sub_scope() -> String {
    format!("/subscriptions/{SUB}")
}

fn rg_scope() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg")
}

#[test]
fn create_then_identical_put_then_update_description() {
    let mut s = store();
    let a = caller(ADMIN);
    let (st, ra) = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    assert_eq!(st, 201);
    assert_eq!(ra.created_by.as_deref(), Some(ADMIN));
    let (st, _) = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    assert_eq!(st, 200);
    let mut r = req(ACR_PULL, TARGET);
    r.description = Some("pull images".into());
    let later = t0() + Duration::seconds(5);
    let (st, ra) = s.put_role_assignment(Some(&a), ACR, N1, r, later).unwrap();
    assert_eq!(st, 200);
    assert_eq!(ra.description.as_deref(), Some("pull images"));
    assert_eq!(ra.updated_on, later);
    assert_eq!(ra.created_on, t0());
}

#[test]
fn ids_are_case_insensitive_and_scopes_get_the_seeded_spelling() {
    let mut s = store();
    let a = caller(ADMIN);
    let scope = format!("subscriptions/{SUB}/resourcegroups/RG");
    let (st, ra) = s.put_role_assignment(Some(&a), &scope, N1, req(OWNER_ROLE, TARGET), t0()).unwrap();
    assert_eq!(st, 201);
    assert_eq!(ra.scope, rg_scope());
    assert_eq!(ra.id(), format!("{}/providers/Microsoft.Authorization/roleAssignments/{N1}", rg_scope()));
    // Same assignment, different casing everywhere: an identical re-PUT.
    let mut r = req(&OWNER_ROLE.to_uppercase(), &TARGET.to_uppercase());
    r.role_definition_id = format!("/providers/Microsoft.Authorization/roleDefinitions/{}", OWNER_ROLE.to_uppercase());
    let (st, _) = s
        .put_role_assignment(
            Some(&a),
            &rg_scope().to_uppercase().replace("SUBSCRIPTIONS", "subscriptions"),
            &N1.to_uppercase(),
            r,
            t0(),
        )
        .unwrap();
    assert_eq!(st, 200);
    let got = s.get_role_assignment(&a, &format!("/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/rg"), N1).unwrap();
    assert_eq!(got.name, N1);
}

#[test]
fn canonical_scope_spelling() {
    let s = store();
    let canon = |raw: &str| s.canonical_scope(&Scope::parse(raw).unwrap(), raw);
    // Resource groups and known resources (seeded, derived subnets, identities) take the seeded spelling.
    assert_eq!(canon(&ACR.to_lowercase()), ACR);
    assert_eq!(canon(&SUBNET.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions")), SUBNET);
    let id1 = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    );
    assert_eq!(canon(&id1.to_lowercase()), id1);
    // Below the deepest known resource, the request's spelling stays.
    assert_eq!(
        canon(&format!("{}/federatedIdentityCredentials/FIC1", id1.to_lowercase())),
        format!("{id1}/federatedIdentityCredentials/FIC1")
    );
    // Subscriptions, management groups and the root echo the request.
    let upper_sub = format!("subscriptions/{}", SUB.to_uppercase());
    assert_eq!(canon(&upper_sub), format!("/{upper_sub}"));
    let mg = "/providers/microsoft.management/managementgroups/MG-ROOT";
    assert_eq!(canon(mg), mg);
    assert_eq!(canon("/"), "/");
}

#[test]
fn invalid_names_and_principal_ids() {
    let mut s = store();
    let a = caller(ADMIN);
    let e = s.put_role_assignment(Some(&a), ACR, "not-a-guid", req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "InvalidRoleAssignmentId"));
    assert_eq!(e.message, "The role assignment ID 'not-a-guid' is not valid. The role assignment ID must be a GUID.");
    let e = s.delete_role_assignment(Some(&a), ACR, "nope").unwrap_err();
    assert_eq!(e.code, "InvalidRoleAssignmentId");
    let e = s.get_role_assignment(&a, ACR, "nope").unwrap_err();
    assert_eq!(e.code, "InvalidRoleAssignmentId");
    let e = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, "abc"), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "InvalidPrincipalId"));
    assert_eq!(e.message, "The Principal ID 'abc' is not valid. Principal ID must be a GUID.");
}

#[test]
fn unknown_or_unassignable_role_definitions() {
    let mut s = store();
    let a = caller(ADMIN);
    let missing = "99999999-9999-9999-9999-999999999999";
    let e = s.put_role_assignment(Some(&a), ACR, N1, req(missing, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "RoleDefinitionDoesNotExist"));
    assert_eq!(e.message, format!("The specified role definition with ID '{missing}' does not exist."));
    // The custom role is assignable only within rg.
    let e = s
        .put_role_assignment(Some(&a), &format!("/subscriptions/{SUB2}"), N1, req(CUSTOM_ROLE, TARGET), t0())
        .unwrap_err();
    assert_eq!(e.code, "RoleDefinitionDoesNotExist");
    let (st, _) = s.put_role_assignment(Some(&a), ACR, N1, req(CUSTOM_ROLE, TARGET), t0()).unwrap();
    assert_eq!(st, 201);
}

#[test]
fn duplicate_triple_under_another_name_conflicts() {
    let mut s = store();
    let a = caller(ADMIN);
    s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    let e = s.put_role_assignment(Some(&a), ACR, N2, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (409, "RoleAssignmentExists", "The role assignment already exists.")
    );
    // Scope casing does not make it different.
    let e = s.put_role_assignment(Some(&a), &ACR.to_lowercase(), N2, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!(e.code, "RoleAssignmentExists");
}

#[test]
fn changing_principal_scope_or_role_under_a_name_is_not_permitted() {
    let mut s = store();
    let a = caller(ADMIN);
    s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    let msg = "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.";
    for (scope, r) in [
        (ACR.to_string(), user_req(ACR_PULL, TARGET2)),
        (rg_scope(), req(ACR_PULL, TARGET)),
        (ACR.to_string(), req(READER_ROLE, TARGET)),
    ] {
        let e = s.put_role_assignment(Some(&a), &scope, N1, r, t0()).unwrap_err();
        assert_eq!((e.status, e.code.as_str(), e.message.as_str()), (400, "RoleAssignmentUpdateNotPermitted", msg));
    }
}

#[test]
fn principal_not_found_and_replication_delay() {
    let mut s = store();
    let a = caller(ADMIN);
    let unknown = "77777777-7777-7777-7777-777777777777";
    let e = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, unknown), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "PrincipalNotFound"));
    assert!(e.message.starts_with(&format!("Principal {unknown} does not exist in the directory {TENANT}.")));
    assert!(e.message.ends_with("such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"));
    // A principal that replicates 60 s after start.
    let e = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, LATE), t0() + Duration::seconds(59)).unwrap_err();
    assert_eq!(e.code, "PrincipalNotFound");
    // With the setting, a principalType skips the lookup.
    s.state.settings.principal_type_skips_replication_check = true;
    let (st, _) = s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, LATE), t0()).unwrap();
    assert_eq!(st, 201);
    let mut r = req(ACR_PULL, unknown);
    r.principal_type = None;
    let e = s.put_role_assignment(Some(&a), ACR, N2, r, t0()).unwrap_err();
    assert_eq!(e.code, "PrincipalNotFound", "no principalType: lookup still happens");
    s.state.settings.principal_type_skips_replication_check = false;
    let (st, _) =
        s.put_role_assignment(Some(&a), &rg_scope(), N2, req(ACR_PULL, LATE), t0() + Duration::seconds(60)).unwrap();
    assert_eq!(st, 201);
}

#[test]
fn principal_type_must_match_the_directory() {
    let mut s = store();
    let mut r = req(ACR_PULL, TARGET2); // a User
    r.principal_type = Some("ServicePrincipal".into());
    let e = s.put_role_assignment(Some(&caller(ADMIN)), ACR, N1, r.clone(), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "UnmatchedPrincipalType"));
    assert!(e.message.contains("has type 'User'"), "{}", e.message);
    r.principal_type = Some("MSI".into());
    let e = s.put_role_assignment(Some(&caller(ADMIN)), ACR, N1, r, t0()).unwrap_err();
    assert_eq!(e.code, "InvalidPrincipalType");
}

#[test]
fn principal_type_is_checked_for_groups_and_on_every_put() {
    let mut s = store();
    let a = caller(ADMIN);
    let group = |t: Option<&str>| RaRequest { principal_type: t.map(String::from), ..req(ACR_PULL, GROUP) };
    let e = s.put_role_assignment(Some(&a), ACR, N1, group(Some("User")), t0()).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.message),
        (
            400,
            "UnmatchedPrincipalType",
            format!(
                "The PrincipalId '{GROUP}' has type 'Group' , which is different from specified PrinciaplType 'User'."
            )
        )
    );
    let (st, ra) = s.put_role_assignment(Some(&a), ACR, N1, group(Some("Group")), t0()).unwrap();
    assert_eq!((st, ra.principal_type.as_str()), (201, "Group"));
    // A re-PUT is checked too; one without a type keeps the stored one.
    let e = s.put_role_assignment(Some(&a), ACR, N1, group(Some("ServicePrincipal")), t0()).unwrap_err();
    assert_eq!(e.code, "UnmatchedPrincipalType");
    let (st, ra) = s.put_role_assignment(Some(&a), ACR, N1, group(None), t0()).unwrap();
    assert_eq!((st, ra.principal_type.as_str()), (200, "Group"));
    // A group can be assigned as ForeignGroup; values are stored in their canonical spelling.
    let (_, ra) = s.put_role_assignment(Some(&a), &rg_scope(), N2, group(Some("foreigngroup")), t0()).unwrap();
    assert_eq!(ra.principal_type, "ForeignGroup");
    let mut r = req(ACR_PULL, TARGET);
    r.principal_type = Some("serviceprincipal".into());
    let (_, ra) =
        s.put_role_assignment(Some(&a), &sub_scope(), "a0000000-0000-0000-0000-000000000003", r, t0()).unwrap();
    assert_eq!(ra.principal_type, "ServicePrincipal");
    // With the lookup skipped, an unknown principal keeps the sent type.
    s.state.settings.principal_type_skips_replication_check = true;
    let unknown = "77777777-7777-7777-7777-777777777777";
    let r = RaRequest { principal_type: Some("Group".into()), ..req(ACR_PULL, unknown) };
    let (_, ra) = s.put_role_assignment(Some(&a), ACR, "a0000000-0000-0000-0000-000000000004", r, t0()).unwrap();
    assert_eq!(ra.principal_type, "Group");
}

#[test]
fn seeded_assignments_follow_the_principal_type_rules() {
    let with_ra = |ra: serde_json::Value| {
        let mut v = serde_json::to_value(seed()).unwrap();
        v["role_assignments"] = json!([ra]);
        Store::from_seed(&serde_json::from_value(v).unwrap(), t0()).map(|s| s.state.role_assignments)
    };
    let base = json!({"scope": sub_scope(), "role_definition_name": "Reader", "principal_id": GROUP});
    assert_eq!(with_ra(base.clone()).unwrap()[0].principal_type, "Group", "inferred from the directory");
    let mut ra = base.clone();
    ra["principal_type"] = json!("User");
    let e = with_ra(ra).unwrap_err();
    assert!(e.contains("has type 'Group'"), "{e}");
    let mut ra = base;
    ra["principal_type"] = json!("MSI");
    assert!(with_ra(ra).unwrap_err().contains("'MSI' is not valid"));
}

#[test]
fn principal_type_defaults_from_directory() {
    let mut s = store();
    let mut r = req(ACR_PULL, TARGET2);
    r.principal_type = None;
    let (_, ra) = s.put_role_assignment(Some(&caller(ADMIN)), ACR, N1, r, t0()).unwrap();
    assert_eq!(ra.principal_type, "User");
}

#[test]
fn authorization_rules() {
    let mut s = store();
    // Contributor: `*` minus Microsoft.Authorization/*/Write.
    let e = s.put_role_assignment(Some(&caller(CONTRIB)), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (403, "AuthorizationFailed"));
    assert_eq!(
        e.message,
        format!("The client 'app' with object id '{CONTRIB}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '{ACR}/providers/Microsoft.Authorization/roleAssignments/{N1}' or the scope is invalid. If access was recently granted, please refresh your credentials.")
    );
    // Reader: no write, but read works.
    assert_eq!(
        s.put_role_assignment(Some(&caller(READER)), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap_err().status,
        403
    );
    assert!(s.list_role_assignments(Some(&caller(READER)), ACR, &RaFilter::All).is_ok());
    // Nobody: not even read.
    let e = s.list_role_assignments(Some(&caller(NOBODY)), ACR, &RaFilter::All).unwrap_err();
    assert_eq!(e.status, 403);
    assert!(e.message.contains("Microsoft.Authorization/roleAssignments/read"));
    let e = s.get_role_assignment(&caller(NOBODY), ACR, N1).unwrap_err();
    assert_eq!(e.status, 403);
    // UAA at rg: below is fine, subscription is not.
    assert_eq!(s.put_role_assignment(Some(&caller(UAA)), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap().0, 201);
    assert_eq!(
        s.put_role_assignment(Some(&caller(UAA)), &sub_scope(), N2, req(ACR_PULL, TARGET), t0()).unwrap_err().status,
        403
    );
    // RBAC administrator on the registry only.
    assert_eq!(
        s.put_role_assignment(Some(&caller(RBAC_ADMIN)), ACR, N2, user_req(ACR_PULL, TARGET2), t0()).unwrap().0,
        201
    );
    assert_eq!(s.delete_role_assignment(Some(&caller(RBAC_ADMIN)), &rg_scope(), N2).unwrap_err().status, 403);
    // Owner at a management group covers its subscriptions but not the others.
    assert!(s.is_authorized(MG_OWNER, "Microsoft.Authorization/roleAssignments/write", &Scope::parse(ACR).unwrap()));
    assert!(!s.is_authorized(
        MG_OWNER,
        "Microsoft.Authorization/roleAssignments/write",
        &Scope::parse(&format!("/subscriptions/{SUB2}")).unwrap()
    ));
}

#[test]
fn action_wildcards() {
    assert!(action_matches("*", "Microsoft.Authorization/roleAssignments/write"));
    assert!(action_matches("*/read", "Microsoft.Authorization/roleAssignments/read"));
    assert!(!action_matches("*/read", "Microsoft.Authorization/roleAssignments/write"));
    assert!(action_matches("Microsoft.Authorization/*", "microsoft.authorization/roleassignments/write"));
    assert!(action_matches("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write"));
    assert!(!action_matches("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read"));
    assert!(action_matches("Microsoft.Network/*", "Microsoft.Network/virtualNetworks/subnets/join/action"));
    assert!(!action_matches("Microsoft.Network/*", "Microsoft.Compute/x"));
    assert!(action_matches("a*b*c", "aXXbYYc"));
    assert!(!action_matches("a*b*c", "aXXbYY"));
}

#[test]
fn scope_must_exist() {
    let mut s = store();
    let a = caller(ADMIN);
    let missing_sub = "/subscriptions/20000000-0000-0000-0000-000000000009";
    // The admin is not authorized on an unknown subscription: 403 comes first.
    assert_eq!(s.put_role_assignment(Some(&a), missing_sub, N1, req(ACR_PULL, TARGET), t0()).unwrap_err().status, 403);
    // Out-of-band writes skip authorization and reveal the 404.
    let e = s.put_role_assignment(None, missing_sub, N1, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (404, "SubscriptionNotFound"));
    let e = s
        .put_role_assignment(
            Some(&a),
            &format!("/subscriptions/{SUB}/resourceGroups/nope"),
            N1,
            req(ACR_PULL, TARGET),
            t0(),
        )
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (404, "ResourceGroupNotFound", "Resource group 'nope' could not be found.")
    );
    let e = s.put_role_assignment(Some(&a), &format!("{ACR}x"), N1, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (404, "ResourceNotFound"));
    assert_eq!(e.message, "The Resource 'Microsoft.ContainerRegistry/registries/acrx' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
    // Subnets declared inside a VNet are scopes of their own.
    assert_eq!(s.put_role_assignment(Some(&a), SUBNET, N1, req(ACR_PULL, TARGET), t0()).unwrap().0, 201);
    let e = s.put_role_assignment(Some(&a), "/foo/bar", N2, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "InvalidScope"));
}

#[test]
fn limit_per_subscription() {
    let mut s = store();
    let a = caller(ADMIN);
    let existing = s.state.role_assignments.iter().filter(|r| r.scope.contains(SUB) && !r.scope.contains(SUB2)).count();
    s.state.settings.role_assignment_limit = existing + 1;
    s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    let e = s.put_role_assignment(Some(&a), &rg_scope(), N2, req(ACR_PULL, TARGET), t0()).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "RoleAssignmentLimitExceeded"));
    assert_eq!(e.message, "No more role assignments can be created (code: RoleAssignmentLimitExceeded)");
    // Other subscriptions are unaffected.
    assert_eq!(
        s.put_role_assignment(Some(&a), &format!("/subscriptions/{SUB2}"), N2, req(READER_ROLE, TARGET), t0())
            .unwrap()
            .0,
        201
    );
}

#[test]
fn the_default_limit_is_4000_and_fast_enough() {
    assert_eq!(Settings::default().role_assignment_limit, 4000);
    let mut s = store();
    let existing = s.state.role_assignments.iter().filter(|r| r.scope.contains(SUB) && !r.scope.contains(SUB2)).count();
    let started = std::time::Instant::now();
    for i in 0..(4000 - existing) {
        let name = format!("c0000000-0000-4000-8000-{i:012}");
        let principal = format!("d0000000-0000-4000-8000-{i:012}");
        let (st, _) = s.put_role_assignment(None, &rg_scope(), &name, req(READER_ROLE, &principal), t0()).unwrap();
        assert_eq!(st, 201);
    }
    let e = s
        .put_role_assignment(None, ACR, N1, req(READER_ROLE, "e0000000-0000-4000-8000-000000000000"), t0())
        .unwrap_err();
    assert_eq!(e.code, "RoleAssignmentLimitExceeded");
    // Authorization and listing stay usable at this size.
    assert!(s.list_role_assignments(Some(&caller(ADMIN)), ACR, &RaFilter::AtScope).is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn get_and_delete() {
    let mut s = store();
    let a = caller(ADMIN);
    let e = s.get_role_assignment(&a, ACR, N1).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (404, "RoleAssignmentNotFound", format!("The role assignment '{N1}' is not found.").as_str())
    );
    s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    assert!(s.get_role_assignment(&a, ACR, N1).is_ok());
    // Found by name, but at another scope: not here.
    assert_eq!(s.get_role_assignment(&a, &rg_scope(), N1).unwrap_err().status, 404);
    assert!(s.delete_role_assignment(Some(&a), &rg_scope(), N1).unwrap().is_none());
    assert!(s.delete_role_assignment(Some(&a), ACR, N1).unwrap().is_some());
    assert!(s.delete_role_assignment(Some(&a), ACR, N1).unwrap().is_none());
}

#[test]
fn list_filters_follow_the_hierarchy() {
    let mut s = store();
    let a = caller(ADMIN);
    s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, TARGET), t0()).unwrap();
    s.put_role_assignment(Some(&a), &sub_scope(), N2, req(READER_ROLE, TARGET), t0()).unwrap();
    let names = |v: Vec<RoleAssignment>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
    // atScope() at the RG: at or above (subscription + MG), not the ACR below.
    let at_rg = names(s.list_role_assignments(Some(&a), &rg_scope(), &RaFilter::AtScope).unwrap());
    assert!(at_rg.contains(&N2.to_string()));
    assert!(!at_rg.contains(&N1.to_string()));
    let mg_owner_ra = s.state.role_assignments.iter().find(|r| r.principal_id == MG_OWNER).unwrap().name.clone();
    assert!(at_rg.contains(&mg_owner_ra), "management group assignments are above the subscription");
    // principalId at the RG: above (N2) and below (N1).
    let p = names(s.list_role_assignments(Some(&a), &rg_scope(), &RaFilter::Principal(TARGET.into())).unwrap());
    assert_eq!(p.len(), 2);
    // No filter: everything at, above and below, but nothing from the other subscription.
    let all = s.list_role_assignments(Some(&a), &rg_scope(), &RaFilter::All).unwrap();
    assert!(all.iter().any(|r| r.name == N1));
    assert!(!all.iter().any(|r| r.scope.contains(SUB2)));
    // At the ACR with atScope: includes N1 itself.
    let at_acr = names(s.list_role_assignments(Some(&a), ACR, &RaFilter::AtScope).unwrap());
    assert!(at_acr.contains(&N1.to_string()) && at_acr.contains(&N2.to_string()));
    let both = names(s.list_role_assignments(Some(&a), ACR, &RaFilter::AtScopeForPrincipal(TARGET.into())).unwrap());
    assert_eq!(both.len(), 2);
}

#[test]
fn filter_parsing() {
    assert_eq!(parse_ra_filter(None).unwrap(), RaFilter::All);
    assert_eq!(parse_ra_filter(Some("atScope()")).unwrap(), RaFilter::AtScope);
    assert_eq!(parse_ra_filter(Some("principalId eq 'ABC'")).unwrap(), RaFilter::Principal("abc".into()));
    assert_eq!(
        parse_ra_filter(Some("atScope() and assignedTo('x')")).unwrap(),
        RaFilter::AtScopeForPrincipal("x".into())
    );
    assert_eq!(parse_ra_filter(Some("roleName eq 'x'")).unwrap_err().code, "UnsupportedQuery");
    let f = parse_rd_filter(Some("roleName eq 'Storage Blob Data Reader' and type eq 'BuiltInRole'")).unwrap();
    assert_eq!(f.role_name.as_deref(), Some("Storage Blob Data Reader"));
    assert_eq!(f.role_type.as_deref(), Some("BuiltInRole"));
    assert!(parse_rd_filter(Some("principalId eq 'x'")).is_err());
}

#[test]
fn role_definitions() {
    let s = store();
    let a = caller(ADMIN);
    let (rd, sc) = s.get_role_definition(&a, &sub_scope(), OWNER_ROLE).unwrap();
    assert_eq!(rd.role_name, "Owner");
    assert_eq!(sc.subscription(), Some(SUB));
    let e = s.get_role_definition(&a, &sub_scope(), "99999999-9999-9999-9999-999999999999").unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (404, "RoleDefinitionDoesNotExist"));
    // Tenant-level GET by id needs no scope permission.
    assert!(s.get_role_definition(&caller(NOBODY), "/", OWNER_ROLE).is_ok());
    let (list, _) =
        s.list_role_definitions(&a, &sub_scope(), &parse_rd_filter(Some("roleName eq 'acrpull'")).unwrap()).unwrap();
    assert_eq!(list.len(), 1);
    let (custom, _) =
        s.list_role_definitions(&a, &rg_scope(), &parse_rd_filter(Some("type eq 'CustomRole'")).unwrap()).unwrap();
    assert_eq!(custom.len(), 1);
    let (custom, _) = s
        .list_role_definitions(
            &a,
            &format!("/subscriptions/{SUB2}"),
            &parse_rd_filter(Some("type eq 'CustomRole'")).unwrap(),
        )
        .unwrap();
    assert!(custom.is_empty(), "the custom role is not visible in the other subscription");
}

pub(crate) fn uami(name: &str) -> IdentityRef {
    IdentityRef { sub: SUB.into(), rg: "rg".into(), name: name.into() }
}

#[test]
fn identity_lifecycle_and_replication() {
    let mut s = store();
    s.state.settings.principal_replication_delay_secs = 30;
    let a = caller(ADMIN);
    let e = s.put_identity(&a, &uami("id-new"), None, None, t0()).unwrap_err();
    assert_eq!(e.code, "LocationRequired");
    let (st, i) = s.put_identity(&a, &uami("id-new"), Some("westeurope".into()), None, t0()).unwrap();
    assert_eq!(st, 201);
    assert_eq!(i.tenant_id, TENANT);
    assert!(crate::util::is_guid(&i.principal_id) && crate::util::is_guid(&i.client_id));
    // Not replicated yet.
    let e = s
        .put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, &i.principal_id), t0() + Duration::seconds(10))
        .unwrap_err();
    assert_eq!(e.code, "PrincipalNotFound");
    assert_eq!(
        s.put_role_assignment(Some(&a), ACR, N1, req(ACR_PULL, &i.principal_id), t0() + Duration::seconds(30))
            .unwrap()
            .0,
        201
    );
    let mut tags = serde_json::Map::new();
    tags.insert("k".into(), json!("v"));
    let (st, i2) = s.put_identity(&a, &uami("ID-NEW"), Some("West Europe".into()), Some(tags), t0()).unwrap();
    assert_eq!(st, 200);
    assert_eq!(i2.principal_id, i.principal_id);
    let e = s.put_identity(&a, &uami("id-new"), Some("eastus".into()), None, t0()).unwrap_err();
    assert_eq!(e.code, "InvalidResourceLocation");
    let e = s
        .put_identity(&a, &IdentityRef { rg: "nope".into(), ..uami("x1x") }, Some("westeurope".into()), None, t0())
        .unwrap_err();
    assert_eq!(e.code, "ResourceGroupNotFound");
    assert_eq!(s.put_identity(&a, &uami("x"), Some("w".into()), None, t0()).unwrap_err().code, "InvalidResourceName");
    assert_eq!(s.list_identities(&a, SUB, Some("rg")).unwrap().len(), 2);
    assert!(s.delete_identity(&a, &uami("id-new")).unwrap().is_some());
    assert!(s.principal(&i.principal_id).is_none(), "the principal leaves the directory");
    assert!(s.delete_identity(&a, &uami("id-new")).unwrap().is_none());
    assert_eq!(s.get_identity(&a, &uami("id-new")).unwrap_err().code, "ResourceNotFound");
    // Readers cannot create identities.
    assert_eq!(s.put_identity(&caller(READER), &uami("id-r"), Some("w".into()), None, t0()).unwrap_err().status, 403);
}

pub(crate) fn fic(issuer: &str, subject: &str) -> FicRequest {
    FicRequest {
        issuer: Some(issuer.into()),
        subject: Some(subject.into()),
        audiences: Some(vec!["api://AzureADTokenExchange".into()]),
    }
}

#[test]
fn federated_identity_credential_rules() {
    let mut s = store();
    let r = uami("id1");
    assert_eq!(
        s.put_fic(&r, "ab", fic("https://i", "s")).unwrap_err().message,
        "Federated Identity Credential name 'ab' is invalid."
    );
    assert!(s.put_fic(&r, "-abc", fic("https://i", "s")).is_err());
    let e = s.put_fic(&r, "fic2", FicRequest::default()).unwrap_err();
    assert_eq!(e.message, "Federated Identity Credential from HTTP body has empty properties");
    let mut two = fic("https://i", "s");
    two.audiences = Some(vec!["a".into(), "b".into()]);
    assert_eq!(
        s.put_fic(&r, "fic2", two).unwrap_err().message,
        "Federated identity credentials must have exactly one audience."
    );
    let e = s.put_fic(&r, "fic2", fic("https://issuer.example/", "system:serviceaccount:ns:sa")).unwrap_err();
    assert_eq!(e.message, "Issuer and subject combination already exists for this Managed Identity.");
    assert_eq!(s.put_fic(&r, "fic2", fic("https://i", "s2")).unwrap().0, 201);
    assert_eq!(s.put_fic(&r, "FIC2", fic("https://i", "s3")).unwrap().0, 200);
    let e = s.put_fic(&uami("missing"), "fic2", fic("https://i", "s")).unwrap_err();
    assert_eq!((e.status, e.message.as_str()), (404, "The parent user-assigned identity doesn't exist."));
    for n in 3..=20 {
        assert_eq!(s.put_fic(&r, &format!("fic{n}"), fic("https://i", &format!("s{n}x"))).unwrap().0, 201);
    }
    let e = s.put_fic(&r, "fic21", fic("https://i", "s21x")).unwrap_err();
    assert_eq!(e.status, 400, "at most 20 per identity");
    assert!(s.delete_fic(&r, "fic2").unwrap().is_some());
    assert!(s.delete_fic(&r, "fic2").unwrap().is_none());
    assert_eq!(s.get_fic(&caller(ADMIN), &r, "fic2").unwrap_err().status, 404);
    assert_eq!(s.list_fics(&caller(ADMIN), &r).unwrap().fics.len(), 19);
}

#[test]
fn scope_chain_includes_management_groups() {
    let s = store();
    let chain: Vec<String> = s.scope_chain(&Scope::parse(SUBNET).unwrap()).iter().map(Scope::key).collect();
    assert_eq!(chain.len(), 6, "{chain:?}");
    assert!(chain[4].ends_with("managementgroups/mg-root"));
    assert_eq!(chain[5], "/");
    let other: Vec<String> =
        s.scope_chain(&Scope::parse(&format!("/subscriptions/{SUB2}")).unwrap()).iter().map(Scope::key).collect();
    assert_eq!(other.len(), 2);
}

#[test]
fn seed_validation_errors() {
    let bad = |v: serde_json::Value| {
        let seed: Seed = serde_json::from_value(v).unwrap();
        Store::from_seed(&seed, t0()).unwrap_err()
    };
    assert!(bad(json!({})).contains("tenant"));
    assert!(bad(json!({"tenants": [{"id": "t"}], "subscriptions": [{"id": "s", "tenant": "x"}]}))
        .contains("unknown tenant"));
    assert!(bad(json!({"tenants": [{"id": "t"}], "subscriptions": [{"id": "s"}],
        "resources": [{"id": "/subscriptions/s/resourceGroups/rg/providers/A.B/c/d"}]}))
    .contains("unknown resource group"));
    assert!(bad(json!({"tenants": [{"id": "t"}], "subscriptions": [{"id": "s"}],
        "role_assignments": [{"scope": "/subscriptions/s", "role_definition_name": "Nope", "principal_id": TARGET}]}))
    .contains("unknown role"));
    assert!(bad(json!({"tenants": [{"id": "t"}], "custom_roles": [{"id": OWNER_ROLE, "role_name": "x"}]}))
        .contains("already used"));
}

#[test]
fn cluster_seed_creates_node_rg_and_identities() {
    let mut seed = seed();
    let c: crate::seed::SeedCluster = serde_json::from_value(json!({
        "id": format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"),
        "location": "westeurope",
        "identity": {"type": "UserAssigned", "resource_id": "/subscriptions/20000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"},
        "kubelet_identity": {},
        "oidc_issuer_enabled": true
    }))
    .unwrap();
    seed.managed_clusters.push(c);
    let s = Store::from_seed(&seed, t0()).unwrap();
    let cl = &s.state.clusters[0];
    assert_eq!(cl.node_resource_group, "MC_rg_aks_westeurope");
    assert!(s.resource_group(SUB, "mc_rg_aks_westeurope").is_some());
    let id1 = s.identity("/subscriptions/20000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1").unwrap();
    assert_eq!(cl.identity.as_ref().unwrap().principal_id, id1.principal_id);
    let k = cl.kubelet.as_ref().unwrap();
    assert!(s.principal(&k.object_id).is_some());
    assert!(s.identity(&k.resource_id).is_some());
    assert!(cl.oidc_issuer_url.as_ref().unwrap().starts_with("https://westeurope.oic.prod-aks.azure.com/"));
    // Deterministic ids: the same seed gives the same kubelet identity.
    let again = Store::from_seed(&seed, t0()).unwrap();
    assert_eq!(again.state.clusters[0].kubelet.as_ref().unwrap().object_id, k.object_id);
}
