//! Carrying out the engine's decisions on role assignments, for every resource that holds
//! grants: what exists for the desired principals, writes with ownership markers, removal by
//! the ownership rule.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use futures_util::StreamExt;

use crate::azure::arm::ArmError;
use crate::azure::role_assignments::RoleAssignment;
use crate::clients::Clients;
use crate::domain::ownership;
use crate::executor::{self, CreateOp, Created};
use crate::framework::{Diagnostic, Diagnostics};
use crate::planner::{engine, ActualAssignment, DesiredAssignment, Origin, Recorded, Step};
use crate::resources::assignments as common;
use crate::resources::grants::Grant;
use crate::resources::ownership::{remove_unwanted, Markers, Unwanted};

/// Permission questions to ARM in flight at once during a plan (reads, not writes).
const PERMISSION_QUESTIONS_IN_FLIGHT: usize = 8;

/// The (subscription, principal) pairs to list for these grants.
pub fn pairs<'a>(grants: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    grants.filter_map(|(scope, principal)| Some((executor::subscription_of(scope)?, principal.to_string()))).collect()
}

/// What exists now for the principals of `desired`: one list per principal and subscription.
async fn existing_for(
    clients: &Clients,
    desired: &[&DesiredAssignment],
    parallel: usize,
    deadline: Instant,
) -> Result<Vec<crate::planner::ActualAssignment>, ArmError> {
    let listed =
        executor::list_existing(&clients.arm, executor::listing_pairs(desired.iter().copied()), deadline, parallel)
            .await?;
    Ok(listed.iter().map(executor::to_actual).collect())
}

/// Write `to_create` (planned grants), stamping each with a fresh ownership marker. Returns
/// the grants as state records them and the failures (key, error).
pub async fn create(
    clients: &Clients,
    to_create: Vec<(Grant, &DesiredAssignment)>,
    markers: &mut Markers,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Grant>, Vec<(String, ArmError)>) {
    let token = ownership::new_token();
    let ops: Vec<CreateOp> = to_create
        .iter()
        .map(|(g, d)| {
            let id = g.id.known().cloned().unwrap_or_default();
            CreateOp {
                key: d.key.clone(),
                scope: d.scope.clone(),
                name: g.name.known().cloned().unwrap_or_default(),
                role_guid: d.role.guid.clone(),
                principal_id: d.principal_id.known().cloned().unwrap_or_default(),
                principal_type: common::PRINCIPAL_TYPE.to_string(),
                description: d.description.clone(),
                token: token.clone(),
                // Our earlier write under this name is recorded (even if refresh found it changed).
                name_recorded: markers.get(&id).is_some(),
                desired: (*d).clone(),
            }
        })
        .collect();
    let outcomes = executor::create_all(&clients.arm, &ops, parallel, deadline).await;
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for (((mut g, _), op), outcome) in to_create.into_iter().zip(ops).zip(outcomes) {
        match outcome {
            Ok(Created::Created(a)) => {
                g.settle(&a);
                markers.record(g.id.known().map_or(&a.id, |i| i), Some(&op.token));
                done.push(g);
            }
            Ok(Created::Adopted(a)) => {
                // Made concurrently since the plan: managed as it is.
                g.settle(&a);
                g.set_origin(Origin::Adopted);
                done.push(g);
            }
            Err(e) => failures.push((op.key, e)),
        }
    }
    (done, failures)
}

/// Remove unwanted grants by the ownership rule, after one list per principal and
/// subscription. Returns the grants that must stay in state and the diagnostics.
pub async fn remove(
    clients: &Clients,
    unwanted: Vec<Grant>,
    markers: &Markers,
    delete_adopted: bool,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Grant>, Diagnostics) {
    let keyed: Vec<(Grant, Unwanted)> = unwanted.into_iter().map(|g| (g.clone(), unwanted_of(&g))).collect();
    let scopes: Vec<(String, String)> =
        keyed.iter().filter_map(|(g, _)| Some((g.scope.clone(), g.principal_id.known()?.clone()))).collect();
    let listed = match executor::list_existing(
        &clients.arm,
        pairs(scopes.iter().map(|(s, p)| (s.as_str(), p.as_str()))),
        deadline,
        parallel,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            let kept = keyed.into_iter().map(|(g, _)| g).collect();
            return (kept, common::arm_diag(&e, None, "Cannot list role assignments before deleting them"));
        }
    };
    let by_id: BTreeMap<String, RoleAssignment> = listed.into_iter().map(|a| (a.id.to_ascii_lowercase(), a)).collect();
    let by_key: HashMap<String, Grant> = keyed.iter().map(|(g, _)| (g.key.clone(), g.clone())).collect();
    // Scopes outside any subscription were not listed: those are fetched one by one.
    let (listable, single): (Vec<Unwanted>, Vec<Unwanted>) =
        keyed.into_iter().map(|(_, u)| u).partition(|u| executor::subscription_of(&u.id).is_some());
    let (mut kept, mut diags) =
        remove_unwanted(&clients.arm, listable, markers, delete_adopted, Some(&by_id), parallel, deadline).await;
    if !single.is_empty() {
        let (k, d) = remove_unwanted(&clients.arm, single, markers, delete_adopted, None, parallel, deadline).await;
        kept.extend(k);
        diags.extend(d);
    }
    let kept = kept.iter().filter_map(|k| by_key.get(k)).cloned().collect();
    (kept, diags)
}

