//! The access report of `data "aksid_access_report"`: every role assignment a cluster's
//! identities hold, classified and rendered. Pure: the data source lists, this decides.
//!
//! * **status**: `orphaned` when the principal no longer exists (the caller knows: an app
//!   identity that is gone or was recreated with another principal); else `managed` when the
//!   assignment carries aksid's deterministic name, an aksid ownership marker, or is one the
//!   caller says aksid manages (adopted grants keep their original name and no marker); else
//!   `unmanaged`.
//! * **broader_than_needed**: the planner's own least-privilege review ([`policy::violations`])
//!   of the grant as if it were asked for, with the matrix's requirement where the matrix
//!   grants that role to that identity at resource-group level.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::domain::ids::{same_id, ResourceId, ScopeKind};
use crate::domain::{names, ownership};

use super::diff::ActualAssignment;
use super::policy::{self, ScopeRequirement, RESOURCE_GROUP_TYPE};
use super::{DesiredAssignment, IdentityKind, Known, RoleRef, SourcePath};

const MANAGED_IDENTITY_OPERATOR: &str = super::matrix::MANAGED_IDENTITY_OPERATOR;
const VIRTUAL_MACHINE_CONTRIBUTOR: &str = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c";
const RESOURCE_GROUP: ScopeRequirement =
    ScopeRequirement { resource_type: RESOURCE_GROUP_TYPE, noun: "resource group" };

/// One identity the report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `control_plane`, `kubelet`, or the app identity's name.
    pub label: String,
    pub kind: IdentityKind,
    pub principal_id: String,
    /// False when the principal is known to be gone; `why` then says how it is known.
    pub exists: bool,
    pub why: String,
}

