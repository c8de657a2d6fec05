//! The Kubernetes API over TLS: one object store per cluster behind its kubeconfig,
//! clusters with and without the aad-pod-identity CRDs, server-side apply and
//! `managedFields`, dry runs, field validation, and the OpenAPI v3 documents.

mod common;

use common::kube::{kubeconfig, server_of, start_two_clusters, LEGACY_TOKEN, SPOKE_TOKEN};
use common::Emu;
use serde_json::{json, Value};

const AI: &str = "/apis/aadpodidentity.k8s.io/v1/namespaces/default/azureidentities";
const AIB: &str = "/apis/aadpodidentity.k8s.io/v1/namespaces/default/azureidentitybindings";

/// One Kubernetes request; `body` is sent as is with `content_type`.
async fn k8s(
    e: &Emu,
    method: &str,
    url: &str,
    token: &str,
    body: Option<(&str, String)>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = e.client.request(m, url).bearer_auth(token);
    if let Some((ct, b)) = body {
        rb = rb.header("content-type", ct).body(b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let v: Value = resp.json().await.unwrap();
    (status, v, headers)
}

fn apply_body(v: &Value) -> Option<(&'static str, String)> {
    Some(("application/apply-patch+yaml", v.to_string()))
}

fn binding(selector: &str) -> Value {
    json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding",
        "metadata": {"name": "orders"}, "spec": {"azureIdentity": "orders", "selector": selector}})
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["manager"].as_str().unwrap().to_string(), e["operation"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn each_cluster_has_its_own_store_behind_its_kubeconfig() {
    let (e, token) = start_two_clusters().await;
    let spoke = server_of(&kubeconfig(&e, &token, "aks-spoke").await);
    let legacy = server_of(&kubeconfig(&e, &token, "aks-legacy").await);
    assert!(spoke.starts_with(&format!("{}/", e.server.info.kubernetes_host)), "{spoke}");
    assert_ne!(spoke, legacy);

    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}});
    let (s, _, _) =
        k8s(&e, "POST", &format!("{spoke}/api/v1/namespaces"), SPOKE_TOKEN, Some(("application/json", ns.to_string())))
            .await;
    assert_eq!(s, 201);
    let (s, _, _) = k8s(&e, "GET", &format!("{spoke}/api/v1/namespaces/payments"), SPOKE_TOKEN, None).await;
    assert_eq!(s, 200);
    let (s, b, _) = k8s(&e, "GET", &format!("{legacy}/api/v1/namespaces/payments"), LEGACY_TOKEN, None).await;
    assert_eq!((s, b["reason"].as_str()), (404, Some("NotFound")), "the other cluster does not see it");
    // A cluster's URL accepts only that cluster's token.
    let (s, b, _) = k8s(&e, "GET", &format!("{legacy}/api/v1/namespaces"), SPOKE_TOKEN, None).await;
    assert_eq!((s, b["reason"].as_str()), (401, Some("Unauthorized")));
    // Plain /k8s picks the cluster by its token.
    let host = &e.server.info.kubernetes_host;
    let (s, _, _) = k8s(&e, "GET", &format!("{host}/api/v1/namespaces/payments"), SPOKE_TOKEN, None).await;
    assert_eq!(s, 200);
    let (s, _, _) = k8s(&e, "GET", &format!("{host}/api/v1/namespaces/payments"), LEGACY_TOKEN, None).await;
    assert_eq!(s, 404);
    let (_, v, _) = k8s(&e, "GET", &format!("{legacy}/version"), LEGACY_TOKEN, None).await;
    assert_eq!(v["gitVersion"], "v1.30.5");
    let (_, v, _) = k8s(&e, "GET", &format!("{spoke}/version"), SPOKE_TOKEN, None).await;
    assert_eq!(v["gitVersion"], "v1.31.2");
    e.server.shutdown().await;
}

