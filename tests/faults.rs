//! The fault suite: `aksid_cluster_identity_roles` driven by real Terraform against the
//! emulator while things break: the provider is killed with SIGKILL in the middle of create,
//! update, shrink and destroy; ARM answers 500, 503 and 429 at random; the emulator itself is
//! killed and restarted from its state file. After recovery the emulator must hold EXACTLY the
//! configured grants (nothing duplicated, orphaned or lost). A last test checks that a
//! `TF_LOG=trace` run leaks no secret, token or private key.
//!
//! The kills happen at a known point: fault rules let the first N writes through and hold the
//! later ones (see `hold_after`), so the test waits for an event, never for a time.

mod common;

use std::time::Duration;

use common::emulator::*;
use common::faults::*;
use common::*;
use serde_json::json;

const APPLY: &[&str] = &["apply", "-auto-approve", "-no-color"];
const DESTROY: &[&str] = &["destroy", "-auto-approve", "-no-color"];
const LONG: Duration = Duration::from_secs(180);

fn config(provider_block: &str, body: &str) -> String {
    format!("{REQUIRED_AKSID}\n{provider_block}\n{body}")
}

/// An emulator seeded with `registries`/`subnets` grantable scopes and a workspace on it.
struct Scenario {
    emu: Emulator,
    ws: Workspace,
    /// The identities' assignments in the seed (the out-of-band AcrPull), never ours to touch.
    baseline: Vec<Grant>,
    _seed_dir: tempfile::TempDir,
}

impl Scenario {
    fn new(registries: usize, subnets: usize) -> Scenario {
        let seed_dir = tempfile::tempdir().unwrap();
        let emu = Emulator::start(&wide_seed(seed_dir.path(), registries, subnets));
        let baseline = identity_grants(&emu.admin_get("role-assignments"));
        assert_eq!(baseline.len(), 1, "the seed's AcrPull for the kubelet: {baseline:?}");
        let ws = Workspace::new(&terraforms()[0], &config(&emu.provider_block(), &wide_resource(0, 0)));
        ws.init();
        Scenario { emu, ws, baseline, _seed_dir: seed_dir }
    }

    fn configure(&self, registries: usize, subnets: usize) {
        self.ws.write("main.tf", &config(&self.emu.provider_block(), &wide_resource(registries, subnets)));
    }

    fn grants(&self) -> Vec<Grant> {
        identity_grants(&self.emu.admin_get("role-assignments"))
    }

    /// Our grants: everything the identities hold beyond the baseline.
    fn ours(&self) -> Vec<Grant> {
        self.grants().into_iter().filter(|g| !self.baseline.contains(g)).collect()
    }

    /// The emulator holds exactly the baseline plus `wide_grants(registries, subnets)`.
    fn assert_exact(&self, registries: usize, subnets: usize, when: &str) {
        let want = union(&self.baseline, &wide_grants(registries, subnets));
        let got = self.grants();
        if got != want {
            let missing: Vec<_> = want.iter().filter(|g| !got.contains(g)).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
            panic!(
                "{when}: {} grants, want {}\nmissing: {missing:?}\nunexpected: {extra:?}\nall: {got:?}",
                got.len(),
                want.len()
            );
        }
    }

    fn assert_no_changes(&self) {
        let (code, text) = self.ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "state and Azure agree, nothing to do:\n{text}");
    }

    /// Run `terraform args` and SIGKILL the provider once `first` role assignment requests of
    /// `method` have completed (later ones are held in flight). Returns Terraform's output.
    fn kill_provider_after(&self, args: &[&str], method: &str, first: u64) -> String {
        for rule in hold_after(method, first) {
            self.emu.admin_post("faults", rule);
        }
        self.emu.admin_delete("requests");
        let run = Running::start(&self.ws, args);
        wait_until(LONG, &format!("{first} completed {method}s"), || {
            role_assignment_writes(&self.emu.admin_get("requests"), method) >= first as usize
        });
        let mut pids = Vec::new();
        wait_until(Duration::from_secs(30), "the provider process", || {
            pids = provider_processes(run.pid());
            !pids.is_empty()
        });
        for pid in pids {
            kill9(pid);
        }
        let (status, out) = run.finish(LONG);
        assert!(!status.success(), "terraform reports the crashed provider:\n{out}");
        self.emu.admin_delete("faults");
        assert_eq!(
            role_assignment_writes(&self.emu.admin_get("requests"), method),
            first as usize,
            "the held requests never reached the store"
        );
        out
    }
}

/// `sub` is contained in `set`, both sorted multisets.
fn contained(sub: &[Grant], set: &[Grant]) -> bool {
    let mut rest = set.to_vec();
    sub.iter().all(|g| rest.iter().position(|x| x == g).map(|i| rest.remove(i)).is_some())
}

