//! Role assignment and role definition rules (Microsoft.Authorization 2022-04-01).

use time::OffsetDateTime;

use super::*;
use crate::errors::ArmError;
use crate::ids::{self, Scope};
use crate::util::is_guid;

pub const RA_READ: &str = "Microsoft.Authorization/roleAssignments/read";
pub const RA_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
pub const RA_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";
pub const RD_READ: &str = "Microsoft.Authorization/roleDefinitions/read";

/// The writable part of a role assignment (the PUT body's `properties`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RaRequest {
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: Option<String>,
    pub description: Option<String>,
    pub condition: Option<String>,
    pub condition_version: Option<String>,
    pub delegated_managed_identity_resource_id: Option<String>,
}

/// A parsed role assignment `$filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaFilter {
    /// At, above and below the scope.
    All,
    /// `atScope()`: at or above.
    AtScope,
    /// `principalId eq '…'` / `assignedTo('…')`: at, above or below, for one principal.
    Principal(String),
    /// `atScope() and assignedTo('…')`.
    AtScopeForPrincipal(String),
}

fn unsupported_filter(f: &str) -> ArmError {
    ArmError::bad_request(
        "UnsupportedQuery",
        format!(
            "The filter '{f}' is not supported. Supported filters are atScope(), principalId eq '{{id}}' and assignedTo('{{id}}'), optionally combined with 'and'."
        ),
    )
}

/// Extract the quoted value of `prefix'…'suffix`.
fn quoted<'a>(term: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let lower = term.to_ascii_lowercase();
    if !lower.starts_with(prefix) || !lower.ends_with(suffix) {
        return None;
    }
    let inner = term.get(prefix.len()..term.len() - suffix.len())?.trim();
    let inner = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner)
}

/// Split on the keyword ` and ` (case-insensitive), outside quotes.
fn split_and(f: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_quote = !in_quote;
        }
        if !in_quote && c.is_whitespace() {
            let rest: String = chars[i..].iter().collect();
            let trimmed = rest.trim_start();
            if trimmed.len() > 4
                && trimmed.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("and"))
                && trimmed.get(3..).is_some_and(|r| r.starts_with(char::is_whitespace))
            {
                parts.push(cur.trim().to_string());
                cur.clear();
                let skip = rest.len() - trimmed.len() + 3;
                i += skip;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur.trim().to_string());
    parts
}

pub fn parse_ra_filter(filter: Option<&str>) -> Result<RaFilter, ArmError> {
    let Some(f) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(RaFilter::All);
    };
    let mut at_scope = false;
    let mut principal: Option<String> = None;
    for term in split_and(f) {
        let compact: String = term.split_whitespace().collect::<Vec<_>>().join(" ");
        if compact.eq_ignore_ascii_case("atScope()") {
            at_scope = true;
            continue;
        }
        let p = quoted(&compact, "principalid eq ", "").or_else(|| quoted(&compact, "assignedto(", ")"));
        match p {
            Some(id) if principal.is_none() => principal = Some(id.to_ascii_lowercase()),
            _ => return Err(unsupported_filter(f)),
        }
    }
    Ok(match (at_scope, principal) {
        (false, None) => RaFilter::All,
        (true, None) => RaFilter::AtScope,
        (false, Some(p)) => RaFilter::Principal(p),
        (true, Some(p)) => RaFilter::AtScopeForPrincipal(p),
    })
}

/// A parsed role definition `$filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdFilter {
    pub role_name: Option<String>,
    pub role_type: Option<String>,
}

pub fn parse_rd_filter(filter: Option<&str>) -> Result<RdFilter, ArmError> {
    let mut out = RdFilter::default();
    let Some(f) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(out);
    };
    for term in split_and(f) {
        let compact: String = term.split_whitespace().collect::<Vec<_>>().join(" ");
        if compact.eq_ignore_ascii_case("atScopeAndBelow()") {
            continue;
        }
        if let Some(n) = quoted(&compact, "rolename eq ", "") {
            out.role_name = Some(n.to_string());
        } else if let Some(t) = quoted(&compact, "type eq ", "") {
            out.role_type = Some(t.to_string());
        } else {
            return Err(ArmError::bad_request(
                "UnsupportedQuery",
                format!(
                    "The filter '{f}' is not supported. Supported filters are roleName eq '{{name}}' and type eq 'BuiltInRole'|'CustomRole'."
                ),
            ));
        }
    }
    Ok(out)
}

