//! Turning a [`Seed`] into a validated [`State`].

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::rbac::{canonical_principal_type, check_principal_type};
use super::*;
use crate::ids::{self, Scope};
use crate::seed::*;
use crate::util::is_guid;

/// One Kubernetes store per cluster with a token. The token and the store key (the
/// API path) must each pick a single cluster.
fn add_kubernetes_stores(st: &mut State, now: OffsetDateTime) -> Result<(), String> {
    for c in st.clusters.iter().filter(|c| c.kubernetes_token.is_some()) {
        let key = c.kube_key();
        if st.k8s.contains_key(&key) {
            return Err(format!("cluster {}: another cluster has the Kubernetes API path /k8s/{key}", c.id));
        }
        let same_token =
            st.clusters.iter().filter(|o| o.kubernetes_token.is_some() && o.kubernetes_token == c.kubernetes_token);
        if same_token.count() > 1 {
            return Err(format!("cluster {}: its kubernetes_token is also another cluster's", c.id));
        }
        st.k8s.insert(key, K8sState::new(now));
    }
    Ok(())
}

pub(super) fn build_state(seed: &Seed, now: OffsetDateTime, token_key: String) -> Result<State, String> {
    let mut st = empty_state(seed, token_key);
    // Each kind only refers to kinds added before it.
    add_tenants(&mut st, seed)?;
    add_subscriptions(&mut st, seed)?;
    add_management_groups(&mut st, seed)?;
    add_resource_groups(&mut st, seed)?;
    for r in &seed.resources {
        add_resource(&mut st, r)?;
    }
    add_user_assigned_identities(&mut st, seed, now)?;
    add_service_principals(&mut st, seed, now)?;
    super::pipelines_load::add_pipelines_and_certificates(&mut st, seed)?;
    add_directory_principals(&mut st, seed, now)?;
    for c in &seed.managed_clusters {
        add_cluster(&mut st, c, now)?;
    }
    add_kubernetes_stores(&mut st, now)?;
    add_custom_roles(&mut st, seed)?;
    check_default_managed_identity(&st)?;
    st.settings.arm_throttling.validate().map_err(|e| format!("settings.{e}"))?;

    // Role assignments last: they reference everything above, through the store's lookups.
    let mut store = Store { state: st, seed: Seed::default() };
    for ra in &seed.role_assignments {
        let record = seed_role_assignment(&store, ra, now)?;
        store.state.role_assignments.push(record);
    }
    Ok(store.state)
}

fn empty_state(seed: &Seed, token_key: String) -> State {
    State {
        format: STATE_FORMAT,
        token_key,
        tenants: Vec::new(),
        management_groups: Vec::new(),
        subscriptions: Vec::new(),
        resource_groups: Vec::new(),
        resources: Vec::new(),
        clusters: Vec::new(),
        identities: Vec::new(),
        principals: Vec::new(),
        custom_roles: Vec::new(),
        role_assignments: Vec::new(),
        settings: seed.settings.clone(),
        k8s: BTreeMap::new(),
        pipelines: Vec::new(),
        app_certificates: BTreeMap::new(),
    }
}

fn add_tenants(st: &mut State, seed: &Seed) -> Result<(), String> {
    if seed.tenants.is_empty() {
        return Err("the seed must declare at least one tenant".into());
    }
    for t in &seed.tenants {
        if st.tenants.iter().any(|x| x.id.eq_ignore_ascii_case(&t.id)) {
            return Err(format!("duplicate tenant {}", t.id));
        }
        st.tenants
            .push(Tenant { id: t.id.clone(), display_name: t.display_name.clone().unwrap_or_else(|| t.id.clone()) });
    }
    Ok(())
}

/// The declared tenant `t` (in its declared spelling), or the first tenant when unset.
fn tenant_of(st: &State, t: &Option<String>, what: &str) -> Result<String, String> {
    match t {
        None => st.tenants.first().map(|x| x.id.clone()).ok_or_else(|| format!("{what}: no tenant declared")),
        Some(t) => st
            .tenants
            .iter()
            .find(|x| x.id.eq_ignore_ascii_case(t))
            .map(|x| x.id.clone())
            .ok_or_else(|| format!("{what}: unknown tenant {t}")),
    }
}

