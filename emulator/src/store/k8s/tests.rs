//! Unit tests of the object rules (CRUD, preconditions, generation) and of ownership.
use super::*;
use serde_json::json;

fn sa(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

fn w(manager: &str) -> Writer<'_> {
    Writer { manager, now: now() }
}

#[test]
fn defaults_exist() {
    let st = K8sState::new(now());
    for ns in DEFAULT_NAMESPACES {
        assert!(st.namespace_exists(ns));
        st.get(service_account_kind(), Some(ns), "default").unwrap();
    }
}

#[test]
fn service_account_lifecycle() {
    let mut st = K8sState::new(now());
    let k = service_account_kind();
    let created = st.create(k, Some("default"), sa("app"), w("test")).unwrap();
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].is_string());
    let rv1 = created["metadata"]["resourceVersion"].clone();

    let e = st.create(k, Some("default"), sa("app"), w("test")).unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    let patched = st
        .merge_patch(
            k,
            Some("default"),
            "app",
            &json!({"metadata": {"annotations": {"azure.workload.identity/client-id": "abc"}}}),
            w("test"),
        )
        .unwrap();
    assert_ne!(patched["metadata"]["resourceVersion"], rv1);
    assert_eq!(patched["metadata"]["annotations"]["azure.workload.identity/client-id"], "abc");

    // PUT with the stale resourceVersion conflicts.
    let mut stale = created.clone();
    stale["metadata"]["labels"] = json!({"a": "b"});
    let e = st.replace(k, Some("default"), "app", stale, w("test")).unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    // PUT with the current one works.
    let mut fresh = patched.clone();
    fresh["metadata"]["labels"] = json!({"a": "b"});
    let replaced = st.replace(k, Some("default"), "app", fresh, w("test")).unwrap();
    assert_eq!(replaced["metadata"]["labels"]["a"], "b");
    assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);

    let list = st.list(k, Some("default"), Some("a=b"), None).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["kind"], "ServiceAccountList");

    st.delete(k, Some("default"), "app").unwrap();
    let e = st.get(k, Some("default"), "app").unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (404, "serviceaccounts \"app\" not found"));
}

#[test]
fn validation_errors() {
    let mut st = K8sState::new(now());
    let k = service_account_kind();
    let e = st.create(k, Some("nope"), sa("x"), w("test")).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (404, "namespaces \"nope\" not found"));
    let e = st.create(k, Some("default"), sa("Bad_Name"), w("test")).unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let e = st.create(k, Some("default"), json!({"metadata": {}}), w("test")).unwrap_err();
    assert!(e.message.contains("name or generateName is required"), "{}", e.message);
    let e = st.create(k, Some("default"), json!({"kind": "Pod", "metadata": {"name": "a"}}), w("test")).unwrap_err();
    assert_eq!(e.code, 400);
    let ai = kind_by_plural(POD_IDENTITY_GROUP, "azureidentities").unwrap();
    let e = st
        .create(
            ai,
            Some("default"),
            json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "id"}, "spec": {"type": "0"}}),
            w("test"),
        )
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert!(e.message.starts_with("AzureIdentity.aadpodidentity.k8s.io \"id\" is invalid: spec.type"), "{}", e.message);
}

#[test]
fn crd_generation_bumps_on_spec_change() {
    let mut st = K8sState::new(now());
    let ai = kind_by_plural(POD_IDENTITY_GROUP, "azureidentities").unwrap();
    let body = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "id"}, "spec": {"type": 0, "clientID": "a"}});
    st.create(ai, Some("default"), body, w("test")).unwrap();
    let p = st.merge_patch(ai, Some("default"), "id", &json!({"metadata": {"labels": {"x": "y"}}}), w("test")).unwrap();
    assert_eq!(p["metadata"]["generation"], 1);
    let p = st.merge_patch(ai, Some("default"), "id", &json!({"spec": {"clientID": "b"}}), w("test")).unwrap();
    assert_eq!(p["metadata"]["generation"], 2);
}

#[test]
fn namespace_delete_cascades() {
    let mut st = K8sState::new(now());
    let nsk = namespace_kind();
    st.create(nsk, None, json!({"metadata": {"name": "apps"}}), w("test")).unwrap();
    st.create(service_account_kind(), Some("apps"), sa("a"), w("test")).unwrap();
    st.delete(nsk, None, "apps").unwrap();
    assert!(!st.objects.iter().any(|o| o.namespace.as_deref() == Some("apps")));
}

#[test]
fn merge_patch_rfc7386() {
    let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
    rules::merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
    assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
}

// --- server-side apply and managedFields ---

const AIB: &str = "aadpodidentity.k8s.io/v1";

fn binding(selector: &str) -> Value {
    json!({"apiVersion": AIB, "kind": "AzureIdentityBinding", "metadata": {"name": "b"},
        "spec": {"azureIdentity": "id", "selector": selector}})
}

fn bindings() -> &'static Kind {
    kind_by_plural(POD_IDENTITY_GROUP, "azureidentitybindings").unwrap()
}

