//! `aksid_cluster_identity_roles`: an AKS cluster's whole identity role matrix as one resource.
//! The planner decides which assignments the intent needs; this file maps Terraform values to
//! that intent and back, and drives `azure::reconcile` to make ARM match.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::assignments::{
    self as common, assignment_type, assignment_value, assignment_value_with_origin, same_id, same_id_lists, strings,
    ORIGIN_ADOPTED, ORIGIN_IMPORTED,
};
use super::ownership::{remove_unwanted, Markers, Unwanted};
use crate::azure::arm::ArmError;
use crate::azure::cluster;
use crate::azure::role_assignments::{self as ra, RoleAssignment};
use crate::clients::{Clients, ProviderState};
use crate::domain::{ownership, roles};
use crate::executor::{self, CreateOp, Created};
use crate::framework::{
    ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic, Diagnostics, ImportedResource,
    NestedBlock, Nesting, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, Type, Value,
};
use crate::planner::classify::classify;
use crate::planner::{
    self, equivalent, ActualAssignment, ClusterIntent, DesiredAssignment, ExtraAssignment, IdentityKind, Known,
    PodIdentityIntent,
};

const DEFAULT_PARALLEL_WRITES: usize = 4;
const ID_LISTS: [&str; 5] = ["subnet_ids", "route_table_ids", "private_dns_zone_ids", "acr_ids", "dns_zone_ids"];
const PRINCIPALS: [&str; 3] = ["control_plane_principal_id", "kubelet_principal_id", "node_resource_group_id"];
/// Version 1 moved the identities read from the cluster out of the inputs into `identities`.
const SCHEMA_VERSION: i64 = 1;
const CLUSTER_TYPE: (&str, &str) = (
    "Microsoft.ContainerService/managedClusters",
    "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>",
);

fn identities_type() -> Type {
    Type::object(PRINCIPALS.map(|a| (a, Type::String)))
}

/// `identities` from the configured principals (no `cluster_id`).
fn identities_from_inputs(v: &Value) -> Value {
    Value::object(PRINCIPALS.map(|a| (a, v.attr(a).clone())))
}

/// One of the `identities`, as the planner needs it.
fn identity(v: &Value, attr: &str) -> Known<String> {
    match v.attr("identities") {
        Value::Unknown => Known::Unknown,
        ids => known_string(ids.attr(attr)),
    }
}

pub struct ClusterIdentityRoles {
    state: Arc<ProviderState>,
}

impl ClusterIdentityRoles {
    pub fn new(state: Arc<ProviderState>) -> Self {
        ClusterIdentityRoles { state }
    }
}

fn ids(name: &str, what: &str) -> Attribute {
    Attribute::optional(name, Type::list(Type::String), what)
}

pub fn schema() -> Schema {
    let s = |n: &str, d: &str| Attribute::optional(n, Type::String, d);
    Schema {
        version: SCHEMA_VERSION,
        block: Block::new(
            "Grants an AKS cluster's control-plane and kubelet identities exactly the role assignments AKS needs, \
             at the smallest scope, from a description of what the cluster uses.",
        )
        .attribute(Attribute::computed("id", Type::String, "The cluster id, or a generated id without one."))
        .attribute(s("cluster_id", "ARM id of the cluster: its identities and node resource group are read from ARM."))
        .attribute(s(
            "control_plane_principal_id",
            "Object id of the control-plane identity (instead of `cluster_id`, e.g. for a cluster created in the same apply).",
        ))
        .attribute(s("kubelet_principal_id", "Object id of the kubelet identity (instead of `cluster_id`)."))
        .attribute(s(
            "node_resource_group_id",
            "ARM id of the node resource group (instead of `cluster_id`; needed for AAD Pod Identity).",
        ))
        .attribute(Attribute::computed(
            "identities",
            identities_type(),
            "The identities the grants are made to: read from the cluster when `cluster_id` is set, else the \
             configured ones. Attributes `control_plane_principal_id`, `kubelet_principal_id`, `node_resource_group_id`.",
        ))
        .attribute(ids("subnet_ids", "Subnets of the cluster: Network Contributor for the control plane on each."))
        .attribute(ids("route_table_ids", "Route tables (kubenet): Network Contributor for the control plane on each."))
        .attribute(ids("private_dns_zone_ids", "Private DNS zones: Private DNS Zone Contributor for the control plane."))
        .attribute(s(
            "kubelet_identity_id",
            "A bring-your-own kubelet identity: Managed Identity Operator for the control plane on it.",
        ))
        .attribute(ids("acr_ids", "Container registries (may be in a hub subscription): AcrPull for the kubelet identity."))
        .attribute(ids("dns_zone_ids", "DNS zones: DNS Zone Contributor for the kubelet identity."))
        .attribute(Attribute::optional("max_parallel_writes", Type::Number, "Role assignment writes in flight, 1 to 64 (default 4)."))
        .attribute(Attribute::optional(
            "delete_adopted_on_destroy",
            Type::Bool,
            "Also delete adopted grants (equivalents that existed before Terraform, e.g. from `az aks update --attach-acr`) \
             on destroy or when they leave the configuration. Default false: they are left in place.",
        ))
        .attribute(Attribute::computed(
            "assignments",
            Type::list(assignment_type()),
            "One element per grant: `key`, `name`, `id`, `scope`, `role_definition_id`, `role_name`, `principal_id`, \
             `principal_type`, `identity`, `reason`, `origin` (`created`, `adopted` or `imported`). Names and ids are \
             known at plan whenever scope and principal are.",
        ))
        .block(NestedBlock::new(
            "aad_pod_identity",
            Nesting::Single,
            Block::new("AAD Pod Identity (deprecated project): Managed Identity Operator and Virtual Machine Contributor for the kubelet identity on the node resource group.")
                .attribute(Attribute::optional("enabled", Type::Bool, "Grant what AAD Pod Identity needs."))
                .attribute(ids("identity_resource_group_ids", "Resource groups of the pod identities: Managed Identity Operator for the kubelet identity on each.")),
        ))
        .block(NestedBlock::new(
            "extra_assignment",
            Nesting::List,
            Block::new("A grant the matrix does not know, still subject to the least-privilege policy.")
                .attribute(Attribute::required("identity", Type::String, "`kubelet` or `control_plane`."))
                .attribute(Attribute::required("role", Type::String, "Role name, GUID or role definition id."))
                .attribute(Attribute::required("scope", Type::String, "ARM id of the scope."))
                .attribute(Attribute::optional("description", Type::String, "Written into the assignment.")),
        ))
        .block(
            NestedBlock::new(
                "allow_broad_scope",
                Nesting::Single,
                Block::new("Turns least-privilege errors into warnings; the justification is written into the affected assignments.")
                    .attribute(Attribute::required("justification", Type::String, "Why the broad grant is needed.")),
            ),
        )
        .block(common::timeouts_block()),
    }
}