fn add_subscriptions(st: &mut State, seed: &Seed) -> Result<(), String> {
    for s in &seed.subscriptions {
        if st.subscriptions.iter().any(|x| x.id.eq_ignore_ascii_case(&s.id)) {
            return Err(format!("duplicate subscription {}", s.id));
        }
        let tenant_id = tenant_of(st, &s.tenant, &format!("subscription {}", s.id))?;
        st.subscriptions.push(Subscription {
            id: s.id.clone(),
            display_name: s.display_name.clone().unwrap_or_else(|| s.id.clone()),
            tenant_id,
        });
    }
    Ok(())
}

/// Management groups, whose subscriptions must be declared; parents are checked once all
/// groups are in, so they may be listed in any order.
fn add_management_groups(st: &mut State, seed: &Seed) -> Result<(), String> {
    for m in &seed.management_groups {
        if st.management_groups.iter().any(|x| x.name.eq_ignore_ascii_case(&m.name)) {
            return Err(format!("duplicate management group {}", m.name));
        }
        for s in &m.subscriptions {
            if !st.subscriptions.iter().any(|x| x.id.eq_ignore_ascii_case(s)) {
                return Err(format!("management group {}: unknown subscription {s}", m.name));
            }
        }
        let tenant_id = tenant_of(st, &m.tenant, &format!("management group {}", m.name))?;
        st.management_groups.push(ManagementGroup {
            name: m.name.clone(),
            display_name: m.display_name.clone().unwrap_or_else(|| m.name.clone()),
            tenant_id,
            parent: m.parent.clone(),
            subscriptions: m.subscriptions.clone(),
        });
    }
    for m in &st.management_groups {
        if let Some(p) = &m.parent {
            if !st.management_groups.iter().any(|x| x.name.eq_ignore_ascii_case(p)) {
                return Err(format!("management group {}: unknown parent {p}", m.name));
            }
        }
    }
    Ok(())
}

fn add_resource_groups(st: &mut State, seed: &Seed) -> Result<(), String> {
    for g in &seed.resource_groups {
        let sub = find_sub(st, &g.subscription, &format!("resource group {}", g.name))?;
        if st
            .resource_groups
            .iter()
            .any(|x| x.subscription.eq_ignore_ascii_case(&sub) && x.name.eq_ignore_ascii_case(&g.name))
        {
            return Err(format!("duplicate resource group {}/{}", g.subscription, g.name));
        }
        st.resource_groups.push(ResourceGroup {
            subscription: sub,
            name: g.name.clone(),
            location: g.location.clone().unwrap_or_else(|| "westeurope".into()),
            tags: g.tags.clone(),
            managed_by: None,
        });
    }
    Ok(())
}

fn add_user_assigned_identities(st: &mut State, seed: &Seed, now: OffsetDateTime) -> Result<(), String> {
    for i in &seed.user_assigned_identities {
        let scope = Scope::parse(&i.id).map_err(|_| format!("identity {}: not a resource id", i.id))?;
        check_type(&scope, "Microsoft.ManagedIdentity/userAssignedIdentities", &i.id)?;
        for f in &i.federated_credentials {
            validate_seed_fic(f).map_err(|e| format!("identity {}: {e}", i.id))?;
        }
        let fics = i
            .federated_credentials
            .iter()
            .map(|f| Fic {
                name: f.name.clone(),
                issuer: f.issuer.clone(),
                subject: f.subject.clone(),
                audiences: f.audiences.clone(),
            })
            .collect();
        add_identity(
            st,
            &scope,
            &i.location,
            i.tags.clone(),
            i.principal_id.clone(),
            i.client_id.clone(),
            fics,
            crate::util::add_secs(now, i.available_after_secs),
        )?;
    }
    Ok(())
}

