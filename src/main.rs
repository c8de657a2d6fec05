//! terraform-provider-aksid: started by Terraform as a plugin, or with `--debug` by a developer
//! who then attaches Terraform through `TF_REATTACH_PROVIDERS`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use aksid::plugin::handshake::{self, Address};
use aksid::plugin::serve::{serve, Listener};
use aksid::plugin::tls::{parse_client_cert, ServerIdentity};
use aksid::protocol::ProviderService;
use aksid::provider::{AksidProvider, PROVIDER_ADDRESS};

fn main() -> ExitCode {
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
    aksid::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("terraform-provider-aksid: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(debug)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-aksid: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(debug: bool) -> Result<(), String> {
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

    let client_cert = if debug { None } else { std::env::var("PLUGIN_CLIENT_CERT").ok().filter(|s| !s.is_empty()) };
    let (tls, cert_field) = match client_cert {
        Some(pem) => {
            let client = parse_client_cert(&pem)?;
            let id = ServerIdentity::generate().map_err(|e| format!("cannot create the TLS certificate: {e}"))?;
            let config = id.server_config(client).map_err(|e| format!("TLS setup failed: {e}"))?;
            (Some(Arc::new(config)), id.handshake_cert())
        }
        None => (None, String::new()),
    };

    let service = ProviderService::new(Arc::new(AksidProvider::new()));
    if debug {
        print_reattach(&addr);
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handshake::handshake_line(version, &addr, &cert_field)).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
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
