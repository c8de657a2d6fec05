//! `data "aksid_access_report"`: every role assignment a cluster's identities (and the app
//! identities it is given) hold across the given subscriptions, classified by
//! `planner::report`. Glue only: read the cluster and the app identities, one list per
//! principal per subscription, then classify and render.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::assignments::{arm_diag, Attr};
use crate::azure::arm::ArmClient;
use crate::azure::{cluster, identities, role_assignments};
use crate::clients::ProviderState;
use crate::domain::ids::{subscription_of, ResourceId};
use crate::executor;
use crate::framework::model::{decode, encode_as};
use crate::framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, Schema, Type, Value};
use crate::known::Known;
use crate::planner::report::{self, Principal, Row};
use crate::planner::{ActualAssignment, IdentityKind, RoleRef};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AccessReport {
    cluster_id: Attr<String>,
    subscription_ids: Attr<Vec<Known<String>>>,
    app_identity_ids: Attr<Vec<Known<String>>>,
    app_principal_ids: Attr<BTreeMap<String, Known<String>>>,
    managed_assignment_ids: Attr<Vec<Known<String>>>,
    assignments: Option<Vec<ReportRow>>,
    markdown: Option<String>,
    mermaid: Option<String>,
    counts: Option<Counts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ReportRow {
    identity: String,
    principal_id: String,
    role_name: String,
    role_definition_id: String,
    scope: String,
    assignment_id: String,
    status: String,
    broader_than_needed: bool,
    reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Counts {
    total: i64,
    managed: i64,
    unmanaged: i64,
    orphaned: i64,
    broader_than_needed: i64,
}

/// How long one read may take, retries included.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Lists in flight at once.
const PARALLEL_LISTS: usize = 4;

pub struct AccessReportDataSource {
    state: Arc<ProviderState>,
}

impl AccessReportDataSource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        AccessReportDataSource { state }
    }
}

fn row_type() -> Type {
    let s = |n: &'static str| (n, Type::String);
    Type::object([
        s("identity"),
        s("principal_id"),
        s("role_name"),
        s("role_definition_id"),
        s("scope"),
        s("assignment_id"),
        s("status"),
        ("broader_than_needed", Type::Bool),
        s("reason"),
    ])
}

fn counts_type() -> Type {
    Type::object(["total", "managed", "unmanaged", "orphaned", "broader_than_needed"].map(|n| (n, Type::Number)))
}

fn schema() -> Schema {
    let ids = || Type::list(Type::String);
    Schema {
        version: 0,
        block: Block::new(
            "Reports every role assignment held by an AKS cluster's control-plane and kubelet identities and by the \
             app identities given, across the subscriptions given: managed by aksid, unmanaged or orphaned, and \
             whether broader than the role matrix needs. Rendered as Markdown and as a Mermaid diagram.",
        )
        .attribute(Attribute::required("cluster_id", Type::String, "ARM id of the managed cluster."))
        .attribute(Attribute::optional(
            "subscription_ids",
            ids(),
            "Subscriptions to list assignments in (one list per principal and subscription). Default: the \
             cluster's subscription.",
        ))
        .attribute(Attribute::optional(
            "app_identity_ids",
            ids(),
            "User-assigned identities of applications (ARM ids) whose assignments to include.",
        ))
        .attribute(Attribute::optional(
            "app_principal_ids",
            Type::map(Type::String),
            "App identities that may have been deleted: identity ARM id → its principal (object) id. The principal's \
             assignments are `orphaned` when the identity no longer exists or now has another principal.",
        ))
        .attribute(Attribute::optional(
            "managed_assignment_ids",
            ids(),
            "Assignment ids aksid resources hold, e.g. the `id`s of `aksid_cluster_identity_roles` `assignments`: \
             needed for adopted grants, which keep their original name and carry no ownership marker.",
        ))
        .attribute(Attribute::computed(
            "assignments",
            Type::list(row_type()),
            "One object per assignment: `identity`, `principal_id`, `role_name`, `role_definition_id`, `scope`, \
             `assignment_id`, `status` (`managed`, `unmanaged`, `orphaned`), `broader_than_needed`, `reason`.",
        ))
        .attribute(Attribute::computed("markdown", Type::String, "The report as a Markdown table."))
        .attribute(Attribute::computed(
            "mermaid",
            Type::String,
            "A Mermaid `flowchart LR` (identity → role → scope) that GitHub renders in a ```mermaid block.",
        ))
        .attribute(Attribute::computed(
            "counts",
            counts_type(),
            "`total`, `managed`, `unmanaged`, `orphaned` and `broader_than_needed`.",
        )),
    }
}

