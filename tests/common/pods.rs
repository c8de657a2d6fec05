//! Helpers for the `aksid_pod_identity` tests: ARM calls as the Terraform principal (to change
//! things behind Terraform's back), the cluster's kubeconfig, and the real `kubectl`.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use serde_json::Value as Json;

use super::emulator::{Emulator, CLUSTER_ID, SPOKE_SUB};

pub const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
pub const MIO: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
pub const BLOB_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
pub const ISSUER: &str =
    "https://westeurope.oic.prod-aks.azure.com/4aca8002-c6b1-4e6a-8956-0d030db855bf/5872e63f-2638-457b-bcea-b653f405b523/";
pub const ORDERS_IDENTITY: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api";
pub const ORDERS_CLIENT: &str = "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7";
pub const ORDERS_PRINCIPAL: &str = "c08af55e-d954-4179-8d66-936d69f1b8be";
pub const STORAGE: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata";
pub const SERVICE_BUS: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ServiceBus/namespaces/sb-spoke";
pub const SPOKE_RG: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks";
pub const IDENTITY_API: &str = "2023-01-31";

impl Emulator {
    /// The federated credentials of an identity, by name.
    pub fn credentials(&self, identity: &str) -> Vec<Json> {
        let (status, body) =
            self.arm("GET", &format!("{identity}/federatedIdentityCredentials?api-version={IDENTITY_API}"), None);
        assert_eq!(status, 200, "{body}");
        body["value"].as_array().cloned().unwrap_or_default()
    }

    pub fn identity_exists(&self, id: &str) -> bool {
        self.arm("GET", &format!("{id}?api-version={IDENTITY_API}"), None).0 == 200
    }

    /// The kubeconfig `az aks get-credentials` would write for `cluster`.
    pub fn kubeconfig(&self, cluster: &str) -> String {
        let (status, body) =
            self.arm("POST", &format!("{cluster}/listClusterUserCredential?api-version=2025-01-01"), None);
        assert_eq!(status, 200, "{body}");
        let b64 = body["kubeconfigs"][0]["value"].as_str().expect("kubeconfig value");
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    }

    /// Create a namespace in `cluster` (aksid writes into existing namespaces only).
    pub fn namespace(&self, cluster: &str, name: &str) {
        Kubectl::new(&self.kubeconfig(cluster))
            .apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"), "platform");
    }

    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(&self.kubeconfig(CLUSTER_ID))
    }

    /// (role GUID, lower-case scope) of every assignment held by `principal`.
    pub fn assignments_of(&self, principal: &str) -> Vec<(String, String)> {
        let all = self.admin_get("role-assignments");
        let mut out: Vec<(String, String)> = all["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| &a["properties"])
            .filter(|p| p["principalId"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(principal)))
            .map(|p| {
                let role = p["roleDefinitionId"].as_str().unwrap_or_default();
                (
                    role.rsplit('/').next().unwrap_or_default().to_lowercase(),
                    p["scope"].as_str().unwrap_or_default().to_lowercase(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

/// The real kubectl (pinned, from `.tools/bin`) with its own HOME and kubeconfig.
pub struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(kubeconfig: &str) -> Kubectl {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kubeconfig).unwrap();
        Kubectl { dir, kubeconfig: path }
    }

    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let bin = super::repo_root().join(".tools/bin/kubectl");
        assert!(bin.is_file(), "{} is missing: run scripts/install-tools.sh", bin.display());
        let out = Command::new(bin)
            .env_clear()
            .env("HOME", self.dir.path())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=30s")
            .args(args)
            .output()
            .expect("kubectl runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "kubectl {args:?} failed:\n{text}");
        text
    }

    /// The object as JSON, or None when kubectl says it is not found.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Json> {
        let (ok, text) = self.run(&["get", kind, name, "-n", ns, "-o", "json", "--show-managed-fields"]);
        if !ok {
            assert!(text.contains("NotFound") || text.contains("not found"), "kubectl get {kind} {ns}/{name}: {text}");
            return None;
        }
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl JSON: {e}: {text}")))
    }

    /// Apply a manifest with server-side apply as `manager`.
    pub fn apply(&self, yaml: &str, manager: &str) -> String {
        let p = self.dir.path().join("manifest.yaml");
        std::fs::write(&p, yaml).unwrap();
        self.ok(&["apply", "--server-side", "--field-manager", manager, "-f", p.to_str().unwrap()])
    }
}

/// The provider block for the emulator, plus the spoke subscription as default.
pub fn pod_config(emu: &Emulator, body: &str) -> String {
    super::matrix::config(emu, body)
}

pub fn spoke_sub() -> &'static str {
    SPOKE_SUB
}
