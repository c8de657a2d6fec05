//! Unit tests of `settings`: each form of the `kubernetes` block, kubeconfig files and the ARM
//! kubeconfig, and bad input as errors.

use super::*;
use std::collections::BTreeMap;

fn pem_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn host_token() -> KubeSettings {
    KubeSettings { host: Some("https://aks.example:443".into()), token: Some("t0k3n".into()), ..Default::default() }
}

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://dev.example:443
- name: prod
  cluster:
    server: https://prod.example:443
contexts:
- name: dev
  context: {cluster: dev, user: dev-user, namespace: apps}
- name: prod
  context: {cluster: prod, user: prod-user}
users:
- name: dev-user
  user: {token: dev-token}
- name: prod-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, azurecli]
"#;

fn kubeconfig_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

#[tokio::test]
async fn host_and_token() {
    let r = host_token().resolve().await.unwrap();
    assert_eq!(r.host(), "https://aks.example:443/");
    assert_eq!(r.source.to_string(), "kubernetes.token");
    assert!(r.config.auth_info.token.is_some());
    assert!(r.config.root_cert.is_none());
}

#[tokio::test]
async fn bare_host_means_https_and_ca_is_parsed() {
    let (ca, _) = pem_pair();
    let s = KubeSettings { host: Some("aks.example:6443".into()), cluster_ca_certificate: Some(ca), ..host_token() };
    let r = s.resolve().await.unwrap();
    assert_eq!(r.host(), "https://aks.example:6443/");
    assert_eq!(r.config.root_cert.as_ref().map(Vec::len), Some(1));
}

#[tokio::test]
async fn client_certificate_and_key() {
    let (cert, key) = pem_pair();
    let s = KubeSettings {
        host: Some("https://aks.example".into()),
        client_certificate: Some(cert.clone()),
        client_key: Some(key),
        ..Default::default()
    };
    let r = s.resolve().await.unwrap();
    assert_eq!(r.source.to_string(), "kubernetes.client_certificate");
    let data = r.config.auth_info.client_certificate_data.unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), cert.as_bytes());
}

#[tokio::test]
async fn certificate_without_key_and_key_without_certificate_are_errors() {
    let (cert, key) = pem_pair();
    let base = KubeSettings { host: Some("https://aks.example".into()), ..Default::default() };
    let no_key = KubeSettings { client_certificate: Some(cert), ..base.clone() };
    assert!(matches!(no_key.resolve().await, Err(SettingsError::MissingClientKey)));
    let no_cert = KubeSettings { client_key: Some(key), ..base };
    assert!(matches!(no_cert.resolve().await, Err(SettingsError::MissingClientCertificate)));
}

#[tokio::test]
async fn bad_pem_is_an_error_naming_the_attribute() {
    let (cert, _) = pem_pair();
    let bad_ca = KubeSettings { cluster_ca_certificate: Some("not a certificate".into()), ..host_token() };
    let e = bad_ca.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::InvalidPem { field: "cluster_ca_certificate", .. }), "{e}");
    let bad_key = KubeSettings {
        host: Some("https://aks.example".into()),
        client_certificate: Some(cert.clone()),
        client_key: Some(cert),
        ..Default::default()
    };
    let e = bad_key.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::InvalidPem { field: "client_key", .. }), "{e}");
}

fn kubelogin() -> ExecSettings {
    ExecSettings {
        api_version: "client.authentication.k8s.io/v1beta1".into(),
        command: "kubelogin".into(),
        args: vec!["get-token".into(), "--login".into(), "azurecli".into()],
        env: BTreeMap::from([("AAD_LOGIN_METHOD".to_string(), "azurecli".to_string())]),
    }
}

#[tokio::test]
async fn exec_credentials() {
    let s = KubeSettings { host: Some("https://aks.example".into()), exec: Some(kubelogin()), ..Default::default() };
    let r = s.resolve().await.unwrap();
    assert_eq!(r.source.to_string(), "kubernetes.exec kubelogin");
    let exec = r.config.auth_info.exec.unwrap();
    assert_eq!(exec.command.as_deref(), Some("kubelogin"));
    assert_eq!(exec.args.unwrap(), ["get-token", "--login", "azurecli"]);
    let env = exec.env.unwrap();
    assert_eq!(env[0]["name"], "AAD_LOGIN_METHOD");
    assert_eq!(env[0]["value"], "azurecli");
    assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
}

