//! The go-plugin transport seen from outside the process, the way Terraform sees it: the
//! handshake line, AutoMTLS with a pinned P-521 client certificate, the side services,
//! Shutdown, reattach mode and refusal to run without the magic cookie.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Endpoint, Uri};

use aksid::plugin::handshake::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use aksid::proto::go_plugin::grpc_controller_client::GrpcControllerClient;
use aksid::proto::tfplugin5::provider_client::ProviderClient;
use common::*;

/// A client certificate shaped like Terraform's: ECDSA P-521, self-signed, flagged as a CA.
struct ClientIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pem: String,
}

fn terraform_like_client_cert() -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth, rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()), pem: cert.pem() }
}

struct Plugin {
    child: Child,
    network: String,
    addr: String,
    server_cert: Vec<u8>,
    /// The provider's stderr lines, when launched with debug logs.
    log: Option<mpsc::Receiver<String>>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stop a provider the way that lets it remove its socket (SIGTERM), so tests leave nothing in
/// the temp dir; SIGKILL only if it does not exit within a bounded time.
fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: signalling our own child, not yet reaped.
        unsafe { libc_kill(child.id() as i32, SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn launch(client_cert_pem: Option<&str>) -> Plugin {
    launch_with(client_cert_pem, false)
}

/// Start the provider as Terraform does; with `debug_log`, collect its debug log lines.
fn launch_with(client_cert_pem: Option<&str>, debug_log: bool) -> Plugin {
    let mut cmd = Command::new(provider_binary());
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("TF_LOG_PROVIDER_AKSID")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(pem) = client_cert_pem {
        cmd.env("PLUGIN_CLIENT_CERT", pem);
    }
    if debug_log {
        cmd.env("TF_LOG_PROVIDER_AKSID", "debug").stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    // A thread drains stderr so the provider never blocks on a full pipe.
    let log = child.stderr.take().map(|stderr| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line {line:?}");
    assert_eq!(&fields[..2], &["1", "5"]);
    assert_eq!(fields[4], "grpc");
    let server_cert = if fields[5].is_empty() {
        Vec::new()
    } else {
        assert!(!fields[5].ends_with('='), "go-plugin decodes the certificate without padding");
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(fields[5]).unwrap()
    };
    Plugin { network: fields[2].to_string(), addr: fields[3].to_string(), server_cert, child, log }
}

/// Wait (bounded) until the provider logs a line containing `needle`; returns that line.
fn wait_for_log(plugin: &Plugin, needle: &str) -> String {
    let log = plugin.log.as_ref().expect("launched with debug logs");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("the provider did not log {needle:?}: {e}"),
        }
    }
}

/// Wait (bounded) for the process to exit.
fn wait_for_exit(child: &mut Child, after: &str) -> ExitStatus {
    // The provider exits half a second after it is told to (go-plugin kills it after 2 s); the
    // bound is generous so a loaded machine does not fail the test.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "provider did not exit after {after}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn send_signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process, which has not been reaped yet.
    let rc = unsafe { libc_kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "kill({}, {sig}) failed", child.id());
}

/// Verifies the server by the exact certificate announced in the handshake line.
#[derive(Debug)]
struct PinnedServer(Vec<u8>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("server certificate differs from the handshake line".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_client(plugin: &Plugin, identity: Option<&ClientIdentity>) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(plugin.server_cert.clone(), provider)));
    let mut config = match identity {
        Some(id) => {
            builder.with_client_auth_cert(vec![id.cert.clone()], PrivateKeyDer::Pkcs8(id.key.clone_key())).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connect over TLS and complete one gRPC call (GetSchema); Ok if the server served it.
async fn grpc_over_tls(plugin: &Plugin, identity: Option<&ClientIdentity>) -> Result<usize, String> {
    assert_eq!(plugin.network, "unix");
    let connector = tls_client(plugin, identity);
    let path = plugin.addr.clone();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let path = path.clone();
            async move {
                let sock = tokio::net::UnixStream::connect(path).await?;
                let tls = connector.connect(ServerName::try_from("localhost").unwrap(), sock).await?;
                let alpn = tls.get_ref().1.alpn_protocol().map(|p| p.to_vec());
                assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "server must negotiate h2");
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut client = ProviderClient::new(channel);
    let resp = client
        .get_schema(aksid::proto::tfplugin5::get_provider_schema::Request {})
        .await
        .map_err(|e| format!("rpc: {e}"))?;
    Ok(resp.into_inner().data_source_schemas.len())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn automtls_serves_the_pinned_client_and_refuses_others() {
    let terraform = terraform_like_client_cert();
    let stranger = terraform_like_client_cert();
    let plugin = launch(Some(&terraform.pem));
    assert!(!plugin.server_cert.is_empty(), "AutoMTLS must announce a server certificate");
    let rt = rt();
    let served = rt.block_on(grpc_over_tls(&plugin, Some(&terraform)));
    assert!(matches!(served, Ok(n) if n >= 1), "the pinned client is served: {served:?}");
    let refused = rt.block_on(grpc_over_tls(&plugin, Some(&stranger)));
    assert!(refused.is_err(), "a client with another certificate must be refused");
    let anonymous = rt.block_on(grpc_over_tls(&plugin, None));
    assert!(anonymous.is_err(), "a client without a certificate must be refused");
    // and the pinned client still works afterwards
    assert!(rt.block_on(grpc_over_tls(&plugin, Some(&terraform))).is_ok());
}

async fn plaintext_channel(plugin: &Plugin) -> tonic::transport::Channel {
    let path = plugin.addr.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
        }))
        .await
        .unwrap()
}

#[test]
fn health_reports_plugin_serving_and_shutdown_exits() {
    let mut plugin = launch(None);
    assert!(plugin.server_cert.is_empty(), "without PLUGIN_CLIENT_CERT there is no TLS");
    let rt = rt();
    rt.block_on(async {
        let channel = plaintext_channel(&plugin).await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let status = health
            .check(tonic_health::pb::HealthCheckRequest { service: "plugin".into() })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
        GrpcControllerClient::new(channel).shutdown(aksid::proto::go_plugin::Empty {}).await.unwrap();
    });
    let status = wait_for_exit(&mut plugin.child, "Shutdown");
    assert!(status.success(), "clean exit after Shutdown: {status:?}");
    assert!(!Path::new(&plugin.addr).exists(), "the unix socket is removed on exit");
}

/// A health check over a new connection; Ok if the provider answered Serving.
async fn health_check(plugin: &Plugin) -> Result<(), String> {
    let channel = plaintext_channel(plugin).await;
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest { service: "plugin".into() })
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .status;
    if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

#[test]
fn startup_log_names_the_version_from_cargo_toml() {
    let plugin = launch_with(None, true);
    let line = wait_for_log(&plugin, "terraform-provider-aksid starting");
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["@level"], "info", "{line}");
    assert_eq!(entry["version"], env!("CARGO_PKG_VERSION"), "{line}");
    assert_eq!(entry["protocol"], 5, "{line}");
}

#[test]
fn sigint_is_ignored_while_serving() {
    let mut plugin = launch_with(None, true);
    send_signal(&plugin.child, SIGINT);
    // The provider has seen the signal once it says so; it must still serve new connections.
    wait_for_log(&plugin, "SIGINT ignored");
    let served = rt().block_on(health_check(&plugin));
    assert_eq!(served, Ok(()), "the provider serves after SIGINT");
    assert!(plugin.child.try_wait().unwrap().is_none(), "SIGINT must not stop the provider");
    assert!(Path::new(&plugin.addr).exists(), "the socket stays while serving");
}

#[test]
fn sigterm_exits_and_removes_the_socket() {
    let mut plugin = launch(None);
    assert_eq!(plugin.network, "unix");
    assert!(Path::new(&plugin.addr).exists(), "the socket exists while serving");
    send_signal(&plugin.child, SIGTERM);
    let status = wait_for_exit(&mut plugin.child, "SIGTERM");
    assert!(status.success(), "SIGTERM shuts the provider down cleanly: {status:?}");
    assert!(!Path::new(&plugin.addr).exists(), "the unix socket is removed on SIGTERM");
}

/// `--debug`: start the provider and return it with the `TF_REATTACH_PROVIDERS` value it prints.
fn launch_debug() -> (Child, String) {
    let mut child =
        Command::new(provider_binary()).arg("--debug").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..10 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            return (child, rest.trim_end_matches('\'').to_string());
        }
    }
    stop(&mut child);
    panic!("the provider prints TF_REATTACH_PROVIDERS");
}