fn unwanted_of(g: &Grant) -> Unwanted {
    Unwanted { key: g.key.clone(), id: g.id.known().cloned().unwrap_or_default(), origin: g.origin() }
}

/// The planned grants: kept from state, adopted from equivalents that exist (made outside
/// Terraform: one warning each), or to be created under their deterministic names. Lists what
/// exists only for the grants state does not hold yet.
pub async fn plan(
    clients: Option<&Clients>,
    desired: &[DesiredAssignment],
    recorded: &[Recorded],
    prior_grants: &[Grant],
    parallel: usize,
    deadline: Instant,
    diags: &mut Diagnostics,
) -> Result<Vec<Grant>, Diagnostics> {
    let first = engine::decide(desired, recorded, &[]);
    let new: Vec<&DesiredAssignment> =
        desired.iter().zip(&first.steps).filter(|(_, s)| matches!(s, Step::Create)).map(|(d, _)| d).collect();
    let existing = match (new.is_empty(), clients) {
        (false, Some(c)) => existing_for(c, &new, parallel, deadline)
            .await
            .map_err(|e| common::arm_diag(&e, None, "Cannot list existing role assignments"))?,
        _ => Vec::new(),
    };
    let decided = engine::decide(desired, recorded, &existing);
    if let Some(c) = clients {
        let to_write: Vec<&DesiredAssignment> =
            desired.iter().zip(&decided.steps).filter(|(_, s)| matches!(s, Step::Create)).map(|(d, _)| d).collect();
        check_write_permission(c, &to_write, deadline).await?;
    }
    let mut grants = Vec::new();
    for (d, step) in desired.iter().zip(&decided.steps) {
        grants.push(match step {
            Step::Keep(i) => prior_grants
                .iter()
                .find(|g| g.key == recorded[*i].key)
                .cloned()
                .unwrap_or_else(|| Grant::planned(d, None, Origin::Created)),
            Step::Adopt(a) => {
                diags.push(Diagnostic::warning(
                    "Adopting an existing role assignment",
                    format!(
                        "{} already holds {} on {} through assignment {} (created outside Terraform); it will be managed by \
                         this resource instead of creating a duplicate.",
                        d.identity.describe(),
                        d.role.name,
                        d.scope,
                        a.id
                    ),
                ));
                Grant::planned(d, Some(a), Origin::Adopted)
            }
            Step::Create | Step::Pending => Grant::planned(d, None, Origin::Created),
        });
    }
    Ok(grants)
}

/// Carry out the plan: keep, adopt or create each desired grant (in `desired`'s order).
/// `prior` is what state recorded and its grants. Returns the grants state must hold, the
/// recorded grants no longer wanted (for the caller to remove, see [`remove`]) and the
/// diagnostics.
pub async fn apply(
    clients: &Clients,
    desired: &[DesiredAssignment],
    planned: &[Grant],
    prior: (&[Recorded], &[Grant]),
    markers: &mut Markers,
    parallel: usize,
    deadline: Instant,
) -> (Vec<Grant>, Vec<Grant>, Diagnostics) {
    let (recorded, prior_grants) = prior;
    // What the plan promised, completed now that all is known.
    let adopted: Vec<ActualAssignment> = planned
        .iter()
        .filter(|g| g.origin() == Origin::Adopted && g.is_known())
        .filter_map(|g| g.recorded().map(|r| grant_actual(g, &r)))
        .collect();
    let decided = engine::decide(desired, recorded, &adopted);
    let mut result = Vec::new();
    let mut to_create = Vec::new();
    for (d, step) in desired.iter().zip(&decided.steps) {
        match step {
            Step::Keep(i) => result.extend(prior_grants.iter().find(|g| g.key == recorded[*i].key).cloned()),
            Step::Adopt(a) => result.push(Grant::planned(d, Some(a), Origin::Adopted)),
            Step::Create | Step::Pending => {
                let g = planned.iter().find(|g| g.key == d.key && g.is_known()).cloned();
                to_create.push((g.unwrap_or_else(|| Grant::planned(d, None, Origin::Created)), d));
            }
        }
    }
    let (created, failures) = create(clients, to_create, markers, parallel, deadline).await;
    result.extend(created);
    // In the order the plan showed them (the expansion's order).
    let mut by_key: HashMap<String, Grant> = result.drain(..).map(|g| (g.key.clone(), g)).collect();
    result.extend(desired.iter().filter_map(|d| by_key.remove(&d.key)));
    let diags = common::group_failures("create", failures);
    // Grants recorded before and no longer wanted.
    let unwanted: Vec<Grant> = decided
        .unwanted
        .iter()
        .filter_map(|i| prior_grants.iter().find(|g| g.key == recorded[*i].key).cloned())
        .collect();
    (result, unwanted, diags)
}