/// Every known id in the configuration parses, has a GUID subscription, and `cluster_id` is a
/// managed cluster: checked before anything is sent to ARM.
fn check_ids(config: &Value, d: &mut Diagnostics) {
    if let Some(id) = config.attr("cluster_id").as_str() {
        common::check_id(id, AttributePath::attr("cluster_id"), Some(CLUSTER_TYPE), d);
    }
    for a in ["node_resource_group_id", "kubelet_identity_id"] {
        if let Some(id) = config.attr(a).as_str() {
            common::check_id(id, AttributePath::attr(a), None, d);
        }
    }
    let each = |v: &Value, path: AttributePath, d: &mut Diagnostics| {
        for (i, e) in v.as_elements().unwrap_or(&[]).iter().enumerate() {
            if let Some(id) = e.as_str() {
                common::check_id(id, path.clone().then_index(i), None, d);
            }
        }
    };
    for a in ID_LISTS {
        each(config.attr(a), AttributePath::attr(a), d);
    }
    let pod = AttributePath::attr("aad_pod_identity").then_attr("identity_resource_group_ids");
    each(config.attr("aad_pod_identity").attr("identity_resource_group_ids"), pod, d);
    for (i, e) in config.attr("extra_assignment").as_elements().unwrap_or(&[]).iter().enumerate() {
        if let Some(id) = e.attr("scope").as_str() {
            if id != "/" {
                common::check_id(id, AttributePath::attr("extra_assignment").then_index(i).then_attr("scope"), None, d);
            }
        }
    }
}

/// Inputs that are not known yet make the whole set of assignments unknown.
fn scopes_known(v: &Value) -> bool {
    ID_LISTS.iter().all(|a| strings(v.attr(a)).is_some())
        && !v.attr("kubelet_identity_id").is_unknown()
        && strings(v.attr("aad_pod_identity").attr("identity_resource_group_ids")).is_some()
        && !v.attr("aad_pod_identity").attr("enabled").is_unknown()
        && v.attr("extra_assignment").is_wholly_known()
        && !v.attr("allow_broad_scope").attr("justification").is_unknown()
}

fn known_string(v: &Value) -> Known<String> {
    match v {
        Value::String(s) => Known::Known(s.clone()),
        // Not given at all: a grant that needs it is an error (reported by the planner).
        Value::Null => Known::Known(String::new()),
        _ => Known::Unknown,
    }
}

/// The planner's intent from a (planned) value whose scopes are known.
fn intent(v: &Value) -> ClusterIntent {
    let list = |a: &str| strings(v.attr(a)).unwrap_or_default();
    let pod = v.attr("aad_pod_identity");
    ClusterIntent {
        control_plane_principal_id: identity(v, "control_plane_principal_id"),
        kubelet_principal_id: identity(v, "kubelet_principal_id"),
        node_resource_group_id: identity(v, "node_resource_group_id"),
        subnet_ids: list("subnet_ids"),
        route_table_ids: list("route_table_ids"),
        private_dns_zone_ids: list("private_dns_zone_ids"),
        kubelet_identity_id: v.attr("kubelet_identity_id").as_str().map(str::to_string),
        acr_ids: list("acr_ids"),
        dns_zone_ids: list("dns_zone_ids"),
        aad_pod_identity: (!pod.is_null()).then(|| PodIdentityIntent {
            enabled: pod.attr("enabled").as_bool().unwrap_or(false),
            identity_resource_group_ids: strings(pod.attr("identity_resource_group_ids")).unwrap_or_default(),
        }),
        extra: v
            .attr("extra_assignment")
            .as_elements()
            .unwrap_or(&[])
            .iter()
            .map(|e| ExtraAssignment {
                identity: IdentityKind::parse(e.attr("identity").as_str().unwrap_or_default())
                    .unwrap_or(IdentityKind::Kubelet),
                role: e.attr("role").as_str().unwrap_or_default().to_string(),
                scope: e.attr("scope").as_str().unwrap_or_default().to_string(),
                description: e.attr("description").as_str().map(str::to_string),
            })
            .collect(),
        allow_broad_scope: v.attr("allow_broad_scope").attr("justification").as_str().map(str::to_string),
    }
}