pub fn invalid_ra_name(name: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidRoleAssignmentId",
        format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
    )
}

pub fn role_definition_not_found(guid: &str) -> ArmError {
    ArmError::new(
        400,
        "RoleDefinitionDoesNotExist",
        format!("The specified role definition with ID '{guid}' does not exist."),
    )
}

/// The `principalType` values ARM accepts (the spec's enum plus `Device`, which the SDKs
/// know), in their canonical spelling; anything else is 400 `InvalidPrincipalType`.
pub fn canonical_principal_type(t: &str) -> Result<&'static str, ArmError> {
    ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidPrincipalType",
                format!(
                    "The PrincipalType property '{t}' is not valid. It must be 'User', 'Group' or 'ServicePrincipal'."
                ),
            )
        })
}

/// A sent (canonical) `principalType` must be the directory type of the principal; a
/// group may also be assigned as `ForeignGroup`. Otherwise 400 `UnmatchedPrincipalType`.
pub fn check_principal_type(principal_id: &str, actual: &str, requested: &str) -> Result<(), ArmError> {
    if requested == actual || (actual == "Group" && requested == "ForeignGroup") {
        return Ok(());
    }
    // Azure's wording, including the space before the comma and the "PrinciaplType" typo.
    Err(ArmError::bad_request(
        "UnmatchedPrincipalType",
        format!(
            "The PrincipalId '{principal_id}' has type '{actual}' , which is different from specified PrinciaplType '{requested}'."
        ),
    ))
}

fn ra_display_scope(scope_raw: &str, name: &str) -> String {
    let s = ids::with_leading_slash(scope_raw);
    let s = if s == "/" { String::new() } else { s };
    format!("{s}/providers/Microsoft.Authorization/roleAssignments/{name}")
}

/// A role assignment PUT once validated: lower-case name and principal id, the role
/// resolved to its GUID, the condition version defaulted.
struct RaPut {
    name: String,
    role_guid: String,
    principal_id: String,
    condition_version: Option<String>,
    /// The caller's object id; `None` for admin writes.
    by: Option<String>,
    req: RaRequest,
}

/// The checks of a PUT that need neither the store nor the directory.
fn check_ra_request(name: &str, req: &RaRequest) -> Result<(), ArmError> {
    if !is_guid(name) {
        return Err(invalid_ra_name(name));
    }
    if req.role_definition_id.trim().is_empty() {
        return Err(ArmError::bad_request("InvalidRoleDefinitionId", "The role definition ID '' is not valid."));
    }
    if !is_guid(&req.principal_id) {
        return Err(ArmError::bad_request(
            "InvalidPrincipalId",
            format!("The Principal ID '{}' is not valid. Principal ID must be a GUID.", req.principal_id),
        ));
    }
    if let Some(v) = &req.condition_version {
        if v != "1.0" && v != "2.0" {
            return Err(ArmError::bad_request(
                "InvalidConditionVersion",
                format!("The condition version '{v}' is not supported. Supported versions: 2.0."),
            ));
        }
    }
    Ok(())
}

impl Store {
    /// Scope of a role assignment record (records always hold a parseable scope).
    fn ra_scope(ra: &RoleAssignment) -> Scope {
        Scope::parse(&ra.scope).unwrap_or(Scope::Tenant)
    }

    /// Find a role assignment by name (names are unique across the tenant).
    pub fn role_assignment_by_name(&self, name: &str) -> Option<&RoleAssignment> {
        let name = name.to_ascii_lowercase();
        self.state.role_assignments.iter().find(|r| r.name == name)
    }

    /// Resolve a roleDefinitionId (tenant or subscription form) that must be assignable at `scope`.
    pub fn resolve_assignable_role(
        &self,
        role_definition_id: &str,
        scope: &Scope,
    ) -> Result<&RoleDefinition, ArmError> {
        let guid = ids::parse_role_definition_id(role_definition_id)
            .map(|(_, g)| g)
            .unwrap_or_else(|| ids::segments(role_definition_id).last().map(|s| s.to_string()).unwrap_or_default());
        let role = self.role(&guid).ok_or_else(|| role_definition_not_found(&guid))?;
        if role.role_type == "CustomRole" {
            let assignable =
                role.assignable_scopes.iter().any(|a| Scope::parse(a).is_ok_and(|a| self.scope_contains(&a, scope)));
            if !assignable {
                return Err(role_definition_not_found(&guid));
            }
        }
        Ok(role)
    }