fn add_service_principals(st: &mut State, seed: &Seed, now: OffsetDateTime) -> Result<(), String> {
    for sp in &seed.service_principals {
        for (what, v) in [("object_id", &sp.object_id), ("client_id", &sp.client_id)] {
            if !is_guid(v) {
                return Err(format!("service principal {}: {what} '{v}' is not a GUID", sp.display_name));
            }
        }
        let tenant_id = tenant_of(st, &sp.tenant, &format!("service principal {}", sp.display_name))?;
        add_principal(
            st,
            Principal {
                object_id: sp.object_id.to_ascii_lowercase(),
                kind: PrincipalKind::ServicePrincipal,
                display_name: sp.display_name.clone(),
                tenant_id,
                app_id: Some(sp.client_id.to_ascii_lowercase()),
                secrets: sp.secrets.clone(),
                federated: sp
                    .federated
                    .iter()
                    .map(|f| FederatedSubject { issuer: f.issuer.clone(), subject: f.subject.clone() })
                    .collect(),
                identity_resource_id: None,
                available_at: crate::util::add_secs(now, sp.available_after_secs),
            },
        )?;
    }
    Ok(())
}

/// Directory objects that cannot sign in here (users, groups, …): role assignment targets only.
fn add_directory_principals(st: &mut State, seed: &Seed, now: OffsetDateTime) -> Result<(), String> {
    for p in &seed.principals {
        if !is_guid(&p.object_id) {
            return Err(format!("principal {}: object_id is not a GUID", p.object_id));
        }
        let kind = PrincipalKind::parse(&p.kind)
            .ok_or_else(|| format!("principal {}: unknown kind {}", p.object_id, p.kind))?;
        let tenant_id = tenant_of(st, &p.tenant, &format!("principal {}", p.object_id))?;
        add_principal(
            st,
            Principal {
                object_id: p.object_id.to_ascii_lowercase(),
                kind,
                display_name: p.display_name.clone().unwrap_or_else(|| p.object_id.clone()),
                tenant_id,
                app_id: None,
                secrets: Vec::new(),
                federated: Vec::new(),
                identity_resource_id: None,
                available_at: crate::util::add_secs(now, p.available_after_secs),
            },
        )?;
    }
    Ok(())
}

fn add_custom_roles(st: &mut State, seed: &Seed) -> Result<(), String> {
    for r in &seed.custom_roles {
        if !is_guid(&r.id) {
            return Err(format!("custom role {}: id '{}' is not a GUID", r.role_name, r.id));
        }
        if builtin_roles().iter().any(|b| b.id.eq_ignore_ascii_case(&r.id))
            || st.custom_roles.iter().any(|b| b.id.eq_ignore_ascii_case(&r.id))
        {
            return Err(format!("custom role {}: id {} is already used", r.role_name, r.id));
        }
        let mut scopes = Vec::new();
        for s in &r.assignable_scopes {
            Scope::parse(s).map_err(|_| format!("custom role {}: invalid assignable scope {s}", r.role_name))?;
            scopes.push(ids::with_leading_slash(s));
        }
        if scopes.is_empty() {
            scopes.push("/".into());
        }
        st.custom_roles.push(RoleDefinition {
            id: r.id.to_ascii_lowercase(),
            role_name: r.role_name.clone(),
            description: r.description.clone().unwrap_or_default(),
            role_type: "CustomRole".into(),
            actions: r.actions.clone(),
            not_actions: r.not_actions.clone(),
            data_actions: r.data_actions.clone(),
            not_data_actions: r.not_data_actions.clone(),
            assignable_scopes: scopes,
        });
    }
    Ok(())
}

fn check_default_managed_identity(st: &State) -> Result<(), String> {
    if let Some(mi) = &st.settings.default_managed_identity {
        if !st.principals.iter().any(|p| p.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(mi))) {
            return Err(format!("settings.default_managed_identity: no principal with client id {mi}"));
        }
    }
    Ok(())
}