fn expand(v: &Value) -> Result<planner::Expansion, Diagnostics> {
    planner::expand(&intent(v)).map_err(|f| common::findings_to_diagnostics(&f))
}

/// Whether an extra assignment's role can be resolved without Azure (built-in or an id form).
fn offline_role(role: &str) -> bool {
    roles::by_name(role).is_some() || roles::parse_role_definition_id(role).is_ok()
}

/// A copy of `v` in which custom role names of extra assignments are replaced by their GUIDs,
/// looked up at each assignment's scope (the planner knows only built-in names).
async fn with_custom_roles_resolved(
    clients: Option<&Clients>,
    v: &Value,
    deadline: Instant,
) -> Result<Value, Diagnostics> {
    let mut out = v.clone();
    let Some(Value::List(extras)) = out.attr_mut("extra_assignment") else { return Ok(out) };
    for (i, e) in extras.iter_mut().enumerate() {
        let (Some(role), Some(scope)) = (e.attr("role").as_str(), e.attr("scope").as_str()) else { continue };
        if offline_role(role) {
            continue;
        }
        let at = AttributePath::attr("extra_assignment").then_index(i).then_attr("role");
        let (guid, _) = common::resolve_role(clients.map(|c| &c.arm), role, scope, at, deadline)
            .await
            .map_err(Diagnostics::from)?;
        e.set_attr("role", Value::String(guid));
    }
    Ok(out)
}

/// Extra assignments that mean the same thing (role compared by GUID, scope by ARM id).
fn same_extras(a: &Value, b: &Value) -> bool {
    let (Some(x), Some(y)) = (a.as_elements().or(Some(&[][..])), b.as_elements().or(Some(&[][..]))) else {
        return false;
    };
    let role_guid = |v: &Value| {
        let r = v.attr("role").as_str().unwrap_or_default();
        roles::by_name(r).map(|b| b.guid.clone()).or_else(|| roles::parse_role_definition_id(r).ok().map(|p| p.guid))
    };
    let same = |p: &Value, q: &Value| {
        p.attr("identity") == q.attr("identity")
            && role_guid(p).is_some()
            && role_guid(p) == role_guid(q)
            && same_id(p.attr("scope").as_str().unwrap_or_default(), q.attr("scope").as_str().unwrap_or_default())
            && p.attr("description") == q.attr("description")
    };
    x.len() == y.len()
        && x.iter().all(|p| y.iter().any(|q| same(p, q)))
        && y.iter().all(|q| x.iter().any(|p| same(p, q)))
}

/// Where the configuration says the same as the prior state in other words (casing, order,
/// role name vs GUID), plan the prior value so no change is shown.
fn keep_equivalent_prior(planned: &mut Value, prior: &Value) {
    if prior.is_null() {
        return;
    }
    for a in ID_LISTS {
        if same_id_lists(planned.attr(a), prior.attr(a)) {
            planned.set_attr(a, prior.attr(a).clone());
        }
    }
    for a in ["cluster_id", "kubelet_identity_id", "node_resource_group_id"] {
        if let (Some(x), Some(y)) = (planned.attr(a).as_str(), prior.attr(a).as_str()) {
            if same_id(x, y) {
                planned.set_attr(a, prior.attr(a).clone());
            }
        }
    }
    let (pp, qp) = (planned.attr("aad_pod_identity").clone(), prior.attr("aad_pod_identity"));
    if !pp.is_null() && !qp.is_null() {
        let mut merged = pp.clone();
        if same_id_lists(pp.attr("identity_resource_group_ids"), qp.attr("identity_resource_group_ids")) {
            merged.set_attr("identity_resource_group_ids", qp.attr("identity_resource_group_ids").clone());
        }
        planned.set_attr("aad_pod_identity", merged);
    }
    if !prior.attr("extra_assignment").is_null()
        && same_extras(planned.attr("extra_assignment"), prior.attr("extra_assignment"))
    {
        planned.set_attr("extra_assignment", prior.attr("extra_assignment").clone());
    }
}

fn parallelism(v: &Value) -> usize {
    v.attr("max_parallel_writes")
        .as_number()
        .and_then(|n| n.as_i64())
        .filter(|n| common::PARALLEL_WRITES_RANGE.contains(n))
        .map_or(DEFAULT_PARALLEL_WRITES, |n| n as usize)
}

