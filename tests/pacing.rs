//! Write pacing against ARM's throttling: a 200-grant apply into a subscription whose write
//! bucket holds 20 tokens sees no 429 after the initial burst, because the provider paces its
//! writes from the remaining-quota headers. Counted from the emulator's request log.

mod common;

use common::emulator::*;
use common::faults::*;
use common::*;
use serde_json::{json, Value as Json};

const GRANTS: usize = 200;
const BUCKET: u64 = 20;

/// The wide seed with the spoke's write bucket scaled down: 20 tokens refilled at 50/s, so the
/// 200 writes need at least 3.6 s and a provider that bursts meets the empty bucket.
fn throttled_seed(dir: &std::path::Path) -> std::path::PathBuf {
    let path = wide_seed(dir, 0, GRANTS);
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    seed["settings"]["arm_throttling"] =
        json!({"enabled": true, "writes": {"bucket_size": BUCKET, "refill_per_sec": 50.0}});
    std::fs::write(&path, seed.to_string()).unwrap();
    path
}

/// Role assignment PUTs in the order the emulator served them: (status of each).
fn put_statuses(log: &Json) -> Vec<u64> {
    let mut puts: Vec<&Json> =
        log.as_array().unwrap().iter().filter(|r| r["method"] == "PUT" && r["route"] == "role_assignment").collect();
    puts.sort_by_key(|r| r["seq"].as_u64());
    puts.iter().map(|r| r["status"].as_u64().unwrap_or(0)).collect()
}

#[test]
fn a_paced_apply_sees_no_429_after_the_initial_burst() {
    let seed_dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(&throttled_seed(seed_dir.path()));
    let provider = emu.provider_block().replace("\n}\n", "\n  write_quota_reserve = 2\n}\n");
    assert!(provider.contains("write_quota_reserve"), "{provider}");
    let main = format!("{REQUIRED_AKSID}\n{provider}\n{}", wide_resource(0, GRANTS));
    let ws = Workspace::new(&terraforms()[0], &main);
    ws.init();
    emu.admin_delete("requests");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);

    let statuses = put_statuses(&emu.admin_get("requests"));
    let ok = statuses.iter().filter(|s| (200..300).contains(*s)).count();
    assert_eq!(ok, GRANTS, "every grant written once: {statuses:?}");
    let late_429 = statuses.iter().skip(BUCKET as usize).filter(|s| **s == 429).count();
    assert_eq!(late_429, 0, "429s after the first {BUCKET} writes: {statuses:?}");
    assert!(statuses.iter().all(|s| (200..300).contains(s) || *s == 429), "{statuses:?}");
    let ours = identity_grants(&emu.admin_get("role-assignments")).len();
    assert_eq!(ours, GRANTS + 1, "the grants and the seed's AcrPull");
}
