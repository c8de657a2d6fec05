//! Helpers for the fault suite (`tests/faults.rs`): a seed with many grantable scopes, the
//! exact set of grants the emulator holds, Terraform running in the background, finding and
//! killing its provider process, and an emulator that can be killed and restarted on the same
//! port from its `--state` file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::emulator::{emulator_binary, example_seed, Ready, HUB_SUB, SPOKE_SUB, TF_CLIENT_ID, TF_SECRET};
use super::Workspace;

pub const CONTROL_PLANE: &str = "b8f85bd4-6abc-4007-8e05-bc515255b609";
pub const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
pub const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
pub const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";

/// One role assignment as (principal, role GUID, lower-cased scope).
pub type Grant = (String, String, String);

pub fn registry_id(i: usize) -> String {
    format!("/subscriptions/{HUB_SUB}/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrfault{i:03}")
}

pub fn subnet_id(i: usize) -> String {
    format!("/subscriptions/{SPOKE_SUB}/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-fault-{i:03}")
}

/// The example seed plus `registries` container registries in the hub and `subnets` more
/// subnets in the spoke VNet, written to `dir/seed.json`. Each registry is one AcrPull grant
/// for the kubelet identity, each subnet one Network Contributor grant for the control plane.
pub fn wide_seed(dir: &Path, registries: usize, subnets: usize) -> PathBuf {
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    let resources = seed["resources"].as_array_mut().unwrap();
    for i in 0..registries {
        resources.push(json!({"id": registry_id(i), "location": "westeurope", "sku": {"name": "Basic"}}));
    }
    let vnet = resources
        .iter_mut()
        .find(|r| r["id"].as_str().is_some_and(|id| id.ends_with("/virtualNetworks/vnet-spoke")))
        .expect("the example seed has vnet-spoke");
    let list = vnet["properties"]["subnets"].as_array_mut().unwrap();
    for i in 0..subnets {
        list.push(
            json!({"name": format!("snet-fault-{i:03}"), "properties": {"addressPrefix": format!("10.21.{i}.0/24")}}),
        );
    }
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    path
}

/// An `aksid_cluster_identity_roles` granting AcrPull on registries `0..registries` and
/// Network Contributor on subnets `0..subnets`.
pub fn wide_resource(registries: usize, subnets: usize) -> String {
    wide_resource_with(registries, subnets, "")
}

/// The same with `extra` (more attributes) in the resource body.
pub fn wide_resource_with(registries: usize, subnets: usize, extra: &str) -> String {
    let list = |ids: Vec<String>| ids.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(",\n    ");
    format!(
        r#"
resource "aksid_cluster_identity_roles" "aks" {{
  control_plane_principal_id = "{CONTROL_PLANE}"
  kubelet_principal_id       = "{KUBELET}"
  acr_ids = [
    {}
  ]
  subnet_ids = [
    {}
  ]
  {extra}
}}
"#,
        list((0..registries).map(registry_id).collect()),
        list((0..subnets).map(subnet_id).collect()),
    )
}

/// The grants `wide_resource(registries, subnets)` asks for, sorted.
pub fn wide_grants(registries: usize, subnets: usize) -> Vec<Grant> {
    let mut v: Vec<Grant> = (0..registries)
        .map(|i| (KUBELET.to_string(), ACR_PULL.to_string(), registry_id(i).to_lowercase()))
        .chain(
            (0..subnets)
                .map(|i| (CONTROL_PLANE.to_string(), NETWORK_CONTRIBUTOR.to_string(), subnet_id(i).to_lowercase())),
        )
        .collect();
    v.sort();
    v
}

