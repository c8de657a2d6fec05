//! `examples/hub-spoke` end to end: the example as shipped (its module, provider aliases and
//! terraform.tfvars) applied with real Terraform against the emulator seeded from
//! `examples/hub-spoke/emulator-seed.json` (a hub and two spoke subscriptions, one cluster per
//! spoke, each with its own Kubernetes API).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::emulator::*;
use common::pods::{Kubectl, IDENTITY_API};
use common::*;
use serde_json::{json, Value as Json};

const HUB: &str = "5fae6b32-bc92-44dd-8d0e-033ad40d0455";
const SPOKE_A: &str = "053360cf-e43d-4e4b-a6a6-fd86058c10be";
const SPOKE_B: &str = "59244c7c-f38c-4e4c-bf63-529f80113222";
/// The Terraform deployer (the seed's service principal), Owner of all three subscriptions.
const DEPLOYER: &str = "a9c04c4f-34a0-46c8-8b64-1e567add78cd";
const HUB_RG: &str = "/subscriptions/5fae6b32-bc92-44dd-8d0e-033ad40d0455/resourceGroups/rg-hub-shared/providers";

/// One spoke of the seed: its subscription, region and the principals of its cluster.
struct Spoke {
    key: &'static str,
    sub: &'static str,
    location: &'static str,
    control_plane: &'static str,
    kubelet: &'static str,
    orders_principal: &'static str,
    orders_client: &'static str,
}

const SPOKES: [Spoke; 2] = [
    Spoke {
        key: "a",
        sub: SPOKE_A,
        location: "westeurope",
        control_plane: "7844e4a7-862e-49ed-afa7-a9765785f041",
        kubelet: "fc421ef7-d2bd-49d4-96e8-4fd4716d16c3",
        orders_principal: "9b12a3e1-9065-4fe0-8298-b93155b51969",
        orders_client: "751a982e-3625-45aa-b8a3-2eaf215f71a3",
    },
    Spoke {
        key: "b",
        sub: SPOKE_B,
        location: "northeurope",
        control_plane: "fc56f2c3-fbf7-4e3a-b563-9c42b7ac0f4d",
        kubelet: "d64e898a-0457-4df0-81e9-cd89cd1d3e56",
        orders_principal: "cd0c422d-8c07-4959-a718-f484866fb8b1",
        orders_client: "a6b6f40f-9770-444c-9745-6b84f8e676a1",
    },
];

impl Spoke {
    fn rg(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/rg-spoke-{}-aks", self.sub, self.key)
    }
    fn res(&self, rest: &str) -> String {
        format!("{}/providers/{rest}", self.rg())
    }
    fn cluster(&self) -> String {
        self.res(&format!("Microsoft.ContainerService/managedClusters/aks-spoke-{}", self.key))
    }
    fn node_rg(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/MC_rg-spoke-{k}-aks_aks-spoke-{k}_{}",
            self.sub,
            self.location,
            k = self.key
        )
    }
    fn subnet(&self, name: &str) -> String {
        self.res(&format!("Microsoft.Network/virtualNetworks/vnet-spoke-{}/subnets/{name}", self.key))
    }
    fn orders_identity(&self) -> String {
        self.res("Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api")
    }
    fn reports_identity(&self) -> String {
        self.res("Microsoft.ManagedIdentity/userAssignedIdentities/id-reports")
    }
    fn private_zone(&self) -> String {
        format!("{HUB_RG}/Microsoft.Network/privateDnsZones/privatelink.{}.azmk8s.io", self.location)
    }
}

fn acr() -> String {
    format!("{HUB_RG}/Microsoft.ContainerRegistry/registries/acrhubcontoso")
}

fn example_dir() -> PathBuf {
    repo_root().join("examples/hub-spoke")
}

