//! `make dist` end to end: scripts/dist.sh packages linux_amd64, and real Terraform 1.0.3 installs
//! that zip the two ways a user's machine would get it without the public registry: a
//! filesystem mirror holding the zip (packed layout) and a network mirror over HTTPS serving the
//! script's `mirror/` directory. Then `plan` resolves a data source offline with the installed
//! binary, whose TF_LOG output names its version.
//!
//! The script packages the binary cargo built for this test (`DIST_HOST_BINARY`) instead of
//! running cargo: a nested cargo would wait for the build directory lock this test run holds,
//! and a release build takes minutes. Naming, zipping, sums and the mirror index are the same
//! for any profile; `make dist` itself builds with the release profile.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{describe, provider_binary, repo_root, squash, terraforms, PROVIDER_VERSION};

const NAME: &str = "terraform-provider-aksid";
/// AcrPull's built-in role GUID: the data source resolves it from the offline catalog.
const ACR_PULL_GUID: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

const CONFIG: &str = r#"
terraform {
  required_providers {
    aksid = { source = "aksid/aksid" }
  }
}

data "aksid_role_definition" "acr" {
  name = "AcrPull"
}

output "guid" { value = data.aksid_role_definition.acr.guid }
"#;

fn zip_name() -> String {
    format!("{NAME}_{PROVIDER_VERSION}_linux_amd64.zip")
}

fn sums_name() -> String {
    format!("{NAME}_{PROVIDER_VERSION}_SHA256SUMS")
}

fn manifest_name() -> String {
    format!("{NAME}_{PROVIDER_VERSION}_manifest.json")
}

static DIST_DIR: OnceLock<PathBuf> = OnceLock::new();

/// One run of the dist script for the whole test binary (it zips a large binary); the
/// directory is removed when the test process exits.
fn dist() -> &'static Path {
    DIST_DIR.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("aksid-dist-").tempdir().unwrap().keep();
        // Statics are never dropped; libtest ends with exit(), which runs atexit handlers.
        // SAFETY: registers a plain `extern "C"` function that neither unwinds nor returns a value.
        unsafe { atexit(remove_dist) };
        let out = Command::new(repo_root().join("scripts/dist.sh"))
            .env("DIST_TARGETS", "linux_amd64")
            .env("DIST_HOST_BINARY", provider_binary())
            .env("DIST_DIR", &dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "dist.sh failed:\n{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("built: linux_amd64"), "{stderr}");
        dir
    })
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

extern "C" fn remove_dist() {
    if let Some(dir) = DIST_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

#[test]
fn dist_writes_the_registry_release_files_with_matching_sums() {
    let dist = dist();
    let top: BTreeSet<String> =
        std::fs::read_dir(dist).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let expected: BTreeSet<String> = [zip_name(), sums_name(), manifest_name(), "mirror".to_string()].into();
    assert_eq!(top, expected);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join(manifest_name())).unwrap()).unwrap();
    assert_eq!(manifest, serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["5.0"]}}));

    // `<sha256>  <file>` for the zip and the manifest, as the registry reads it.
    let sums = std::fs::read_to_string(dist.join(sums_name())).unwrap();
    let listed: BTreeSet<&str> = sums.lines().filter_map(|l| l.split_once("  ").map(|(_, f)| f)).collect();
    assert_eq!(listed, [zip_name().as_str(), manifest_name().as_str()].into(), "{sums}");
    let check = run(Command::new("sha256sum").args(["--check", "--strict", &sums_name()]).current_dir(dist));
    assert!(check.status.success(), "SHA256SUMS does not match the files:\n{}", describe(&check));

    // The zip holds exactly the binary, under the name Terraform looks for, byte for byte.
    let unpacked = tempfile::tempdir().unwrap();
    let unzip = run(Command::new("unzip").arg("-q").arg(dist.join(zip_name())).arg("-d").arg(unpacked.path()));
    assert!(unzip.status.success(), "{}", describe(&unzip));
    let files: Vec<String> = std::fs::read_dir(unpacked.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let binary = format!("{NAME}_v{PROVIDER_VERSION}");
    assert_eq!(files, vec![binary.clone()]);
    assert!(std::fs::read(unpacked.path().join(&binary)).unwrap() == std::fs::read(provider_binary()).unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(unpacked.path().join(&binary)).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "the binary is executable after unzip: {mode:o}");
}

