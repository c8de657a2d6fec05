//! Authentication the way pipelines set it up for azurerm, end to end with real Terraform
//! against the emulator: GitHub Actions OIDC, Azure DevOps workload identity federation, an
//! OIDC token given directly, AKS workload identity and a client certificate. Each method has a
//! negative test (the diagnostic names the method and the variable, never the secret), and
//! the precedences azurerm defines are checked.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::emulator::*;
use common::*;
use serde_json::json;

const GH_REQUEST_TOKEN: &str = "gh-request-token-0b5e7c";
const GH_UNTRUSTED_REQUEST_TOKEN: &str = "gh-request-token-of-another-repo-7d1f";
const ADO_ACCESS_TOKEN: &str = "ado-system-access-token-91c2";
const ADO_CONNECTION: &str = "6f7c8a4e-1b2d-4e3f-9a8b-0c1d2e3f4a5b";
const GH_SUBJECT: &str = "repo:contoso/platform:environment:prod";
const ADO_ISSUER: &str = "https://vstoken.dev.azure.com/11111111-2222-4333-8444-555555555555";
const ADO_SUBJECT: &str = "sc://contoso/platform/aks-prod";
const AKS_ISSUER: &str = "https://westeurope.oic.prod-aks.azure.com/t/atlantis/";
const AKS_SUBJECT: &str = "system:serviceaccount:atlantis:atlantis";
const CERT_PASSWORD: &str = "pfx-password-4c1e";

/// A fresh RSA key and self-signed certificate as PKCS#12 (with `password`), and the
/// certificate's DER.
fn pfx(password: &str) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["aksid-pipeline".into()]).unwrap().self_signed(&key).unwrap();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![7u8; 20],
        p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
        [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("aksid", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    (store.writer(password).write().unwrap(), cert.der().to_vec())
}

/// A federated token as a workload would hold it (Entra here checks issuer, subject,
/// audience and expiry; the signature is the external issuer's business).
fn federated_jwt(iss: &str, sub: &str) -> String {
    let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(json!({"alg": "RS256", "typ": "JWT"})),
        enc(json!({"iss": iss, "sub": sub, "aud": "api://AzureADTokenExchange", "exp": exp}))
    )
}

struct Setup {
    emulator: Emulator,
    /// The registered certificate's PKCS#12 file, and one that is not registered.
    registered_pfx: std::path::PathBuf,
    unregistered_pfx: std::path::PathBuf,
    dir: tempfile::TempDir,
}

/// The example seed, with the Terraform principal trusting the pipelines' subjects and one
/// certificate, and the two CI endpoints seeded.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (registered, der) = pfx(CERT_PASSWORD);
    let (unregistered, _) = pfx(CERT_PASSWORD);
    let mut seed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    let sp = seed["service_principals"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|sp| sp["client_id"] == TF_CLIENT_ID)
        .unwrap();
    let federated = sp["federated"].as_array_mut().unwrap();
    for (iss, sub) in [
        ("https://token.actions.githubusercontent.com", GH_SUBJECT),
        (ADO_ISSUER, ADO_SUBJECT),
        (AKS_ISSUER, AKS_SUBJECT),
    ] {
        federated.push(json!({"issuer": iss, "subject": sub}));
    }
    sp["certificates"] = json!([STANDARD.encode(der)]);
    seed["pipelines"] = json!([
        {"kind": "github", "request_token": GH_REQUEST_TOKEN, "subject": GH_SUBJECT},
        {"kind": "github", "request_token": GH_UNTRUSTED_REQUEST_TOKEN, "subject": "repo:mallory/fork:ref:refs/heads/main"},
        {"kind": "azure_devops", "request_token": ADO_ACCESS_TOKEN, "service_connection_id": ADO_CONNECTION,
         "issuer": ADO_ISSUER, "subject": ADO_SUBJECT},
    ]);
    let seed_path = dir.path().join("seed.json");
    std::fs::write(&seed_path, seed.to_string()).unwrap();
    let registered_pfx = dir.path().join("registered.pfx");
    let unregistered_pfx = dir.path().join("unregistered.pfx");
    std::fs::write(&registered_pfx, registered).unwrap();
    std::fs::write(&unregistered_pfx, unregistered).unwrap();
    Setup { emulator: Emulator::start(&seed_path), registered_pfx, unregistered_pfx, dir }
}

