//! ARM resource ids and scopes.
//!
//! ARM ids are case-insensitive (`resourceGroups` vs `resourcegroups`, GUIDs in any
//! case) and may be sent with or without a leading slash (the role assignment
//! examples use `subscriptions/…`). Everything that compares ids goes through this
//! module: [`Scope::parse`] understands every scope level, [`Scope::key`] is the
//! canonical lower-case form, and [`Scope::is_prefix_of`] answers "is this scope at
//! or above that one" for the purely path-based part of the hierarchy (management
//! groups are resolved by the store, which knows their membership).

use crate::errors::ArmError;

/// One parsed ARM scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `/` (the tenant root).
    Tenant,
    /// `/providers/Microsoft.Management/managementGroups/{name}`
    ManagementGroup { name: String },
    /// `/subscriptions/{sub}`
    Subscription { sub: String },
    /// `/subscriptions/{sub}/resourceGroups/{rg}`
    ResourceGroup { sub: String, rg: String },
    /// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…]`
    Resource {
        sub: String,
        rg: String,
        namespace: String,
        /// (type, name) pairs; the first one is the top-level resource.
        types: Vec<(String, String)>,
    },
}

/// Split a path into non-empty segments.
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Case-insensitive segment comparison.
pub fn seg_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Normalise an id for display: exactly one leading slash, no trailing slash.
pub fn with_leading_slash(id: &str) -> String {
    let trimmed = id.trim_matches('/');
    format!("/{trimmed}")
}

/// Canonical comparison key: lower-case, one leading slash, no trailing slash, no empty segments.
pub fn key(id: &str) -> String {
    let segs = segments(id);
    if segs.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(id.len() + 1);
    for s in segs {
        out.push('/');
        out.push_str(&s.to_ascii_lowercase());
    }
    out
}

/// The subscription id of an id/scope path, without allocating.
pub fn subscription_of(id: &str) -> Option<&str> {
    let mut it = id.split('/').filter(|s| !s.is_empty());
    match (it.next(), it.next()) {
        (Some(s), Some(sub)) if seg_eq(s, "subscriptions") => Some(sub),
        _ => None,
    }
}

/// Compare two ids case-insensitively (ignoring leading/trailing slashes).
pub fn id_eq(a: &str, b: &str) -> bool {
    key(a) == key(b)
}

impl Scope {
    /// Parse a scope from its path form (leading slash optional).
    pub fn parse(raw: &str) -> Result<Scope, ArmError> {
        let segs = segments(raw);
        Self::from_segments(&segs).ok_or_else(|| invalid_scope(raw))
    }

    pub fn from_segments(segs: &[&str]) -> Option<Scope> {
        match segs {
            [] => Some(Scope::Tenant),
            [p, ns, mgs, name]
                if seg_eq(p, "providers") && seg_eq(ns, "Microsoft.Management") && seg_eq(mgs, "managementGroups") =>
            {
                Some(Scope::ManagementGroup { name: name.to_string() })
            }
            [s, sub] if seg_eq(s, "subscriptions") => Some(Scope::Subscription { sub: sub.to_string() }),
            [s, sub, r, rg] if seg_eq(s, "subscriptions") && seg_eq(r, "resourceGroups") => {
                Some(Scope::ResourceGroup { sub: sub.to_string(), rg: rg.to_string() })
            }
            [s, sub, r, rg, p, ns, rest @ ..]
                if seg_eq(s, "subscriptions")
                    && seg_eq(r, "resourceGroups")
                    && seg_eq(p, "providers")
                    && !rest.is_empty()
                    && rest.len() % 2 == 0 =>
            {
                let types: Vec<(String, String)> =
                    rest.chunks(2).map(|c| (c[0].to_string(), c[1].to_string())).collect();
                // Extension resources (a nested `/providers/`) are not modelled.
                if types.iter().any(|(t, _)| seg_eq(t, "providers")) {
                    return None;
                }
                Some(Scope::Resource { sub: sub.to_string(), rg: rg.to_string(), namespace: ns.to_string(), types })
            }
            _ => None,
        }
    }

