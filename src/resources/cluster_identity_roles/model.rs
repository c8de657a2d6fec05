//! The typed model of `aksid_cluster_identity_roles`: configuration, plan and state decode into
//! [`ClusterRoles`] once, and everything else works on it. Also what the model means to the
//! planner ([`ClusterRoles::intent`]) and which spellings of the same input plan no change.

use serde::{Deserialize, Serialize};

use crate::domain::roles;
use crate::known::Known;
use crate::planner::classify::Classified;
use crate::planner::{ClusterIntent, ExtraAssignment, IdentityKind, PodIdentityIntent, Recorded};
pub use crate::resources::assignments::BroadScope;
use crate::resources::assignments::{id_key, same_id, Attr, Timeouts};
use crate::resources::grants::Grant;

/// A list of ARM ids: null, unknown, or a list whose elements may be unknown.
pub type Ids = Attr<Vec<Known<String>>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterRoles {
    pub id: Attr<String>,
    pub cluster_id: Attr<String>,
    pub control_plane_principal_id: Attr<String>,
    pub kubelet_principal_id: Attr<String>,
    pub node_resource_group_id: Attr<String>,
    pub identities: Attr<Identities>,
    pub subnet_ids: Ids,
    pub route_table_ids: Ids,
    pub private_dns_zone_ids: Ids,
    pub kubelet_identity_id: Attr<String>,
    pub acr_ids: Ids,
    pub dns_zone_ids: Ids,
    pub max_parallel_writes: Attr<i64>,
    pub delete_adopted_on_destroy: Attr<bool>,
    pub assignments: Attr<Vec<Grant>>,
    pub aad_pod_identity: Option<PodIdentity>,
    pub extra_assignment: Attr<Vec<Extra>>,
    pub allow_broad_scope: Option<BroadScope>,
    pub timeouts: Option<Timeouts>,
}

/// The identities grants are made to (computed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identities {
    pub control_plane_principal_id: Attr<String>,
    pub kubelet_principal_id: Attr<String>,
    pub node_resource_group_id: Attr<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodIdentity {
    pub enabled: Attr<bool>,
    pub identity_resource_group_ids: Ids,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    pub identity: Attr<String>,
    pub role: Attr<String>,
    pub scope: Attr<String>,
    pub description: Attr<String>,
}

/// The known value of an attribute.
pub fn known<T>(a: &Attr<T>) -> Option<&T> {
    a.as_ref().and_then(Known::known)
}

fn is_unknown<T>(a: &Attr<T>) -> bool {
    matches!(a, Some(Known::Unknown))
}

/// The strings of an id list, or `None` while it or any element is unknown.
pub fn strings(ids: &Ids) -> Option<Vec<String>> {
    match ids {
        None => Some(Vec::new()),
        Some(Known::Unknown) => None,
        Some(Known::Known(v)) => v.iter().map(|k| k.known().cloned()).collect(),
    }
}

/// A null attribute reads as an empty string (the planner reports a missing principal);
/// an unknown one stays unknown.
fn known_or_empty(a: &Attr<String>) -> Known<String> {
    match a {
        None => Known::Known(String::new()),
        Some(k) => k.clone(),
    }
}

pub const ID_LISTS: [&str; 5] = ["subnet_ids", "route_table_ids", "private_dns_zone_ids", "acr_ids", "dns_zone_ids"];

impl ClusterRoles {
    pub fn id_lists(&self) -> [&Ids; 5] {
        [&self.subnet_ids, &self.route_table_ids, &self.private_dns_zone_ids, &self.acr_ids, &self.dns_zone_ids]
    }

    fn id_lists_mut(&mut self) -> [&mut Ids; 5] {
        [
            &mut self.subnet_ids,
            &mut self.route_table_ids,
            &mut self.private_dns_zone_ids,
            &mut self.acr_ids,
            &mut self.dns_zone_ids,
        ]
    }