/// The record of a seeded role assignment, checked as ARM would check a PUT of it.
fn seed_role_assignment(store: &Store, ra: &SeedRoleAssignment, now: OffsetDateTime) -> Result<RoleAssignment, String> {
    let scope = Scope::parse(&ra.scope).map_err(|e| format!("role assignment at {}: {}", ra.scope, e.message))?;
    store.check_scope_exists(&scope).map_err(|e| format!("role assignment at {}: {}", ra.scope, e.message))?;
    let guid = seed_role_guid(store, ra)?;
    if !is_guid(&ra.principal_id) {
        return Err(format!("role assignment at {}: principal_id is not a GUID", ra.scope));
    }
    let name = match &ra.name {
        Some(n) if is_guid(n) => n.to_ascii_lowercase(),
        Some(n) => return Err(format!("role assignment {n}: name is not a GUID")),
        None => derived_guid(&format!("{}|{}|{}", scope.key(), guid, ra.principal_id)),
    };
    if store.state.role_assignments.iter().any(|x| x.name == name) {
        return Err(format!("duplicate role assignment name {name}"));
    }
    let principal_type = seed_principal_type(store, ra, &name)?;
    Ok(RoleAssignment {
        name,
        scope: store.canonical_scope(&scope, &ra.scope),
        role_definition_guid: guid,
        principal_id: ra.principal_id.to_ascii_lowercase(),
        principal_type,
        description: ra.description.clone(),
        condition: None,
        condition_version: None,
        delegated_managed_identity_resource_id: None,
        created_on: now,
        updated_on: now,
        created_by: None,
        updated_by: None,
    })
}

/// The GUID of the role a seeded assignment names, by id or by name (exactly one of them).
fn seed_role_guid(store: &Store, ra: &SeedRoleAssignment) -> Result<String, String> {
    match (&ra.role_definition_id, &ra.role_definition_name) {
        (Some(id), None) => {
            let (_, g) = ids::parse_role_definition_id(id)
                .ok_or_else(|| format!("role assignment at {}: bad role_definition_id {id}", ra.scope))?;
            store
                .role(&g)
                .map(|r| r.id.clone())
                .ok_or_else(|| format!("role assignment at {}: unknown role {id}", ra.scope))
        }
        (None, Some(name)) => store
            .state
            .custom_roles
            .iter()
            .chain(builtin_roles().iter())
            .find(|r| r.role_name.eq_ignore_ascii_case(name))
            .map(|r| r.id.clone())
            .ok_or_else(|| format!("role assignment at {}: unknown role name {name}", ra.scope)),
        _ => Err(format!(
            "role assignment at {}: set exactly one of role_definition_id and role_definition_name",
            ra.scope
        )),
    }
}

/// The same principalType rules as a PUT, so a seed cannot hold what ARM would refuse.
fn seed_principal_type(store: &Store, ra: &SeedRoleAssignment, name: &str) -> Result<String, String> {
    let directory_type = store.principal(&ra.principal_id).map(|p| p.kind.principal_type());
    let principal_type = match (&ra.principal_type, directory_type) {
        (Some(t), actual) => {
            let t = canonical_principal_type(t).map_err(|e| format!("role assignment {name}: {}", e.message))?;
            if let Some(actual) = actual {
                check_principal_type(&ra.principal_id, actual, t)
                    .map_err(|e| format!("role assignment {name}: {}", e.message))?;
            }
            t
        }
        (None, Some(actual)) => actual,
        (None, None) => "User",
    };
    Ok(principal_type.to_string())
}

fn find_sub(st: &State, sub: &str, what: &str) -> Result<String, String> {
    st.subscriptions
        .iter()
        .find(|x| x.id.eq_ignore_ascii_case(sub))
        .map(|x| x.id.clone())
        .ok_or_else(|| format!("{what}: unknown subscription {sub}"))
}

