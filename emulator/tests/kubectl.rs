//! The real `kubectl` (pinned 1.37.1, installed into `.tools/bin` by
//! `scripts/install-tools.sh`) against the emulator, with the kubeconfig that
//! `listClusterUserCredential` returns: discovery, OpenAPI v3, server-side apply,
//! managedFields, conflicts and `--force-conflicts`, dry runs and delete.
//!
//! These tests fail, never skip, when kubectl is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::kube::{kubeconfig, start_two_clusters};
use serde_json::Value;

const NAMESPACE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels:
    team: payments
";

const APP: &str = "apiVersion: aadpodidentity.k8s.io/v1
kind: AzureIdentity
metadata:
  name: orders
  namespace: payments
spec:
  type: 0
  resourceID: /subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourcegroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders
  clientID: f57ba24e-fdd9-4be7-8a91-6a17a3d663a7
---
apiVersion: aadpodidentity.k8s.io/v1
kind: AzureIdentityBinding
metadata:
  name: orders-binding
  namespace: payments
spec:
  azureIdentity: orders
  selector: orders
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: orders
  namespace: payments
  annotations:
    azure.workload.identity/client-id: f57ba24e-fdd9-4be7-8a91-6a17a3d663a7
";

/// The same binding with another selector, as a second manager would apply it.
const OTHER_SELECTOR: &str = "apiVersion: aadpodidentity.k8s.io/v1
kind: AzureIdentityBinding
metadata:
  name: orders-binding
  namespace: payments
spec:
  selector: orders-v2
";

fn kubectl_path() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/kubectl");
    assert!(p.is_file(), "{} is missing: run scripts/install-tools.sh (make test does)", p.display());
    p
}

/// kubectl with its own HOME, cache and kubeconfig, nothing from the environment.
struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn new(kubeconfig: &str) -> Kubectl {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig).unwrap();
        Kubectl { dir, kubeconfig: path }
    }

    /// Write a manifest into the temp dir; returns its path.
    fn manifest(&self, name: &str, yaml: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, yaml).unwrap();
        p.display().to_string()
    }

    /// Run kubectl off the async runtime, so the in-process emulator keeps serving.
    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(kubectl_path());
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=30s")
            .args(args);
        let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("kubectl runs");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args).await;
        assert!(r.ok, "kubectl {args:?} failed:\n{}\n{}", r.stdout, r.stderr);
        r.stdout
    }

    async fn get_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get", "-o", "json", "--show-managed-fields"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all).await).expect("kubectl get -o json prints JSON")
    }
}

/// (manager, operation) → the entry's `fieldsV1`.
fn owned_by<'a>(obj: &'a Value, manager: &str, op: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == op)
        .map(|e| &e["fieldsV1"])
}

#[tokio::test]
async fn kubectl_applies_reads_conflicts_forces_and_deletes() {
    let (e, token) = start_two_clusters().await;
    let k = Kubectl::new(&kubeconfig(&e, &token, "aks-spoke").await);
    let ns = k.manifest("ns.yaml", NAMESPACE);
    let app = k.manifest("app.yaml", APP);
    let other = k.manifest("other.yaml", OTHER_SELECTOR);

    assert_eq!(k.ok(&["apply", "--server-side", "-f", &ns]).await, "namespace/payments serverside-applied\n");
    let out = k.ok(&["apply", "--server-side", "-f", &app]).await;
    for line in [
        "azureidentity.aadpodidentity.k8s.io/orders serverside-applied",
        "azureidentitybinding.aadpodidentity.k8s.io/orders-binding serverside-applied",
        "serviceaccount/orders serverside-applied",
    ] {
        assert!(out.contains(line), "{out}");
    }
    let binding = k.get_json(&["azureidentitybinding", "orders-binding", "-n", "payments"]).await;
    assert_eq!(owned_by(&binding, "kubectl", "Apply").unwrap()["f:spec"]["f:selector"], serde_json::json!({}));
    let sa = k.get_json(&["serviceaccount", "orders", "-n", "payments"]).await;
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"
    );
    assert!(owned_by(&sa, "kubectl", "Apply").is_some(), "{sa}");
    let ns_obj = k.get_json(&["namespace", "payments"]).await;
    assert_eq!(ns_obj["metadata"]["labels"]["team"], "payments");

    // Another manager changing kubectl's field conflicts, naming field and manager.
    let r = k.run(&["apply", "--server-side", "--field-manager=other", "-f", &other]).await;
    assert!(!r.ok, "{}", r.stdout);
    assert!(
        r.stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.selector"),
        "{}",
        r.stderr
    );
    k.ok(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", &other]).await;
    let binding = k.get_json(&["azureidentitybinding", "orders-binding", "-n", "payments"]).await;
    assert_eq!(binding["spec"]["selector"], "orders-v2");
    assert_eq!(owned_by(&binding, "other", "Apply").unwrap()["f:spec"]["f:selector"], serde_json::json!({}));
    assert!(owned_by(&binding, "kubectl", "Apply").unwrap()["f:spec"].get("f:selector").is_none());

    let out = k.ok(&["delete", "-f", &app]).await;
    assert!(out.contains("\"orders-binding\" deleted"), "{out}");
    let r = k.run(&["get", "azureidentity", "orders", "-n", "payments"]).await;
    assert!(!r.ok && r.stderr.contains("NotFound"), "{}", r.stderr);
    e.server.shutdown().await;
}

#[tokio::test]
async fn kubectl_on_a_cluster_without_the_crds_and_server_dry_run() {
    let (e, token) = start_two_clusters().await;
    let legacy = Kubectl::new(&kubeconfig(&e, &token, "aks-legacy").await);
    let spoke = Kubectl::new(&kubeconfig(&e, &token, "aks-spoke").await);
    let ns = legacy.manifest("ns.yaml", NAMESPACE);
    let app = legacy.manifest("app.yaml", APP);

    legacy.ok(&["apply", "--server-side", "-f", &ns]).await;
    let r = legacy.run(&["apply", "--server-side", "-f", &app]).await;
    assert!(!r.ok);
    assert!(
        r.stderr.contains("no matches for kind \"AzureIdentity\" in version \"aadpodidentity.k8s.io/v1\""),
        "{}",
        r.stderr
    );
    // The namespace exists in this cluster only.
    let r = spoke.run(&["get", "namespace", "payments"]).await;
    assert!(!r.ok && r.stderr.contains("NotFound"), "{}", r.stderr);

    // A server-side dry run goes through the server and stores nothing.
    let ns = spoke.manifest("ns.yaml", NAMESPACE);
    let out = spoke.ok(&["apply", "--server-side", "--dry-run=server", "-f", &ns]).await;
    assert_eq!(out, "namespace/payments serverside-applied (server dry run)\n");
    let r = spoke.run(&["get", "namespace", "payments"]).await;
    assert!(!r.ok && r.stderr.contains("NotFound"), "{}", r.stderr);
    e.server.shutdown().await;
}
