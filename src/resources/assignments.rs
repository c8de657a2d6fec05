//! Glue shared by the role-assignment resources: the `assignments` element type, timeouts,
//! semantic equality of id lists, and planner findings as Terraform diagnostics.

use std::time::{Duration, Instant};

use crate::azure::arm::{ArmClient, ArmError};
use crate::azure::role_definitions;
use crate::domain::ids::ResourceId;
use crate::domain::roles;
use serde::{Deserialize, Serialize};

use crate::framework::duration;
use crate::framework::{Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Type, Value};
use crate::known::Known;
use crate::planner::{Finding, Severity, SourcePath};

pub const PRINCIPAL_TYPE: &str = "ServicePrincipal";

/// A Terraform attribute in a typed model: null (`None`), unknown, or known.
pub type Attr<T> = Option<Known<T>>;

/// The `allow_broad_scope` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BroadScope {
    pub justification: Attr<String>,
}

/// The `timeouts` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    pub create: Attr<String>,
    pub delete: Attr<String>,
}

/// The timeout for `which` ("create" or "delete"); the default when not given or invalid
/// (validation has reported an invalid one already).
pub fn timeout_of(t: &Option<Timeouts>, which: &str) -> Duration {
    let given = t.as_ref().and_then(|t| if which == "delete" { &t.delete } else { &t.create }.as_ref());
    given.and_then(Known::known).and_then(|s| duration::parse(s).ok()).unwrap_or(DEFAULT_TIMEOUT)
}

pub fn timeouts_block() -> NestedBlock {
    NestedBlock::new(
        "timeouts",
        Nesting::Single,
        Block::new("How long operations may take, e.g. `\"5m\"` or `\"90s\"` (at most `\"24h\"`).")
            .attribute(Attribute::optional("create", Type::String, "Create and update (default 10m)."))
            .attribute(Attribute::optional("delete", Type::String, "Delete (default 10m).")),
    )
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub fn validate_timeouts(config: &Value, d: &mut Diagnostics) {
    for which in ["create", "delete"] {
        if let Some(s) = config.attr("timeouts").attr(which).as_str() {
            if let Err(e) = duration::parse(s) {
                d.error_at(AttributePath::attr("timeouts").then_attr(which), "Invalid timeout", format!("{e}."));
            }
        }
    }
}

/// The GUID and display name of `role`: a built-in name, any role definition id form, or
/// (through ARM, when a client is available) the name of a custom role visible at `scope`.
/// Errors point at `at` and suggest the closest built-in names.
pub async fn resolve_role(
    arm: Option<&ArmClient>,
    role: &str,
    scope: &str,
    at: AttributePath,
    deadline: Instant,
) -> Result<(String, String), Diagnostic> {
    if let Some(r) = roles::by_name(role) {
        return Ok((r.guid.clone(), r.name.clone()));
    }
    if let Ok(r) = roles::parse_role_definition_id(role) {
        let name = roles::by_guid(&r.guid).map_or_else(|| r.guid.clone(), |b| b.name.clone());
        return Ok((r.guid, name));
    }
    let hint = roles::suggest(role, 3).iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", or ");
    let Some(arm) = arm else {
        return Err(Diagnostic::error(
            "Unknown role",
            format!("{role:?} is not a built-in role. Did you mean {hint}?"),
        )
        .at(at));
    };
    let found = role_definitions::find_by_name(arm, scope, role, deadline)
        .await
        .map_err(|e| Diagnostic::error("Cannot look up the role", e.to_string()).at(at.clone()))?;
    match found.as_slice() {
        [guid] => Ok((guid.clone(), role.to_string())),
        [] => Err(Diagnostic::error(
            "Unknown role",
            format!("No built-in or custom role named {role:?} is assignable at this scope. Did you mean {hint}?"),
        )
        .at(at)),
        many => {
            Err(Diagnostic::error("Ambiguous role", format!("{} roles are named {role:?}; use its id.", many.len()))
                .at(at))
        }
    }
}

pub use crate::domain::ids::{id_key, same_id};

/// Whether a role can be resolved without Azure (built-in name or an id form).
pub fn offline_role(role: &str) -> bool {
    roles::by_name(role).is_some() || roles::parse_role_definition_id(role).is_ok()
}