fn find_rg(st: &State, scope: &Scope, what: &str) -> Result<(String, String), String> {
    let (Some(sub), Some(rg)) = (scope.subscription(), scope.resource_group()) else {
        return Err(format!("{what}: not a resource id"));
    };
    let sub = find_sub(st, sub, what)?;
    let g = st
        .resource_groups
        .iter()
        .find(|g| g.subscription.eq_ignore_ascii_case(&sub) && g.name.eq_ignore_ascii_case(rg))
        .ok_or_else(|| format!("{what}: unknown resource group {rg} (declare it in resource_groups)"))?;
    Ok((sub, g.name.clone()))
}

fn check_type(scope: &Scope, expected: &str, id: &str) -> Result<(), String> {
    match scope.resource_type() {
        Some(t) if t.eq_ignore_ascii_case(expected) => Ok(()),
        _ => Err(format!("{id}: expected a {expected} id")),
    }
}

fn add_resource(st: &mut State, r: &SeedResource) -> Result<(), String> {
    let scope = Scope::parse(&r.id).map_err(|_| format!("resource {}: not a resource id", r.id))?;
    if !matches!(scope, Scope::Resource { .. }) {
        return Err(format!("resource {}: not a resource id", r.id));
    }
    find_rg(st, &scope, &format!("resource {}", r.id))?;
    let k = scope.key();
    if st.resources.iter().any(|x| ids::key(&x.id) == k) {
        return Err(format!("duplicate resource {}", r.id));
    }
    let derived_type = scope.resource_type().unwrap_or_default();
    let resource_type = r.resource_type.clone().unwrap_or(derived_type);
    let name = scope.resource_name().unwrap_or_default().to_string();
    let id = ids::with_leading_slash(&r.id);
    // Subnets listed inside a virtual network become resources of their own, so
    // they can be role assignment scopes and GET targets.
    let mut children = Vec::new();
    if resource_type.eq_ignore_ascii_case("Microsoft.Network/virtualNetworks") {
        if let Some(Value::Array(subnets)) = r.properties.get("subnets") {
            for s in subnets {
                if let Some(n) = s.get("name").and_then(Value::as_str) {
                    let props = s.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                    children.push(Resource {
                        id: format!("{id}/subnets/{n}"),
                        resource_type: "Microsoft.Network/virtualNetworks/subnets".into(),
                        name: n.to_string(),
                        location: None,
                        kind: None,
                        sku: None,
                        tags: Map::new(),
                        properties: props,
                    });
                }
            }
        }
    }
    let mut properties = r.properties.clone();
    if !children.is_empty() {
        // Return the subnets with their ids, as ARM does.
        properties.insert(
            "subnets".into(),
            Value::Array(
                children
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "id": c.id,
                            "name": c.name,
                            "type": c.resource_type,
                            "properties": c.properties,
                        })
                    })
                    .collect(),
            ),
        );
    }
    st.resources.push(Resource {
        id,
        resource_type,
        name,
        location: r.location.clone(),
        kind: r.kind.clone(),
        sku: r.sku.clone(),
        tags: r.tags.clone(),
        properties,
    });
    for c in children {
        let ck = ids::key(&c.id);
        if !st.resources.iter().any(|x| ids::key(&x.id) == ck) {
            st.resources.push(c);
        }
    }
    Ok(())
}

fn validate_seed_fic(f: &SeedFic) -> Result<(), String> {
    identities::validate_fic_name(&f.name).map_err(|e| e.message)?;
    if f.audiences.len() != 1 {
        return Err(format!("federated credential {}: exactly one audience is required", f.name));
    }
    Ok(())
}

fn add_principal(st: &mut State, p: Principal) -> Result<(), String> {
    if st.principals.iter().any(|x| x.object_id.eq_ignore_ascii_case(&p.object_id)) {
        return Err(format!("duplicate principal object id {}", p.object_id));
    }
    if let Some(app) = &p.app_id {
        if st.principals.iter().any(|x| x.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(app))) {
            return Err(format!("duplicate client id {app}"));
        }
    }
    st.principals.push(p);
    Ok(())
}