    /// PUT a role assignment. Returns (201|200, record). `caller = None` is an
    /// out-of-band (admin) write: no authorization and no directory lookup.
    pub fn put_role_assignment(
        &mut self,
        caller: Option<&Caller>,
        scope_raw: &str,
        name: &str,
        req: RaRequest,
        now: OffsetDateTime,
    ) -> Result<(u16, RoleAssignment), ArmError> {
        let scope = Scope::parse(scope_raw)?;
        if let Some(c) = caller {
            self.authorize(c, RA_WRITE, &scope, &ra_display_scope(scope_raw, name))?;
        }
        self.check_scope_exists(&scope)?;
        check_ra_request(name, &req)?;
        let role_guid = self.resolve_assignable_role(&req.role_definition_id, &scope)?.id.clone();
        let principal_id = req.principal_id.to_ascii_lowercase();
        let condition_version = match (&req.condition, &req.condition_version) {
            (Some(_), None) => Some("2.0".to_string()),
            (_, v) => v.clone(),
        };
        // A sent principalType must be a known value and, when the principal is in the
        // directory, its actual type (on every PUT, as Azure checks the body each time).
        let requested_type = req.principal_type.as_deref().map(canonical_principal_type).transpose()?;
        let directory_type = self.principal_available(&principal_id, now).map(|p| p.kind.principal_type());
        if let (Some(actual), Some(requested)) = (directory_type, requested_type) {
            check_principal_type(&req.principal_id, actual, requested)?;
        }
        // Names, principal ids and role GUIDs are stored in lower case: plain comparisons.
        let put = RaPut {
            name: name.to_ascii_lowercase(),
            role_guid,
            principal_id,
            condition_version,
            by: caller.map(|c| c.oid.clone()),
            req,
        };
        if let Some(idx) = self.state.role_assignments.iter().position(|r| r.name == put.name) {
            return self.update_role_assignment(idx, &scope, put, now);
        }
        // New assignment: the principal must be in the directory and replicated, unless
        // the lookup is skipped (admin writes, or a principalType with the setting on).
        let skip_lookup =
            caller.is_none() || (requested_type.is_some() && self.settings().principal_type_skips_replication_check);
        let principal_type = self.new_principal_type(&put, &scope, requested_type, directory_type, skip_lookup)?;
        self.create_role_assignment(&scope, scope_raw, put, principal_type, now)
    }

    /// A PUT under an existing name: an update of description/condition, or a forbidden
    /// change of scope, role or principal.
    fn update_role_assignment(
        &mut self,
        idx: usize,
        scope: &Scope,
        put: RaPut,
        now: OffsetDateTime,
    ) -> Result<(u16, RoleAssignment), ArmError> {
        let existing = &self.state.role_assignments[idx];
        let same = Self::ra_scope(existing).key() == scope.key()
            && existing.role_definition_guid == put.role_guid
            && existing.principal_id == put.principal_id;
        if !same {
            return Err(ArmError::bad_request(
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            ));
        }
        let ra = &mut self.state.role_assignments[idx];
        let changed = ra.description != put.req.description
            || ra.condition != put.req.condition
            || ra.condition_version != put.condition_version;
        if changed {
            ra.description = put.req.description;
            ra.condition = put.req.condition;
            ra.condition_version = put.condition_version;
            ra.updated_on = now;
            ra.updated_by = put.by;
        }
        Ok((200, ra.clone()))
    }

    /// The principalType a new assignment is recorded with: the directory's, else the one
    /// sent (when the lookup is skipped); an error when the principal is not (yet) there.
    fn new_principal_type(
        &self,
        put: &RaPut,
        scope: &Scope,
        requested_type: Option<&'static str>,
        directory_type: Option<&'static str>,
        skip_lookup: bool,
    ) -> Result<String, ArmError> {
        let principal_type = match (requested_type, directory_type) {
            // Checked against the directory before.
            (Some(t), Some(_)) => t,
            (None, Some(actual)) => actual,
            (Some(t), None) if skip_lookup => t,
            // Azure's default when it cannot infer the type.
            (None, None) if skip_lookup => "User",
            (_, None) => {
                let tenant = self.tenant_of_scope(scope).unwrap_or_else(|| self.default_tenant().to_string());
                return Err(ArmError::bad_request(
                    "PrincipalNotFound",
                    format!(
                        "Principal {} does not exist in the directory {tenant}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                        put.req.principal_id
                    ),
                ));
            }
        };
        Ok(principal_type.to_string())
    }