/// Where a planner finding points, as a Terraform attribute path.
pub fn finding_path(s: &SourcePath) -> AttributePath {
    let mut p = AttributePath::attr(&s.attribute);
    if let Some(i) = s.index {
        p = p.then_index(i);
    }
    if let Some(n) = &s.nested {
        p = p.then_attr(n);
    }
    if let Some(i) = s.nested_index {
        p = p.then_index(i);
    }
    p
}

pub fn findings_to_diagnostics(findings: &[Finding]) -> Diagnostics {
    findings_at(findings, finding_path)
}

/// Planner findings as diagnostics, with `path` mapping each finding's source to where it
/// points in this resource's schema.
pub fn findings_at(findings: &[Finding], path: impl Fn(&SourcePath) -> AttributePath) -> Diagnostics {
    let mut d = Diagnostics::new();
    for f in findings {
        match f.severity {
            Severity::Error => d.error_at(path(&f.source), &f.summary, &f.detail),
            Severity::Warning => d.warning_at(path(&f.source), &f.summary, &f.detail),
        }
    }
    d
}

/// An ARM failure as a diagnostic. Failures that are about the provider's configuration
/// (authentication, an endpoint's TLS, an endpoint that does not answer) carry no attribute
/// path and a summary that says so, with `summary` (what we were doing) in the detail; anything
/// else points at `path` when given.
pub fn arm_diag(e: &ArmError, path: Option<AttributePath>, summary: &str) -> Diagnostics {
    let d = match e {
        ArmError::Auth(why) => {
            return Diagnostic::error(
                "Azure authentication failed (provider configuration)",
                format!("{summary}: {why}"),
            )
            .into()
        }
        ArmError::Endpoint(ep) => {
            return Diagnostic::error(format!("Provider configuration: {}", ep.summary()), format!("{summary}: {ep}"))
                .into()
        }
        _ => Diagnostic::error(summary, e.to_string()),
    };
    match path {
        Some(p) => d.at(p).into(),
        None => d.into(),
    }
}

/// Check an ARM id given in `path` before anything is sent: it parses, its subscription is a
/// GUID, and (when `expected` names a resource type) it is of that type.
pub fn check_id(id: &str, path: AttributePath, expected: Option<(&str, &str)>, d: &mut Diagnostics) {
    let parsed = match ResourceId::parse(id) {
        Ok(p) => p,
        Err(e) => return d.error_at(path, "Invalid Azure resource id", format!("{e}.")),
    };
    if let Some(sub) = parsed.subscription_id() {
        if !crate::domain::is_guid(sub) {
            return d.error_at(
                path,
                "Invalid subscription id",
                format!("{sub:?} in {id:?} is not a subscription id: subscription ids are GUIDs."),
            );
        }
    }
    if let Some((wanted, example)) = expected {
        let found = parsed.resource_type().unwrap_or_else(|| "the tenant root".into());
        if !found.eq_ignore_ascii_case(wanted) {
            d.error_at(
                path,
                "Wrong kind of Azure resource",
                format!("expected the id of a {wanted} resource, like {example}, but {id:?} is a {found}."),
            );
        }
    }
}

/// `max_parallel_writes`: how many role-assignment writes may be in flight.
pub const PARALLEL_WRITES_RANGE: std::ops::RangeInclusive<i64> = 1..=64;

pub fn check_parallel_writes(config: &Value, d: &mut Diagnostics) {
    let Some(n) = config.attr("max_parallel_writes").as_number() else { return };
    let ok = n.as_i64().is_some_and(|i| PARALLEL_WRITES_RANGE.contains(&i));
    if !ok {
        d.error_at(
            AttributePath::attr("max_parallel_writes"),
            "Invalid max_parallel_writes",
            format!(
                "{} is outside the allowed range {}–{} (a whole number of writes in flight; default 4).",
                n.as_f64(),
                PARALLEL_WRITES_RANGE.start(),
                PARALLEL_WRITES_RANGE.end()
            ),
        );
    }
}