/// Read the cluster's identities into `planned` (when `cluster_id` is set and known).
async fn fill_from_cluster(clients: &Clients, planned: &mut Value, deadline: Instant) -> Result<(), Diagnostics> {
    fill_from_cluster_if_present(clients, planned, deadline, false).await
}

/// As `fill_from_cluster`; with `tolerate_missing`, a cluster that no longer exists leaves
/// `planned` as it is (its role assignments outlive it and are still ours to manage).
async fn fill_from_cluster_if_present(
    clients: &Clients,
    planned: &mut Value,
    deadline: Instant,
    tolerate_missing: bool,
) -> Result<(), Diagnostics> {
    let Some(id) = planned.attr("cluster_id").as_str().map(str::to_string) else { return Ok(()) };
    let path = AttributePath::attr("cluster_id");
    let mut invalid = Diagnostics::new();
    common::check_id(&id, path.clone(), Some(CLUSTER_TYPE), &mut invalid);
    let sub = executor::subscription_of(&id).filter(|_| !invalid.has_errors()).ok_or(invalid)?;
    let resp = match clients.arm.get(&id, cluster::API_VERSION, deadline).await {
        Ok(r) => r,
        Err(e) if tolerate_missing && e.status() == Some(404) => return Ok(()),
        Err(e) => return Err(common::arm_diag(&e, Some(path.clone()), "Cannot read the AKS cluster")),
    };
    let c = cluster::parse(&resp.body, &sub)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Unexpected AKS cluster", e).at(path.clone())))?;
    // The spelling already recorded wins over ARM's when both name the same thing.
    let before = planned.attr("identities").clone();
    let keep_or = |attr: &str, fresh: String| -> Value {
        match before.attr(attr).as_str() {
            Some(old) if same_id(old, &fresh) => Value::string(old),
            _ => Value::String(fresh),
        }
    };
    let ids = Value::object([
        ("control_plane_principal_id", keep_or("control_plane_principal_id", c.control_plane_principal_id)),
        ("kubelet_principal_id", keep_or("kubelet_principal_id", c.kubelet.object_id)),
        ("node_resource_group_id", keep_or("node_resource_group_id", c.node_resource_group_id)),
    ]);
    planned.set_attr("identities", ids);
    Ok(())
}

/// The prior state's assignment elements, by lowercased name.
fn prior_by_name(prior: &Value) -> HashMap<String, Value> {
    prior
        .attr("assignments")
        .as_elements()
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| e.attr("name").as_str().map(|n| (n.to_ascii_lowercase(), e.clone())))
        .collect()
}

/// Prior `assignments` elements by key, to find the one that already grants what a desired
/// assignment asks for in constant time.
struct PriorGrants<'a>(HashMap<&'a str, &'a Value>);

impl<'a> PriorGrants<'a> {
    fn of(prior: &'a Value) -> Self {
        PriorGrants(
            prior
                .attr("assignments")
                .as_elements()
                .unwrap_or(&[])
                .iter()
                .filter_map(|e| e.attr("key").as_str().map(|k| (k, e)))
                .collect(),
        )
    }

    /// The prior element for `d`'s key if it grants the same principal, role and scope,
    /// whatever its name: reusing it keeps casing and adopted names from showing as changes.
    fn grant(&self, d: &DesiredAssignment) -> Option<&'a Value> {
        let p = self.0.get(d.key.as_str())?;
        let principal = p.attr("principal_id").as_str().unwrap_or_default();
        let same = d.principal_id.known().is_some_and(|x| x.eq_ignore_ascii_case(principal))
            && p.attr("role_definition_id").as_str().unwrap_or_default().to_ascii_lowercase().ends_with(&d.role.guid)
            && same_id(p.attr("scope").as_str().unwrap_or_default(), &d.scope);
        same.then_some(*p)
    }
}

/// The planned `assignments`: the prior element where one for the same grant exists, else a
/// new element (adopting an existing equivalent when there is one).
fn planned_assignments(
    desired: &[DesiredAssignment],
    prior: &PriorGrants,
    adopt: &HashMap<String, RoleAssignment>,
) -> Value {
    Value::List(
        desired
            .iter()
            .map(|d| prior.grant(d).cloned().unwrap_or_else(|| assignment_value(d, adopt.get(&d.key))))
            .collect(),
    )
}