#[tokio::test]
async fn inconsistent_blocks_are_errors() {
    let both = KubeSettings { exec: Some(kubelogin()), ..host_token() };
    assert!(matches!(both.resolve().await, Err(SettingsError::ConflictingCredentials)));
    let empty_cmd = KubeSettings {
        host: Some("https://aks.example".into()),
        exec: Some(ExecSettings { command: " ".into(), ..kubelogin() }),
        ..Default::default()
    };
    assert!(matches!(empty_cmd.resolve().await, Err(SettingsError::EmptyExecField { field: "command" })));
    let context_only = KubeSettings { config_context: Some("dev".into()), ..host_token() };
    assert!(matches!(context_only.resolve().await, Err(SettingsError::ContextWithoutPath)));
}

#[tokio::test]
async fn missing_host_credentials_or_bad_host_are_errors() {
    assert!(matches!(KubeSettings::default().resolve().await, Err(SettingsError::NotConfigured)));
    let blank = KubeSettings { host: Some("  ".into()), token: Some("".into()), ..Default::default() };
    assert!(matches!(blank.resolve().await, Err(SettingsError::NotConfigured)));
    let host_only = KubeSettings { host: Some("https://aks.example".into()), ..Default::default() };
    let e = host_only.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::NoCredentials { .. }) && e.to_string().contains("https://aks.example"), "{e}");
    for bad in ["ftp://aks.example", "https://", "https://aks example"] {
        let s = KubeSettings { host: Some(bad.into()), ..host_token() };
        assert!(matches!(s.resolve().await, Err(SettingsError::InvalidHost { .. })), "{bad}");
    }
}

#[tokio::test]
async fn kubeconfig_current_context() {
    let (_dir, path) = kubeconfig_file(KUBECONFIG);
    let r = KubeSettings { config_path: Some(path.clone()), ..Default::default() }.resolve().await.unwrap();
    assert_eq!(r.host(), "https://dev.example:443/");
    assert_eq!(r.config.default_namespace, "apps");
    assert_eq!(r.source.to_string(), format!("kubeconfig {path} context dev (token)"));
}

#[tokio::test]
async fn kubeconfig_named_context_with_exec_is_never_interactive() {
    let (_dir, path) = kubeconfig_file(KUBECONFIG);
    let s = KubeSettings { config_path: Some(path.clone()), config_context: Some("prod".into()), ..Default::default() };
    let r = s.resolve().await.unwrap();
    assert_eq!(r.host(), "https://prod.example:443/");
    assert_eq!(r.source.to_string(), format!("kubeconfig {path} context prod (exec kubelogin)"));
    assert_eq!(r.config.auth_info.exec.unwrap().interactive_mode, Some(ExecInteractiveMode::Never));
}

#[tokio::test]
async fn block_attributes_override_the_kubeconfig() {
    let (_dir, path) = kubeconfig_file(KUBECONFIG);
    let s = KubeSettings {
        config_path: Some(path.clone()),
        config_context: Some("prod".into()),
        host: Some("https://override.example".into()),
        token: Some("from-block".into()),
        ..Default::default()
    };
    let r = s.resolve().await.unwrap();
    assert_eq!(r.host(), "https://override.example/");
    // The file's exec plugin is gone: the block's token replaced the user's credentials.
    assert!(r.config.auth_info.exec.is_none());
    assert_eq!(r.source.to_string(), format!("kubeconfig {path} context prod with kubernetes.token"));
}

#[tokio::test]
async fn unknown_context_lists_the_known_ones() {
    let (_dir, path) = kubeconfig_file(KUBECONFIG);
    let s = KubeSettings { config_path: Some(path), config_context: Some("staging".into()), ..Default::default() };
    let e = s.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::UnknownContext { .. }), "{e}");
    assert!(e.to_string().contains("\"staging\"") && e.to_string().contains("dev, prod"), "{e}");
}