    pub fn extras(&self) -> &[Extra] {
        known(&self.extra_assignment).map_or(&[], Vec::as_slice)
    }

    pub fn justification(&self) -> &Attr<String> {
        self.allow_broad_scope.as_ref().map_or(&None, |b| &b.justification)
    }

    /// `identities` from the configured principals (no `cluster_id`).
    pub fn identities_from_inputs(&self) -> Identities {
        Identities {
            control_plane_principal_id: self.control_plane_principal_id.clone(),
            kubelet_principal_id: self.kubelet_principal_id.clone(),
            node_resource_group_id: self.node_resource_group_id.clone(),
        }
    }

    pub fn delete_adopted(&self) -> bool {
        known(&self.delete_adopted_on_destroy).copied().unwrap_or(false)
    }

    /// Inputs that are not known yet make the whole set of assignments unknown.
    pub fn scopes_known(&self) -> bool {
        let pod_known = self
            .aad_pod_identity
            .as_ref()
            .is_none_or(|p| !is_unknown(&p.enabled) && strings(&p.identity_resource_group_ids).is_some());
        let extras_known = match &self.extra_assignment {
            Some(Known::Unknown) => false,
            _ => self.extras().iter().all(|e| {
                !is_unknown(&e.identity) && !is_unknown(&e.role) && !is_unknown(&e.scope) && !is_unknown(&e.description)
            }),
        };
        self.id_lists().iter().all(|l| strings(l).is_some())
            && !is_unknown(&self.kubelet_identity_id)
            && pod_known
            && extras_known
            && !is_unknown(self.justification())
    }

    /// The planner's intent, once `scopes_known`. The identities come from `identities`.
    pub fn intent(&self) -> ClusterIntent {
        let ids = self.identities.clone().unwrap_or(Known::Known(Identities::default()));
        let identity = |f: fn(&Identities) -> &Attr<String>| match &ids {
            Known::Unknown => Known::Unknown,
            Known::Known(i) => known_or_empty(f(i)),
        };
        let list = |l: &Ids| strings(l).unwrap_or_default();
        ClusterIntent {
            control_plane_principal_id: identity(|i| &i.control_plane_principal_id),
            kubelet_principal_id: identity(|i| &i.kubelet_principal_id),
            node_resource_group_id: identity(|i| &i.node_resource_group_id),
            subnet_ids: list(&self.subnet_ids),
            route_table_ids: list(&self.route_table_ids),
            private_dns_zone_ids: list(&self.private_dns_zone_ids),
            kubelet_identity_id: known(&self.kubelet_identity_id).cloned(),
            acr_ids: list(&self.acr_ids),
            dns_zone_ids: list(&self.dns_zone_ids),
            aad_pod_identity: self.aad_pod_identity.as_ref().map(|p| PodIdentityIntent {
                enabled: known(&p.enabled).copied().unwrap_or(false),
                identity_resource_group_ids: list(&p.identity_resource_group_ids),
            }),
            extra: self.extras().iter().map(Extra::intent).collect(),
            allow_broad_scope: known(self.justification()).cloned(),
        }
    }

    /// The grants state records, for the engine.
    pub fn recorded(&self) -> Vec<Recorded> {
        known(&self.assignments).map_or_else(Vec::new, |g| g.iter().filter_map(Grant::recorded).collect())
    }

    /// Where the configuration says the same as the prior state in other words (casing, order,
    /// role name vs GUID), plan the prior spelling so that no change shows.
    pub fn keep_equivalent_prior(&mut self, prior: &ClusterRoles) {
        for (mine, theirs) in self.id_lists_mut().into_iter().zip(prior.id_lists()) {
            if same_id_lists(mine, theirs) {
                *mine = theirs.clone();
            }
        }
        keep_same_id(&mut self.cluster_id, &prior.cluster_id);
        keep_same_id(&mut self.kubelet_identity_id, &prior.kubelet_identity_id);
        keep_same_id(&mut self.node_resource_group_id, &prior.node_resource_group_id);
        if let (Some(mine), Some(theirs)) = (&mut self.aad_pod_identity, &prior.aad_pod_identity) {
            if same_id_lists(&mine.identity_resource_group_ids, &theirs.identity_resource_group_ids) {
                mine.identity_resource_group_ids = theirs.identity_resource_group_ids.clone();
            }
        }
        if prior.extra_assignment.is_some() && same_extras(self.extras(), prior.extras()) {
            self.extra_assignment = prior.extra_assignment.clone();
        }
    }
}

