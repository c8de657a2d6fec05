//! `AKSID_STARTUP_TRACE`: the start-up steps the performance notes are measured with
//! (docs/performance.md). Off by default, so Terraform's log of our stderr stays clean; when on,
//! the steps come in the order start-up takes them, the handshake line last. No timing here.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use aksid::plugin::handshake::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use common::provider_binary;

const LAST_STEP: &str = "handshake line written";

/// Launch as Terraform would with AutoMTLS, read the handshake line, stop the provider and
/// return the line and everything it wrote on stderr.
fn start_and_stop(trace: Option<&str>) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let client = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let mut cmd = Command::new(provider_binary());
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("PLUGIN_CLIENT_CERT", client.pem())
        .env_remove("AKSID_STARTUP_TRACE")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("TF_LOG_PROVIDER_AKSID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(v) = trace {
        cmd.env("AKSID_STARTUP_TRACE", v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let mut stderr = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    if trace.is_some_and(|v| !v.is_empty()) {
        // The last step is reported just after the line is written: read up to it (or to the
        // end of stderr, should the process die) before stopping the provider.
        while err.read_line(&mut stderr).unwrap() > 0 && !stderr.trim_end().ends_with(LAST_STEP) {}
    }
    // SIGKILL closes stderr; whatever was written before is still in the pipe.
    child.kill().unwrap();
    child.wait().unwrap();
    err.read_to_string(&mut stderr).unwrap();
    (line, stderr)
}

fn step_position(stderr: &str, step: &str) -> usize {
    stderr
        .lines()
        .position(|l| l.starts_with("aksid-startup ") && l.ends_with(step))
        .unwrap_or_else(|| panic!("no start-up step {step:?} in stderr:\n{stderr}"))
}

#[test]
fn startup_trace_lists_the_steps_in_order_when_asked() {
    let (line, stderr) = start_and_stop(Some("1"));
    assert!(line.starts_with("1|5|"), "handshake line {line:?}");
    let runtime = step_position(&stderr, "runtime built");
    let bound = step_position(&stderr, "socket bound");
    let cert = step_position(&stderr, "certificate made");
    let tls = step_position(&stderr, "TLS config built");
    let written = step_position(&stderr, LAST_STEP);
    assert!(runtime < bound, "the socket is bound inside the runtime:\n{stderr}");
    assert!(bound < tls && cert < tls, "the TLS config needs the certificate:\n{stderr}");
    assert!(tls < written, "the line carries the certificate:\n{stderr}");
    for l in stderr.lines().filter(|l| l.starts_with("aksid-startup ")) {
        let micros = l.split_whitespace().nth(1).unwrap_or_default();
        assert!(micros.parse::<u64>().is_ok(), "elapsed microseconds in {l:?}");
    }
}

#[test]
fn startup_trace_is_silent_by_default_and_when_empty() {
    for trace in [None, Some("")] {
        let (line, stderr) = start_and_stop(trace);
        assert!(line.starts_with("1|5|"), "handshake line {line:?}");
        assert!(!stderr.contains("aksid-startup"), "trace {trace:?} printed:\n{stderr}");
    }
}