/// Built-in role names by GUID, for readable sets (an unknown GUID stays a GUID, and fails).
fn role_name(guid: &str) -> String {
    let name = match guid {
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" => "Owner",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7" => "Reader",
        "4d97b98b-1d4f-4787-a291-c67834d212e7" => "Network Contributor",
        "b12aa53e-6015-4669-85d0-8515ebb3ae7f" => "Private DNS Zone Contributor",
        "7f951dda-4ed3-4680-a7ca-43fe172d538d" => "AcrPull",
        "f1a07417-d97a-45cb-824c-7a7467783830" => "Managed Identity Operator",
        "9980e02c-c2be-4d73-94e8-173b1dc7cf3c" => "Virtual Machine Contributor",
        "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39" => "Azure Service Bus Data Sender",
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" => "Storage Blob Data Reader",
        other => other,
    };
    name.to_string()
}

type Grant = (String, String, String);

fn grant(role: &str, scope: &str, principal: &str) -> Grant {
    (role.to_string(), scope.to_lowercase(), principal.to_lowercase())
}

/// The emulator seeded with the example's seed, and the applications' namespaces in both
/// clusters (aksid writes into existing namespaces only).
fn start(seed: &Path) -> Emulator {
    let emu = Emulator::start(seed);
    for spoke in &SPOKES {
        for ns in ["orders", "reports"] {
            emu.namespace(&spoke.cluster(), ns);
        }
    }
    emu
}

/// Copy the example's configuration (not any local `.terraform`) into `to`.
fn copy_config(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let (path, name) = (entry.path(), entry.file_name());
        let name = name.to_string_lossy();
        if path.is_dir() && !name.starts_with('.') {
            std::fs::create_dir_all(to.join(&*name)).unwrap();
            copy_config(&path, &to.join(&*name));
        } else if name.ends_with(".tf") || name.ends_with(".tfvars") {
            std::fs::copy(&path, to.join(&*name)).unwrap();
        }
    }
}

/// The example, unchanged, in a fresh workspace whose environment points at the emulator.
fn example(tf: &Terraform, emu: &Emulator) -> Workspace {
    let main = std::fs::read_to_string(example_dir().join("main.tf")).unwrap();
    let mut ws = Workspace::new(tf, &main);
    copy_config(&example_dir(), ws.path());
    for (k, v) in emu.provider_env() {
        ws.set_env(&k, &v);
    }
    ws.init();
    ws
}

/// Every role assignment ARM lists for the subscription, as (role name, scope, principal).
fn assignments_in(emu: &Emulator, sub: &str) -> (BTreeSet<Grant>, BTreeSet<String>) {
    let mut path =
        format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01");
    let (mut grants, mut ids) = (BTreeSet::new(), BTreeSet::new());
    loop {
        let (status, body) = emu.arm("GET", &path, None);
        assert_eq!(status, 200, "{body}");
        for a in body["value"].as_array().unwrap() {
            let p = &a["properties"];
            let role = p["roleDefinitionId"].as_str().unwrap().rsplit('/').next().unwrap().to_lowercase();
            grants.insert(grant(&role_name(&role), p["scope"].as_str().unwrap(), p["principalId"].as_str().unwrap()));
            if p["principalId"] != DEPLOYER {
                ids.insert(a["id"].as_str().unwrap().to_lowercase());
            }
        }
        match body["nextLink"].as_str() {
            Some(next) => path = next.strip_prefix(emu.ready.arm_endpoint.trim_end_matches('/')).unwrap().to_string(),
            None => return (grants, ids),
        }
    }
}

fn seeded(sub: &str) -> BTreeSet<Grant> {
    BTreeSet::from([grant("Owner", &format!("/subscriptions/{sub}"), DEPLOYER)])
}

fn expected_hub() -> BTreeSet<Grant> {
    let mut set = seeded(HUB);
    for s in &SPOKES {
        set.insert(grant("AcrPull", &acr(), s.kubelet));
        set.insert(grant("Private DNS Zone Contributor", &s.private_zone(), s.control_plane));
    }
    set
}