    /// Canonical path segments in lower case.
    pub fn key_segments(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        match self {
            Scope::Tenant => {}
            Scope::ManagementGroup { name } => {
                v.extend(["providers", "microsoft.management", "managementgroups"].map(String::from));
                v.push(name.to_ascii_lowercase());
            }
            Scope::Subscription { sub } => {
                v.push("subscriptions".into());
                v.push(sub.to_ascii_lowercase());
            }
            Scope::ResourceGroup { sub, rg } => {
                v.push("subscriptions".into());
                v.push(sub.to_ascii_lowercase());
                v.push("resourcegroups".into());
                v.push(rg.to_ascii_lowercase());
            }
            Scope::Resource { sub, rg, namespace, types } => {
                v.push("subscriptions".into());
                v.push(sub.to_ascii_lowercase());
                v.push("resourcegroups".into());
                v.push(rg.to_ascii_lowercase());
                v.push("providers".into());
                v.push(namespace.to_ascii_lowercase());
                for (t, n) in types {
                    v.push(t.to_ascii_lowercase());
                    v.push(n.to_ascii_lowercase());
                }
            }
        }
        v
    }

    /// Canonical lower-case key (`/` for the tenant root).
    pub fn key(&self) -> String {
        let segs = self.key_segments();
        if segs.is_empty() {
            "/".into()
        } else {
            format!("/{}", segs.join("/"))
        }
    }

    /// The id in ARM's conventional casing (`resourceGroups`), keeping names as given.
    pub fn display(&self) -> String {
        match self {
            Scope::Tenant => "/".into(),
            Scope::ManagementGroup { name } => {
                format!("/providers/Microsoft.Management/managementGroups/{name}")
            }
            Scope::Subscription { sub } => format!("/subscriptions/{sub}"),
            Scope::ResourceGroup { sub, rg } => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
            Scope::Resource { sub, rg, namespace, types } => {
                let mut s = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}");
                for (t, n) in types {
                    s.push('/');
                    s.push_str(t);
                    s.push('/');
                    s.push_str(n);
                }
                s
            }
        }
    }

    /// Subscription id, if the scope is at or below a subscription.
    pub fn subscription(&self) -> Option<&str> {
        match self {
            Scope::Subscription { sub } | Scope::ResourceGroup { sub, .. } | Scope::Resource { sub, .. } => Some(sub),
            _ => None,
        }
    }

    /// Resource group name, if the scope is at or below a resource group.
    pub fn resource_group(&self) -> Option<&str> {
        match self {
            Scope::ResourceGroup { rg, .. } | Scope::Resource { rg, .. } => Some(rg),
            _ => None,
        }
    }

    /// Full resource type, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub fn resource_type(&self) -> Option<String> {
        match self {
            Scope::Resource { namespace, types, .. } => {
                let mut s = namespace.clone();
                for (t, _) in types {
                    s.push('/');
                    s.push_str(t);
                }
                Some(s)
            }
            _ => None,
        }
    }

    /// Last name segment of a resource (`subnet1` for a subnet id).
    pub fn resource_name(&self) -> Option<&str> {
        match self {
            Scope::Resource { types, .. } => types.last().map(|(_, n)| n.as_str()),
            _ => None,
        }
    }

    /// `Microsoft.Network/virtualNetworks/vnet1/subnets/subnet1`: the form ARM uses in
    /// "The Resource '…' under resource group '…' was not found".
    pub fn resource_path(&self) -> Option<String> {
        match self {
            Scope::Resource { namespace, types, .. } => {
                let mut s = namespace.clone();
                for (t, n) in types {
                    s.push('/');
                    s.push_str(t);
                    s.push('/');
                    s.push_str(n);
                }
                Some(s)
            }
            _ => None,
        }
    }

    /// The parent scope by path (resource → parent resource → RG → subscription). The
    /// parent of a subscription is the tenant root here; the store inserts management
    /// groups when it walks the hierarchy.
    pub fn parent(&self) -> Option<Scope> {
        match self {
            Scope::Tenant => None,
            Scope::ManagementGroup { .. } => Some(Scope::Tenant),
            Scope::Subscription { .. } => Some(Scope::Tenant),
            Scope::ResourceGroup { sub, .. } => Some(Scope::Subscription { sub: sub.clone() }),
            Scope::Resource { sub, rg, namespace, types } => {
                if types.len() > 1 {
                    Some(Scope::Resource {
                        sub: sub.clone(),
                        rg: rg.clone(),
                        namespace: namespace.clone(),
                        types: types[..types.len() - 1].to_vec(),
                    })
                } else {
                    Some(Scope::ResourceGroup { sub: sub.clone(), rg: rg.clone() })
                }
            }
        }
    }

    /// Path-based containment: is `self` equal to `other` or one of its path
    /// ancestors? (The tenant root contains everything. Management-group
    /// membership is not path based and is handled by the store.)
    pub fn is_prefix_of(&self, other: &Scope) -> bool {
        if matches!(self, Scope::Tenant) {
            return true;
        }
        let a = self.key_segments();
        let b = other.key_segments();
        a.len() <= b.len() && a.iter().zip(b.iter()).all(|(x, y)| x == y)
    }
}

