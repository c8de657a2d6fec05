//! What `aksid_cluster_identity_roles` checks before anything is sent to Azure: every id parses
//! and has a GUID subscription, `cluster_id` is a managed cluster, ranges and durations hold, and
//! the identities come from one source.

use super::model::{known, ClusterRoles, Ids, ID_LISTS};
use super::remote::CLUSTER_TYPE;
use super::schema;
use crate::framework::{AttributePath, Diagnostics, Value};
use crate::planner::IdentityKind;
use crate::resources::assignments as common;

/// Everything checkable without Azure: ids, ranges, durations, conflicting identity sources.
pub fn check(config: &ClusterRoles, raw: &Value, d: &mut Diagnostics) {
    common::validate_timeouts(raw, d);
    common::check_parallel_writes(raw, d);
    if let Some(id) = known(&config.cluster_id) {
        common::check_id(id, AttributePath::attr("cluster_id"), Some(CLUSTER_TYPE), d);
        for (a, v) in schema::PRINCIPALS.iter().zip([
            &config.control_plane_principal_id,
            &config.kubelet_principal_id,
            &config.node_resource_group_id,
        ]) {
            if v.is_some() {
                d.error_at(
                    AttributePath::attr(a),
                    "Conflicting identity sources",
                    format!("{a} is read from the cluster when cluster_id is set; set one or the other."),
                );
            }
        }
    }
    for (a, v) in [
        ("node_resource_group_id", &config.node_resource_group_id),
        ("kubelet_identity_id", &config.kubelet_identity_id),
    ] {
        if let Some(id) = known(v) {
            common::check_id(id, AttributePath::attr(a), None, d);
        }
    }
    for (a, l) in ID_LISTS.iter().zip(config.id_lists()) {
        check_list(l, AttributePath::attr(a), d);
    }
    if let Some(p) = &config.aad_pod_identity {
        let path = AttributePath::attr("aad_pod_identity").then_attr("identity_resource_group_ids");
        check_list(&p.identity_resource_group_ids, path, d);
    }
    for (i, e) in config.extras().iter().enumerate() {
        let at = AttributePath::attr("extra_assignment").then_index(i);
        if let Some(scope) = known(&e.scope).filter(|s| *s != "/") {
            common::check_id(scope, at.clone().then_attr("scope"), None, d);
        }
        if let Some(id) = known(&e.identity).filter(|id| IdentityKind::parse(id).is_none()) {
            d.error_at(
                at.then_attr("identity"),
                "Unknown identity",
                format!("{id:?}: use \"kubelet\" or \"control_plane\"."),
            );
        }
    }
}

fn check_list(l: &Ids, path: AttributePath, d: &mut Diagnostics) {
    for (i, id) in known(l).into_iter().flatten().enumerate() {
        if let Some(id) = id.known() {
            common::check_id(id, path.clone().then_index(i), None, d);
        }
    }
}