#[test]
fn provider_killed_during_create_then_reapply_converges_exactly() {
    let s = Scenario::new(25, 15);
    s.configure(25, 15);
    s.kill_provider_after(APPLY, "PUT", 8);
    let ours = s.ours();
    assert_eq!(ours.len(), 8, "exactly the writes that completed exist: {ours:?}");
    assert!(contained(&ours, &wide_grants(25, 15)), "{ours:?}");
    // The crashed create left no resource in state; the next apply finds the 8 under its own
    // deterministic names and neither duplicates nor orphans them.
    s.ws.ok(APPLY);
    s.assert_exact(25, 15, "re-apply after a crash during create");
    s.assert_no_changes();
    s.ws.ok(DESTROY);
    s.assert_exact(0, 0, "destroy after recovery");
}

#[test]
fn provider_killed_while_growing_the_set_then_reapply_converges_exactly() {
    let s = Scenario::new(35, 25);
    s.configure(25, 15);
    s.ws.ok(APPLY);
    s.assert_exact(25, 15, "first apply");
    s.configure(35, 25);
    s.kill_provider_after(APPLY, "PUT", 6);
    let ours = s.ours();
    assert_eq!(ours.len(), 40 + 6, "{ours:?}");
    assert!(contained(&wide_grants(25, 15), &ours) && contained(&ours, &wide_grants(35, 25)), "{ours:?}");
    s.ws.ok(APPLY);
    s.assert_exact(35, 25, "re-apply after a crash during update");
    s.assert_no_changes();
    s.ws.ok(DESTROY);
    s.assert_exact(0, 0, "destroy after recovery");
}

#[test]
fn provider_killed_while_shrinking_the_set_then_reapply_converges_exactly() {
    let s = Scenario::new(35, 25);
    s.configure(35, 25);
    s.ws.ok(APPLY);
    s.assert_exact(35, 25, "first apply");
    s.configure(10, 10);
    s.kill_provider_after(APPLY, "DELETE", 8);
    let ours = s.ours();
    assert_eq!(ours.len(), 60 - 8, "{ours:?}");
    assert!(contained(&wide_grants(10, 10), &ours), "nothing still wanted was deleted: {ours:?}");
    // State still lists the 8 deleted grants: refresh must notice they are gone.
    s.ws.ok(APPLY);
    s.assert_exact(10, 10, "re-apply after a crash during shrink");
    s.assert_no_changes();
}

#[test]
fn provider_killed_during_destroy_then_destroy_again_removes_exactly_ours() {
    let s = Scenario::new(35, 25);
    s.configure(35, 25);
    s.ws.ok(APPLY);
    s.assert_exact(35, 25, "first apply");
    s.kill_provider_after(DESTROY, "DELETE", 8);
    assert_eq!(s.ours().len(), 60 - 8);
    let listed = s.ws.ok(&["state", "list", "-no-color"]);
    assert!(listed.contains("aksid_cluster_identity_roles.aks"), "the resource stays in state: {listed}");
    s.ws.ok(DESTROY);
    s.assert_exact(0, 0, "second destroy");
    let listed = s.ws.ok(&["state", "list", "-no-color"]);
    assert!(listed.trim().is_empty(), "{listed}");
}

#[test]
fn a_storm_of_500_503_and_429_still_converges_on_200_grants_and_destroys_them_all() {
    let s = Scenario::new(150, 50);
    // Rules are tried in order and the first that fires wins, so each rate is conditional on
    // the earlier rules not firing: overall 5% 500, 5% 503 and 10% 429 on every ARM call.
    // The 429s carry `Retry-After: 1` (the emulator's default), which the provider honours.
    for (status, rate) in [(500, 0.05), (503, 0.05 / 0.95), (429, 0.10 / 0.90)] {
        s.emu.admin_post("faults", json!({"path_contains": "/subscriptions/", "status": status, "rate": rate}));
    }
    // More writes in flight than the default 4, as one would set for 200 grants.
    s.ws.write("main.tf", &config(&s.emu.provider_block(), &wide_resource_with(150, 50, "max_parallel_writes = 16")));
    s.ws.ok(APPLY);
    s.assert_exact(150, 50, "apply in the storm");
    s.assert_no_changes();
    s.ws.ok(DESTROY);
    s.assert_exact(0, 0, "destroy in the storm");
    let rules = s.emu.admin_get("faults");
    for r in rules["value"].as_array().unwrap() {
        assert!(r["injected"].as_u64().unwrap() > 0, "every kind of failure was injected: {rules}");
    }
}