impl Setup {
    fn ready_url(&self, field: &str) -> String {
        match field {
            "github" => format!("{}github/idtoken?api-version=2.0", self.emulator.ready.authority_host),
            _ => format!("{}ado/oidctoken", self.emulator.ready.authority_host),
        }
    }

    /// A workspace reading the seeded cluster (a read that needs an ARM token, so a plan
    /// proves the method got one); the provider is configured by the environment alone.
    fn workspace(&self) -> Workspace {
        let config = format!(
            r#"{REQUIRED_AKSID}
provider "aksid" {{}}
data "aksid_cluster" "aks" {{
  cluster_id = "{CLUSTER_ID}"
}}
"#
        );
        let ws = Workspace::new(&terraforms()[0], &config);
        ws.init();
        ws
    }

    /// Replace the workspace's environment: the emulator's endpoints, blanks, then `vars`.
    fn env(&self, ws: &mut Workspace, vars: &[(&str, &str)]) {
        ws.env.clear();
        let r = &self.emulator.ready;
        for (k, v) in [
            ("AKSID_ARM_ENDPOINT", r.arm_endpoint.as_str()),
            ("AKSID_AUTHORITY_HOST", r.authority_host.as_str()),
            ("AKSID_CA_CERTIFICATE", r.ca_certificate.as_str()),
            ("ARM_SUBSCRIPTION_ID", SPOKE_SUB),
        ] {
            ws.set_env(k, v);
        }
        for k in CREDENTIAL_VARS {
            ws.set_env(k, "");
        }
        for (k, v) in vars {
            ws.set_env(k, v);
        }
    }

