//! Starts `aksid-emulator` (the local ARM + Entra + Kubernetes emulator) as its own process,
//! reads its ready line, and talks to its admin API (faults, request log).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value as Json;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Ready {
    pub arm_endpoint: String,
    pub authority_host: String,
    pub kubernetes_host: String,
    pub ca_certificate: String,
    pub tenant_id: String,
    pub admin: String,
    pub identity_endpoint: String,
    pub identity_header: String,
}

pub struct Emulator {
    child: Child,
    pub ready: Ready,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn emulator_binary() -> PathBuf {
    let path = super::repo_root().join("target/debug/aksid-emulator");
    if !path.exists() {
        let status = Command::new(env!("CARGO")).args(["build", "-p", "aksid-emulator"]).status().unwrap();
        assert!(status.success(), "building aksid-emulator failed");
    }
    path
}

/// The hub-and-spoke seed shipped with the emulator.
pub fn example_seed() -> PathBuf {
    super::repo_root().join("emulator/examples/seed.json")
}

pub const SPOKE_SUB: &str = "9c195f54-5580-4cd2-9e24-3114522757f4";
pub const HUB_SUB: &str = "ad089f8f-9110-4b0c-9b4b-410b023815eb";
pub const CLUSTER_ID: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke";
pub const TF_CLIENT_ID: &str = "3b390046-4482-48ab-9d61-c1358b55d2bb";
pub const TF_SECRET: &str = "emulator-terraform-secret";

impl Emulator {
    pub fn start(seed: &Path) -> Emulator {
        let dir = tempfile::Builder::new().prefix("aksid-emu-").tempdir().unwrap();
        let mut child = Command::new(emulator_binary())
            .args(["serve", "--addr", "127.0.0.1:0", "--seed"])
            .arg(seed)
            .arg("--ca-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ready: Ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad ready line {line:?}: {e}"));
        let pem = std::fs::read(&ready.ca_certificate).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Emulator { child, ready, http, rt, _dir: dir }
    }

    fn admin_url(&self, path: &str) -> String {
        format!("{}/{}", self.ready.admin.trim_end_matches('/'), path.trim_start_matches('/'))
    }

    pub fn admin_post(&self, path: &str, body: Json) -> Json {
        self.rt.block_on(async {
            let r = self.http.post(self.admin_url(path)).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "admin POST {path}: {}", r.status());
            r.json().await.unwrap_or(Json::Null)
        })
    }

    pub fn admin_get(&self, path: &str) -> Json {
        self.rt.block_on(async {
            let r = self.http.get(self.admin_url(path)).send().await.unwrap();
            assert!(r.status().is_success(), "admin GET {path}: {}", r.status());
            r.json().await.unwrap()
        })
    }

    pub fn admin_delete(&self, path: &str) {
        self.rt.block_on(async {
            let r = self.http.delete(self.admin_url(path)).send().await.unwrap();
            assert!(r.status().is_success(), "admin DELETE {path}: {}", r.status());
        })
    }

    /// The provider block that points aksid at this emulator with client-secret auth.
    pub fn provider_block(&self) -> String {
        format!(
            r#"provider "aksid" {{
  subscription_id = "{SPOKE_SUB}"
  tenant_id       = "{}"
  client_id       = "{TF_CLIENT_ID}"
  client_secret   = "{TF_SECRET}"
  arm_endpoint    = "{}"
  authority_host  = "{}"
  ca_certificate  = "{}"
}}
"#,
            self.ready.tenant_id, self.ready.arm_endpoint, self.ready.authority_host, self.ready.ca_certificate
        )
    }
}

impl Emulator {
    /// One ARM call as the Terraform principal, e.g. to change things behind Terraform's back:
    /// (status, body).
    pub fn arm(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        let token = self.admin_post("token", serde_json::json!({ "client_id": TF_CLIENT_ID }))["access_token"]
            .as_str()
            .expect("minted token")
            .to_string();
        let url = format!("{}{}", self.ready.arm_endpoint.trim_end_matches('/'), path);
        self.rt.block_on(async {
            let mut req = self.http.request(method.parse().unwrap(), url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Json::Null))
        })
    }

    /// Delete one role assignment behind Terraform's back.
    pub fn rt_delete_assignment(&self, id: &str) {
        self.rt.block_on(async {
            let url = self.admin_url("role-assignments");
            let r = self.http.delete(url).query(&[("id", id)]).send().await.unwrap();
            assert!(r.status().is_success(), "admin delete {id}: {}", r.status());
        })
    }

    /// The environment that points the provider at this emulator (client-secret auth).
    pub fn provider_env(&self) -> Vec<(String, String)> {
        [
            ("AKSID_ARM_ENDPOINT", self.ready.arm_endpoint.as_str()),
            ("AKSID_AUTHORITY_HOST", self.ready.authority_host.as_str()),
            ("AKSID_CA_CERTIFICATE", self.ready.ca_certificate.as_str()),
            ("ARM_TENANT_ID", self.ready.tenant_id.as_str()),
            ("ARM_CLIENT_ID", TF_CLIENT_ID),
            ("ARM_CLIENT_SECRET", TF_SECRET),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// GUID of the custom role `AKS Image Auditor` that `start_with_custom_role` seeds.
pub const CUSTOM_ROLE_GUID: &str = "0c0ffee0-0000-4000-8000-00000000c0de";

impl Emulator {
    /// The example seed plus one custom role, "AKS Image Auditor", assignable everywhere.
    pub fn start_with_custom_role() -> Emulator {
        let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
        seed["custom_roles"] = serde_json::json!([{
            "id": CUSTOM_ROLE_GUID, "role_name": "AKS Image Auditor", "description": "reads registries",
            "actions": ["Microsoft.ContainerRegistry/registries/read"], "assignable_scopes": ["/"]
        }]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        std::fs::write(&path, seed.to_string()).unwrap();
        // The seed is read at start-up only.
        Emulator::start(&path)
    }
}
