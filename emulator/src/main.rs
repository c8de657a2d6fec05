//! `aksid-emulator serve --addr 127.0.0.1:0 --seed FILE.json [--state FILE.json] [--ca-dir DIR]`

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use aksid_emulator::{start, Options, Seed};

const USAGE: &str = "\
aksid-emulator: local HTTPS emulator of the Azure (ARM, Entra ID) and Kubernetes APIs used by aksid

USAGE:
    aksid-emulator serve --seed FILE.json [--addr 127.0.0.1:0] [--state FILE.json] [--ca-dir DIR]

OPTIONS:
    --seed FILE     seed file describing tenants, subscriptions, resources and principals (required)
    --addr ADDR     loopback address to listen on (default 127.0.0.1:0 = a free port)
    --state FILE    persist the state here (loaded at start when present, rewritten after every change)
    --ca-dir DIR    where to write ca.pem (reused with ca-key.pem when both exist; default: a new temp dir)

Once ready, one JSON line with the endpoints is printed on stdout; logs go to stderr
(level from AKSID_EMULATOR_LOG: error, warn, info (default), debug, trace).";

#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    seed: PathBuf,
    state: Option<PathBuf>,
    ca_dir: Option<PathBuf>,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    match it.next().map(String::as_str) {
        Some("serve") => {}
        Some("-h" | "--help" | "help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command '{other}'")),
    }
    let mut addr: Option<String> = None;
    let mut seed = None;
    let mut state = None;
    let mut ca_dir = None;
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Err(String::new());
        }
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "--addr" => addr = Some(value()?),
            "--seed" => seed = Some(PathBuf::from(value()?)),
            "--state" => state = Some(PathBuf::from(value()?)),
            "--ca-dir" => ca_dir = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let addr_text = addr.unwrap_or_else(|| "127.0.0.1:0".into());
    let addr: SocketAddr =
        addr_text.parse().map_err(|_| format!("--addr '{addr_text}' is not an IP:PORT address (e.g. 127.0.0.1:0)"))?;
    Ok(Args { addr, seed: seed.ok_or("--seed is required")?, state, ca_dir })
}

fn init_logging() {
    let level = match std::env::var("AKSID_EMULATOR_LOG").unwrap_or_default().to_ascii_lowercase().as_str() {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_ansi(false).init();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            // Ignore a closed stdout (e.g. `--help | head`).
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let seed = match Seed::load(&args.seed) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let server = match start(Options { addr: args.addr, seed, state_path: args.state, ca_dir: args.ca_dir }).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let line = serde_json::to_string(&server.info).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            eprintln!("error: cannot write the ready line to stdout");
            return ExitCode::FAILURE;
        }
        drop(out);
        tracing::info!(addr = %server.addr, "aksid-emulator ready");
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_flags() {
        let a = parse_args(&args("serve --seed s.json --addr=127.0.0.1:8443 --state st.json --ca-dir d")).unwrap();
        assert_eq!(a.addr.port(), 8443);
        assert_eq!(a.seed, PathBuf::from("s.json"));
        assert_eq!(a.state, Some(PathBuf::from("st.json")));
        assert_eq!(a.ca_dir, Some(PathBuf::from("d")));
        assert_eq!(parse_args(&args("serve --seed s.json")).unwrap().addr.port(), 0);
    }

    #[test]
    fn rejects_bad_flags() {
        assert!(parse_args(&args("serve")).unwrap_err().contains("--seed"));
        assert!(parse_args(&args("serve --seed")).unwrap_err().contains("needs a value"));
        assert!(parse_args(&args("serve --seed s --bogus 1")).unwrap_err().contains("bogus"));
        assert!(parse_args(&args("serve --seed s --addr localhost")).unwrap_err().contains("IP:PORT"));
        assert!(parse_args(&args("run")).unwrap_err().contains("unknown command"));
        assert_eq!(parse_args(&args("--help")).unwrap_err(), "");
    }
}