#[test]
fn emulator_killed_and_restarted_from_its_state_mid_apply_then_reapply_converges_exactly() {
    let seed_dir = tempfile::tempdir().unwrap();
    let mut emu = Restartable::start(&wide_seed(seed_dir.path(), 30, 20));
    let baseline = identity_grants(&emu.admin_get("role-assignments"));
    let ws = Workspace::new(&terraforms()[0], &config(&emu.provider_block(), &wide_resource(30, 20)));
    ws.init();
    for rule in hold_after("PUT", 10) {
        emu.admin_post("faults", rule);
    }
    let run = Running::start(&ws, APPLY);
    wait_until(LONG, "10 completed PUTs", || role_assignment_writes(&emu.admin_get("requests"), "PUT") >= 10);
    emu.kill9();
    // Every completed write was persisted before it was answered.
    let persisted: Vec<Grant> =
        identity_grants_in_state_file(&emu.state).into_iter().filter(|g| !baseline.contains(g)).collect();
    assert_eq!(persisted.len(), 10, "{persisted:?}");
    assert!(contained(&persisted, &wide_grants(30, 20)));
    // Same port, same CA, same state (and token key); the fault rules are gone.
    emu.restart();
    // The interrupted apply may recover by itself (its requests are retried) or fail.
    let (_, out) = run.finish(LONG);
    ws.ok(APPLY);
    let got = identity_grants(&emu.admin_get("role-assignments"));
    assert_eq!(got, union(&baseline, &wide_grants(30, 20)), "after the restart and a re-apply\n{out}");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
}

/// Every substring shaped like a JWT: `eyJ…` then two more base64url segments.
fn jwts(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(off) = text[from..].find("eyJ") {
        let start = from + off;
        let mut i = start;
        let mut segments = 0;
        loop {
            let seg_start = i;
            while i < b.len() && is_b64(b[i]) {
                i += 1;
            }
            if i - seg_start < 8 {
                break;
            }
            segments += 1;
            if segments == 3 || i >= b.len() || b[i] != b'.' {
                break;
            }
            i += 1;
        }
        if segments == 3 {
            found.push(&text[start..i]);
        }
        from = start + 3;
    }
    found
}

#[test]
fn a_trace_log_of_apply_refresh_and_destroy_leaks_no_secret_token_or_key() {
    let emu = Emulator::start(&example_seed());
    // A token the emulator signs: its first segment (the header) is the same in every token
    // it issues, and the scanner must see the whole token.
    let minted = emu.admin_post("token", json!({"client_id": TF_CLIENT_ID}));
    let minted = minted["access_token"].as_str().expect("admin token").to_string();
    let header = minted.split('.').next().unwrap().to_string();
    assert_eq!(jwts(&format!("Authorization: Bearer {minted}\n")), vec![minted.as_str()], "the scanner works");

    let body = format!(
        r#"
resource "aksid_cluster_identity_roles" "aks" {{
  cluster_id = "{CLUSTER_ID}"
  subnet_ids = ["{}", "{}"]
  acr_ids    = ["/subscriptions/{HUB_SUB}/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared"]
}}
"#,
        "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes",
        "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods",
    );
    let mut ws = Workspace::new(&terraforms()[0], &config(&emu.provider_block(), &body));
    ws.init();
    ws.set_env("TF_LOG", "trace");
    let mut seen = Vec::new();
    for args in [APPLY, &["refresh", "-no-color"][..], DESTROY] {
        let out = ws.run(args);
        let text = describe(&out);
        assert!(out.status.success(), "terraform {}:\n{}", args.join(" "), &text[text.len().saturating_sub(4000)..]);
        seen.push((format!("terraform {}", args[0]), text));
        for f in ["terraform.tfstate", "terraform.tfstate.backup"] {
            if let Ok(state) = std::fs::read_to_string(ws.path().join(f)) {
                seen.push((format!("{f} after {}", args[0]), state));
            }
        }
    }
    // The run did authenticate and the provider's own trace lines were captured, so there was
    // something to leak.
    let tokens_issued = emu
        .admin_get("requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "token" && r["status"] == 200)
        .count();
    assert!(tokens_issued > 0, "the provider fetched tokens");
    let all: String = seen.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        all.contains("terraform-provider-aksid") && all.contains("ARM request"),
        "provider trace lines are in the output"
    );
    assert!(all.contains("roleAssignments"), "the state was written");

    for (what, text) in &seen {
        assert!(!text.contains(TF_SECRET), "{what} contains the client secret");
        assert!(!text.contains(&header), "{what} contains (part of) an emulator token");
        let found = jwts(text);
        assert!(found.is_empty(), "{what} contains a JWT: {:?}", found.first());
        assert!(!text.contains("PRIVATE KEY-----"), "{what} contains a PEM private key");
        assert!(!text.to_ascii_lowercase().contains("bearer ey"), "{what} contains a bearer token");
    }
}