#[async_trait]
impl Resource for ClusterIdentityRoles {
    fn type_name(&self) -> &'static str {
        "aksid_cluster_identity_roles"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    /// Version 0 kept the identities read from the cluster in the inputs; they move to
    /// `identities`, so that the inputs hold only what the user wrote.
    fn upgrade_state(&self, version: i64, raw_json: &[u8]) -> Result<Value, Diagnostics> {
        let ty = schema().block.value_type();
        let mut state = crate::framework::codec::from_json(raw_json, &ty)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot read the prior state", e.to_string())))?;
        match version {
            SCHEMA_VERSION => Ok(state),
            0 => {
                state.set_attr("identities", identities_from_inputs(&state));
                if !state.attr("cluster_id").is_null() {
                    for a in PRINCIPALS {
                        state.set_attr(a, Value::Null);
                    }
                }
                Ok(state)
            }
            other => Err(Diagnostic::error(
                "Unsupported state version",
                format!("aksid_cluster_identity_roles state version {other} is newer than this provider (version {SCHEMA_VERSION}). Upgrade the provider."),
            )
            .into()),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        common::validate_timeouts(config, &mut d);
        common::check_parallel_writes(config, &mut d);
        check_ids(config, &mut d);
        if !config.attr("cluster_id").is_null() {
            for a in PRINCIPALS {
                if !config.attr(a).is_null() {
                    d.error_at(
                        AttributePath::attr(a),
                        "Conflicting identity sources",
                        format!("{a} is read from the cluster when cluster_id is set; set one or the other."),
                    );
                }
            }
        }
        for (i, e) in config.attr("extra_assignment").as_elements().unwrap_or(&[]).iter().enumerate() {
            if let Some(id) = e.attr("identity").as_str() {
                if IdentityKind::parse(id).is_none() {
                    d.error_at(
                        AttributePath::attr("extra_assignment").then_index(i).then_attr("identity"),
                        "Unknown identity",
                        format!("{id:?}: use \"kubelet\" or \"control_plane\"."),
                    );
                }
            }
        }
        if d.has_errors() {
            return d;
        }
        // Everything the planner can check without Azure, once the inputs are known.
        let custom_roles = config
            .attr("extra_assignment")
            .as_elements()
            .unwrap_or(&[])
            .iter()
            .any(|e| e.attr("role").as_str().is_some_and(|r| !offline_role(r)));
        if scopes_known(config) && config.attr("cluster_id").is_null() && !custom_roles {
            let mut with_identities = config.clone();
            with_identities.set_attr("identities", identities_from_inputs(config));
            if let Err(e) = expand(&with_identities) {
                d.extend(e);
            }
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        if req.proposed_new_state.is_null() {
            return PlanResponse { planned_state: Value::Null, ..Default::default() };
        }
        let mut resp = PlanResponse { planned_private: req.prior_private.clone(), ..Default::default() };
        let mut planned = req.proposed_new_state.clone();
        keep_equivalent_prior(&mut planned, &req.prior_state);
        let deadline = Instant::now() + common::timeout(req.config.attr("timeouts"), "create");
        let clients = self.state.clients().ok();

        // Identities: from the cluster, from configuration, or unknown until apply.
        match (req.config.attr("cluster_id"), &clients) {
            (Value::String(_), Some(c)) => {
                if let Err(d) = fill_from_cluster(c, &mut planned, deadline).await {
                    resp.diagnostics = d;
                    return resp;
                }
            }
            (Value::Unknown, _) | (Value::String(_), None) => planned.set_attr("identities", Value::Unknown),
            _ => planned.set_attr("identities", identities_from_inputs(&planned)),
        }
        if planned.attr("id").is_null() {
            planned.set_attr("id", Value::Unknown);
        }
        if !scopes_known(&planned) {
            planned.set_attr("assignments", Value::Unknown);
            resp.planned_state = planned;
            return resp;
        }
        let expansion = match with_custom_roles_resolved(clients.as_deref(), &planned, deadline).await {
            Ok(resolved) => expand(&resolved),
            Err(d) => Err(d),
        };
        let expansion = match expansion {
            Ok(e) => e,
            Err(d) => {
                resp.diagnostics = d;
                return resp;
            }
        };
        resp.diagnostics.extend(common::findings_to_diagnostics(&expansion.warnings));
        if !expansion.pending.is_empty() {
            // Grants whose scope (the node resource group) is not known yet.
            planned.set_attr("assignments", Value::Unknown);
            resp.planned_state = planned;
            return resp;
        }

        // Equivalent assignments made outside Terraform are adopted, not duplicated.
        let prior_grants = PriorGrants::of(&req.prior_state);
        let new: Vec<&DesiredAssignment> = expansion
            .assignments
            .iter()
            .filter(|d| d.principal_id.is_known() && prior_grants.grant(d).is_none())
            .collect();
        let mut adopt = HashMap::new();
        if let (false, Some(c)) = (new.is_empty(), &clients) {
            match executor::list_existing(
                &c.arm,
                executor::listing_pairs(new.iter().copied()),
                deadline,
                parallelism(&planned),
            )
            .await
            {
                Ok(existing) => {
                    for d in &new {
                        let ours = d.name().known().map(|u| u.to_string()).unwrap_or_default();
                        let found = existing.iter().find(|a| equivalent(d, &executor::to_actual(a)));
                        if let Some(a) = found.filter(|a| !a.name.eq_ignore_ascii_case(&ours)) {
                            resp.diagnostics.push(Diagnostic::warning(
                                "Adopting an existing role assignment",
                                format!(
                                    "{} already holds {} on {} through assignment {} (created outside Terraform); \
                                     it will be managed by this resource instead of creating a duplicate.",
                                    d.identity.describe(),
                                    d.role.name,
                                    d.scope,
                                    a.id
                                ),
                            ));
                            adopt.insert(d.key.clone(), a.clone());
                        }
                    }
                }
                Err(e) => {
                    resp.diagnostics.extend(common::arm_diag(&e, None, "Cannot list existing role assignments"));
                    return resp;
                }
            }
        }
        planned.set_attr("assignments", planned_assignments(&expansion.assignments, &prior_grants, &adopt));
        resp.planned_state = planned;
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        let mut markers = Markers::from_private(&req.planned_private);
        if req.planned_state.is_null() {
            return destroy(&clients, req.prior_state, markers).await;
        }
        let mut state = req.planned_state.clone();
        let deadline = Instant::now() + common::timeout(req.config.attr("timeouts"), "create");
        let mut diags = Diagnostics::new();
        if state.attr("id").is_unknown() {
            let id = req
                .config
                .attr("cluster_id")
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            state.set_attr("id", Value::String(id));
        }
        if state.attr("cluster_id").is_null() {
            state.set_attr("identities", identities_from_inputs(&state));
        } else if !state.attr("identities").is_wholly_known() {
            if let Err(d) = fill_from_cluster(&clients, &mut state, deadline).await {
                return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() };
            }
        }
        let expansion = match with_custom_roles_resolved(Some(&clients), &state, deadline).await {
            Ok(resolved) => expand(&resolved),
            Err(d) => Err(d),
        };
        let expansion = match expansion {
            Ok(e) => e,
            Err(d) => return ApplyResponse { new_state: req.prior_state, diagnostics: d, ..Default::default() },
        };
        let parallel = parallelism(&state);
        let prior = prior_by_name(&req.prior_state);
        let (mut result, failures) = create_missing(&clients, &state, &expansion, &prior, &mut markers, deadline).await;
        diags.extend(common::group_failures("create", failures));

        // Assignments this resource recorded before and no longer wants.
        let desired_names: HashSet<String> =
            result.values().filter_map(|e| e.attr("name").as_str().map(str::to_ascii_lowercase)).collect();
        let stale: Vec<Unwanted> = prior
            .into_iter()
            .filter(|(n, _)| !desired_names.contains(n))
            .map(|(_, e)| Unwanted::from_elem(e))
            .collect();
        let kept_stale = if stale.is_empty() {
            Vec::new()
        } else {
            let (kept, d) =
                remove_with_listing(&clients, stale, &markers, delete_adopted(&state), parallel, deadline).await;
            diags.extend(d);
            kept
        };
        let mut list: Vec<Value> = std::mem::take(&mut result).into_values().collect();
        list.extend(kept_stale);
        markers.retain(&ids_of(&list));
        state.set_attr("assignments", Value::List(list));
        ApplyResponse { new_state: state, private: markers.to_private(), diagnostics: diags }
    }
    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let mut state = req.current_state.clone();
        let clients = match self.state.clients() {
            Ok(c) => c,
            Err(d) => return ReadResponse { new_state: state, private: req.private, diagnostics: d },
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        // A deleted cluster does not delete its role assignments: keep reading them.
        if let Err(d) = fill_from_cluster_if_present(&clients, &mut state, deadline, true).await {
            return ReadResponse { new_state: req.current_state, private: req.private, diagnostics: d };
        }
        let elems: Vec<Value> = state.attr("assignments").as_elements().map(<[Value]>::to_vec).unwrap_or_default();
        let pairs = element_pairs(elems.iter());
        let existing = match executor::list_existing(&clients.arm, pairs, deadline, parallelism(&state)).await {
            Ok(x) => x,
            Err(e) => {
                return ReadResponse {
                    new_state: req.current_state,
                    private: req.private,
                    diagnostics: common::arm_diag(&e, None, "Cannot list role assignments"),
                }
            }
        };
        let by_id: HashMap<String, &RoleAssignment> = existing.iter().map(|a| (a.id.to_ascii_lowercase(), a)).collect();
        let mut still = Vec::new();
        for e in elems {
            let id = e.attr("id").as_str().unwrap_or_default().to_ascii_lowercase();
            let found = match by_id.get(&id) {
                Some(a) => Some((*a).clone()),
                // Outside any subscription: one GET.
                None if executor::subscription_of(&id).is_none() => {
                    ra::get(&clients.arm, &id, deadline).await.ok().flatten()
                }
                None => None,
            };
            let intact = found.is_some_and(|a| {
                a.principal_id.eq_ignore_ascii_case(e.attr("principal_id").as_str().unwrap_or_default())
                    && executor::to_actual(&a).role_guid()
                        == e.attr("role_definition_id")
                            .as_str()
                            .unwrap_or_default()
                            .rsplit('/')
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase()
                    && same_id(&a.scope, e.attr("scope").as_str().unwrap_or_default())
            });
            if intact {
                still.push(e);
            } else {
                tracing::info!(
                    key = e.attr("key").as_str().unwrap_or_default(),
                    "role assignment missing or changed outside Terraform"
                );
            }
        }
        state.set_attr("assignments", Value::List(still));
        ReadResponse { new_state: state, private: req.private, diagnostics: Diagnostics::new() }
    }

    async fn import(&self, id: &str) -> Result<Vec<ImportedResource>, Diagnostics> {
        let clients = self.state.clients()?;
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut state = crate::framework::codec::from_json(b"{}", &schema().block.value_type())
            .map_err(|e| Diagnostics::from(Diagnostic::error("Internal error", e.to_string())))?;
        state.set_attr("cluster_id", Value::string(id));
        state.set_attr("id", Value::string(id));
        fill_from_cluster(&clients, &mut state, deadline).await?;
        let found = |a: &str| state.attr("identities").attr(a).as_str().unwrap_or_default().to_string();
        let (cp, kubelet, node_rg) =
            (found("control_plane_principal_id"), found("kubelet_principal_id"), found("node_resource_group_id"));
        // Grants may live in any subscription the caller can see (e.g. a hub registry).
        let subs = clients
            .arm
            .get("/subscriptions", "2022-12-01", deadline)
            .await
            .map_err(|e| common::arm_diag(&e, None, "Cannot list subscriptions"))?;
        let sub_ids: Vec<String> = subs
            .body
            .get("value")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("subscriptionId").and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        let pairs = sub_ids.iter().flat_map(|s| [(s.clone(), cp.clone()), (s.clone(), kubelet.clone())]);
        let existing = executor::list_existing(&clients.arm, pairs, deadline, 4)
            .await
            .map_err(|e| common::arm_diag(&e, None, "Cannot list role assignments"))?;
        let actual: Vec<ActualAssignment> = existing.iter().map(executor::to_actual).collect();
        let c = classify(&actual, &cp, &kubelet, &node_rg);
        let list = |v: &[String]| if v.is_empty() { Value::Null } else { Value::list_of_strings(v.iter().cloned()) };
        state.set_attr("subnet_ids", list(&c.subnet_ids));
        state.set_attr("route_table_ids", list(&c.route_table_ids));
        state.set_attr("private_dns_zone_ids", list(&c.private_dns_zone_ids));
        state.set_attr("acr_ids", list(&c.acr_ids));
        state.set_attr("dns_zone_ids", list(&c.dns_zone_ids));
        state.set_attr("kubelet_identity_id", Value::from_opt_string(c.kubelet_identity_id.clone()));
        if c.pod_identity_enabled {
            state.set_attr(
                "aad_pod_identity",
                Value::object([
                    ("enabled", Value::Bool(true)),
                    ("identity_resource_group_ids", list(&c.identity_resource_group_ids)),
                ]),
            );
        }
        state.set_attr("extra_assignment", Value::List(Vec::new()));
        if !c.extra.is_empty() {
            state.set_attr(
                "extra_assignment",
                Value::List(
                    c.extra
                        .iter()
                        .map(|x| {
                            Value::object([
                                ("identity", Value::string(x.identity.as_str())),
                                ("role", Value::string(&x.role)),
                                ("scope", Value::string(&x.scope)),
                                ("description", Value::from_opt_string(x.description.clone())),
                            ])
                        })
                        .collect(),
                ),
            );
        }
        // Elements exactly as the matrix names them, with the real assignment names.
        let mut check = state.clone();
        check.set_attr("allow_broad_scope", Value::object([("justification", Value::string("imported"))]));
        let expansion = expand(&check)?;
        let mut elems = Vec::new();
        let mut markers = Markers::default();
        for d in &expansion.assignments {
            if let Some(a) = existing.iter().find(|a| equivalent(d, &executor::to_actual(a))) {
                // Imported grants are the user's explicit request to manage them: destroyed like
                // created ones, as long as nobody stamps them in between.
                markers.record(&a.id, ownership::marker(a.description.as_deref()));
                elems.push(assignment_value_with_origin(d, Some(a), ORIGIN_IMPORTED));
            }
        }
        state.set_attr("assignments", Value::List(elems));
        Ok(vec![ImportedResource { state, private: markers.to_private() }])
    }
}

/// Write the desired assignments that the prior state does not hold, stamping each with a
/// fresh ownership marker. Returns the state elements by key and the failures (key, error).
async fn create_missing(
    clients: &Clients,
    state: &Value,
    expansion: &planner::Expansion,
    prior: &HashMap<String, Value>,
    markers: &mut Markers,
    deadline: Instant,
) -> (BTreeMap<String, Value>, Vec<(String, ArmError)>) {
    // What the plan promised (adopted names included), completed now that all is known.
    let planned_by_key: HashMap<String, Value> = state
        .attr("assignments")
        .as_elements()
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| e.attr("key").as_str().map(|k| (k.to_string(), e.clone())))
        .collect();
    let token = ownership::new_token();
    let mut ops = Vec::new();
    let mut result: BTreeMap<String, Value> = BTreeMap::new();
    for d in &expansion.assignments {
        let elem = match planned_by_key.get(&d.key) {
            Some(p) if p.is_wholly_known() => p.clone(),
            _ => assignment_value(d, None),
        };
        let name = elem.attr("name").as_str().unwrap_or_default().to_string();
        // Recorded already, or adopted at plan (an equivalent that exists): nothing to write.
        if prior.contains_key(&name.to_ascii_lowercase()) || elem.attr("origin").as_str() == Some(ORIGIN_ADOPTED) {
            result.insert(d.key.clone(), elem);
            continue;
        }
        let name_recorded = markers.get(elem.attr("id").as_str().unwrap_or_default()).is_some();
        ops.push((
            elem,
            CreateOp {
                key: d.key.clone(),
                scope: d.scope.clone(),
                name,
                role_guid: d.role.guid.clone(),
                principal_id: d.principal_id.known().cloned().unwrap_or_default(),
                principal_type: common::PRINCIPAL_TYPE.to_string(),
                description: d.description.clone(),
                token: token.clone(),
                // Our earlier write under this name is recorded (even if refresh found it changed).
                name_recorded,
                desired: d.clone(),
            },
        ));
    }
    let create_ops: Vec<CreateOp> = ops.iter().map(|(_, op)| op.clone()).collect();
    let outcomes = executor::create_all(&clients.arm, &create_ops, parallelism(state), deadline).await;
    let mut failures = Vec::new();
    for ((mut elem, op), outcome) in ops.into_iter().zip(outcomes) {
        match outcome {
            Ok(Created::Created(a)) => {
                markers.record(elem.attr("id").as_str().unwrap_or(&a.id), Some(&op.token));
                result.insert(op.key, elem);
            }
            Ok(Created::Adopted(a)) => {
                // Adopted at apply time (created concurrently since the plan).
                for (attr, fresh) in [("name", &a.name), ("id", &a.id)] {
                    if !elem.attr(attr).as_str().is_some_and(|p| same_id(p, fresh)) {
                        elem.set_attr(attr, Value::string(fresh));
                    }
                }
                elem.set_attr("origin", Value::string(ORIGIN_ADOPTED));
                result.insert(op.key, elem);
            }
            Err(err) => failures.push((op.key, err)),
        }
    }
    (result, failures)
}