#[tokio::test]
async fn without_the_crds_the_pod_identity_kinds_do_not_exist() {
    let (e, token) = start_two_clusters().await;
    let spoke = server_of(&kubeconfig(&e, &token, "aks-spoke").await);
    let legacy = server_of(&kubeconfig(&e, &token, "aks-legacy").await);
    let group_names = |v: &Value| -> Vec<String> {
        v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, v, _) = k8s(&e, "GET", &format!("{legacy}/apis"), LEGACY_TOKEN, None).await;
    assert_eq!(group_names(&v), ["apiextensions.k8s.io"]);
    let (_, v, _) = k8s(&e, "GET", &format!("{spoke}/apis"), SPOKE_TOKEN, None).await;
    assert_eq!(group_names(&v), ["apiextensions.k8s.io", "aadpodidentity.k8s.io"]);
    // The CRDs themselves, as clients check for them.
    let crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/azureidentities.aadpodidentity.k8s.io";
    let (s, v, _) = k8s(&e, "GET", &format!("{spoke}{crd}"), SPOKE_TOKEN, None).await;
    assert_eq!((s, v["spec"]["names"]["kind"].as_str()), (200, Some("AzureIdentity")));
    assert_eq!(
        v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["type"]["type"],
        "integer"
    );
    let (s, v, _) = k8s(&e, "GET", &format!("{legacy}{crd}"), LEGACY_TOKEN, None).await;
    assert_eq!((s, v["reason"].as_str()), (404, Some("NotFound")));
    let (_, v, _) =
        k8s(&e, "GET", &format!("{legacy}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"), LEGACY_TOKEN, None)
            .await;
    assert_eq!(v["items"], json!([]));
    let (s, _, _) = k8s(&e, "DELETE", &format!("{spoke}{crd}"), SPOKE_TOKEN, None).await;
    assert_eq!(s, 405, "read-only");
    for path in ["/apis/aadpodidentity.k8s.io", "/apis/aadpodidentity.k8s.io/v1", AI, &format!("{AIB}/orders")] {
        let (s, b, _) = k8s(&e, "GET", &format!("{legacy}{path}"), LEGACY_TOKEN, None).await;
        assert_eq!(
            (s, b["message"].as_str()),
            (404, Some("the server could not find the requested resource")),
            "{path}"
        );
    }
    let (s, b, _) =
        k8s(&e, "PATCH", &format!("{legacy}{AIB}/orders?fieldManager=m"), LEGACY_TOKEN, apply_body(&binding("a")))
            .await;
    assert_eq!((s, b["reason"].as_str()), (404, Some("NotFound")));
    let (s, _, _) =
        k8s(&e, "PATCH", &format!("{spoke}{AIB}/orders?fieldManager=m"), SPOKE_TOKEN, apply_body(&binding("a"))).await;
    assert_eq!(s, 201);
    // The OpenAPI root lists only the groups that exist.
    let (_, v, _) = k8s(&e, "GET", &format!("{legacy}/openapi/v3"), LEGACY_TOKEN, None).await;
    assert_eq!(v["paths"].as_object().unwrap().keys().collect::<Vec<_>>(), ["api/v1", "apis/apiextensions.k8s.io/v1"]);
    let (s, _, _) =
        k8s(&e, "GET", &format!("{legacy}/openapi/v3/apis/aadpodidentity.k8s.io/v1"), LEGACY_TOKEN, None).await;
    assert_eq!(s, 404);
    e.server.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_conflicts_over_http() {
    let (e, token) = start_two_clusters().await;
    let base = server_of(&kubeconfig(&e, &token, "aks-spoke").await);
    let url = |q: &str| format!("{base}{AIB}/orders?{q}");
    let (s, b, _) = k8s(&e, "PATCH", &url(""), SPOKE_TOKEN, apply_body(&binding("a"))).await;
    assert_eq!((s, b["reason"].as_str()), (422, Some("Invalid")), "apply needs a field manager");

    // A YAML body, as kubectl can send it.
    let yaml = "apiVersion: aadpodidentity.k8s.io/v1\nkind: AzureIdentityBinding\nmetadata:\n  name: orders\nspec:\n  azureIdentity: orders\n  selector: a\n";
    let (s, created, _) = k8s(
        &e,
        "PATCH",
        &url("fieldManager=terraform-provider-aksid"),
        SPOKE_TOKEN,
        Some(("application/apply-patch+yaml", yaml.into())),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(managers(&created), [("terraform-provider-aksid".to_string(), "Apply".to_string())]);
    assert_eq!(
        created["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {"f:azureIdentity": {}, "f:selector": {}}})
    );
    let (s, again, _) =
        k8s(&e, "PATCH", &url("fieldManager=terraform-provider-aksid"), SPOKE_TOKEN, apply_body(&binding("a"))).await;
    assert_eq!((s, &again["metadata"]["resourceVersion"]), (200, &created["metadata"]["resourceVersion"]));

    // A merge patch by another manager takes the field; the applier then conflicts.
    let patch = Some(("application/merge-patch+json", json!({"spec": {"selector": "b"}}).to_string()));
    let (s, edited, _) = k8s(&e, "PATCH", &url("fieldManager=kubectl-edit"), SPOKE_TOKEN, patch).await;
    assert_eq!(s, 200);
    assert!(managers(&edited).contains(&("kubectl-edit".to_string(), "Update".to_string())));
    let (s, b, _) = k8s(
        &e,
        "PATCH",
        &url("fieldManager=terraform-provider-aksid&force=false"),
        SPOKE_TOKEN,
        apply_body(&binding("c")),
    )
    .await;
    assert_eq!((s, b["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(
        b["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "field": ".spec.selector",
            "message": "conflict with \"kubectl-edit\" using aadpodidentity.k8s.io/v1"}])
    );
    let (s, forced, _) = k8s(
        &e,
        "PATCH",
        &url("fieldManager=terraform-provider-aksid&force=true"),
        SPOKE_TOKEN,
        apply_body(&binding("c")),
    )
    .await;
    assert_eq!((s, forced["spec"]["selector"].as_str()), (200, Some("c")));
    assert_eq!(managers(&forced), [("terraform-provider-aksid".to_string(), "Apply".to_string())]);

    // force is for apply only.
    let patch = Some(("application/merge-patch+json", "{}".to_string()));
    let (s, _, _) = k8s(&e, "PATCH", &url("force=true"), SPOKE_TOKEN, patch).await;
    assert_eq!(s, 422);
    e.server.shutdown().await;
}

#[tokio::test]
async fn dry_runs_validation_and_default_managers() {
    let (e, token) = start_two_clusters().await;
    let base = server_of(&kubeconfig(&e, &token, "aks-spoke").await);
    let item = format!("{base}{AIB}/orders");
    let (s, v, _) =
        k8s(&e, "PATCH", &format!("{item}?fieldManager=m&dryRun=All"), SPOKE_TOKEN, apply_body(&binding("a"))).await;
    assert_eq!((s, v["spec"]["selector"].as_str()), (201, Some("a")));
    let (s, _, _) = k8s(&e, "GET", &item, SPOKE_TOKEN, None).await;
    assert_eq!(s, 404, "a dry run stores nothing");

    let mut extra = binding("a");
    extra["spec"]["colour"] = json!("blue");
    let (s, b, _) =
        k8s(&e, "PATCH", &format!("{item}?fieldManager=m&fieldValidation=Strict"), SPOKE_TOKEN, apply_body(&extra))
            .await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains(".spec.colour: field not declared in schema"), "{b}");
    let (s, v, headers) = k8s(&e, "PATCH", &format!("{item}?fieldManager=m"), SPOKE_TOKEN, apply_body(&extra)).await;
    assert_eq!(s, 201);
    assert!(v["spec"].get("colour").is_none(), "unknown fields are pruned");
    assert_eq!(headers.get("warning").unwrap(), "299 - \"unknown field \\\"spec.colour\\\"\"");

    // Without fieldManager, an update is recorded under the User-Agent's product name.
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "labels": {"a": "b"}}});
    let resp = e
        .client
        .post(format!("{base}/api/v1/namespaces/default/serviceaccounts"))
        .bearer_auth(SPOKE_TOKEN)
        .header("user-agent", "my-tool/1.2.3 (linux)")
        .json(&sa)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(managers(&v), [("my-tool".to_string(), "Update".to_string())]);
    assert_eq!(
        v["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
    e.server.shutdown().await;
}

#[tokio::test]
async fn openapi_v3_advertises_server_side_field_validation() {
    let (e, token) = start_two_clusters().await;
    let base = server_of(&kubeconfig(&e, &token, "aks-spoke").await);
    let (s, root, _) = k8s(&e, "GET", &format!("{base}/openapi/v3"), SPOKE_TOKEN, None).await;
    assert_eq!(s, 200);
    let url = root["paths"]["apis/aadpodidentity.k8s.io/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    assert!(url.starts_with("/openapi/v3/apis/aadpodidentity.k8s.io/v1?hash="), "{url}");
    let (s, doc, _) = k8s(&e, "GET", &format!("{base}{url}"), SPOKE_TOKEN, None).await;
    assert_eq!(s, 200);
    let patch = &doc["paths"]["/apis/aadpodidentity.k8s.io/v1/namespaces/{namespace}/azureidentities/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "aadpodidentity.k8s.io", "version": "v1", "kind": "AzureIdentity"})
    );
    let params: Vec<&str> =
        patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(params.contains(&"fieldValidation") && params.contains(&"force"), "{params:?}");
    let spec = &doc["components"]["schemas"]["io.k8s.aadpodidentity.v1.AzureIdentity"]["properties"]["spec"];
    assert_eq!(spec["properties"]["type"]["type"], "integer");
    let (_, core, _) = k8s(&e, "GET", &format!("{base}/openapi/v3/api/v1"), SPOKE_TOKEN, None).await;
    assert!(core["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}"]["patch"].is_object());
    // OpenAPI v2 has no definitions, in JSON and in kubectl's protobuf encoding.
    let (_, v2, _) = k8s(&e, "GET", &format!("{base}/openapi/v2"), SPOKE_TOKEN, None).await;
    assert_eq!(v2, json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.31.2"}, "paths": {}}));
    let resp = e
        .client
        .get(format!("{base}/openapi/v2"))
        .bearer_auth(SPOKE_TOKEN)
        .header("accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"\x0a\x032.0\x12\x15\x0a\x0aKubernetes\x12\x07v1.31.2");
    e.server.shutdown().await;
}