#[tokio::test]
async fn unreadable_or_invalid_kubeconfig_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").display().to_string();
    let e = KubeSettings { config_path: Some(missing.clone()), ..Default::default() }.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::UnreadableKubeconfig { .. }) && e.to_string().contains(&missing), "{e}");
    let (_d, garbage) = kubeconfig_file("clusters: [unterminated");
    let e = KubeSettings { config_path: Some(garbage), ..Default::default() }.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::InvalidKubeconfig { .. }), "{e}");
    let (_d, no_current) = kubeconfig_file(&KUBECONFIG.replace("current-context: dev\n", ""));
    let e = KubeSettings { config_path: Some(no_current), ..Default::default() }.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::NoContext { .. }), "{e}");
    let (_d, dangling) = kubeconfig_file(&KUBECONFIG.replace("{cluster: dev,", "{cluster: gone,"));
    let e = KubeSettings { config_path: Some(dangling), ..Default::default() }.resolve().await.unwrap_err();
    assert!(matches!(e, SettingsError::UnusableContext { .. }), "{e}");
}

/// The shape ARM's listClusterUserCredential returns (and the emulator serves).
fn arm_kubeconfig(ca_pem: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://aks-spoke.hcp.example:443\n  name: aks-spoke\ncontexts:\n- context:\n    cluster: aks-spoke\n    user: clusterUser_rg_aks-spoke\n  name: aks-spoke\ncurrent-context: aks-spoke\npreferences: {{}}\nusers:\n- name: clusterUser_rg_aks-spoke\n  user:\n    token: secret\n"
    )
}

#[tokio::test]
async fn arm_kubeconfig_yaml() {
    let (ca, _) = pem_pair();
    let r = from_kubeconfig_yaml(arm_kubeconfig(&ca).as_bytes(), None).await.unwrap();
    assert_eq!(r.host(), "https://aks-spoke.hcp.example:443/");
    assert_eq!(r.config.root_cert.as_ref().map(Vec::len), Some(1));
    assert_eq!(r.source.to_string(), "ARM listClusterUserCredential kubeconfig context aks-spoke (token)");
    let e = from_kubeconfig_yaml(arm_kubeconfig(&ca).as_bytes(), Some("other")).await.unwrap_err();
    assert!(matches!(e, SettingsError::UnknownContext { .. }), "{e}");
    let e = from_kubeconfig_yaml(&[0xff, 0xfe, 0x00], None).await.unwrap_err();
    assert!(matches!(e, SettingsError::InvalidKubeconfig { .. }), "{e}");
}

#[test]
fn credential_results_are_decoded() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let body = serde_json::json!({"kubeconfigs": [
        {"name": "clusterUser", "value": b64("first")},
        {"name": "other", "value": b64("second")}
    ]});
    assert_eq!(kubeconfig_from_credential_results(&body, None).unwrap(), b"first");
    assert_eq!(kubeconfig_from_credential_results(&body, Some("other")).unwrap(), b"second");
    assert!(kubeconfig_from_credential_results(&body, Some("missing")).is_err());
    assert!(kubeconfig_from_credential_results(&serde_json::json!({}), None).is_err());
    let bad = serde_json::json!({"kubeconfigs": [{"name": "x", "value": "%%%"}]});
    assert!(kubeconfig_from_credential_results(&bad, None).is_err());
}

#[test]
fn debug_output_hides_secrets() {
    let (cert, key) = pem_pair();
    let s = KubeSettings { client_certificate: Some(cert), client_key: Some(key.clone()), ..host_token() };
    let text = format!("{s:?}");
    assert!(!text.contains("t0k3n") && !text.contains(&key), "{text}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_kubeconfig_text(text in "\\PC{0,200}", context in proptest::option::of("[a-z]{0,4}")) {
            let _ = block_on(from_kubeconfig_yaml(text.as_bytes(), context.as_deref()));
        }

        #[test]
        fn arbitrary_kubeconfig_like_yaml(server in "\\PC{0,30}", ca in "\\PC{0,30}", token in "\\PC{0,10}") {
            let yaml = format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: {server:?}\n    certificate-authority-data: {ca:?}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{token: {token:?}}}\n"
            );
            let _ = block_on(from_kubeconfig_yaml(yaml.as_bytes(), None));
        }

        #[test]
        fn arbitrary_block_values(host in "\\PC{0,40}", pem in "\\PC{0,60}", token in proptest::option::of("\\PC{0,8}")) {
            let s = KubeSettings {
                host: Some(host),
                token,
                cluster_ca_certificate: Some(pem.clone()),
                client_certificate: Some(pem.clone()),
                client_key: Some(pem),
                ..Default::default()
            };
            let _ = block_on(s.resolve());
        }
    }
}