/// A Terraform working directory with `rc` as its CLI configuration and CONFIG as main.tf.
struct Work {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Work {
    fn new(rc: &str) -> Work {
        let dir = tempfile::Builder::new().prefix("aksid-dist-tf-").tempdir().unwrap();
        std::fs::write(dir.path().join("terraform.rc"), rc).unwrap();
        std::fs::write(dir.path().join("main.tf"), CONFIG).unwrap();
        Work { dir, env: Vec::new() }
    }

    /// Run the pinned Terraform 1.0.3 here, with `extra` environment on top of the work's.
    fn terraform(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let tf = &terraforms()[0];
        assert_eq!(tf.version, "1.0.3");
        let mut cmd = Command::new(&tf.path);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("terraform.rc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_LOG_PROVIDER_AKSID")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_PLUGIN_CACHE_DIR");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    fn ok(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let out = self.terraform(args, extra);
        assert!(out.status.success(), "terraform {}:\n{}", args.join(" "), describe(&out));
        out
    }

    /// init, then plan with TF_LOG=debug (returned): the installed binary reads the data source.
    fn init_and_plan(&self) -> String {
        let init = self.ok(&["init", "-no-color"], &[]);
        let stdout = String::from_utf8_lossy(&init.stdout);
        assert!(stdout.contains(&format!("Installed aksid/aksid v{PROVIDER_VERSION}")), "{stdout}");
        let installed = self.dir.path().join(format!(
            ".terraform/providers/registry.terraform.io/aksid/aksid/{PROVIDER_VERSION}/linux_amd64/{NAME}_v{PROVIDER_VERSION}"
        ));
        assert!(installed.is_file(), "terraform unpacked the binary at {}", installed.display());

        let plan = self.ok(&["plan", "-no-color"], &[("TF_LOG", "debug")]);
        let stdout = String::from_utf8_lossy(&plan.stdout);
        assert!(stdout.contains(ACR_PULL_GUID), "the plan shows the resolved role:\n{stdout}");
        String::from_utf8_lossy(&plan.stderr).into_owned()
    }