/// The cause a failure is grouped under: ARM's error code, or the kind of failure.
fn cause(e: &ArmError) -> String {
    match e {
        // Azure's limit is per subscription: one cause per subscription, named.
        ArmError::Api { code, path, .. } if code == LIMIT_EXCEEDED => {
            let sub = crate::domain::ids::subscription_of(path).unwrap_or_else(|| "?".into());
            format!("{LIMIT_EXCEEDED} in subscription {sub}")
        }
        ArmError::Api { code, .. } => code.clone(),
        ArmError::Auth(_) => "authentication".into(),
        ArmError::Endpoint(_) => "endpoint".into(),
        ArmError::Timeout(_) => "timeout".into(),
        _ => "connection".into(),
    }
}

/// What to tell the user about a cause, as (summary, hint).
fn explain(verb: &str, cause: &str) -> (String, &'static str) {
    match (verb, cause) {
        ("create", "PrincipalNotFound") => (
            "Principal not found in Entra ID".into(),
            "The principal did not appear within the create timeout. Check the principal id (an object id, not a \
             client id), or raise timeouts.create if the identity was just created.",
        ),
        (_, "AuthorizationFailed") => (
            format!("Not allowed to {verb} role assignments"),
            "The caller needs Owner, User Access Administrator or Role Based Access Control Administrator at or \
             above the scope.",
        ),
        ("create", "RoleDefinitionDoesNotExist") => ("Unknown role definition".into(), ""),
        ("create", c) if c.starts_with(LIMIT_EXCEEDED) => (
            format!("Role assignment limit reached: {}", c.trim_start_matches(LIMIT_EXCEEDED).trim()),
            "Azure allows 4,000 role assignments per subscription (including ones made outside Terraform). Remove \
             unused assignments in that subscription (`az role assignment list --all`), or grant to groups or at \
             fewer scopes.",
        ),
        ("create", "UnmatchedPrincipalType") => (
            "Principal type does not match the directory".into(),
            "Set principal_type to the principal's type in Entra ID (ServicePrincipal, User, Group or ForeignGroup).",
        ),
        // About the provider block, not the grants: one cause for all of them.
        (_, "authentication") => (
            "Azure authentication failed (provider configuration)".into(),
            "Check the provider's credentials (client, OIDC, managed identity or Azure CLI settings).",
        ),
        (_, "endpoint") => (
            "Provider configuration: an Azure endpoint is unusable".into(),
            "Check arm_endpoint, authority_host and ca_certificate in the provider block.",
        ),
        _ => (format!("Cannot {verb} role assignments"), ""),
    }
}

const LIMIT_EXCEEDED: &str = "RoleAssignmentLimitExceeded";

/// Largest number of grants listed in one diagnostic's detail: Terraform's rendering cost
/// grows quickly with diagnostic size and count, and a complete list of thousands helps no one.
const LISTED_PER_CAUSE: usize = 200;