    /// Record a new assignment, unless the same (scope, role, principal) exists under another
    /// name or the scope is at its limit.
    fn create_role_assignment(
        &mut self,
        scope: &Scope,
        scope_raw: &str,
        put: RaPut,
        principal_type: String,
        now: OffsetDateTime,
    ) -> Result<(u16, RoleAssignment), ArmError> {
        // Cheap fields first.
        let scope_key = scope.key();
        if self.state.role_assignments.iter().any(|r| {
            r.role_definition_guid == put.role_guid
                && r.principal_id == put.principal_id
                && ids::key(&r.scope) == scope_key
        }) {
            return Err(ArmError::new(409, "RoleAssignmentExists", "The role assignment already exists."));
        }

        self.check_ra_limit(scope)?;

        let ra = RoleAssignment {
            name: put.name,
            scope: self.canonical_scope(scope, scope_raw),
            role_definition_guid: put.role_guid,
            principal_id: put.principal_id,
            principal_type,
            description: put.req.description,
            condition: put.req.condition,
            condition_version: put.condition_version,
            delegated_managed_identity_resource_id: put.req.delegated_managed_identity_resource_id,
            created_on: now,
            updated_on: now,
            created_by: put.by.clone(),
            updated_by: put.by,
        };
        self.state.role_assignments.push(ra.clone());
        Ok((201, ra))
    }

    fn check_ra_limit(&self, scope: &Scope) -> Result<(), ArmError> {
        let limit_err = || {
            ArmError::bad_request(
                "RoleAssignmentLimitExceeded",
                "No more role assignments can be created (code: RoleAssignmentLimitExceeded)",
            )
        };
        let limit = match scope {
            Scope::ManagementGroup { .. } => self.settings().management_group_role_assignment_limit,
            _ => self.settings().role_assignment_limit,
        };
        // Fewer assignments in total than the limit: no need to count per scope.
        if self.state.role_assignments.len() < limit {
            return Ok(());
        }
        let (count, limit) = match scope {
            Scope::ManagementGroup { .. } => {
                let k = scope.key();
                let n = self.state.role_assignments.iter().filter(|r| ids::key(&r.scope) == k).count();
                (n, self.settings().management_group_role_assignment_limit)
            }
            _ => match scope.subscription() {
                Some(sub) => {
                    let n = self
                        .state
                        .role_assignments
                        .iter()
                        .filter(|r| ids::subscription_of(&r.scope).is_some_and(|s| s.eq_ignore_ascii_case(sub)))
                        .count();
                    (n, self.settings().role_assignment_limit)
                }
                None => return Ok(()),
            },
        };
        if count >= limit {
            return Err(limit_err());
        }
        Ok(())
    }

    /// GET one role assignment at a scope.
    pub fn get_role_assignment(
        &self,
        caller: &Caller,
        scope_raw: &str,
        name: &str,
    ) -> Result<RoleAssignment, ArmError> {
        let scope = Scope::parse(scope_raw)?;
        self.authorize(caller, RA_READ, &scope, &ra_display_scope(scope_raw, name))?;
        self.check_scope_exists(&scope)?;
        if !is_guid(name) {
            return Err(invalid_ra_name(name));
        }
        self.role_assignment_by_name(name).filter(|r| Self::ra_scope(r).key() == scope.key()).cloned().ok_or_else(
            || ArmError::not_found("RoleAssignmentNotFound", format!("The role assignment '{name}' is not found.")),
        )
    }

