//! terraform-provider-aksid: started by Terraform as a plugin, or with `--debug` by a developer
//! who then attaches Terraform through `TF_REATTACH_PROVIDERS`.
//!
//! Terraform starts the provider several times per plan and apply and waits for the handshake
//! line each time, so start-up keeps only what the line needs on its path (docs/performance.md).

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use aksid::plugin::handshake::{self, Address};
use aksid::plugin::serve::{serve, Listener};
use aksid::plugin::tls::{parse_client_cert, ServerIdentity};
use aksid::protocol::ProviderService;
use aksid::provider::{AksidProvider, PROVIDER_ADDRESS};

/// Set to anything non-empty to print the elapsed time at each start-up step on stderr.
const STARTUP_TRACE_ENV: &str = "AKSID_STARTUP_TRACE";

/// When `main` began, if start-up tracing is on.
static STARTUP_TRACE: OnceLock<Option<Instant>> = OnceLock::new();

/// Report one start-up step (only with `AKSID_STARTUP_TRACE` set; a no-op otherwise).
fn startup_step(step: &str) {
    if let Some(Some(t0)) = STARTUP_TRACE.get() {
        eprintln!("aksid-startup {:>7} us {step}", t0.elapsed().as_micros());
    }
}

/// The server certificate, being made on its own thread while the rest of start-up goes on.
type PendingIdentity = JoinHandle<Result<ServerIdentity, rcgen::Error>>;

fn main() -> ExitCode {
    let t0 = Instant::now();
    aksid::plugin::allocator::tune();
    let _ = STARTUP_TRACE.set(std::env::var_os(STARTUP_TRACE_ENV).filter(|v| !v.is_empty()).map(|_| t0));
    aksid::logging::install_panic_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-v") {
        println!("terraform-provider-aksid {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let debug = args.iter().any(|a| a == "--debug");
    if !debug && !handshake::cookie_ok(std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref()) {
        eprintln!("{}", handshake::NOT_LAUNCHED_BY_TERRAFORM);
        return ExitCode::from(1);
    }
    // AutoMTLS: the certificate is the one costly step before the handshake line; make it while
    // the logger, the runtime and the socket come up.
    let client_cert = if debug { None } else { std::env::var("PLUGIN_CLIENT_CERT").ok().filter(|s| !s.is_empty()) };
    let identity = client_cert.as_ref().map(|_| {
        std::thread::spawn(|| {
            let id = ServerIdentity::generate();
            startup_step("certificate made");
            id
        })
    });
    aksid::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("terraform-provider-aksid: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    startup_step("runtime built");
    match runtime.block_on(run(debug, client_cert, identity)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-aksid: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(debug: bool, client_cert: Option<String>, identity: Option<PendingIdentity>) -> Result<(), String> {
    let version = if debug {
        handshake::PROTOCOL_VERSION
    } else {
        handshake::negotiate_version(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?
    };
    // First line of every provider log, so a bug report's TF_LOG output names the build.
    // (A local copy: inside tracing's macros the name `debug` is tracing's own function.)
    let reattach_mode = debug;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        protocol = version,
        reattach_mode,
        "terraform-provider-aksid starting"
    );
    // Terraform stops providers through the Stop and Shutdown RPCs; a Ctrl-C in the terminal
    // reaches us too and must not kill an apply half-way (go-plugin ignores SIGINT the same way).
    if !debug {
        ignore_sigint();
    }
    let (listener, addr) = Listener::bind().await.map_err(|e| format!("cannot listen: {e}"))?;
    startup_step("socket bound");

    let (tls, cert_field) = match (client_cert, identity) {
        (Some(pem), Some(identity)) => {
            let client = parse_client_cert(&pem)?;
            let id = identity
                .join()
                .map_err(|_| "the TLS certificate thread panicked".to_string())?
                .map_err(|e| format!("cannot create the TLS certificate: {e}"))?;
            let config = id.server_config(client).map_err(|e| format!("TLS setup failed: {e}"))?;
            startup_step("TLS config built");
            (Some(Arc::new(config)), id.handshake_cert())
        }
        _ => (None, String::new()),
    };

    // Announce the address before building the service: Terraform's connection waits in the
    // listen backlog until the server accepts it.
    if debug {
        print_reattach(&addr);
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handshake::handshake_line(version, &addr, &cert_field)).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        startup_step("handshake line written");
    }
    let service = ProviderService::new(Arc::new(AksidProvider::new()));
    serve(listener, tls, service, debug).await.map_err(|e| format!("gRPC server failed: {e}"))
}
fn print_reattach(addr: &Address) {
    let value = handshake::reattach_config(PROVIDER_ADDRESS, std::process::id(), addr);
    println!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:\n\n\
         \tTF_REATTACH_PROVIDERS='{value}'\n\n\
         Stop the provider with Ctrl-C."
    );
    let _ = std::io::stdout().flush();
}

fn ignore_sigint() {
    tokio::spawn(async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            while s.recv().await.is_some() {
                tracing::debug!("SIGINT ignored; Terraform stops providers through the Stop RPC");
            }
        }
    });
}