/// Add a UAMI and its principal. Returns (principal id, client id).
#[allow(clippy::too_many_arguments)]
fn add_identity(
    st: &mut State,
    scope: &Scope,
    location: &str,
    tags: Map<String, Value>,
    principal_id: Option<String>,
    client_id: Option<String>,
    fics: Vec<Fic>,
    available_at: OffsetDateTime,
) -> Result<(String, String), String> {
    let id_text = scope.display();
    let (sub, rg) = find_rg(st, scope, &format!("identity {id_text}"))?;
    let name = scope.resource_name().unwrap_or_default().to_string();
    let k = scope.key();
    if st.identities.iter().any(|i| ids::key(&i.id()) == k) {
        return Err(format!("duplicate identity {id_text}"));
    }
    let principal_id = principal_id.unwrap_or_else(|| derived_guid(&format!("{k}|principal")));
    let client_id = client_id.unwrap_or_else(|| derived_guid(&format!("{k}|client")));
    for (what, v) in [("principal_id", &principal_id), ("client_id", &client_id)] {
        if !is_guid(v) {
            return Err(format!("identity {id_text}: {what} '{v}' is not a GUID"));
        }
    }
    let tenant_id = st
        .subscriptions
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&sub))
        .map(|s| s.tenant_id.clone())
        .unwrap_or_default();
    let ident = Identity {
        subscription: sub,
        resource_group: rg,
        name: name.clone(),
        location: location.to_string(),
        tags,
        principal_id: principal_id.to_ascii_lowercase(),
        client_id: client_id.to_ascii_lowercase(),
        tenant_id: tenant_id.clone(),
        fics,
    };
    add_principal(
        st,
        Principal {
            object_id: ident.principal_id.clone(),
            kind: PrincipalKind::ManagedIdentity,
            display_name: name,
            tenant_id,
            app_id: Some(ident.client_id.clone()),
            secrets: Vec::new(),
            federated: Vec::new(),
            identity_resource_id: Some(ident.id()),
            available_at,
        },
    )?;
    let out = (ident.principal_id.clone(), ident.client_id.clone());
    st.identities.push(ident);
    Ok(out)
}

/// Find or create the UAMI behind a cluster/kubelet identity; returns (principal id, client id).
fn ensure_identity(
    st: &mut State,
    resource_id: &str,
    location: &str,
    principal_id: Option<String>,
    client_id: Option<String>,
    now: OffsetDateTime,
    what: &str,
) -> Result<(String, String), String> {
    let scope = Scope::parse(resource_id).map_err(|_| format!("{what}: bad resource id {resource_id}"))?;
    check_type(&scope, "Microsoft.ManagedIdentity/userAssignedIdentities", resource_id)?;
    let k = scope.key();
    if let Some(existing) = st.identities.iter().find(|i| ids::key(&i.id()) == k) {
        for (given, have, field) in [
            (&principal_id, &existing.principal_id, "principal/object id"),
            (&client_id, &existing.client_id, "client id"),
        ] {
            if let Some(g) = given {
                if !g.eq_ignore_ascii_case(have) {
                    return Err(format!("{what}: {field} {g} differs from identity {resource_id} ({have})"));
                }
            }
        }
        return Ok((existing.principal_id.clone(), existing.client_id.clone()));
    }
    add_identity(st, &scope, location, Map::new(), principal_id, client_id, Vec::new(), now)
}