    fn ids(&self) -> [(&'static str, String); 2] {
        [("ARM_TENANT_ID", self.emulator.ready.tenant_id.clone()), ("ARM_CLIENT_ID", TF_CLIENT_ID.to_string())]
    }
}

/// `terraform plan` succeeds (the data source is read with a token from the method).
fn plans(ws: &Workspace) {
    ws.ok(&["plan", "-no-color"]);
}

/// `terraform plan` fails; the text, squashed, names every one of `names` and none of `secrets`.
fn refused(ws: &Workspace, names: &[&str], secrets: &[&str]) -> String {
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    for n in names {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
    for s in secrets {
        assert!(!text.contains(s), "a secret leaked into:\n{text}");
    }
    text
}

#[test]
fn github_actions_oidc() {
    let s = setup();
    let mut ws = s.workspace();
    let gh = s.ready_url("github");
    let [(t, tid), (c, cid)] = s.ids();
    let base = [("ARM_USE_OIDC", "true"), (t, tid.as_str()), (c, cid.as_str())];

    let vars = [
        &base[..],
        &[("ACTIONS_ID_TOKEN_REQUEST_URL", gh.as_str()), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GH_REQUEST_TOKEN)],
    ]
    .concat();
    s.env(&mut ws, &vars);
    plans(&ws);

    // ARM_OIDC_REQUEST_* win over ACTIONS_ID_TOKEN_REQUEST_*.
    let vars = [
        &base[..],
        &[
            ("ARM_OIDC_REQUEST_URL", gh.as_str()),
            ("ARM_OIDC_REQUEST_TOKEN", GH_REQUEST_TOKEN),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://127.0.0.1:9/unused"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-this-one"),
        ],
    ]
    .concat();
    s.env(&mut ws, &vars);
    plans(&ws);

    // A request token GitHub does not accept.
    let vars = [
        &base[..],
        &[("ACTIONS_ID_TOKEN_REQUEST_URL", gh.as_str()), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong-gh-token-5e")],
    ]
    .concat();
    s.env(&mut ws, &vars);
    refused(&ws, &["GitHub Actions OIDC", "401", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"], &["wrong-gh-token-5e"]);

    // A token for a subject no federated credential of the application trusts.
    let vars = [
        &base[..],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", gh.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GH_UNTRUSTED_REQUEST_TOKEN),
        ],
    ]
    .concat();
    s.env(&mut ws, &vars);
    refused(
        &ws,
        &["GitHub Actions OIDC", "AADSTS70021", "repo:mallory/fork", "ACTIONS_ID_TOKEN_REQUEST_URL"],
        &[GH_UNTRUSTED_REQUEST_TOKEN],
    );
}

#[test]
fn azure_devops_workload_identity_federation() {
    let s = setup();
    let mut ws = s.workspace();
    let ado = s.ready_url("ado");
    let [(t, tid), (c, cid)] = s.ids();
    let base =
        [("ARM_USE_OIDC", "true"), (t, tid.as_str()), (c, cid.as_str()), ("SYSTEM_OIDCREQUESTURI", ado.as_str())];

    for var in ["ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID"] {
        let vars = [&base[..], &[(var, ADO_CONNECTION), ("SYSTEM_ACCESSTOKEN", ADO_ACCESS_TOKEN)]].concat();
        s.env(&mut ws, &vars);
        plans(&ws);
    }

    let vars = [
        &base[..],
        &[("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", ADO_CONNECTION), ("SYSTEM_ACCESSTOKEN", "wrong-ado-token-3a")],
    ]
    .concat();
    s.env(&mut ws, &vars);
    refused(&ws, &["Azure DevOps workload identity federation", "401", "SYSTEM_ACCESSTOKEN"], &["wrong-ado-token-3a"]);

    let other = "00000000-1111-4222-8333-444444444444";
    let vars =
        [&base[..], &[("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", other), ("SYSTEM_ACCESSTOKEN", ADO_ACCESS_TOKEN)]]
            .concat();
    s.env(&mut ws, &vars);
    refused(&ws, &["Azure DevOps workload identity federation", "404", "SYSTEM_OIDCREQUESTURI"], &[ADO_ACCESS_TOKEN]);
}

#[test]
fn oidc_token_given_directly() {
    let s = setup();
    let mut ws = s.workspace();
    let [(t, tid), (c, cid)] = s.ids();
    let good = federated_jwt("https://token.actions.githubusercontent.com", GH_SUBJECT);
    let base = [("ARM_USE_OIDC", "true"), (t, tid.as_str()), (c, cid.as_str())];

    // A token given directly wins over a token request (here one that would be refused).
    let vars = [
        &base[..],
        &[
            ("ARM_OIDC_TOKEN", good.as_str()),
            ("ARM_OIDC_REQUEST_URL", "https://127.0.0.1:9/x"),
            ("ARM_OIDC_REQUEST_TOKEN", "unused"),
        ],
    ]
    .concat();
    s.env(&mut ws, &vars);
    plans(&ws);

    let bad = federated_jwt("https://token.actions.githubusercontent.com", "repo:contoso/platform:pull_request");
    let vars = [&base[..], &[("ARM_OIDC_TOKEN", bad.as_str())]].concat();
    s.env(&mut ws, &vars);
    refused(&ws, &["OIDC token", "AADSTS70021", "ARM_OIDC_TOKEN"], &[&bad]);
}

#[test]
fn aks_workload_identity() {
    let s = setup();
    let mut ws = s.workspace();
    let token_file = s.dir.path().join("azure-identity-token");
    std::fs::write(&token_file, federated_jwt(AKS_ISSUER, AKS_SUBJECT)).unwrap();
    let file = token_file.to_string_lossy().into_owned();
    let tenant = s.emulator.ready.tenant_id.clone();
    let injected = [
        ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true"),
        ("AZURE_FEDERATED_TOKEN_FILE", file.as_str()),
        ("AZURE_CLIENT_ID", TF_CLIENT_ID),
        ("AZURE_TENANT_ID", tenant.as_str()),
    ];
    s.env(&mut ws, &injected);
    plans(&ws);

    // An ARM_CLIENT_ID other than the webhook's is an error naming both.
    let other = "0d4f2c6e-8a1b-4c3d-9e5f-6a7b8c9d0e1f";
    s.env(&mut ws, &[&injected[..], &[("ARM_CLIENT_ID", other)]].concat());
    refused(&ws, &["AZURE_CLIENT_ID", "ARM_CLIENT_ID", "use_aks_workload_identity"], &[]);

    // A service account the application does not trust.
    let wrong = s.dir.path().join("other-token");
    let token = federated_jwt(AKS_ISSUER, "system:serviceaccount:default:default");
    std::fs::write(&wrong, &token).unwrap();
    let wrong = wrong.to_string_lossy().into_owned();
    let mut vars = injected.to_vec();
    vars[1] = ("AZURE_FEDERATED_TOKEN_FILE", wrong.as_str());
    s.env(&mut ws, &vars);
    refused(&ws, &["AKS workload identity", "AADSTS70021", "AZURE_FEDERATED_TOKEN_FILE"], &[&token]);
}

#[test]
fn client_certificate() {
    let s = setup();
    let mut ws = s.workspace();
    let [(t, tid), (c, cid)] = s.ids();
    let path = s.registered_pfx.to_string_lossy().into_owned();
    let base = [(t, tid.as_str()), (c, cid.as_str())];

    let vars = [
        &base[..],
        &[("ARM_CLIENT_CERTIFICATE_PATH", path.as_str()), ("ARM_CLIENT_CERTIFICATE_PASSWORD", CERT_PASSWORD)],
    ]
    .concat();
    s.env(&mut ws, &vars);
    plans(&ws);

    // The certificate wins over a client secret (here a wrong one), as in azurerm; base64 data
    // works like the file.
    let data = STANDARD.encode(std::fs::read(&s.registered_pfx).unwrap());
    let vars = [
        &base[..],
        &[
            ("ARM_CLIENT_CERTIFICATE", data.as_str()),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", CERT_PASSWORD),
            ("ARM_CLIENT_SECRET", "wrong"),
        ],
    ]
    .concat();
    s.env(&mut ws, &vars);
    plans(&ws);

    let vars = [
        &base[..],
        &[("ARM_CLIENT_CERTIFICATE_PATH", path.as_str()), ("ARM_CLIENT_CERTIFICATE_PASSWORD", "wrong-pfx-password-9")],
    ]
    .concat();
    s.env(&mut ws, &vars);
    refused(
        &ws,
        &["client certificate", "ARM_CLIENT_CERTIFICATE_PASSWORD", "password is wrong"],
        &["wrong-pfx-password-9"],
    );

    let other = s.unregistered_pfx.to_string_lossy().into_owned();
    let vars = [
        &base[..],
        &[("ARM_CLIENT_CERTIFICATE_PATH", other.as_str()), ("ARM_CLIENT_CERTIFICATE_PASSWORD", CERT_PASSWORD)],
    ]
    .concat();
    s.env(&mut ws, &vars);
    refused(&ws, &["client certificate", "AADSTS700027", "ARM_CLIENT_CERTIFICATE_PATH"], &[CERT_PASSWORD]);
}

/// A trace log of the CI methods, the certificate and a token given directly holds none of
/// their secrets.
#[test]
fn no_pipeline_secret_in_trace_log() {
    let s = setup();
    let mut ws = s.workspace();
    let [(t, tid), (c, cid)] = s.ids();
    let (gh, ado) = (s.ready_url("github"), s.ready_url("ado"));
    let path = s.registered_pfx.to_string_lossy().into_owned();
    let jwt = federated_jwt("https://token.actions.githubusercontent.com", GH_SUBJECT);
    let runs: [Vec<(&str, &str)>; 4] = [
        vec![
            ("ARM_USE_OIDC", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &gh),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GH_REQUEST_TOKEN),
        ],
        vec![
            ("ARM_USE_OIDC", "true"),
            ("SYSTEM_OIDCREQUESTURI", &ado),
            ("SYSTEM_ACCESSTOKEN", ADO_ACCESS_TOKEN),
            ("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", ADO_CONNECTION),
        ],
        vec![("ARM_CLIENT_CERTIFICATE_PATH", &path), ("ARM_CLIENT_CERTIFICATE_PASSWORD", CERT_PASSWORD)],
        vec![("ARM_USE_OIDC", "true"), ("ARM_OIDC_TOKEN", &jwt)],
    ];
    for vars in runs {
        let all = [&[(t, tid.as_str()), (c, cid.as_str()), ("TF_LOG", "trace")][..], &vars[..]].concat();
        s.env(&mut ws, &all);
        let out = ws.run(&["plan", "-no-color"]);
        let text = describe(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("aksid"), "the trace log is captured: {}", text.len());
        for secret in [GH_REQUEST_TOKEN, ADO_ACCESS_TOKEN, CERT_PASSWORD, jwt.as_str()] {
            assert!(!text.contains(secret), "{secret} in the trace log");
        }
    }
}