#[test]
fn sigint_in_debug_mode_exits_and_removes_the_socket() {
    let (mut child, reattach) = launch_debug();
    let config: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let addr = &config["registry.terraform.io/aksid/aksid"]["Addr"];
    assert_eq!(addr["Network"], "unix", "{reattach}");
    let socket = addr["String"].as_str().unwrap().to_string();
    assert!(Path::new(&socket).exists(), "the socket exists while serving");
    send_signal(&child, SIGINT);
    let status = wait_for_exit(&mut child, "SIGINT in debug mode");
    assert!(status.success(), "Ctrl-C stops a debug-mode provider cleanly: {status:?}");
    assert!(!Path::new(&socket).exists(), "the unix socket is removed on Ctrl-C");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn without_the_magic_cookie_it_explains_and_exits_1() {
    let out = Command::new(provider_binary()).env_remove(MAGIC_COOKIE_KEY).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("This binary is a plugin"), "{err}");
}

#[test]
fn refuses_a_terraform_that_only_speaks_protocol_6() {
    let out = Command::new(provider_binary())
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no handshake line");
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocol 5"));
}

#[test]
fn reattach_mode_lets_terraform_attach_to_a_running_provider() {
    let (mut child, reattach) = launch_debug();
    let config = format!(
        r#"{REQUIRED_AKSID}
provider "aksid" {{}}
data "aksid_role_definition" "r" {{ name = "DNS Zone Contributor" }}
output "guid" {{ value = data.aksid_role_definition.r.guid }}
"#
    );
    for tf in terraforms() {
        let mut ws = Workspace::new(tf, &config);
        // No installation source for aksid at all: only the attached process can serve it.
        ws.write(
            "terraform.rc",
            "provider_installation {\n  direct {\n    exclude = [\"registry.terraform.io/aksid/aksid\"]\n  }\n}\n",
        );
        ws.set_env("TF_REATTACH_PROVIDERS", &reattach);
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(ws.ok(&["output", "-raw", "guid"]), "befefa01-2a29-4197-83a8-272ff33ce314", "{}", tf.version);
    }
    assert!(child.try_wait().unwrap().is_none(), "Terraform must not stop a reattached provider");
    stop(&mut child);
}