pub fn invalid_scope(raw: &str) -> ArmError {
    ArmError::bad_request("InvalidScope", format!("The scope '{}' is not valid.", with_leading_slash(raw)))
}

/// Split `…/providers/Microsoft.Authorization/{kind}[/{name}]` into (scope
/// segments, name). `kind` is e.g. `roleAssignments`. Returns `None` if the path
/// does not end with that provider collection.
pub fn split_authorization<'a>(segs: &'a [&'a str], kind: &str) -> Option<(&'a [&'a str], Option<&'a str>)> {
    let n = segs.len();
    for (tail, has_name) in [(3usize, false), (4usize, true)] {
        if n < tail {
            continue;
        }
        let i = n - tail;
        if seg_eq(segs[i], "providers") && seg_eq(segs[i + 1], "Microsoft.Authorization") && seg_eq(segs[i + 2], kind) {
            let name = if has_name { Some(segs[i + 3]) } else { None };
            return Some((&segs[..i], name));
        }
    }
    None
}

/// Extract the GUID from a role definition id in any of its forms:
/// `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{g}`,
/// `/providers/Microsoft.Authorization/roleDefinitions/{g}`, or a bare GUID.
/// Returns the (scope part, guid) or `None` if the shape is wrong.
pub fn parse_role_definition_id(id: &str) -> Option<(Scope, String)> {
    let segs = segments(id);
    if segs.len() == 1 {
        return Some((Scope::Tenant, segs[0].to_string()));
    }
    let (scope, name) = split_authorization(&segs, "roleDefinitions")?;
    let name = name?;
    let scope = Scope::from_segments(scope)?;
    Some((scope, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_levels() {
        assert_eq!(Scope::parse("/").unwrap(), Scope::Tenant);
        assert_eq!(Scope::parse("").unwrap(), Scope::Tenant);
        assert_eq!(
            Scope::parse("/providers/Microsoft.Management/managementGroups/mg1").unwrap(),
            Scope::ManagementGroup { name: "mg1".into() }
        );
        assert_eq!(Scope::parse("subscriptions/abc").unwrap(), Scope::Subscription { sub: "abc".into() });
        let rg = Scope::parse("/SUBSCRIPTIONS/abc/resourcegroups/RG1/").unwrap();
        assert_eq!(rg, Scope::ResourceGroup { sub: "abc".into(), rg: "RG1".into() });
        assert_eq!(rg.display(), "/subscriptions/abc/resourceGroups/RG1");
        let subnet = Scope::parse(
            "/subscriptions/abc/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
        )
        .unwrap();
        assert_eq!(subnet.resource_type().unwrap(), "Microsoft.Network/virtualNetworks/subnets");
        assert_eq!(subnet.resource_name().unwrap(), "s");
        assert_eq!(subnet.resource_path().unwrap(), "Microsoft.Network/virtualNetworks/v/subnets/s");
    }

    #[test]
    fn rejects_bad_scopes() {
        for bad in [
            "/subscriptions",
            "/subscriptions/a/resourceGroups",
            "/subscriptions/a/resourceGroups/rg/providers/Microsoft.Network",
            "/subscriptions/a/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks",
            "/foo/bar",
            "/subscriptions/a/resourceGroups/rg/providers/A.B/t/n/providers/C.D",
        ] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.code, "InvalidScope", "{bad}");
        }
    }

    #[test]
    fn case_insensitive_keys() {
        assert!(id_eq(
            "/subscriptions/ABC/resourceGroups/Rg/providers/Microsoft.ContainerService/managedClusters/A",
            "subscriptions/abc/resourcegroups/rg/providers/microsoft.containerservice/ManagedClusters/a/"
        ));
        assert_eq!(key("//a//B/"), "/a/b");
        assert_eq!(key(""), "/");
        assert_eq!(with_leading_slash("subscriptions/x/"), "/subscriptions/x");
    }

    #[test]
    fn hierarchy_by_path() {
        let sub = Scope::parse("/subscriptions/s").unwrap();
        let rg = Scope::parse("/subscriptions/S/resourcegroups/rg").unwrap();
        let vnet =
            Scope::parse("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/v").unwrap();
        let subnet =
            Scope::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/V/subnets/x")
                .unwrap();
        let other_rg = Scope::parse("/subscriptions/s/resourceGroups/rg2").unwrap();
        assert!(Scope::Tenant.is_prefix_of(&subnet));
        assert!(sub.is_prefix_of(&subnet));
        assert!(rg.is_prefix_of(&vnet));
        assert!(vnet.is_prefix_of(&subnet));
        assert!(subnet.is_prefix_of(&subnet));
        assert!(!subnet.is_prefix_of(&vnet));
        assert!(!other_rg.is_prefix_of(&vnet));
        // "rg" must not match "rg2" as a string prefix.
        assert!(!rg.is_prefix_of(&other_rg));
        assert_eq!(subnet.parent().unwrap().key(), vnet.key());
        assert_eq!(vnet.parent().unwrap().key(), rg.key());
        assert_eq!(rg.parent().unwrap().key(), sub.key());
    }

    #[test]
    fn splits_authorization_paths() {
        let segs = segments("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/abc");
        let (scope, name) = split_authorization(&segs, "roleAssignments").unwrap();
        assert_eq!(scope, ["subscriptions", "s"]);
        assert_eq!(name, Some("abc"));
        let segs = segments("/providers/microsoft.authorization/ROLEASSIGNMENTS");
        let (scope, name) = split_authorization(&segs, "roleAssignments").unwrap();
        assert!(scope.is_empty());
        assert_eq!(name, None);
        let segs = segments("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/x");
        assert!(split_authorization(&segs, "roleAssignments").is_none());
    }

    #[test]
    fn role_definition_ids() {
        let (s, g) = parse_role_definition_id(
            "/subscriptions/abc/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        )
        .unwrap();
        assert_eq!(s, Scope::Subscription { sub: "abc".into() });
        assert_eq!(g, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
        let (s, _) = parse_role_definition_id("/providers/Microsoft.Authorization/roleDefinitions/x").unwrap();
        assert_eq!(s, Scope::Tenant);
        assert_eq!(parse_role_definition_id("abc").unwrap().1, "abc");
        assert!(parse_role_definition_id("/subscriptions/a/roleDefinitions/x").is_none());
    }
}