/// Failures grouped by cause: one diagnostic per cause, with the count, the first error in full
/// and the affected grants (capped), instead of one diagnostic per grant. `verb` is "create" or
/// "delete"; each failure is (grant key, error).
pub fn group_failures(verb: &str, failures: Vec<(String, ArmError)>) -> Diagnostics {
    let mut groups: Vec<(String, Vec<(String, ArmError)>)> = Vec::new();
    for (key, e) in failures {
        let c = cause(&e);
        match groups.iter_mut().find(|(g, _)| *g == c) {
            Some((_, members)) => members.push((key, e)),
            None => groups.push((c, vec![(key, e)])),
        }
    }
    let mut d = Diagnostics::new();
    for (c, members) in groups {
        let (summary, hint) = explain(verb, &c);
        let n = members.len();
        let listed: Vec<String> = members.iter().take(LISTED_PER_CAUSE).map(|(k, _)| format!("- {k}")).collect();
        let more = n.saturating_sub(LISTED_PER_CAUSE);
        let first = &members[0].1;
        let mut detail = format!("{n} grant(s) failed ({c}).");
        if !hint.is_empty() {
            detail.push(' ');
            detail.push_str(hint);
        }
        detail.push_str(&format!("\n\nFirst error: {first}\n\nAffected grants:\n{}", listed.join("\n")));
        if more > 0 {
            detail.push_str(&format!("\n… and {more} more"));
        }
        let summary = if n == 1 { summary } else { format!("{summary} ({n} grants)") };
        d.push(Diagnostic::error(summary, detail));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, path: &str) -> ArmError {
        ArmError::Api {
            method: "PUT".into(),
            path: path.into(),
            status: 403,
            code: code.into(),
            message: "no".into(),
            request_id: "r".into(),
            correlation_id: "c".into(),
        }
    }

    #[test]
    fn failures_are_grouped_by_cause() {
        let mut failures: Vec<(String, ArmError)> = (0..3000)
            .map(|i| (format!("kubelet/AcrPull/acr{i}"), api("AuthorizationFailed", &format!("/x/{i}"))))
            .collect();
        failures.push(("extra/one".into(), api("PrincipalNotFound", "/y")));
        failures.push(("extra/two".into(), ArmError::Timeout("gave up".into())));
        let d = group_failures("create", failures);
        let all: Vec<_> = d.0.iter().collect();
        assert_eq!(all.len(), 3, "one diagnostic per cause");
        assert!(all[0].summary.contains("Not allowed to create") && all[0].summary.contains("3000 grants"));
        assert!(all[0].detail.contains("kubelet/AcrPull/acr0") && all[0].detail.contains("and 2800 more"));
        assert!(all[0].detail.len() < 16_000, "detail stays small: {}", all[0].detail.len());
        assert_eq!(all[1].summary, "Principal not found in Entra ID");
        assert!(all[2].detail.contains("(timeout)"));
    }

    /// How `arm_diag` reports these errors: configuration failures
    /// are not pinned on the resource's attribute.
    #[test]
    fn the_role_assignment_limit_is_one_diagnostic_per_subscription_naming_it_and_the_count() {
        let path = |sub: &str, n: usize| {
            format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{n}")
        };
        let mut failures: Vec<(String, ArmError)> =
            (0..3).map(|n| (format!("k{n}"), api("RoleAssignmentLimitExceeded", &path("aaaa", n)))).collect();
        failures.push(("other".into(), api("RoleAssignmentLimitExceeded", &path("bbbb", 9))));
        let d = group_failures("create", failures);
        assert_eq!(d.0.len(), 2, "one per subscription");
        assert_eq!(d.0[0].summary, "Role assignment limit reached: in subscription aaaa (3 grants)");
        assert!(d.0[0].detail.contains("4,000 role assignments per subscription"), "{}", d.0[0].detail);
        assert_eq!(d.0[1].summary, "Role assignment limit reached: in subscription bbbb");
    }

    #[test]
    fn configuration_failures_carry_no_path_and_say_so() {
        use crate::azure::http::{EndpointError, Failure, TlsProblem, Unreachable};
        let at = || Some(crate::framework::AttributePath::attr("cluster_id"));
        let tls = ArmError::Endpoint(EndpointError::new(
            "https://127.0.0.1:8443/",
            Some("arm_endpoint"),
            Failure::Tls(TlsProblem::UnknownIssuer),
            Some("/tmp/ca.pem"),
            "invalid peer certificate: UnknownIssuer".into(),
        ));
        let refused = ArmError::Endpoint(EndpointError::new(
            "https://127.0.0.1:1/",
            Some("arm_endpoint"),
            Failure::Unreachable(Unreachable::Refused),
            None,
            "Connection refused".into(),
        ));
        for (e, summary) in [
            (ArmError::Auth("AADSTS7000215".into()), "Azure authentication failed (provider configuration)"),
            (tls, "Provider configuration: TLS certificate of arm_endpoint not accepted"),
            (refused, "Provider configuration: cannot connect to arm_endpoint"),
        ] {
            let d = arm_diag(&e, at(), "Cannot read the AKS cluster");
            assert_eq!(d.0.len(), 1);
            assert_eq!(d.0[0].attribute, None, "{e}");
            assert_eq!(d.0[0].summary, summary);
            assert!(d.0[0].detail.starts_with("Cannot read the AKS cluster: "), "{}", d.0[0].detail);
        }
        let api = ArmError::Timeout("gave up".into());
        assert_eq!(arm_diag(&api, at(), "Cannot read the AKS cluster").0[0].attribute, at());
    }
}
