//! What `aksid_pod_identity` checks before anything is sent: Kubernetes names, the mode, the
//! selector, the ids and their types, one identity source, and the inputs each mode needs.

use super::model::{known, text, Mode, PodIdentity, MODES};
use crate::framework::{AttributePath, Diagnostics, Value};
use crate::known::Known;
use crate::kube::objects::{is_valid_label_value, is_valid_name, is_valid_namespace};
use crate::resources::assignments as common;

pub const CLUSTER_TYPE: (&str, &str) = (
    "Microsoft.ContainerService/managedClusters",
    "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>",
);
pub const IDENTITY_TYPE: (&str, &str) = (
    "Microsoft.ManagedIdentity/userAssignedIdentities",
    "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>",
);

fn at(name: &str) -> AttributePath {
    AttributePath::attr(name)
}

/// Everything checkable without Azure or Kubernetes.
pub fn check(m: &PodIdentity, raw: &Value, d: &mut Diagnostics) {
    common::validate_timeouts(raw, d);
    check_names(m, d);
    check_mode(m, d);
    check_ids(m, d);
    if let Some(aud) = known(&m.audiences) {
        if aud.is_empty() || aud.iter().any(|a| a.known().is_some_and(|s| s.trim().is_empty())) {
            d.error_at(
                at("audiences"),
                "Invalid audiences",
                "Give at least one non-empty audience (usually \"api://AzureADTokenExchange\").",
            );
        }
    }
    if let Some(url) = text(&m.oidc_issuer_url) {
        if !url.starts_with("https://") {
            d.error_at(
                at("oidc_issuer_url"),
                "Invalid OIDC issuer URL",
                format!("{url:?} is not an https URL; copy the cluster's oidc_issuer_url exactly."),
            );
        }
    }
    if let Some(p) = text(&m.kubelet_principal_id) {
        if !crate::domain::is_guid(p) {
            d.error_at(
                at("kubelet_principal_id"),
                "Invalid principal id",
                format!("{p:?} is not an object id (a GUID)."),
            );
        }
    }
}

fn check_names(m: &PodIdentity, d: &mut Diagnostics) {
    let rule =
        "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";
    for (attr, value) in
        [("name", &m.name), ("binding_name", &m.binding_name), ("service_account_name", &m.service_account_name)]
    {
        if let Some(v) = text(value).filter(|v| !is_valid_name(v)) {
            d.error_at(
                at(attr),
                format!("Invalid Kubernetes name in {attr}"),
                format!("{v:?} is not an RFC 1123 subdomain ({rule})."),
            );
        }
    }
    if let Some(ns) = text(&m.namespace).filter(|v| !is_valid_namespace(v)) {
        d.error_at(
            at("namespace"),
            "Invalid Kubernetes namespace",
            format!("{ns:?} is not an RFC 1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)."),
        );
    }
    if let Some(sel) = text(&m.selector).filter(|v| v.is_empty() || !is_valid_label_value(v)) {
        d.error_at(
            at("selector"),
            "Invalid selector",
            format!("{sel:?} is not a valid label value (pods carry it as aadpodidbinding=<selector>): letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters, no spaces."),
        );
    }
}

fn check_mode(m: &PodIdentity, d: &mut Diagnostics) {
    let Some(raw) = text(&m.mode) else { return };
    let Some(mode) = Mode::parse(raw) else {
        let hint = MODES
            .iter()
            .min_by_key(|candidate| strsim::levenshtein(&raw.to_ascii_lowercase(), candidate))
            .map(|c| format!("Did you mean {c:?}? "))
            .unwrap_or_default();
        return d.error_at(
            at("mode"),
            "Invalid mode",
            format!("{raw:?} is not a mode. {hint}Use one of: {}.", MODES.join(", ")),
        );
    };
    let from_cluster = m.cluster_id.is_some();
    if mode.pod_identity() && !from_cluster && m.kubelet_principal_id.is_none() {
        d.error_at(at("mode"), "AAD Pod Identity needs the kubelet identity", "Set cluster_id, or kubelet_principal_id for a cluster created in the same apply: the kubelet identity gets Managed Identity Operator on the application identity.");
    }
    if mode.workload_identity() && !from_cluster && m.oidc_issuer_url.is_none() {
        d.error_at(at("mode"), "Workload identity needs the cluster's OIDC issuer", "Set cluster_id, or oidc_issuer_url for a cluster created in the same apply: the federated credential trusts tokens from that issuer.");
    }
}