fn entry<'a>(obj: &'a Value, manager: &str, op: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager && e["operation"] == op))
}

#[test]
fn apply_creates_records_the_applier_and_is_idempotent() {
    let mut st = K8sState::new(now());
    let k = service_account_kind();
    let cfg = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "api", "annotations": {"azure.workload.identity/client-id": "c1"}}});
    let (code, created) =
        st.apply(k, Some("default"), "api", cfg.clone(), false, w("terraform-provider-aksid")).unwrap();
    assert_eq!(code, 201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].is_string());
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{"manager": "terraform-provider-aksid", "operation": "Apply", "apiVersion": "v1",
            "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:azure.workload.identity/client-id": {}}}}}])
    );
    // The same configuration again changes nothing, not even the resourceVersion.
    let (code, again) = st.apply(k, Some("default"), "api", cfg, false, w("terraform-provider-aksid")).unwrap();
    assert_eq!(code, 200);
    assert_eq!(again, created);
    let cfg2 = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "api", "annotations": {"azure.workload.identity/client-id": "c2"}}});
    let (_, changed) = st.apply(k, Some("default"), "api", cfg2, false, w("terraform-provider-aksid")).unwrap();
    assert_ne!(changed["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    assert_eq!(changed["metadata"]["annotations"]["azure.workload.identity/client-id"], "c2");
}

#[test]
fn apply_conflicts_with_another_owner_unless_forced() {
    let mut st = K8sState::new(now());
    let k = bindings();
    st.apply(k, Some("default"), "b", binding("a"), false, w("kubectl")).unwrap();
    // An update takes the field it changes away from the applier, without conflict.
    let edited =
        st.merge_patch(k, Some("default"), "b", &json!({"spec": {"selector": "b"}}), w("kubectl-edit")).unwrap();
    assert_eq!(entry(&edited, "kubectl-edit", "Update").unwrap()["fieldsV1"], json!({"f:spec": {"f:selector": {}}}));
    assert_eq!(entry(&edited, "kubectl", "Apply").unwrap()["fieldsV1"], json!({"f:spec": {"f:azureIdentity": {}}}));

    let e = st.apply(k, Some("default"), "b", binding("c"), false, w("kubectl")).unwrap_err();
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using aadpodidentity.k8s.io/v1: .spec.selector"
    );
    assert_eq!(
        e.details["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using aadpodidentity.k8s.io/v1",
            "field": ".spec.selector"}])
    );
    // Applying the value the field already has makes the applier a co-owner.
    let (_, shared) = st.apply(k, Some("default"), "b", binding("b"), false, w("kubectl")).unwrap();
    assert_eq!(entry(&shared, "kubectl-edit", "Update").unwrap()["fieldsV1"], json!({"f:spec": {"f:selector": {}}}));
    assert_eq!(
        entry(&shared, "kubectl", "Apply").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:azureIdentity": {}, "f:selector": {}}})
    );
    // Forced: the field changes hands and the updater's empty entry disappears.
    let (_, forced) = st.apply(k, Some("default"), "b", binding("c"), true, w("kubectl")).unwrap();
    assert_eq!(forced["spec"]["selector"], "c");
    assert!(entry(&forced, "kubectl-edit", "Update").is_none(), "{forced}");
    assert_eq!(forced["metadata"]["generation"], 3);
}

#[test]
fn conflicts_with_several_managers_are_listed_by_manager() {
    let mut st = K8sState::new(now());
    let k = bindings();
    st.apply(k, Some("default"), "b", binding("a"), false, w("one")).unwrap();
    let mut other = binding("a");
    other["spec"] = json!({"weight": 1});
    st.apply(k, Some("default"), "b", other, false, w("two")).unwrap();
    let mut mine = binding("x");
    mine["spec"]["weight"] = json!(2);
    mine["spec"]["azureIdentity"] = json!("other");
    let e = st.apply(k, Some("default"), "b", mine, false, w("three")).unwrap_err();
    assert_eq!(
        e.message,
        "Apply failed with 3 conflicts: conflicts with \"one\":\n- .spec.azureIdentity\n- .spec.selector\nconflicts with \"two\":\n- .spec.weight"
    );
    assert_eq!(e.details["causes"].as_array().unwrap().len(), 3);
}

#[test]
fn apply_removes_what_the_applier_dropped_unless_another_manager_owns_it() {
    let mut st = K8sState::new(now());
    let k = kind_by_plural(POD_IDENTITY_GROUP, "azureidentities").unwrap();
    let id = |labels: Value, spec: Value| json!({"apiVersion": AIB, "kind": "AzureIdentity", "metadata": {"name": "id", "labels": labels}, "spec": spec});
    let full = id(json!({"a": "1", "b": "2"}), json!({"type": 0, "clientID": "c", "resourceID": "r"}));
    st.apply(k, Some("default"), "id", full, false, w("A")).unwrap();
    st.apply(k, Some("default"), "id", id(json!({"b": "2"}), json!({})), false, w("B")).unwrap();
    let (_, v) =
        st.apply(k, Some("default"), "id", id(json!({}), json!({"type": 0, "clientID": "c"})), false, w("A")).unwrap();
    assert_eq!(v["metadata"]["labels"], json!({"b": "2"}));
    assert_eq!(v["spec"], json!({"type": 0, "clientID": "c"}));
    // B stops applying the label: nobody owns it any more, so it goes, and the empty map too.
    let (_, v) = st.apply(k, Some("default"), "id", id(json!({}), json!({})), false, w("B")).unwrap();
    assert!(v["metadata"].get("labels").is_none(), "{v}");
    assert!(entry(&v, "B", "Apply").is_none());
}

