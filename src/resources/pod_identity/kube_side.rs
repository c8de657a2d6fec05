//! The Kubernetes side of `aksid_pod_identity`: which objects the mode wants, the fields this
//! resource owns in them (what state records and plan compares), and writing, reading and
//! removing them with server-side apply.

use std::collections::BTreeMap;

use ::kube::api::{DynamicObject, ObjectMeta, TypeMeta};
use serde_json::Value as Json;

use super::model::{known_map, text, KubeObject, PodIdentity};
use crate::framework::{Diagnostic, Diagnostics};
use crate::kube::objects::{self, Meta, ObjectKind};
use crate::kube::{KubeClient, KubeError, FIELD_MANAGER};

/// One object to write: the object and what state records of it.
pub struct Desired {
    pub object: DynamicObject,
    pub record: KubeObject,
}

/// The objects the configuration wants, in the order they are written (the workload-identity
/// ServiceAccount first, so a migration never leaves pods without an identity), or `None` while
/// the identity's client id is unknown.
pub fn desired(m: &PodIdentity) -> Option<Vec<Desired>> {
    let mode = m.mode()?;
    let client_id = text(&m.client_id)?;
    let (name, ns) = (text(&m.name)?, text(&m.namespace)?);
    let mut out = Vec::new();
    if mode.workload_identity() {
        let mut meta = Meta::new(text(&m.service_account_name)?, ns);
        meta.annotations = known_map(&m.service_account_annotations)?;
        meta.labels = known_map(&m.service_account_labels)?;
        let sa = objects::service_account(&meta, client_id, text(&m.tenant_id));
        out.push(objects::to_dynamic(&sa).ok()?);
    }
    if mode.pod_identity() {
        let identity_id = text(&m.identity_id)?;
        out.push(objects::azure_identity(&Meta::new(name, ns), identity_id, client_id));
        let binding = Meta::new(text(&m.binding_name)?, ns);
        out.push(objects::azure_identity_binding(&binding, name, text(&m.selector)?));
    }
    Some(out.into_iter().map(|object| Desired { record: record(&object), object }).collect())
}

/// What state records of an object: its address and the fields set in it, flattened.
fn record(obj: &DynamicObject) -> KubeObject {
    KubeObject {
        kind: obj.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        fields: flatten(obj),
    }
}

/// Labels, annotations and the leaves of `spec`, as `metadata.labels.<key>`,
/// `metadata.annotations.<key>` and `spec.<field>`.
fn flatten(obj: &DynamicObject) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (prefix, map) in
        [("metadata.labels", &obj.metadata.labels), ("metadata.annotations", &obj.metadata.annotations)]
    {
        for (k, v) in map.iter().flatten() {
            out.insert(format!("{prefix}.{k}"), v.clone());
        }
    }
    if let Some(spec) = obj.data.get("spec").and_then(Json::as_object) {
        for (k, v) in spec {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(format!("spec.{k}"), text);
        }
    }
    out
}

/// The fields of `recorded` as the server has them now (missing ones left out).
fn observed(recorded: &KubeObject, live: &DynamicObject) -> KubeObject {
    let now = flatten(live);
    let fields = recorded.fields.keys().filter_map(|k| Some((k.clone(), now.get(k)?.clone()))).collect();
    KubeObject { fields, ..recorded.clone() }
}

fn kind_of(o: &KubeObject) -> Option<ObjectKind> {
    ObjectKind::ALL.into_iter().find(|k| k.kind() == o.kind)
}