fn check_ids(m: &PodIdentity, d: &mut Diagnostics) {
    if let Some(id) = text(&m.cluster_id) {
        common::check_id(id, at("cluster_id"), Some(CLUSTER_TYPE), d);
    }
    match (&m.identity, &m.identity_id) {
        // Unknown while a module's for_each is validated (it may turn out null): checked again
        // with the instance's values at plan.
        (_, Some(Known::Unknown)) => {}
        (Some(_), Some(_)) => d.error_at(
            at("identity_id"),
            "Conflicting identity sources",
            "Set identity_id to use an existing identity, or an identity block to create one, not both.",
        ),
        (None, None) => d.error_at(
            at("identity_id"),
            "Missing identity",
            "Set identity_id to an existing user-assigned identity, or add an identity block to create one.",
        ),
        (None, Some(_)) => {
            if let Some(id) = text(&m.identity_id) {
                common::check_id(id, at("identity_id"), Some(IDENTITY_TYPE), d);
            }
        }
        (Some(i), None) => {
            if let Some(rg) = text(&i.resource_group_id) {
                let example = "/subscriptions/<guid>/resourceGroups/<name>";
                let path = at("identity").then_attr("resource_group_id");
                common::check_id(rg, path, Some((crate::planner::policy::RESOURCE_GROUP_TYPE, example)), d);
            }
            if let Some(n) = text(&i.name).filter(|n| !valid_identity_name(n)) {
                d.error_at(at("identity").then_attr("name"), "Invalid identity name", format!("{n:?}: user-assigned identity names are 3-128 characters of letters, digits, '-' and '_', starting with a letter or digit."));
            }
        }
    }
}

fn valid_identity_name(n: &str) -> bool {
    (3..=128).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::decode;

    fn config(identity_id: Value, identity: Value) -> Value {
        let cluster = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
        Value::object([
            ("name", Value::string("reports")),
            ("namespace", Value::string("reports")),
            ("mode", Value::string("workload_identity")),
            ("cluster_id", Value::string(cluster)),
            ("identity_id", identity_id),
            ("identity", identity),
        ])
    }

    fn errors(config: &Value) -> Vec<String> {
        let m: PodIdentity = decode(config).unwrap();
        let mut d = Diagnostics::new();
        check(&m, config, &mut d);
        d.0.iter().map(|x| x.summary.clone()).collect()
    }

    fn block(name: Value, rg: Value, location: Value) -> Value {
        Value::object([("name", name), ("resource_group_id", rg), ("location", location), ("tags", Value::Null)])
    }

    #[test]
    fn an_identity_source_unknown_at_validation_is_no_conflict_yet_but_two_known_ones_are() {
        // A module's `for_each` over apps: identity_id is unknown, and a `dynamic "identity"`
        // with an unknown for_each arrives as a block of unknowns.
        let unknown_block = block(Value::Unknown, Value::Unknown, Value::Unknown);
        assert_eq!(errors(&config(Value::Unknown, unknown_block)), Vec::<String>::new());
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg";
        let known_block = block(Value::string("id-reports"), Value::string(rg), Value::string("westeurope"));
        assert_eq!(errors(&config(Value::Unknown, known_block.clone())), Vec::<String>::new());
        let id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-x";
        assert_eq!(errors(&config(Value::string(id), known_block)), ["Conflicting identity sources"]);
    }
}