fn add_cluster(st: &mut State, c: &SeedCluster, now: OffsetDateTime) -> Result<(), String> {
    let scope = Scope::parse(&c.id).map_err(|_| format!("cluster {}: not a resource id", c.id))?;
    check_type(&scope, "Microsoft.ContainerService/managedClusters", &c.id)?;
    let what = format!("cluster {}", c.id);
    let (sub, rg) = find_rg(st, &scope, &what)?;
    let name = scope.resource_name().unwrap_or_default().to_string();
    let key = scope.key();
    if st.clusters.iter().any(|x| ids::key(&x.id) == key) {
        return Err(format!("duplicate cluster {}", c.id));
    }
    let tenant_id = st
        .subscriptions
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&sub))
        .map(|s| s.tenant_id.clone())
        .unwrap_or_default();
    let cluster_id =
        format!("/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}");
    let node_rg = c.node_resource_group.clone().unwrap_or_else(|| format!("MC_{rg}_{name}_{}", c.location));
    claim_node_resource_group(st, &sub, &node_rg, &c.location, &cluster_id);

    let new = NewCluster { seed: c, what, key, name, tenant_id, now };
    let identity = new.identity(st)?;
    let kubelet = new.kubelet_identity(st, &sub, &node_rg)?;
    let oidc_url = new.oidc_issuer_url()?;
    let pools = new.agent_pools()?;
    let NewCluster { name, .. } = new;
    st.clusters.push(Cluster {
        id: cluster_id,
        subscription: sub,
        resource_group: rg,
        name: name.clone(),
        location: c.location.clone(),
        tags: c.tags.clone(),
        kubernetes_version: c.kubernetes_version.clone().unwrap_or_else(|| "1.31.2".into()),
        dns_prefix: c.dns_prefix.clone().unwrap_or_else(|| name.clone()),
        identity,
        kubelet,
        node_resource_group: node_rg,
        oidc_issuer_enabled: c.oidc_issuer_enabled,
        oidc_issuer_url: oidc_url,
        workload_identity_enabled: c.workload_identity_enabled,
        private_dns_zone: c.private_dns_zone.clone(),
        agent_pools: pools,
        kubernetes_token: c.kubernetes_token.clone(),
        aad_pod_identity_crds: c.aad_pod_identity_crds.unwrap_or(true),
        properties: c.properties.clone(),
    });
    Ok(())
}

/// The cluster's node resource group, created if the seed does not declare it, and marked
/// as managed by the cluster unless something already manages it.
fn claim_node_resource_group(st: &mut State, sub: &str, node_rg: &str, location: &str, cluster_id: &str) {
    match st
        .resource_groups
        .iter_mut()
        .find(|g| g.subscription.eq_ignore_ascii_case(sub) && g.name.eq_ignore_ascii_case(node_rg))
    {
        Some(g) => {
            if g.managed_by.is_none() {
                g.managed_by = Some(cluster_id.to_string());
            }
        }
        None => st.resource_groups.push(ResourceGroup {
            subscription: sub.to_string(),
            name: node_rg.to_string(),
            location: location.to_string(),
            tags: Map::new(),
            managed_by: Some(cluster_id.to_string()),
        }),
    }
}

/// A seeded cluster being added: what its parts are checked against and derived from.
struct NewCluster<'a> {
    seed: &'a SeedCluster,
    /// `cluster {id}`, to prefix errors.
    what: String,
    /// The cluster id's key, from which generated ids are derived.
    key: String,
    name: String,
    tenant_id: String,
    now: OffsetDateTime,
}