/// A planned adopted grant as the assignment it names.
fn grant_actual(g: &Grant, r: &Recorded) -> ActualAssignment {
    ActualAssignment {
        id: r.id.clone(),
        name: g.name.known().cloned().unwrap_or_default(),
        scope: r.scope.clone(),
        role_definition_id: r.role_definition_id.clone(),
        principal_id: r.principal_id.clone(),
        description: None,
    }
}

/// The recorded grants that still exist unchanged (refresh): one list per principal and
/// subscription, one GET for each grant outside any subscription.
pub async fn read(
    clients: &Clients,
    grants: Vec<Grant>,
    parallel: usize,
    deadline: Instant,
) -> Result<Vec<Grant>, Diagnostics> {
    let pairs = pairs(grants.iter().filter_map(|g| Some((g.scope.as_str(), g.principal_id.known()?.as_str()))));
    let listed = executor::list_existing(&clients.arm, pairs, deadline, parallel)
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot list role assignments"))?;
    let mut still = Vec::new();
    for g in grants {
        let Some(r) = g.recorded() else { continue };
        let found = match listed.iter().find(|a| a.id.eq_ignore_ascii_case(&r.id)) {
            Some(a) => Some(a.clone()),
            None if executor::subscription_of(&r.id).is_none() => {
                crate::azure::role_assignments::get(&clients.arm, &r.id, deadline).await.ok().flatten()
            }
            None => None,
        };
        if found.is_some_and(|a| r.intact(&executor::to_actual(&a))) {
            still.push(g);
        } else {
            tracing::info!(key = g.key, "role assignment missing or changed outside Terraform");
        }
    }
    Ok(still)
}

/// Every subscription the caller can see (grants may live in a hub subscription).
pub async fn subscriptions(clients: &Clients, deadline: Instant) -> Result<Vec<String>, Diagnostics> {
    let subs = clients
        .arm
        .get("/subscriptions", "2022-12-01", deadline)
        .await
        .map_err(|e| common::arm_diag(&e, None, "Cannot list subscriptions"))?;
    Ok(subs
        .body
        .get("value")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("subscriptionId").and_then(|v| v.as_str()).map(str::to_string))
        .collect())
}

/// The plan-time permission check: every scope a grant will be written at must let the caller
/// write role assignments (asked once per scope and run). A scope that does not is one error
/// per scope, on the attribute of its first grant, naming the scope, the action and what
/// would grant it, before anything is written.
async fn check_write_permission(
    clients: &Clients,
    to_write: &[&DesiredAssignment],
    deadline: Instant,
) -> Result<(), Diagnostics> {
    // Grouped by scope in first-seen order; the index keeps grouping linear at 4,000 grants.
    let mut by_scope: Vec<(String, Vec<&DesiredAssignment>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for d in to_write {
        match index.entry(crate::domain::ids::id_key(&d.scope)) {
            Entry::Occupied(e) => by_scope[*e.get()].1.push(d),
            Entry::Vacant(e) => {
                e.insert(by_scope.len());
                by_scope.push((d.scope.clone(), vec![d]));
            }
        }
    }
    // A few questions in flight at once; most scopes are answered by their resource group.
    let scopes: Vec<String> = by_scope.iter().map(|(scope, _)| scope.clone()).collect();
    let answers: Vec<Option<bool>> = futures_util::stream::iter(scopes)
        .map(
            |scope| async move { clients.permissions.may_write_role_assignments(&clients.arm, &scope, deadline).await },
        )
        .buffered(PERMISSION_QUESTIONS_IN_FLIGHT)
        .collect()
        .await;
    let mut diags = Diagnostics::new();
    for ((scope, grants), may) in by_scope.into_iter().zip(answers) {
        if may != Some(false) {
            continue;
        }
        let action = crate::azure::permissions::ROLE_ASSIGNMENT_WRITE;
        diags.push(
            Diagnostic::error(
                "Missing permission to create role assignments",
                format!(
                    "The identity Terraform runs as may not perform {action} on {scope}, so {} grant(s) there would fail \
                     during apply: {}. Give it a role that includes {action} at this scope or above, for example \
                     \"Role Based Access Control Administrator\" (best with a condition that limits it to the roles aksid \
                     grants) or \"User Access Administrator\", or have the scope's owner (e.g. the hub team) run this part.",
                    grants.len(),
                    crate::resources::ownership::key_list(grants.iter().map(|d| d.key.as_str()))
                ),
            )
            .at(common::finding_path(&grants[0].source)),
        );
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}