fn same_object(a: &KubeObject, b: &KubeObject) -> bool {
    a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

pub fn kube_diag(summary: &str, e: &KubeError) -> Diagnostics {
    Diagnostic::error(summary, e.to_string()).into()
}

/// Apply each object. A conflict on an object this resource wrote before is drift the plan
/// showed (someone changed our fields): taken back, with a warning naming who changed them.
/// A conflict on any other object is an error naming the manager, unless `force`.
pub async fn write(
    kube: &KubeClient,
    desired: &[Desired],
    prior: &[KubeObject],
    force: bool,
    diags: &mut Diagnostics,
) -> Result<Vec<KubeObject>, (Vec<KubeObject>, Diagnostics)> {
    let mut written = Vec::new();
    for d in desired {
        match kube.apply(&d.object, force).await {
            Ok(_) => written.push(d.record.clone()),
            Err(KubeError::ApplyConflict { object, conflicts }) if prior.iter().any(|p| same_object(p, &d.record)) => {
                kube.apply(&d.object, true)
                    .await
                    .map_err(|e| (written.clone(), kube_diag("Cannot write a Kubernetes object", &e)))?;
                diags.push(Diagnostic::warning(
                    "Restored Kubernetes fields changed outside Terraform",
                    format!(
                        "{object}: {} changed fields this resource manages; they were set back.",
                        crate::kube::conflict::describe(&conflicts)
                    ),
                ));
                written.push(d.record.clone());
            }
            Err(e) => return Err((written, kube_diag("Cannot write a Kubernetes object", &e))),
        }
    }
    Ok(written)
}

/// Remove objects this resource wrote: deleted when nobody else manages fields in them, else
/// only this resource's fields are given up (an apply of nothing), so that another manager's
/// object (a ServiceAccount from a Helm chart) stays. Returns those that could not be removed.
pub async fn remove(kube: &KubeClient, objects: Vec<KubeObject>) -> (Vec<KubeObject>, Diagnostics) {
    let (mut kept, mut diags) = (Vec::new(), Diagnostics::new());
    for o in objects {
        let Some(kind) = kind_of(&o) else { continue };
        let result = match kube.get(kind, &o.namespace, &o.name).await {
            Ok(None) => Ok(()),
            Ok(Some(live)) if others_manage(&live) => kube.apply(&empty(kind, &o), false).await.map(|_| ()),
            Ok(Some(_)) => kube.delete(kind, &o.namespace, &o.name).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            diags.extend(kube_diag("Cannot remove a Kubernetes object", &e));
            kept.push(o);
        }
    }
    (kept, diags)
}

fn others_manage(live: &DynamicObject) -> bool {
    live.metadata.managed_fields.iter().flatten().any(|f| f.manager.as_deref().is_some_and(|m| m != FIELD_MANAGER))
}

/// The apply configuration that owns no field: applying it gives up every field we owned.
fn empty(kind: ObjectKind, o: &KubeObject) -> DynamicObject {
    DynamicObject {
        types: Some(TypeMeta { api_version: kind.api_version().into(), kind: kind.kind().into() }),
        metadata: ObjectMeta { name: Some(o.name.clone()), namespace: Some(o.namespace.clone()), ..Default::default() },
        data: Json::Object(Default::default()),
    }
}

/// The recorded objects as they are now: missing ones dropped, fields as the server has them.
pub async fn read(kube: &KubeClient, recorded: &[KubeObject]) -> Result<Vec<KubeObject>, Diagnostics> {
    let mut out = Vec::new();
    for o in recorded {
        let Some(kind) = kind_of(o) else { continue };
        match kube.get(kind, &o.namespace, &o.name).await {
            Ok(Some(live)) => out.push(observed(o, &live)),
            Ok(None) => tracing::info!(kind = o.kind, name = o.name, "Kubernetes object deleted outside Terraform"),
            Err(e) => return Err(kube_diag("Cannot read a Kubernetes object", &e)),
        }
    }
    Ok(out)
}

/// Recorded objects the configuration no longer wants.
pub fn unwanted(prior: &[KubeObject], wanted: &[KubeObject]) -> Vec<KubeObject> {
    prior.iter().filter(|p| !wanted.iter().any(|w| same_object(p, w))).cloned().collect()
}

/// The objects as multi-document YAML.
pub fn manifests(desired: &[Desired]) -> Result<String, Diagnostics> {
    let objects: Vec<DynamicObject> = desired.iter().map(|d| d.object.clone()).collect();
    crate::kube::yaml::render(&objects)
        .map_err(|e| Diagnostic::error("Cannot render the manifests", e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::Known;

    fn model(mode: &str) -> PodIdentity {
        let s = |v: &str| Some(Known::Known(v.to_string()));
        let mut m = PodIdentity {
            name: s("orders"),
            namespace: s("apps"),
            mode: s(mode),
            client_id: s("f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"),
            tenant_id: s("72f988bf-86f1-41af-91ab-2d7cd011db47"),
            identity_id: s("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders"),
            ..Default::default()
        };
        m.fill_defaults();
        m
    }

    #[test]
    fn the_mode_decides_the_objects_and_the_service_account_comes_first() {
        let kinds =
            |mode: &str| desired(&model(mode)).unwrap().iter().map(|d| d.record.kind.clone()).collect::<Vec<_>>();
        assert_eq!(kinds("workload_identity"), ["ServiceAccount"]);
        assert_eq!(kinds("aad_pod_identity"), ["AzureIdentity", "AzureIdentityBinding"]);
        assert_eq!(kinds("both"), ["ServiceAccount", "AzureIdentity", "AzureIdentityBinding"]);
    }

    #[test]
    fn recorded_fields_are_the_ones_set() {
        let d = desired(&model("both")).unwrap();
        let sa = &d[0].record.fields;
        assert_eq!(
            sa["metadata.annotations.azure.workload.identity/client-id"],
            "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"
        );
        assert_eq!(sa["metadata.labels.app.kubernetes.io/managed-by"], FIELD_MANAGER);
        let binding = &d[2].record;
        assert_eq!((binding.name.as_str(), binding.fields["spec.selector"].as_str()), ("orders-binding", "orders"));
        assert_eq!(d[1].record.fields["spec.type"], "0");
    }

    #[test]
    fn observed_fields_show_drift_and_absence() {
        let d = desired(&model("aad_pod_identity")).unwrap();
        let mut live = d[1].object.clone();
        live.data["spec"]["selector"] = Json::String("hacked".into());
        let seen = observed(&d[1].record, &live);
        assert_eq!(seen.fields["spec.selector"], "hacked");
        live.data["spec"].as_object_mut().unwrap().remove("selector");
        assert!(!observed(&d[1].record, &live).fields.contains_key("spec.selector"));
    }

    #[test]
    fn no_objects_while_the_client_id_is_unknown() {
        let mut m = model("both");
        m.client_id = Some(Known::Unknown);
        assert!(desired(&m).is_none());
    }
}