#[test]
fn updates_own_what_they_set_including_new_maps() {
    let mut st = K8sState::new(now());
    let k = service_account_kind();
    let body = json!({"metadata": {"name": "s", "labels": {"app": "x"}}, "automountServiceAccountToken": false});
    let created = st.create(k, Some("default"), body, w("kubectl-create")).unwrap();
    assert_eq!(
        entry(&created, "kubectl-create", "Update").unwrap()["fieldsV1"],
        json!({"f:automountServiceAccountToken": {}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    // Removing a field removes it from every owner.
    let v = st
        .merge_patch(k, Some("default"), "s", &json!({"automountServiceAccountToken": null}), w("kubectl-patch"))
        .unwrap();
    assert_eq!(
        entry(&v, "kubectl-create", "Update").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    assert!(entry(&v, "kubectl-patch", "Update").is_none());
    // A namespace's server-set spec and status are nobody's.
    let ns = st.create(namespace_kind(), None, json!({"metadata": {"name": "apps"}}), w("kubectl-create")).unwrap();
    assert_eq!(
        entry(&ns, "kubectl-create", "Update").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}})
    );
    let sa = st.get(k, Some("apps"), "default").unwrap();
    assert!(sa["metadata"].get("managedFields").is_none());
}

#[test]
fn apply_input_errors() {
    let mut st = K8sState::new(now());
    let k = bindings();
    let run = |st: &mut K8sState, ns: &str, name: &str, cfg: Value| {
        st.apply(k, Some(ns), name, cfg, false, w("m")).unwrap_err()
    };
    let e = run(&mut st, "default", "b", json!({"apiVersion": AIB, "metadata": {"name": "b"}}));
    assert_eq!((e.code, e.message.as_str()), (400, "Object 'Kind' is missing in the apply configuration"));
    let e = run(&mut st, "default", "other", binding("a"));
    assert_eq!(e.code, 400);
    assert!(e.message.contains("does not match the name on the URL"), "{}", e.message);
    let mut managed = binding("a");
    managed["metadata"]["managedFields"] = json!([]);
    assert_eq!(run(&mut st, "default", "b", managed).message, "metadata.managedFields must be nil");
    let mut bad = binding("a");
    bad["spec"]["weight"] = json!("heavy");
    assert_eq!(run(&mut st, "default", "b", bad).code, 422);
    assert_eq!(run(&mut st, "nope", "b", binding("a")).code, 404);
    assert_eq!(run(&mut st, "default", "b", json!("yaml scalar")).code, 400);
    let mut meta = binding("a");
    meta["metadata"] = json!("x");
    assert_eq!(run(&mut st, "default", "b", meta).code, 400);
    // A resourceVersion in the configuration is a precondition.
    let (_, v) = st.apply(k, Some("default"), "b", binding("a"), false, w("m")).unwrap();
    let mut stale = binding("z");
    stale["metadata"]["resourceVersion"] = json!("1");
    let e = run(&mut st, "default", "b", stale);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    let mut fresh = binding("z");
    fresh["metadata"]["resourceVersion"] = v["metadata"]["resourceVersion"].clone();
    st.apply(k, Some("default"), "b", fresh, false, w("m")).unwrap();
}

#[test]
fn apply_to_a_namespace_leaves_spec_and_status_to_the_server() {
    let mut st = K8sState::new(now());
    let cfg = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "labels": {"team": "pay"}},
        "spec": {"finalizers": []}});
    let (code, ns) = st.apply(namespace_kind(), None, "apps", cfg, false, w("kubectl")).unwrap();
    assert_eq!(code, 201);
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["metadata"]["labels"], json!({"team": "pay", "kubernetes.io/metadata.name": "apps"}));
    assert_eq!(
        entry(&ns, "kubectl", "Apply").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:team": {}}}})
    );
    st.get(service_account_kind(), Some("apps"), "default").unwrap();
}

#[test]
fn field_selectors_pick_by_name_and_namespace() {
    let st = K8sState::new(now());
    let k = service_account_kind();
    let l = st.list(k, None, None, Some("metadata.name=default,metadata.namespace!=kube-system")).unwrap();
    assert_eq!(l["items"].as_array().unwrap().len(), 3);
    assert_eq!(st.list(k, None, None, Some("spec.x=1")).unwrap_err().code, 400);
}
