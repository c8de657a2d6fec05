//! Glue shared by the role-assignment resources: the `assignments` element type, timeouts,
//! semantic equality of id lists, and planner findings as Terraform diagnostics.

use std::time::{Duration, Instant};

use crate::azure::arm::{ArmClient, ArmError};
use crate::azure::ids::ResourceId;
use crate::azure::role_assignments::RoleAssignment;
use crate::azure::{role_definitions, roles};
use crate::framework::duration;
use crate::framework::{Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Type, Value};
use crate::planner::{DesiredAssignment, Finding, Known, Severity, SourcePath};

/// One element of `assignments`.
pub fn assignment_type() -> Type {
    Type::object([
        ("key", Type::String),
        ("name", Type::String),
        ("id", Type::String),
        ("scope", Type::String),
        ("role_definition_id", Type::String),
        ("role_name", Type::String),
        ("principal_id", Type::String),
        ("principal_type", Type::String),
        ("identity", Type::String),
        ("reason", Type::String),
    ])
}

pub const PRINCIPAL_TYPE: &str = "ServicePrincipal";

/// The planned element for a desired assignment; `existing` is the assignment adopted in
/// its place (an equivalent one under another name), if any.
pub fn assignment_value(d: &DesiredAssignment, existing: Option<&RoleAssignment>) -> Value {
    let known = |k: Known<String>| match k {
        Known::Known(s) => Value::String(s),
        Known::Unknown => Value::Unknown,
    };
    let (name, id) = match existing {
        Some(a) => (Value::string(&a.name), Value::string(&a.id)),
        None => (known(d.name().map(|u| u.to_string())), known(d.id())),
    };
    Value::object([
        ("key", Value::string(&d.key)),
        ("name", name),
        ("id", id),
        ("scope", Value::string(&d.scope)),
        ("role_definition_id", Value::string(d.role_definition_id())),
        ("role_name", Value::string(&d.role.name)),
        ("principal_id", known(d.principal_id.clone())),
        ("principal_type", Value::string(PRINCIPAL_TYPE)),
        ("identity", Value::string(d.identity.as_str())),
        ("reason", Value::string(&d.reason)),
    ])
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

/// The timeout `which` ("create"/"delete") from a `timeouts` block value.
pub fn timeout(timeouts: &Value, which: &str) -> Duration {
    timeouts.attr(which).as_str().and_then(|s| duration::parse(s).ok()).unwrap_or(DEFAULT_TIMEOUT)
}

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

/// Strings of a list or set; `None` when the value or any element is unknown.
pub fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Unknown => None,
        other => other.as_elements()?.iter().map(|e| e.as_str().map(str::to_string)).collect(),
    }
}

/// The comparison key of an ARM id: equal keys name the same Azure object.
pub fn id_key(id: &str) -> String {
    match ResourceId::parse(id) {
        Ok(x) => x.key().to_string(),
        Err(_) => id.trim_end_matches('/').to_ascii_lowercase(),
    }
}

/// Two ids are the same Azure object (case-insensitive on ARM's terms).
pub fn same_id(a: &str, b: &str) -> bool {
    id_key(a) == id_key(b)
}

/// Two lists of ids name the same objects, in any order and casing (linear in their length:
/// matrices of a thousand grants are compared on every plan).
pub fn same_id_lists(a: &Value, b: &Value) -> bool {
    match (strings(a), strings(b)) {
        (Some(x), Some(y)) if x.len() == y.len() => {
            let mut kx: Vec<String> = x.iter().map(|i| id_key(i)).collect();
            let mut ky: Vec<String> = y.iter().map(|i| id_key(i)).collect();
            kx.sort_unstable();
            ky.sort_unstable();
            kx == ky
        }
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_compare_as_sets_ignoring_case() {
        let a = Value::list_of_strings([
            "/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/dnszones/z",
            "/subscriptions/s/resourceGroups/b",
        ]);
        let b = Value::list_of_strings([
            "/subscriptions/s/resourcegroups/b/",
            "/subscriptions/s/resourcegroups/RG/providers/microsoft.network/dnsZones/z",
        ]);
        assert!(same_id_lists(&a, &b));
        assert!(!same_id_lists(&a, &Value::list_of_strings(["/subscriptions/s/resourceGroups/b"])));
        assert!(!same_id_lists(&a, &Value::Unknown));
    }
}