fn expected_spoke(s: &Spoke, reports_principal: &str) -> BTreeSet<Grant> {
    let mut set = seeded(s.sub);
    set.extend([
        grant("Network Contributor", &s.subnet("snet-nodes"), s.control_plane),
        grant("Network Contributor", &s.subnet("snet-pods"), s.control_plane),
        grant("Managed Identity Operator", &s.node_rg(), s.kubelet),
        grant("Virtual Machine Contributor", &s.node_rg(), s.kubelet),
        grant("Managed Identity Operator", &s.orders_identity(), s.kubelet),
        grant(
            "Azure Service Bus Data Sender",
            &s.res(&format!("Microsoft.ServiceBus/namespaces/sb-spoke-{}", s.key)),
            s.orders_principal,
        ),
        grant(
            "Storage Blob Data Reader",
            &s.res(&format!("Microsoft.Storage/storageAccounts/stspoke{}data", s.key)),
            reports_principal,
        ),
    ]);
    set
}

/// Objects aksid writes, left in the application namespaces of `cluster` ("kind/ns/name").
fn app_objects(emu: &Emulator, cluster: &str) -> BTreeSet<String> {
    let k = Kubectl::new(&emu.kubeconfig(cluster));
    let mut out = BTreeSet::new();
    for ns in ["orders", "reports"] {
        let text = k.ok(&["get", "azureidentities,azureidentitybindings,serviceaccounts", "-n", ns, "-o", "json"]);
        let list: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl JSON: {e}: {text}"));
        for item in list["items"].as_array().unwrap() {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            // Every namespace has its `default` ServiceAccount.
            if !(item["kind"] == "ServiceAccount" && name == "default") {
                out.insert(format!("{}/{ns}/{name}", item["kind"].as_str().unwrap_or_default()));
            }
        }
    }
    out
}

fn principal_of(emu: &Emulator, identity: &str) -> String {
    let (status, body) = emu.arm("GET", &format!("{identity}?api-version={IDENTITY_API}"), None);
    assert_eq!(status, 200, "{identity}: {body}");
    body["properties"]["principalId"].as_str().unwrap().to_string()
}

/// The module's outputs, per spoke: labels and client ids per app, and assignment ids that are
/// exactly the ones aksid made.
fn check_outputs(ws: &Workspace, made: &BTreeSet<String>) {
    let out = ws.output_json();
    let mut from_outputs = BTreeSet::new();
    for s in &SPOKES {
        let spoke = format!("spoke_{}", s.key);
        let labels = &out["pod_labels"]["value"][&spoke];
        assert_eq!(labels["orders-api"], json!({"aadpodidbinding": "orders-api"}), "{spoke}: {labels}");
        assert_eq!(labels["reports"], json!({"azure.workload.identity/use": "true"}), "{spoke}: {labels}");
        assert_eq!(out["client_ids"]["value"][&spoke]["orders-api"], s.orders_client);
        assert_eq!(out["service_accounts"]["value"][&spoke], json!({"reports": "reports/reports"}));
        let ids = out["assignment_ids"]["value"][&spoke].as_object().unwrap();
        let keys: BTreeSet<&str> = ids.keys().map(String::as_str).collect();
        for key in [
            "cluster/kubelet/AcrPull/acrhubcontoso".to_string(),
            "orders-api/kubelet/Managed Identity Operator/id-orders-api".to_string(),
            format!("reports/app/Storage Blob Data Reader/stspoke{}data", s.key),
        ] {
            assert!(keys.contains(key.as_str()), "{spoke}: no assignment key {key:?} in {keys:?}");
        }
        assert_eq!(ids.len(), 9, "{spoke}: nine grants: {keys:?}");
        // The access report of the spoke's cluster sees those nine grants in the spoke and the
        // hub, each held by the module, and none broader than the matrix needs.
        let report = out["access_report"]["value"][&spoke].as_str().unwrap();
        assert!(report.contains("```mermaid\nflowchart LR"), "{spoke}: report has a Mermaid diagram:\n{report}");
        for (name, id) in ids {
            let scope_leaf = id
                .as_str()
                .unwrap()
                .split("/providers/Microsoft.Authorization/")
                .next()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            assert!(report.contains(scope_leaf), "{spoke}: report names the scope of {name} ({scope_leaf}):\n{report}");
        }
        assert_eq!(report.matches("| managed |").count(), 9, "{spoke}: nine managed rows:\n{report}");
        assert!(!report.contains("unmanaged") && !report.contains("orphaned"), "{spoke}: nothing else:\n{report}");
        from_outputs.extend(ids.values().map(|v| v.as_str().unwrap().to_lowercase()));
    }
    assert_eq!(&from_outputs, made, "assignment_ids are exactly the assignments aksid made");
}