    /// DELETE: `Ok(Some)` = deleted (200), `Ok(None)` = nothing there (204).
    pub fn delete_role_assignment(
        &mut self,
        caller: Option<&Caller>,
        scope_raw: &str,
        name: &str,
    ) -> Result<Option<RoleAssignment>, ArmError> {
        let scope = Scope::parse(scope_raw)?;
        if let Some(c) = caller {
            self.authorize(c, RA_DELETE, &scope, &ra_display_scope(scope_raw, name))?;
        }
        if !is_guid(name) {
            return Err(invalid_ra_name(name));
        }
        let key = scope.key();
        let idx = self
            .state
            .role_assignments
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name) && ids::key(&r.scope) == key);
        Ok(idx.map(|i| self.state.role_assignments.remove(i)))
    }

    /// List role assignments visible at a scope under a filter (unpaged).
    pub fn list_role_assignments(
        &self,
        caller: Option<&Caller>,
        scope_raw: &str,
        filter: &RaFilter,
    ) -> Result<Vec<RoleAssignment>, ArmError> {
        let scope = Scope::parse(scope_raw)?;
        if let Some(c) = caller {
            let display = format!(
                "{}/providers/Microsoft.Authorization/roleAssignments",
                if matches!(scope, Scope::Tenant) { String::new() } else { ids::with_leading_slash(scope_raw) }
            );
            self.authorize(c, RA_READ, &scope, &display)?;
        }
        self.check_scope_exists(&scope)?;
        let chain: Vec<String> = self.scope_chain(&scope).iter().map(Scope::key).collect();
        let list_key = scope.key();
        let out = self
            .state
            .role_assignments
            .iter()
            .filter(|r| {
                let rs = Self::ra_scope(r);
                let at_or_above = chain.contains(&rs.key());
                let below = !at_or_above && self.scope_chain(&rs).iter().any(|s| s.key() == list_key);
                match filter {
                    RaFilter::All => at_or_above || below,
                    RaFilter::AtScope => at_or_above,
                    RaFilter::Principal(p) => r.principal_id.eq_ignore_ascii_case(p) && (at_or_above || below),
                    RaFilter::AtScopeForPrincipal(p) => r.principal_id.eq_ignore_ascii_case(p) && at_or_above,
                }
            })
            .cloned()
            .collect();
        Ok(out)
    }

    /// GET a role definition by GUID at a scope. Returns the definition and the scope
    /// it was read at (which decides the id form in the response).
    pub fn get_role_definition(
        &self,
        caller: &Caller,
        scope_raw: &str,
        guid: &str,
    ) -> Result<(RoleDefinition, Scope), ArmError> {
        let scope = Scope::parse(scope_raw)?;
        let display = format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            if matches!(scope, Scope::Tenant) { String::new() } else { ids::with_leading_slash(scope_raw) }
        );
        if !matches!(scope, Scope::Tenant) {
            self.authorize(caller, RD_READ, &scope, &display)?;
            self.check_scope_exists(&scope)?;
        }
        let not_found = || {
            ArmError::not_found(
                "RoleDefinitionDoesNotExist",
                format!("The specified role definition with ID '{guid}' does not exist."),
            )
        };
        let role = self.role(guid).ok_or_else(not_found)?;
        if !self.role_visible_at(role, &scope) {
            return Err(not_found());
        }
        Ok((role.clone(), scope))
    }

    /// Built-ins are visible everywhere; a custom role where one of its assignable
    /// scopes is at, above or below the scope.
    fn role_visible_at(&self, role: &RoleDefinition, scope: &Scope) -> bool {
        role.role_type != "CustomRole"
            || matches!(scope, Scope::Tenant)
            || role.assignable_scopes.iter().any(|a| {
                Scope::parse(a).is_ok_and(|a| self.scope_contains(&a, scope) || self.scope_contains(scope, &a))
            })
    }

    pub fn list_role_definitions(
        &self,
        caller: &Caller,
        scope_raw: &str,
        filter: &RdFilter,
    ) -> Result<(Vec<RoleDefinition>, Scope), ArmError> {
        let scope = Scope::parse(scope_raw)?;
        if !matches!(scope, Scope::Tenant) {
            let display =
                format!("{}/providers/Microsoft.Authorization/roleDefinitions", ids::with_leading_slash(scope_raw));
            self.authorize(caller, RD_READ, &scope, &display)?;
            self.check_scope_exists(&scope)?;
        }
        let out = builtin_roles()
            .iter()
            .chain(self.state.custom_roles.iter())
            .filter(|r| self.role_visible_at(r, &scope))
            .filter(|r| filter.role_name.as_ref().is_none_or(|n| r.role_name.eq_ignore_ascii_case(n)))
            .filter(|r| filter.role_type.as_ref().is_none_or(|t| r.role_type.eq_ignore_ascii_case(t)))
            .cloned()
            .collect();
        Ok((out, scope))
    }
}