fn known_list(l: &Attr<Vec<Known<String>>>) -> Vec<String> {
    l.as_ref().and_then(Known::known).into_iter().flatten().filter_map(|k| k.known().cloned()).collect()
}

fn diag(path: AttributePath, summary: &str, detail: impl Into<String>) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error_at(path, summary, detail);
    d
}

fn check_inputs(m: &AccessReport) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(Known::Known(id)) = &m.cluster_id {
        let is_cluster = ResourceId::parse(id).ok().and_then(|r| r.resource_type()).is_some_and(|t| {
            t.eq_ignore_ascii_case("Microsoft.ContainerService/managedClusters") && subscription_of(id).is_some()
        });
        if !is_cluster {
            d.error_at(
                AttributePath::attr("cluster_id"),
                "Invalid cluster_id",
                format!("expected a Microsoft.ContainerService/managedClusters id, got {id:?}"),
            );
        }
    }
    for (i, s) in known_list(&m.subscription_ids).iter().enumerate() {
        if !crate::domain::is_guid(s) {
            let at = AttributePath::attr("subscription_ids").then_index(i);
            d.error_at(at, "Invalid subscription id", format!("expected a subscription GUID, got {s:?}"));
        }
    }
    d
}

#[async_trait]
impl DataSource for AccessReportDataSource {
    fn type_name(&self) -> &'static str {
        "aksid_access_report"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match decode::<AccessReport>(config) {
            Ok(m) => check_inputs(&m),
            Err(d) => d,
        }
    }

    async fn read(&self, config: &Value) -> Result<Value, Diagnostics> {
        let mut m: AccessReport = decode(config)?;
        let d = check_inputs(&m);
        if d.has_errors() {
            return Err(d);
        }
        let clients = self.state.clients()?;
        let deadline = Instant::now() + READ_TIMEOUT;
        let principals = principals(&clients.arm, &m, deadline).await?;
        let cluster_id = m.cluster_id.clone().and_then(Known::into_option).unwrap_or_default();
        let mut subs = known_list(&m.subscription_ids);
        if subs.is_empty() {
            subs.extend(subscription_of(&cluster_id));
        }
        let pairs: Vec<(String, String)> =
            subs.iter().flat_map(|s| principals.iter().map(|p| (s.clone(), p.principal_id.clone()))).collect();
        let listed = executor::list_existing(&clients.arm, pairs, deadline, PARALLEL_LISTS)
            .await
            .map_err(|e| arm_diag(&e, None, "Cannot list role assignments"))?;
        let listed: Vec<ActualAssignment> = listed.iter().map(raw_actual).collect();
        let names = custom_role_names(&clients.arm, &listed, deadline).await;
        let rows = report::classify(&principals, &listed, &known_list(&m.managed_assignment_ids), &names);
        fill(&mut m, &principals, &rows);
        encode_as(&m, &schema().block.value_type())
    }
}

/// With the description as ARM holds it: the ownership marker is what the report looks for.
fn raw_actual(a: &role_assignments::RoleAssignment) -> ActualAssignment {
    ActualAssignment { description: a.description.clone(), ..executor::to_actual(a) }
}