impl Extra {
    fn intent(&self) -> ExtraAssignment {
        let text = |a: &Attr<String>| known(a).cloned().unwrap_or_default();
        ExtraAssignment {
            identity: IdentityKind::parse(&text(&self.identity)).unwrap_or(IdentityKind::Kubelet),
            role: text(&self.role),
            scope: text(&self.scope),
            description: known(&self.description).cloned(),
        }
    }

    /// The role GUID when it is known without Azure (built-in name or an id form).
    fn offline_role_guid(&self) -> Option<String> {
        let r = known(&self.role)?;
        roles::by_name(r).map(|b| b.guid.clone()).or_else(|| roles::parse_role_definition_id(r).ok().map(|p| p.guid))
    }
}

pub use crate::resources::assignments::offline_role;

fn keep_same_id(mine: &mut Attr<String>, prior: &Attr<String>) {
    if let (Some(x), Some(y)) = (known(mine), known(prior)) {
        if same_id(x, y) {
            *mine = prior.clone();
        }
    }
}

/// Two lists of ids name the same objects, in any order and casing (linear in their length:
/// matrices of a thousand grants are compared on every plan).
fn same_id_lists(a: &Ids, b: &Ids) -> bool {
    let keys = |l: &Ids| {
        strings(l).map(|v| {
            let mut k: Vec<String> = v.iter().map(|i| id_key(i)).collect();
            k.sort_unstable();
            k
        })
    };
    match (keys(a), keys(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Extra assignments that mean the same thing (role compared by GUID, scope by ARM id).
fn same_extras(x: &[Extra], y: &[Extra]) -> bool {
    let same = |p: &Extra, q: &Extra| {
        p.identity == q.identity
            && p.offline_role_guid().is_some()
            && p.offline_role_guid() == q.offline_role_guid()
            && same_id(known(&p.scope).map_or("", String::as_str), known(&q.scope).map_or("", String::as_str))
            && p.description == q.description
    };
    x.len() == y.len()
        && x.iter().all(|p| y.iter().any(|q| same(p, q)))
        && y.iter().all(|q| x.iter().any(|p| same(p, q)))
}

/// The inputs recovered from existing assignments (import).
pub fn fill_inputs(m: &mut ClusterRoles, c: &Classified) {
    let list = |v: &[String]| (!v.is_empty()).then(|| Known::Known(v.iter().cloned().map(Known::Known).collect()));
    m.subnet_ids = list(&c.subnet_ids);
    m.route_table_ids = list(&c.route_table_ids);
    m.private_dns_zone_ids = list(&c.private_dns_zone_ids);
    m.acr_ids = list(&c.acr_ids);
    m.dns_zone_ids = list(&c.dns_zone_ids);
    m.kubelet_identity_id = c.kubelet_identity_id.clone().map(Known::Known);
    m.aad_pod_identity = c.pod_identity_enabled.then(|| PodIdentity {
        enabled: Some(Known::Known(true)),
        identity_resource_group_ids: list(&c.identity_resource_group_ids),
    });
    let text = |s: &str| Some(Known::Known(s.to_string()));
    m.extra_assignment = Some(Known::Known(
        c.extra
            .iter()
            .map(|x| Extra {
                identity: text(x.identity.as_str()),
                role: text(&x.role),
                scope: text(&x.scope),
                description: x.description.clone().map(Known::Known),
            })
            .collect(),
    ));
}
