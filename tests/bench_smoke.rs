//! Each benchmark script in `bench/` runs once here, with `--smoke`: the debug build, its
//! smallest size, one repetition. Benchmarks are not run by `make test` otherwise, so this is
//! what keeps them from rotting. Nothing here judges a time: each test asserts only that the
//! script ran against Terraform and the emulator and wrote its report.

mod common;

use std::path::Path;
use std::process::Command;

use common::emulator::emulator_binary;
use serde_json::Value as Json;

/// Runs `python3 bench/<script> --smoke <args>`; returns its stdout, failing with its output.
fn smoke(script: &str, args: &[&str]) -> String {
    common::terraforms();
    emulator_binary();
    assert!(common::provider_binary().exists(), "the provider binary is built by cargo test");
    let out = Command::new("python3")
        .arg(common::repo_root().join("bench").join(script))
        .arg("--smoke")
        .args(args)
        .env_remove("TF_LOG")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench/{script} --smoke failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the script wrote its JSON")).expect("valid JSON")
}

#[test]
fn assignments_smoke_covers_both_variants_two_subscriptions_and_the_null_floor() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("assignments.json");
    let stdout = smoke("assignments.py", &["--json", json.to_str().unwrap()]);
    assert!(stdout.contains("Ratios B/A") && stdout.contains("Scale, variant A"), "{stdout}");
    let report = read_json(&json);
    let variants: Vec<&str> =
        report["results"].as_array().unwrap().iter().filter_map(|r| r["variant"].as_str()).collect();
    assert_eq!(variants, ["A", "B", "null"]);
    let scale = &report["scale"][0];
    assert_eq!(scale["n"], 10);
    // --smoke puts 5 grants in each of the two subscriptions: one list per subscription.
    assert_eq!(scale["principal_subscriptions"], 2, "{scale}");
    assert_eq!(scale["lists_per_principal_subscription"], 1, "{scale}");
    assert!(scale["peak_rss_mib"].as_f64().unwrap() > 0.0, "the provider's RSS was sampled: {scale}");
    assert!(scale["null_peak_rss_mib"].as_f64().unwrap() > 0.0, "the null provider's RSS was sampled: {scale}");
}

#[test]
fn pacing_smoke_runs_every_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("pacing.json");
    smoke("pacing.py", &["--json", json.to_str().unwrap()]);
    let report = read_json(&json);
    let results = report["results"].as_array().unwrap();
    let names: Vec<&str> = results.iter().filter_map(|r| r["scenario"].as_str()).collect();
    assert_eq!(names, ["baseline", "paced", "unpaced", "two"]);
    assert!(results.iter().all(|r| r["ok"] == report["n"]), "every scenario made all its grants: {results:?}");
}

#[test]
fn failures_smoke_reports_its_row() {
    let stdout = smoke("failures.py", &[]);
    let row = stdout.lines().find(|l| l.split_whitespace().next() == Some("30"));
    let row = row.unwrap_or_else(|| panic!("no N=30 row:\n{stdout}"));
    let errors: usize = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(errors >= 1, "the failing apply reported its error: {row}");
}

#[test]
fn foundation_smoke_compares_with_the_null_provider() {
    let stdout = smoke("foundation.py", &[]);
    for line in ["median plan wall time", "provider peak RSS", "start-to-handshake", "start-to-TLS-ready"] {
        assert!(stdout.contains(line), "missing {line:?}:\n{stdout}");
    }
}