/// The cluster's two identities, then the app identities (a missing one is an error: its
/// principal is unknown), then the principals of `app_principal_ids` with whether they exist.
async fn principals(arm: &ArmClient, m: &AccessReport, deadline: Instant) -> Result<Vec<Principal>, Diagnostics> {
    let id = m.cluster_id.clone().and_then(Known::into_option).unwrap_or_default();
    let path = AttributePath::attr("cluster_id");
    let resp = arm.get(&id, cluster::API_VERSION, deadline).await.map_err(|e| {
        let summary = if e.status() == Some(404) { "AKS cluster not found" } else { "Cannot read the AKS cluster" };
        arm_diag(&e, Some(path.clone()), summary)
    })?;
    let sub = subscription_of(&id).unwrap_or_default();
    let c = cluster::parse(&resp.body, &sub).map_err(|e| diag(path, "Unexpected AKS cluster", e))?;
    let existing = |label: &str, kind, principal_id: &str| Principal {
        label: label.to_string(),
        kind,
        principal_id: principal_id.to_string(),
        exists: true,
        why: String::new(),
    };
    let mut out = vec![
        existing("control_plane", IdentityKind::ControlPlane, &c.control_plane_principal_id),
        existing("kubelet", IdentityKind::Kubelet, &c.kubelet.object_id),
    ];
    for (i, uami) in known_list(&m.app_identity_ids).iter().enumerate() {
        let at = AttributePath::attr("app_identity_ids").then_index(i);
        match identities::get_identity(arm, uami, deadline).await {
            Ok(Some(found)) => out.push(existing(&found.name, IdentityKind::App, &found.principal_id)),
            Ok(None) => {
                return Err(diag(
                    at,
                    "App identity not found",
                    format!(
                        "{uami} does not exist. To report on what its principal still holds, pass it in \
                         app_principal_ids with its principal id."
                    ),
                ))
            }
            Err(e) => return Err(arm_diag(&e, Some(at), "Cannot read the app identity")),
        }
    }
    let given: BTreeMap<String, Known<String>> =
        m.app_principal_ids.clone().and_then(Known::into_option).unwrap_or_default();
    for (uami, principal) in given {
        let Some(principal) = principal.into_option() else { continue };
        let at = AttributePath::attr("app_principal_ids").then_key(&uami);
        let found = identities::get_identity(arm, &uami, deadline)
            .await
            .map_err(|e| arm_diag(&e, Some(at), "Cannot read the app identity"))?;
        let name = uami.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
        out.push(Principal::app(&name, &uami, &principal, found.as_ref().map(|f| f.principal_id.as_str())));
    }
    // One principal once, under its first label.
    let mut seen = BTreeSet::new();
    out.retain(|p| seen.insert(p.principal_id.to_ascii_lowercase()));
    Ok(out)
}

/// Display names of the custom roles among `listed` (one GET per role); a role that cannot be
/// read keeps its GUID as its name.
async fn custom_role_names(
    arm: &ArmClient,
    listed: &[ActualAssignment],
    deadline: Instant,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in listed {
        let guid = a.role_guid();
        if !RoleRef::from_guid(&guid).custom || out.contains_key(&guid) {
            continue;
        }
        let name = match arm.get(&a.role_definition_id, role_assignments::API_VERSION, deadline).await {
            Ok(r) => r.body.pointer("/properties/roleName").and_then(|v| v.as_str()).map(str::to_string),
            Err(e) => {
                tracing::debug!(role = %a.role_definition_id, "custom role name unavailable: {e}");
                None
            }
        };
        out.insert(guid.clone(), name.unwrap_or(guid));
    }
    out
}

fn fill(m: &mut AccessReport, principals: &[Principal], rows: &[Row]) {
    let c = report::counts(rows);
    m.counts = Some(Counts {
        total: c.total as i64,
        managed: c.managed as i64,
        unmanaged: c.unmanaged as i64,
        orphaned: c.orphaned as i64,
        broader_than_needed: c.broader_than_needed as i64,
    });
    m.markdown = Some(report::markdown(rows));
    m.mermaid = Some(report::mermaid(principals, rows));
    m.assignments = Some(
        rows.iter()
            .map(|r| ReportRow {
                identity: r.identity.clone(),
                principal_id: r.principal_id.clone(),
                role_name: r.role_name.clone(),
                role_definition_id: r.role_definition_id.clone(),
                scope: r.scope.clone(),
                assignment_id: r.assignment_id.clone(),
                status: r.status.as_str().to_string(),
                broader_than_needed: r.broader_than_needed,
                reason: r.reason.clone(),
            })
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_schema_agree() {
        crate::framework::model::assert_model_matches_schema::<AccessReport>(&schema().block);
    }

    #[test]
    fn inputs_are_checked() {
        let m = AccessReport {
            cluster_id: Some(Known::Known("/subscriptions/s/resourceGroups/rg".into())),
            subscription_ids: Some(Known::Known(vec![Known::Known("not-a-guid".into())])),
            ..Default::default()
        };
        let d = check_inputs(&m);
        let text = format!("{d:?}");
        assert!(text.contains("Invalid cluster_id") && text.contains("Invalid subscription id"), "{text}");
        let ok = AccessReport {
            cluster_id: Some(Known::Known(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks".into(),
            )),
            subscription_ids: Some(Known::Known(vec![Known::Known("9c195f54-5580-4cd2-9e24-3114522757f4".into())])),
            ..Default::default()
        };
        assert!(!check_inputs(&ok).has_errors());
    }
}