impl NewCluster<'_> {
    /// The control-plane identity: a system-assigned principal, or a user-assigned identity
    /// (created when not seeded); `None` for a legacy service-principal cluster.
    fn identity(&self, st: &mut State) -> Result<Option<ClusterIdentity>, String> {
        let (c, what, k) = (self.seed, &self.what, &self.key);
        let Some(i) = &c.identity else {
            return Ok(None);
        };
        match i.identity_type.as_str() {
            "SystemAssigned" => {
                if i.resource_id.is_some() || i.client_id.is_some() {
                    return Err(format!("{what}: a SystemAssigned identity takes only principal_id"));
                }
                let pid = i.principal_id.clone().unwrap_or_else(|| derived_guid(&format!("{k}|identity")));
                if !is_guid(&pid) {
                    return Err(format!("{what}: identity.principal_id is not a GUID"));
                }
                add_principal(
                    st,
                    Principal {
                        object_id: pid.to_ascii_lowercase(),
                        kind: PrincipalKind::ManagedIdentity,
                        display_name: self.name.clone(),
                        tenant_id: self.tenant_id.clone(),
                        app_id: Some(derived_guid(&format!("{k}|identity-app"))),
                        secrets: Vec::new(),
                        federated: Vec::new(),
                        identity_resource_id: None,
                        available_at: self.now,
                    },
                )?;
                Ok(Some(ClusterIdentity {
                    identity_type: "SystemAssigned".into(),
                    principal_id: pid.to_ascii_lowercase(),
                    tenant_id: self.tenant_id.clone(),
                    resource_id: None,
                    client_id: None,
                }))
            }
            "UserAssigned" => {
                let rid = i
                    .resource_id
                    .clone()
                    .ok_or_else(|| format!("{what}: a UserAssigned identity needs resource_id"))?;
                let (pid, cid) = ensure_identity(
                    st,
                    &rid,
                    &c.location,
                    i.principal_id.clone(),
                    i.client_id.clone(),
                    self.now,
                    what,
                )?;
                Ok(Some(ClusterIdentity {
                    identity_type: "UserAssigned".into(),
                    principal_id: pid,
                    tenant_id: self.tenant_id.clone(),
                    resource_id: Some(ids::with_leading_slash(&rid)),
                    client_id: Some(cid),
                }))
            }
            other => Err(format!("{what}: identity type must be SystemAssigned or UserAssigned, not {other}")),
        }
    }

    /// The kubelet identity, by default `{name}-agentpool` in the node resource group (created
    /// when not seeded).
    fn kubelet_identity(&self, st: &mut State, sub: &str, node_rg: &str) -> Result<Option<KubeletIdentity>, String> {
        let Some(kb) = &self.seed.kubelet_identity else {
            return Ok(None);
        };
        let name = &self.name;
        let rid = kb.resource_id.clone().unwrap_or_else(|| {
            format!(
                "/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool"
            )
        });
        let (oid, cid) = ensure_identity(
            st,
            &rid,
            &self.seed.location,
            kb.object_id.clone(),
            kb.client_id.clone(),
            self.now,
            &format!("{} kubelet identity", self.what),
        )?;
        Ok(Some(KubeletIdentity { resource_id: rid, client_id: cid, object_id: oid }))
    }

    /// The issuer URL when the OIDC issuer is enabled (generated unless seeded).
    fn oidc_issuer_url(&self) -> Result<Option<String>, String> {
        let c = self.seed;
        if !c.oidc_issuer_enabled {
            if c.oidc_issuer_url.is_some() {
                return Err(format!("{}: oidc_issuer_url set but oidc_issuer_enabled is false", self.what));
            }
            return Ok(None);
        }
        Ok(Some(c.oidc_issuer_url.clone().unwrap_or_else(|| {
            format!(
                "https://{}.oic.prod-aks.azure.com/{}/{}/",
                c.location,
                self.tenant_id,
                derived_guid(&format!("{}|oidc", self.key))
            )
        })))
    }

    /// The agent pools with their defaults; the first one is the system pool unless set.
    fn agent_pools(&self) -> Result<Vec<AgentPool>, String> {
        let mut pools = Vec::new();
        for p in &self.seed.agent_pools {
            for sid in [&p.vnet_subnet_id, &p.pod_subnet_id].into_iter().flatten() {
                Scope::parse(sid).map_err(|_| format!("{}: agent pool {}: bad subnet id {sid}", self.what, p.name))?;
            }
            pools.push(AgentPool {
                name: p.name.clone(),
                mode: p.mode.clone().unwrap_or_else(|| if pools.is_empty() { "System".into() } else { "User".into() }),
                count: p.count.unwrap_or(3),
                vm_size: p.vm_size.clone().unwrap_or_else(|| "Standard_D4s_v5".into()),
                vnet_subnet_id: p.vnet_subnet_id.clone(),
                pod_subnet_id: p.pod_subnet_id.clone(),
                properties: p.properties.clone(),
            });
        }
        Ok(pools)
    }
}