#[test]
fn the_landing_zone_applies_exact_grants_per_subscription_plans_clean_and_destroys_to_zero() {
    for tf in terraforms() {
        let emu = start(&example_dir().join("emulator-seed.json"));
        let ws = example(tf, &emu);
        ws.ok(&["apply", "-auto-approve", "-no-color"]);

        let (hub, mut made) = assignments_in(&emu, HUB);
        assert_eq!(hub, expected_hub(), "hub: AcrPull and Private DNS Zone Contributor per cluster, nothing else");
        for s in &SPOKES {
            let reports = principal_of(&emu, &s.reports_identity());
            let (grants, ids) = assignments_in(&emu, s.sub);
            assert_eq!(grants, expected_spoke(s, &reports), "spoke {}", s.key);
            made.extend(ids);
            let objects = app_objects(&emu, &s.cluster());
            let want: BTreeSet<String> = [
                "AzureIdentity/orders/orders-api",
                "AzureIdentityBinding/orders/orders-api-binding",
                "ServiceAccount/reports/reports",
            ]
            .map(String::from)
            .into();
            assert_eq!(objects, want, "spoke {}: the objects in its own cluster", s.key);
        }
        check_outputs(&ws, &made);

        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "a second plan is empty ({}):\n{text}", tf.version);

        // A grant deleted outside Terraform: plan shows it, apply writes it again, and the
        // access report read in that apply already sees the repaired state (a clean plan).
        let acr_pull = ws.output_json()["assignment_ids"]["value"]["spoke_a"]["cluster/kubelet/AcrPull/acrhubcontoso"]
            .as_str()
            .unwrap()
            .to_string();
        emu.rt_delete_assignment(&acr_pull);
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 2, "plan sees the deleted grant ({}):\n{text}", tf.version);
        assert!(text.contains("module.spoke_a.aksid_cluster_identity_roles.hub will be updated"), "{text}");
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(assignments_in(&emu, HUB).0, expected_hub(), "the hub's grants are whole again");
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "clean after the repair, outputs included ({}):\n{text}", tf.version);

        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
        assert_eq!(assignments_in(&emu, HUB).0, seeded(HUB), "hub: no aksid grant left");
        for s in &SPOKES {
            assert_eq!(assignments_in(&emu, s.sub).0, seeded(s.sub), "spoke {}: no aksid grant left", s.key);
            assert!(app_objects(&emu, &s.cluster()).is_empty(), "spoke {}: no Kubernetes object left", s.key);
            assert!(!emu.identity_exists(&s.reports_identity()), "the identity the example created is deleted");
            assert!(emu.identity_exists(&s.orders_identity()), "an identity given by id is left alone");
        }
    }
}

#[test]
fn a_spoke_deployer_with_only_reader_on_the_hub_fails_at_plan_naming_the_hub_scopes() {
    let mut seed: Json =
        serde_json::from_str(&std::fs::read_to_string(example_dir().join("emulator-seed.json")).unwrap()).unwrap();
    for a in seed["role_assignments"].as_array_mut().unwrap() {
        if a["scope"] == format!("/subscriptions/{HUB}") {
            a["role_definition_name"] = json!("Reader");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let emu = start(&path);
    let ws = example(&terraforms()[0], &emu);
    emu.admin_delete("requests");
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Missing permission to create role assignments"), "{text}");
    assert!(text.contains("Microsoft.Authorization/roleAssignments/write"), "names the action: {text}");
    assert!(text.contains(&acr()), "names the hub registry: {text}");
    for s in &SPOKES {
        assert!(text.contains(&s.private_zone()), "names the hub zone of spoke {}: {text}", s.key);
    }
    assert!(!text.contains("rg-spoke-"), "the spokes' own scopes are writable: {text}");
    let log = emu.admin_get("requests");
    let writes = log.as_array().unwrap().iter().filter(|e| e["method"] == "PUT" || e["method"] == "DELETE").count();
    assert_eq!(writes, 0, "nothing written: {log}");
}