    /// The hashes the lock file recorded for aksid/aksid.
    fn locked_hashes(&self) -> BTreeSet<String> {
        let lock = std::fs::read_to_string(self.dir.path().join(".terraform.lock.hcl")).unwrap();
        assert!(lock.contains(&format!("version = \"{PROVIDER_VERSION}\"")), "{lock}");
        lock.split('"').filter(|s| s.starts_with("h1:") || s.starts_with("zh:")).map(str::to_string).collect()
    }
}

/// The hashes dist.sh wrote into the network mirror's `<version>.json` for linux_amd64.
fn mirror_hashes() -> BTreeSet<String> {
    let path = mirror_root().join(format!("registry.terraform.io/aksid/aksid/{PROVIDER_VERSION}.json"));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let archive = &doc["archives"]["linux_amd64"];
    assert_eq!(archive["url"], zip_name());
    archive["hashes"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect()
}

fn mirror_root() -> PathBuf {
    dist().join("mirror")
}

/// The debug log names the provider's version (from Cargo.toml) on the line it starts with.
fn assert_version_logged(log: &str) {
    let line = log
        .lines()
        .find(|l| l.contains("terraform-provider-aksid starting"))
        .unwrap_or_else(|| panic!("no start line in the TF_LOG=debug output:\n{log}"));
    assert!(line.contains(&format!("version={PROVIDER_VERSION}")), "{line}");
}

#[test]
fn terraform_installs_the_zip_from_a_filesystem_mirror_and_plans_with_it() {
    // Packed layout: HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip
    let mirror = tempfile::tempdir().unwrap();
    let dir = mirror.path().join("registry.terraform.io/aksid/aksid");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(dist().join(zip_name()), dir.join(zip_name())).unwrap();
    let work = Work::new(&format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
        mirror.path().display()
    ));
    let log = work.init_and_plan();
    assert_version_logged(&log);
    // Terraform hashed the unpacked zip itself: the same h1 as dist.sh published for mirrors.
    let h1: BTreeSet<String> = mirror_hashes().into_iter().filter(|h| h.starts_with("h1:")).collect();
    assert!(!h1.is_empty());
    assert!(h1.is_subset(&work.locked_hashes()), "lock file {:?} lacks {h1:?}", work.locked_hashes());
}

#[test]
fn terraform_installs_the_zip_from_a_network_mirror_and_plans_with_it() {
    let server = mirror_server::start(&mirror_root());
    let mut work =
        Work::new(&format!("provider_installation {{\n  network_mirror {{\n    url = \"{}\"\n  }}\n}}\n", server.url));
    // Terraform is a Go program: SSL_CERT_FILE makes it trust the test CA.
    work.env.push(("SSL_CERT_FILE".into(), server.ca_file.display().to_string()));
    let log = work.init_and_plan();
    assert_version_logged(&log);
    let served = server.requests.lock().unwrap().clone();
    let base = "/registry.terraform.io/aksid/aksid";
    for path in ["index.json".to_string(), format!("{PROVIDER_VERSION}.json"), zip_name()] {
        assert!(served.contains(&format!("{base}/{path}")), "{path} not requested: {served:?}");
    }
    // Terraform checked the download against the mirror's hashes (see the next test) and
    // recorded them: the h1 it locked is the one dist.sh published.
    let locked = work.locked_hashes();
    assert!(!locked.is_empty() && locked.is_subset(&mirror_hashes()), "{locked:?} vs {:?}", mirror_hashes());
}

#[test]
fn terraform_refuses_a_network_mirror_zip_whose_hashes_differ() {
    // The same mirror with the zip's published hashes swapped for another file's.
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("registry.terraform.io/aksid/aksid");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(mirror_root().join("registry.terraform.io/aksid/aksid")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let version_json = dir.join(format!("{PROVIDER_VERSION}.json"));
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&version_json).unwrap()).unwrap();
    doc["archives"]["linux_amd64"]["hashes"] =
        serde_json::json!(["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", format!("zh:{}", "0".repeat(64))]);
    std::fs::write(&version_json, doc.to_string()).unwrap();

    let server = mirror_server::start(copy.path());
    let mut work =
        Work::new(&format!("provider_installation {{\n  network_mirror {{\n    url = \"{}\"\n  }}\n}}\n", server.url));
    work.env.push(("SSL_CERT_FILE".into(), server.ca_file.display().to_string()));
    let init = work.terraform(&["init", "-no-color"], &[]);
    let text = describe(&init);
    assert!(!init.status.success(), "init must refuse the zip:\n{text}");
    assert!(squash(&text).contains("any of the expected checksums"), "{text}");
}

/// A static HTTPS file server for the network mirror test, on 127.0.0.1 with its own CA.
mod mirror_server {
    use std::path::{Component, Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct Server {
        pub url: String,
        pub ca_file: PathBuf,
        pub requests: Arc<Mutex<Vec<String>>>,
        _ca_dir: tempfile::TempDir,
        _runtime: tokio::runtime::Runtime,
    }

    pub fn start(root: &Path) -> Server {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        let cert = params.signed_by(&key, &issuer).unwrap();
        let ca_dir = tempfile::tempdir().unwrap();
        let ca_file = ca_dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("https://127.0.0.1:{}/", listener.local_addr().unwrap().port());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, log) = (root.to_path_buf(), requests.clone());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, root, log) = (acceptor.clone(), root.clone(), log.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve_one(tls, &root, &log).await;
                    }
                });
            }
        });
        Server { url, ca_file, requests, _ca_dir: ca_dir, _runtime: runtime }
    }

    /// One GET per connection (`Connection: close`), files under `root` only.
    async fn serve_one<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        mut stream: S,
        root: &Path,
        log: &Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head);
        let path = head.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
        log.lock().unwrap().push(path.clone());
        let relative = Path::new(path.trim_start_matches('/'));
        let safe = relative.components().all(|c| matches!(c, Component::Normal(_)));
        let (status, body) = match std::fs::read(root.join(relative)) {
            Ok(body) if safe => ("200 OK", body),
            _ => ("404 Not Found", b"not found".to_vec()),
        };
        let kind = if path.ends_with(".json") { "application/json" } else { "application/zip" };
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(header.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    }
}