/// Every assignment of the cluster's two identities in `GET /_admin/role-assignments`, sorted
/// and NOT de-duplicated, so a duplicate grant shows up as a repeated element.
pub fn identity_grants(all: &Json) -> Vec<Grant> {
    let mut v: Vec<Grant> = all["value"]
        .as_array()
        .expect("role assignment list")
        .iter()
        .map(|a| &a["properties"])
        .filter(|p| matches!(p["principalId"].as_str(), Some(CONTROL_PLANE | KUBELET)))
        .map(|p| {
            (
                p["principalId"].as_str().unwrap_or_default().to_string(),
                p["roleDefinitionId"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_lowercase(),
                p["scope"].as_str().unwrap_or_default().trim_end_matches('/').to_lowercase(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The same, read from an emulator `--state` file.
pub fn identity_grants_in_state_file(path: &Path) -> Vec<Grant> {
    let state: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut v: Vec<Grant> = state["role_assignments"]
        .as_array()
        .expect("state file lists role assignments")
        .iter()
        .filter(|a| matches!(a["principal_id"].as_str(), Some(CONTROL_PLANE | KUBELET)))
        .map(|a| {
            (
                a["principal_id"].as_str().unwrap_or_default().to_string(),
                a["role_definition_guid"].as_str().unwrap_or_default().to_lowercase(),
                a["scope"].as_str().unwrap_or_default().trim_end_matches('/').to_lowercase(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `base` plus `extra`, sorted (a multiset union).
pub fn union(base: &[Grant], extra: &[Grant]) -> Vec<Grant> {
    let mut v: Vec<Grant> = base.iter().chain(extra).cloned().collect();
    v.sort();
    v
}

/// Poll `done` until it holds; panic with `what` once `within` has passed.
pub fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Completed (2xx) requests of `method` on role assignments in a request log.
pub fn role_assignment_writes(log: &Json, method: &str) -> usize {
    log.as_array()
        .map(|l| {
            l.iter()
                .filter(|r| {
                    r["method"] == method
                        && r["route"] == "role_assignment"
                        && r["status"].as_u64().is_some_and(|s| (200..300).contains(&s))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Fault rules that let the first `first` role assignment requests of `method` through and
/// then hold every later one for ten minutes: the operation stops at a known point, with
/// writes in flight, for as long as the test needs.
pub fn hold_after(method: &str, first: u64) -> [Json; 2] {
    [
        json!({"method": method, "path_contains": "roleAssignments", "count": first, "latency_ms": 1}),
        json!({"method": method, "path_contains": "roleAssignments", "latency_ms": 600_000}),
    ]
}

/// Terraform running in the background, its output going to files. Dropped before it
/// finished (a failed assertion), it is killed with everything it started.
pub struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            for pid in descendants(self.child.id()).into_iter().rev() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// Start `terraform args` in `ws` with the same environment as `Workspace::run`.
    pub fn start(ws: &Workspace, args: &[&str]) -> Running {
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let out = ws.path().join(format!("bg-{n}.stdout"));
        let err = ws.path().join(format!("bg-{n}.stderr"));
        let mut cmd = Command::new(&ws.tf.path);
        cmd.args(args)
            .current_dir(ws.path())
            .env("TF_CLI_CONFIG_FILE", ws.path().join("terraform.rc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_REATTACH_PROVIDERS")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        cmd.env_remove("ARM_SUBSCRIPTION_ID");
        for var in super::CREDENTIAL_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in &ws.env {
            cmd.env(k, v);
        }
        Running { child: cmd.spawn().expect("terraform starts"), out, err }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for Terraform to exit (killing it after `within`); its status and output.
    pub fn finish(mut self, within: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                panic!("terraform did not exit within {within:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.output())
    }

    fn output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        )
    }
}

/// The parent pid of `pid`, from `/proc/{pid}/stat` (the field after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Every live process below `root` (children, grandchildren, …). Terraform re-executes
/// itself under a crash monitor, so its providers are grandchildren of the process we start.
pub fn descendants(root: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let all: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// Live `terraform-provider-aksid` processes started by the Terraform run `terraform_pid`.
pub fn provider_processes(terraform_pid: u32) -> Vec<u32> {
    descendants(terraform_pid)
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).ok().is_some_and(|exe| {
                exe.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("terraform-provider-aksid"))
            })
        })
        .collect()
}

/// SIGKILL one process by pid.
pub fn kill9(pid: u32) {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill -KILL {pid} failed");
}

/// An emulator with a fixed CA directory and a `--state` file, so it can be killed with
/// SIGKILL and started again on the same port with the same CA and state.
pub struct Restartable {
    child: Option<Child>,
    pub ready: Ready,
    pub state: PathBuf,
    seed: PathBuf,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Drop for Restartable {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_emulator(seed: &Path, addr: &str, state: &Path, ca_dir: &Path) -> (Child, Ready) {
    let mut child = Command::new(emulator_binary())
        .args(["serve", "--addr", addr, "--seed"])
        .arg(seed)
        .arg("--state")
        .arg(state)
        .arg("--ca-dir")
        .arg(ca_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ready: Ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad ready line {line:?}: {e}"));
    (child, ready)
}

fn admin_client(ready: &Ready) -> reqwest::Client {
    let pem = std::fs::read(&ready.ca_certificate).unwrap();
    reqwest::Client::builder().tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap()).build().unwrap()
}

impl Restartable {
    pub fn start(seed: &Path) -> Restartable {
        let dir = tempfile::Builder::new().prefix("aksid-emu-restart-").tempdir().unwrap();
        let state = dir.path().join("state.json");
        let (child, ready) = spawn_emulator(seed, "127.0.0.1:0", &state, dir.path());
        let http = admin_client(&ready);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Restartable { child: Some(child), ready, state, seed: seed.to_path_buf(), dir, http, rt }
    }

    /// SIGKILL the emulator and wait until it is gone.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("the emulator is running");
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// Start it again on the same address, from the state file and the same CA.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        let addr = self.ready.arm_endpoint.trim_start_matches("https://").trim_end_matches('/').to_string();
        let (child, ready) = spawn_emulator(&self.seed, &addr, &self.state, self.dir.path());
        assert_eq!(ready.arm_endpoint, self.ready.arm_endpoint, "same port");
        assert_eq!(ready.ca_certificate, self.ready.ca_certificate, "same CA file");
        self.child = Some(child);
        self.ready = ready;
        // Pooled connections went down with the old process.
        self.http = admin_client(&self.ready);
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.ready.admin.trim_end_matches('/'), path.trim_start_matches('/'))
    }

    pub fn admin_get(&self, path: &str) -> Json {
        self.rt.block_on(async {
            let r = self.http.get(self.url(path)).send().await.unwrap();
            assert!(r.status().is_success(), "admin GET {path}: {}", r.status());
            r.json().await.unwrap()
        })
    }

    pub fn admin_post(&self, path: &str, body: Json) -> Json {
        self.rt.block_on(async {
            let r = self.http.post(self.url(path)).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "admin POST {path}: {}", r.status());
            r.json().await.unwrap_or(Json::Null)
        })
    }

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