impl Principal {
    /// An app principal given with its identity's id: it exists while the identity does and
    /// still has that principal (`found` is the principal id the identity has now, `None`
    /// when the identity is gone). A recreated identity has a new principal; the old one is gone.
    pub fn app(label: &str, identity_id: &str, principal_id: &str, found: Option<&str>) -> Principal {
        let (exists, why) = match found {
            None => (false, format!("identity {identity_id} not found")),
            Some(now) if !now.trim().eq_ignore_ascii_case(principal_id.trim()) => {
                (false, format!("identity {identity_id} was recreated with principal {now}"))
            }
            Some(_) => (true, String::new()),
        };
        Principal {
            label: label.to_string(),
            kind: IdentityKind::App,
            principal_id: principal_id.to_string(),
            exists,
            why,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Managed,
    Unmanaged,
    Orphaned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Managed => "managed",
            Status::Unmanaged => "unmanaged",
            Status::Orphaned => "orphaned",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub identity: String,
    pub principal_id: String,
    pub role_name: String,
    pub role_definition_id: String,
    pub scope: String,
    pub assignment_id: String,
    pub status: Status,
    pub broader_than_needed: bool,
    pub reason: String,
    /// Index into the principals (the order of the report and of the diagram).
    principal_index: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub managed: usize,
    pub unmanaged: usize,
    pub orphaned: usize,
    pub broader_than_needed: usize,
}

pub fn counts(rows: &[Row]) -> Counts {
    let of = |s: Status| rows.iter().filter(|r| r.status == s).count();
    Counts {
        total: rows.len(),
        managed: of(Status::Managed),
        unmanaged: of(Status::Unmanaged),
        orphaned: of(Status::Orphaned),
        broader_than_needed: rows.iter().filter(|r| r.broader_than_needed).count(),
    }
}

/// Where the matrix itself grants a role at resource-group level (AAD Pod Identity's
/// Managed Identity Operator and Virtual Machine Contributor for the kubelet identity), a
/// resource group is what it needs; elsewhere the role's natural scope decides.
fn matrix_requirement(kind: IdentityKind, role_guid: &str) -> Option<ScopeRequirement> {
    let rg_roles = [MANAGED_IDENTITY_OPERATOR, VIRTUAL_MACHINE_CONTRIBUTOR];
    (kind == IdentityKind::Kubelet && rg_roles.iter().any(|g| g.eq_ignore_ascii_case(role_guid)))
        .then_some(RESOURCE_GROUP)
}

/// Why the review finds the grant broader than needed (empty when it does not).
fn broad_findings(kind: IdentityKind, role: &RoleRef, a: &ActualAssignment) -> Vec<String> {
    let d = DesiredAssignment {
        key: String::new(),
        identity: kind,
        role: role.clone(),
        scope: a.scope.trim_end_matches('/').to_string(),
        principal_id: Known::Known(a.principal_id.clone()),
        reason: String::new(),
        description: None,
        source: SourcePath::attribute("assignments"),
    };
    policy::violations(&d, matrix_requirement(kind, &role.guid)).into_iter().map(|f| f.summary).collect()
}

fn status_of(p: &Principal, a: &ActualAssignment, guid: &str, managed_ids: &[String]) -> (Status, String) {
    if !p.exists {
        return (Status::Orphaned, format!("principal no longer exists: {}", p.why));
    }
    let ours = names::role_assignment_name(&a.scope, &a.principal_id, guid).to_string();
    if a.effective_name().eq_ignore_ascii_case(&ours) {
        return (Status::Managed, "aksid's deterministic name".into());
    }
    if ownership::marker(a.description.as_deref()).is_some() {
        return (Status::Managed, "aksid ownership marker in the description".into());
    }
    if managed_ids.iter().any(|m| same_id(m, &a.id)) {
        return (Status::Managed, "listed in managed_assignment_ids (adopted by an aksid resource)".into());
    }
    (Status::Unmanaged, "not written or adopted by aksid".into())
}

/// Classify every listed assignment of `principals` (others are ignored). `managed_ids`
/// are assignment ids aksid resources hold; `role_names` names custom roles by GUID.
pub fn classify(
    principals: &[Principal],
    listed: &[ActualAssignment],
    managed_ids: &[String],
    role_names: &BTreeMap<String, String>,
) -> Vec<Row> {
    let mut rows: Vec<Row> = listed
        .iter()
        .filter_map(|a| {
            let i = principals.iter().position(|p| p.principal_id.eq_ignore_ascii_case(a.principal_id.trim()))?;
            let p = &principals[i];
            let role = RoleRef::from_guid(&a.role_guid());
            let (status, mut reason) = status_of(p, a, &role.guid, managed_ids);
            let broad = broad_findings(p.kind, &role, a);
            if !broad.is_empty() {
                reason = format!("{reason}; broader than needed: {}", broad.join("; "));
            }
            Some(Row {
                identity: p.label.clone(),
                principal_id: p.principal_id.clone(),
                role_name: role_names.get(&role.guid).cloned().unwrap_or_else(|| role.name.clone()),
                role_definition_id: a.role_definition_id.clone(),
                scope: a.scope.clone(),
                assignment_id: a.id.clone(),
                status,
                broader_than_needed: !broad.is_empty(),
                reason,
                principal_index: i,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        (x.principal_index, &x.role_name, x.scope.to_ascii_lowercase(), x.assignment_id.to_ascii_lowercase()).cmp(&(
            y.principal_index,
            &y.role_name,
            y.scope.to_ascii_lowercase(),
            y.assignment_id.to_ascii_lowercase(),
        ))
    });
    rows
}

/// A table cell: no line breaks, pipes escaped (GitHub splits cells on them even in code).
fn cell(s: &str) -> String {
    s.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// The report as a GitHub-flavoured Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Identity | Role | Scope | Status | Broader than needed | Reason |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} | {} |",
            cell(&r.identity),
            cell(&r.role_name),
            cell(&r.scope.replace('`', "'")),
            r.status.as_str(),
            if r.broader_than_needed { "yes" } else { "no" },
            cell(&r.reason),
        );
    }
    out
}

/// Text safe inside a quoted Mermaid label: entity codes for what Mermaid or HTML would read.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A short name for a scope: "resource group rg-spoke", "container registry acr", ….
fn scope_label(scope: &str) -> String {
    match ResourceId::parse(scope) {
        Ok(id) => match id.scope_kind() {
            ScopeKind::Subscription => format!("subscription {}", id.subscription_id().unwrap_or_default()),
            ScopeKind::ManagementGroup => format!("management group {}", id.name().unwrap_or_default()),
            _ => policy::describe_scope(&id),
        },
        Err(_) => scope.to_string(),
    }
}

/// The node id of `key` in `nodes` (added when new): `prefix` and an index, so ids never
/// depend on names.
fn node(nodes: &mut Vec<String>, prefix: &str, key: String) -> (String, bool) {
    if let Some(i) = nodes.iter().position(|k| *k == key) {
        return (format!("{prefix}{i}"), false);
    }
    nodes.push(key);
    (format!("{prefix}{}", nodes.len() - 1), true)
}

/// The report as a Mermaid `flowchart LR`: identity → role → scope, one role node per
/// identity and role, one scope node per scope. Edges into scopes carry the status; broader
/// grants are dotted and red, orphaned identities are drawn dashed.
pub fn mermaid(principals: &[Principal], rows: &[Row]) -> String {
    let mut out = String::from("flowchart LR\n");
    let (mut ids, mut roles, mut scopes) = (Vec::new(), Vec::new(), Vec::new());
    let mut edges: Vec<String> = Vec::new();
    let mut broad_edges: Vec<usize> = Vec::new();
    let mut orphaned: Vec<String> = Vec::new();
    for r in rows {
        let Some(p) = principals.get(r.principal_index) else { continue };
        let (i, new_i) = node(&mut ids, "id", p.principal_id.to_ascii_lowercase());
        if new_i {
            let gone = if p.exists { "" } else { " (deleted)" };
            let _ = writeln!(out, "  {i}([\"{}{gone}<br/>{}\"])", label(&p.label), label(&p.principal_id));
            if !p.exists {
                orphaned.push(i.clone());
            }
        }
        let (ro, new_r) = node(&mut roles, "role", format!("{i}/{}", r.role_name));
        if new_r {
            let _ = writeln!(out, "  {ro}[\"{}\"]", label(&r.role_name));
            edges.push(format!("  {i} --> {ro}"));
        }
        let (s, new_s) = node(&mut scopes, "scope", r.scope.trim_end_matches('/').to_ascii_lowercase());
        if new_s {
            let _ = writeln!(out, "  {s}[(\"{}\")]", label(&scope_label(&r.scope)));
        }
        let (arrow, text) = if r.broader_than_needed {
            broad_edges.push(edges.len());
            ("-.->", format!("{}, broader than needed", r.status.as_str()))
        } else {
            ("-->", r.status.as_str().to_string())
        };
        edges.push(format!("  {ro} {arrow}|\"{}\"| {s}", label(&text)));
    }
    for e in &edges {
        out.push_str(e);
        out.push('\n');
    }
    if !broad_edges.is_empty() {
        let list: Vec<String> = broad_edges.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "  linkStyle {} stroke:#d33,stroke-width:2px", list.join(","));
    }
    if !orphaned.is_empty() {
        out.push_str("  classDef orphaned stroke-dasharray:5 5,stroke:#d33\n");
        let _ = writeln!(out, "  class {} orphaned", orphaned.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";
    const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke";
    const NODE_RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MC_rg_aks";
    const ACR: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-hub/providers/Microsoft.ContainerRegistry/registries/acr";
    const KUBELET: &str = "22222222-2222-2222-2222-222222222222";
    const APP: &str = "44444444-4444-4444-4444-444444444444";
    const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

    fn principals() -> Vec<Principal> {
        vec![
            Principal {
                label: "kubelet".into(),
                kind: IdentityKind::Kubelet,
                principal_id: KUBELET.into(),
                exists: true,
                why: String::new(),
            },
            Principal {
                label: "old \"app\"|x".into(),
                kind: IdentityKind::App,
                principal_id: APP.into(),
                exists: false,
                why: "identity not found".into(),
            },
        ]
    }

    fn actual(scope: &str, principal: &str, role: &str, name: &str, description: Option<&str>) -> ActualAssignment {
        ActualAssignment {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            name: name.into(),
            scope: scope.into(),
            role_definition_id: format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            principal_id: principal.into(),
            description: description.map(str::to_string),
        }
    }

    fn ours(scope: &str, principal: &str, role: &str) -> ActualAssignment {
        let name = names::role_assignment_name(scope, principal, role).to_string();
        actual(scope, principal, role, &name, None)
    }

    fn report(listed: &[ActualAssignment], managed: &[String]) -> Vec<Row> {
        classify(&principals(), listed, managed, &BTreeMap::new())
    }

    #[test]
    fn status_follows_name_marker_adoption_and_existence() {
        let adopted = actual(ACR, KUBELET, READER, "aaaaaaaa-0000-4000-8000-000000000001", None);
        let listed = vec![
            ours(ACR, KUBELET, ACR_PULL),
            actual(ACR, KUBELET, "8311e382-0749-4cb8-b61a-304f252e45ec", "b1", Some("x [aksid-owner=abc]")),
            adopted.clone(),
            actual(NODE_RG, KUBELET, "9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "other", Some("by hand")),
            ours(ACR, APP, ACR_PULL),
            // Not one of the principals: ignored.
            actual(ACR, "55555555-5555-5555-5555-555555555555", ACR_PULL, "z", None),
        ];
        let rows = report(&listed, &[adopted.id.to_uppercase()]);
        let got: Vec<(&str, &str, Status)> =
            rows.iter().map(|r| (r.identity.as_str(), r.role_name.as_str(), r.status)).collect();
        assert_eq!(
            got,
            vec![
                ("kubelet", "AcrPull", Status::Managed),
                ("kubelet", "AcrPush", Status::Managed),
                ("kubelet", "Reader", Status::Managed),
                ("kubelet", "Virtual Machine Contributor", Status::Unmanaged),
                ("old \"app\"|x", "AcrPull", Status::Orphaned),
            ]
        );
        assert_eq!(rows[0].reason, "aksid's deterministic name");
        assert!(rows[1].reason.contains("ownership marker"), "{}", rows[1].reason);
        assert!(rows[2].reason.contains("managed_assignment_ids"), "{}", rows[2].reason);
        assert!(rows[4].reason.contains("identity not found"), "{}", rows[4].reason);
        // Without the adoption record the same grant is unmanaged.
        assert_eq!(report(&[adopted], &[])[0].status, Status::Unmanaged);
    }

    #[test]
    fn broader_than_needed_reuses_the_policy_and_the_matrix() {
        let rows = report(
            &[
                ours(ACR, KUBELET, ACR_PULL),
                ours(RG, KUBELET, ACR_PULL),
                ours(RG, KUBELET, CONTRIBUTOR),
                ours(SUB, KUBELET, READER),
                // The matrix grants these on the node resource group (AAD Pod Identity).
                ours(NODE_RG, KUBELET, MANAGED_IDENTITY_OPERATOR),
                ours(NODE_RG, KUBELET, VIRTUAL_MACHINE_CONTRIBUTOR),
            ],
            &[],
        );
        let flagged: Vec<(&str, &str)> =
            rows.iter().filter(|r| r.broader_than_needed).map(|r| (r.role_name.as_str(), r.scope.as_str())).collect();
        // Not AcrPull on the registry, nor the matrix's two grants on the node resource group.
        assert_eq!(flagged, vec![("AcrPull", RG), ("Contributor", RG), ("Reader", SUB)]);
        let contributor = rows.iter().find(|r| r.role_name == "Contributor").unwrap();
        assert!(contributor.reason.contains("Privileged role Contributor"), "{}", contributor.reason);
        let c = counts(&rows);
        assert_eq!((c.total, c.managed, c.broader_than_needed), (6, 6, 3));
    }

    #[test]
    fn markdown_has_one_escaped_row_per_assignment() {
        let rows = report(&[ours(ACR, KUBELET, ACR_PULL), ours(RG, APP, CONTRIBUTOR)], &[]);
        let md = markdown(&rows);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4, "{md}");
        assert!(lines[0].starts_with("| Identity | Role | Scope | Status |"));
        assert_eq!(lines[2], format!("| kubelet | AcrPull | `{ACR}` | managed | no | aksid's deterministic name |"));
        assert!(lines[3].starts_with("| old \"app\"\\|x | Contributor |"), "pipe escaped: {}", lines[3]);
        assert!(lines[3].contains("| orphaned | yes |"), "{}", lines[3]);
        // Every row has exactly the header's number of unescaped separators.
        let seps = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(lines.iter().all(|l| seps(l) == 7), "{md}");
    }

    #[test]
    fn mermaid_is_a_flowchart_from_identity_to_role_to_scope() {
        let rows =
            report(&[ours(ACR, KUBELET, ACR_PULL), ours(RG, KUBELET, ACR_PULL), ours(RG, APP, CONTRIBUTOR)], &[]);
        let m = mermaid(&principals(), &rows);
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines[0], "flowchart LR");
        // Node ids are generated, never taken from names.
        let ids: Vec<&str> = lines[1..]
            .iter()
            .filter(|l| !l.contains("-->") && !l.contains("-.->") && !l.trim_start().starts_with("linkStyle"))
            .filter(|l| !l.trim_start().starts_with("class"))
            .map(|l| l.trim_start().split(['[', '(']).next().unwrap())
            .collect();
        assert_eq!(ids, vec!["id0", "role0", "scope0", "scope1", "id1", "role1"], "{m}");
        assert!(m.contains("id0 --> role0"), "{m}");
        assert!(m.contains("role0 -->|\"managed\"| scope0"), "{m}");
        assert!(m.contains("role0 -.->|\"managed, broader than needed\"| scope1"), "{m}");
        assert!(m.contains("role1 -.->|\"orphaned, broader than needed\"| scope1"), "one scope node per scope: {m}");
        assert!(m.contains("scope0[(\"container registry acr\")]"), "{m}");
        assert!(m.contains("scope1[(\"resource group rg-spoke\")]"), "{m}");
        // Labels cannot break out of their quotes.
        assert!(m.contains("id1([\"old #quot;app#quot;#124;x (deleted)<br/>"), "{m}");
        assert!(lines.iter().all(|l| l.matches('"').count() % 2 == 0), "{m}");
        // The two broad edges (the 3rd and 5th) are styled; the orphaned identity too.
        assert!(m.contains("linkStyle 2,4 stroke:#d33"), "{m}");
        assert!(m.contains("class id1 orphaned"), "{m}");
    }

    #[test]
    fn an_app_principal_exists_only_while_its_identity_has_it() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app";
        let p = Principal::app("app", id, APP, Some(&APP.to_uppercase()));
        assert!(p.exists && p.kind == IdentityKind::App, "{p:?}");
        let gone = Principal::app("app", id, APP, None);
        assert!(!gone.exists && gone.why.contains("not found"), "{gone:?}");
        let recreated = Principal::app("app", id, APP, Some(KUBELET));
        assert!(!recreated.exists && recreated.why.contains("recreated with principal"), "{recreated:?}");
        assert_eq!(report(&[ours(ACR, APP, ACR_PULL)], &[])[0].status, Status::Orphaned);
    }

    #[test]
    fn empty_report_renders() {
        assert_eq!(markdown(&[]).lines().count(), 2);
        assert_eq!(mermaid(&principals(), &[]), "flowchart LR\n");
        assert_eq!(counts(&[]), Counts::default());
    }
}