fn delete_adopted(v: &Value) -> bool {
    v.attr("delete_adopted_on_destroy").as_bool().unwrap_or(false)
}

fn ids_of(elems: &[Value]) -> Vec<String> {
    elems.iter().filter_map(|e| e.attr("id").as_str().map(str::to_string)).collect()
}

/// The (subscription, principal) pairs to list to see what state's elements look like now.
fn element_pairs<'a>(elems: impl Iterator<Item = &'a Value>) -> Vec<(String, String)> {
    elems
        .filter_map(|e| {
            let sub = executor::subscription_of(e.attr("scope").as_str()?)?;
            Some((sub, e.attr("principal_id").as_str()?.to_string()))
        })
        .collect()
}

/// `remove_unwanted` after one list per principal and subscription (not a GET per grant).
async fn remove_with_listing(
    clients: &Clients,
    unwanted: Vec<Unwanted>,
    markers: &Markers,
    delete_adopted: bool,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Value>, Diagnostics) {
    let pairs = element_pairs(unwanted.iter().map(|u| &u.elem));
    let listed = match executor::list_existing(&clients.arm, pairs, deadline, parallel).await {
        Ok(l) => l,
        Err(e) => {
            let kept = unwanted.into_iter().map(|u| u.elem).collect();
            return (kept, common::arm_diag(&e, None, "Cannot list role assignments before deleting them"));
        }
    };
    let by_id: BTreeMap<String, RoleAssignment> = listed.into_iter().map(|a| (a.id.to_ascii_lowercase(), a)).collect();
    // Scopes outside any subscription were not listed: those are fetched one by one.
    let (listable, single): (Vec<Unwanted>, Vec<Unwanted>) =
        unwanted.into_iter().partition(|u| executor::subscription_of(&u.id).is_some());
    let (mut kept, mut diags) =
        remove_unwanted(&clients.arm, listable, markers, delete_adopted, Some(&by_id), parallel, deadline).await;
    if !single.is_empty() {
        let (k, d) = remove_unwanted(&clients.arm, single, markers, delete_adopted, None, parallel, deadline).await;
        kept.extend(k);
        diags.extend(d);
    }
    (kept, diags)
}

async fn destroy(clients: &Clients, prior: Value, markers: Markers) -> ApplyResponse {
    let deadline = Instant::now() + common::timeout(prior.attr("timeouts"), "delete");
    let elems: Vec<Value> = prior.attr("assignments").as_elements().map(<[Value]>::to_vec).unwrap_or_default();
    let unwanted: Vec<Unwanted> = elems.into_iter().map(Unwanted::from_elem).collect();
    let (left, diags) =
        remove_with_listing(clients, unwanted, &markers, delete_adopted(&prior), parallelism(&prior), deadline).await;
    if left.is_empty() {
        return ApplyResponse { new_state: Value::Null, diagnostics: diags, ..Default::default() };
    }
    // Keep what still exists in state, so nothing is orphaned.
    let mut state = prior;
    let mut markers = markers;
    markers.retain(&ids_of(&left));
    state.set_attr("assignments", Value::List(left));
    ApplyResponse { new_state: state, private: markers.to_private(), diagnostics: diags }
}
