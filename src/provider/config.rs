//! The `provider "aksid"` block: its schema, static validation (which tolerates unknowns), and
//! resolution against environment variables into the settings the clients use.
//! Pure logic: the environment is passed in as a function.

use crate::framework::{Attribute, AttributePath, Block, Diagnostics, NestedBlock, Nesting, Schema, Type, Value};
pub use crate::settings::{AuthMethod, ExecSettings, KubernetesSettings, Settings};

mod auth;

pub const ENVIRONMENTS: [&str; 3] = ["public", "usgovernment", "china"];

pub fn schema() -> Schema {
    let s = |name: &str, d: &str| Attribute::optional(name, Type::String, d);
    let b = |name: &str, d: &str| Attribute::optional(name, Type::Bool, d);
    let exec = Block::new(
        "A client-go credential plugin that prints the credentials, as in a kubeconfig's `exec` \
         user: e.g. `kubelogin` for clusters with Microsoft Entra ID (AAD) authentication.",
    )
    .attribute(Attribute::required(
        "api_version",
        Type::String,
        "API version of the ExecCredential the plugin prints, e.g. `client.authentication.k8s.io/v1beta1`.",
    ))
    .attribute(Attribute::required("command", Type::String, "The plugin to run, e.g. `kubelogin`."))
    .attribute(Attribute::optional("args", Type::list(Type::String), "Arguments of the plugin."))
    .attribute(Attribute::optional("env", Type::map(Type::String), "Environment variables set for the plugin."));
    let kubernetes = Block::new(
        "How to reach the clusters' Kubernetes API (for pod identity objects). When nothing is set, a \
         resource's cluster is reached with the credentials ARM's listClusterUserCredential returns.",
    )
    .attribute(s("host", "API server URL, e.g. `https://my-aks.hcp.westeurope.azmk8s.io:443`. Env: `KUBE_HOST`."))
    .attribute(s("token", "Bearer token. Env: `KUBE_TOKEN`.").sensitive())
    .attribute(s("cluster_ca_certificate", "PEM CA bundle of the API server. Env: `KUBE_CLUSTER_CA_CERT_DATA`."))
    .attribute(s("client_certificate", "PEM client certificate (needs `client_key`). Env: `KUBE_CLIENT_CERT_DATA`."))
    .attribute(s("client_key", "PEM private key of `client_certificate`. Env: `KUBE_CLIENT_KEY_DATA`.").sensitive())
    .attribute(s("config_path", "Path to a kubeconfig file. Env: `KUBE_CONFIG_PATH`."))
    .attribute(s("config_context", "Context to use from the kubeconfig. Env: `KUBE_CTX`."))
    .block(NestedBlock::new("exec", Nesting::Single, exec));
    Schema {
        version: 0,
        block: auth::attributes(Block::new("Authenticates to Azure Resource Manager and, optionally, a cluster's Kubernetes API.")
            .attribute(s("subscription_id", "Default subscription (GUID). Env: `ARM_SUBSCRIPTION_ID`."))
            .attribute(s("tenant_id", "Entra tenant (GUID). Env: `ARM_TENANT_ID`."))
            .attribute(s("client_id", "Client (application) id of a service principal or managed identity. Env: `ARM_CLIENT_ID`."))
            .attribute(s("client_secret", "Service principal secret. Env: `ARM_CLIENT_SECRET`.").sensitive())
            .attribute(b("use_msi", "Authenticate with a managed identity. Env: `ARM_USE_MSI`."))
            .attribute(b("use_oidc", "Authenticate with a federated (OIDC) token, e.g. from a CI system. Env: `ARM_USE_OIDC`."))
            .attribute(s("oidc_token_file_path", "File holding the federated token. Env: `ARM_OIDC_TOKEN_FILE_PATH`."))
            .attribute(b("use_cli", "Authenticate as the Azure CLI's signed-in user. Env: `ARM_USE_CLI`."))
            .attribute(s("environment", "Cloud: `public` (default), `usgovernment` or `china`. Env: `ARM_ENVIRONMENT`."))
            .attribute(s("arm_endpoint", "Override of the Resource Manager endpoint (e.g. the local emulator). Env: `AKSID_ARM_ENDPOINT`."))
            .attribute(s("authority_host", "Override of the Entra authority host. Env: `AKSID_AUTHORITY_HOST`."))
            .attribute(s(
                "ca_certificate",
                "Path to a PEM file of CA certificates trusted in addition to the system roots (emulators, TLS-inspecting proxies). Env: `AKSID_CA_CERTIFICATE`.",
            ))
            .attribute(Attribute::optional(
                "write_quota_reserve",
                Type::Number,
                "Write (and delete) tokens of the subscription's ARM throttling bucket left to other tools: writes are sent at once until the bucket is down to this many, then at its refill rate (default 20; 0 to 100000). Env: `AKSID_WRITE_QUOTA_RESERVE`.",
            ))
            .attribute(b("write_pacing", "Pace writes at ARM's throttling bucket (default true); false sends them at once and retries on 429. Env: `AKSID_WRITE_PACING`.")))
            .block(NestedBlock::new("kubernetes", Nesting::Single, kubernetes)),
    }
}

/// Largest accepted `write_quota_reserve`.
pub const MAX_WRITE_QUOTA_RESERVE: u32 = 100_000;

/// A reserve as configured (a whole number in range), or why not.
fn parse_reserve(n: Option<i64>, raw: &str) -> Result<u32, String> {
    n.and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= MAX_WRITE_QUOTA_RESERVE)
        .ok_or_else(|| format!("{raw} is not a whole number from 0 to {MAX_WRITE_QUOTA_RESERVE}."))
}

pub fn default_endpoints(environment: &str) -> (&'static str, &'static str) {
    match environment {
        "usgovernment" => ("https://management.usgovcloudapi.net/", "https://login.microsoftonline.us/"),
        "china" => ("https://management.chinacloudapi.cn/", "https://login.chinacloudapi.cn/"),
        _ => ("https://management.azure.com/", "https://login.microsoftonline.com/"),
    }
}

pub use crate::domain::is_guid;

/// An endpoint must be https, except plain http to a loopback host (local emulators).
pub fn check_endpoint(raw: &str) -> Result<(), String> {
    let u = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "{raw:?} uses plain http to a host that is not loopback; tokens would cross the network unencrypted. Use https."
                ))
            }
        }
        other => Err(format!("{raw:?} has scheme {other:?}; use https")),
    }
}

/// Checks that need only the configuration (unknowns are skipped).
pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for name in ["subscription_id", "tenant_id", "client_id"] {
        if let Some(v) = config.attr(name).as_str() {
            if !is_guid(v) {
                d.error_at(
                    AttributePath::attr(name),
                    format!("Invalid {name}"),
                    format!("{v:?} is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)."),
                );
            }
        }
    }
    if let Some(env) = config.attr("environment").as_str() {
        if !ENVIRONMENTS.contains(&env) {
            d.error_at(
                AttributePath::attr("environment"),
                "Unknown Azure environment",
                format!("{env:?} is not one of: {}.", ENVIRONMENTS.join(", ")),
            );
        }
    }
    for name in ["arm_endpoint", "authority_host"] {
        if let Some(v) = config.attr(name).as_str() {
            if let Err(e) = check_endpoint(v) {
                d.error_at(AttributePath::attr(name), format!("Insecure or invalid {name}"), e);
            }
        }
    }
    // Auth methods that exclude each other. Unknowns and nulls select nothing.
    let selected: Vec<&str> = [
        (secret_or_certificate(config), secret_or_certificate(config) != "none"),
        ("use_oidc", config.attr("use_oidc").as_bool() == Some(true)),
        (
            "use_aks_workload_identity",
            config.attr("use_aks_workload_identity").as_bool() == Some(true)
                && config.attr("use_oidc").as_bool() != Some(true),
        ),
        ("use_msi", config.attr("use_msi").as_bool() == Some(true)),
        ("use_cli", config.attr("use_cli").as_bool() == Some(true)),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if selected.len() > 1 {
        d.error_at(
            AttributePath::attr(selected[1]),
            "Conflicting authentication methods",
            format!(
                "{} are set together; choose one way to authenticate ({} was set first).",
                selected.join(" and "),
                selected[0]
            ),
        );
    }
    if !config.attr("oidc_token_file_path").is_null() && config.attr("use_oidc").as_bool() == Some(false) {
        d.error_at(
            AttributePath::attr("oidc_token_file_path"),
            "oidc_token_file_path needs use_oidc",
            "A federated token file is only read with use_oidc = true.",
        );
    }
    if let Some(n) = config.attr("write_quota_reserve").as_number() {
        if let Err(e) = parse_reserve(n.as_i64(), &n.to_string()) {
            d.error_at(AttributePath::attr("write_quota_reserve"), "Invalid write_quota_reserve", e);
        }
    }
    validate_kubernetes(config.attr("kubernetes"), &mut d);
    d
}

/// Apply environment fallbacks and defaults, then re-check what the environment may have
/// introduced. Errors that come from the environment name the variable.
pub fn resolve(config: &Value, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Diagnostics> {
    let mut d = validate(config);
    let s = settings_with_fallbacks(config, env);
    if d.has_errors() {
        return Err(d);
    }
    check_environment_values(config, env, &s, &mut d);
    check_auth_requirements(&s, &mut d);
    auth::check(config, env, &s, &mut d);
    check_kubernetes_environment(config, &s.kubernetes, &mut d);
    if d.has_errors() {
        Err(d)
    } else {
        Ok(s)
    }
}

/// The configured value, else the environment variable's; empty strings count as unset.
fn text_or_env(v: &Value, var: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    v.as_str().map(str::to_string).or_else(|| var.and_then(env)).filter(|s| !s.is_empty())
}

/// The configured flag, else whether the environment variable is `true` or `1`.
fn flag_or_env(v: &Value, var: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    v.as_bool().unwrap_or_else(|| env(var).is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "true" | "1")))
}

/// Settings from the configuration, falling back to environment variables and then to the
/// endpoints of the selected cloud. Nothing is checked here.
fn settings_with_fallbacks(config: &Value, env: &dyn Fn(&str) -> Option<String>) -> Settings {
    let text = |v: &Value, var: Option<&str>| text_or_env(v, var, env);
    let flag = |v: &Value, var: &str| flag_or_env(v, var, env);
    let environment = text(config.attr("environment"), Some("ARM_ENVIRONMENT")).unwrap_or_else(|| "public".into());
    let (arm_default, authority_default) = default_endpoints(&environment);
    let mut s = Settings {
        subscription_id: text(config.attr("subscription_id"), Some("ARM_SUBSCRIPTION_ID")),
        tenant_id: text(config.attr("tenant_id"), Some("ARM_TENANT_ID")),
        client_id: text(config.attr("client_id"), Some("ARM_CLIENT_ID")),
        client_secret: text(config.attr("client_secret"), Some("ARM_CLIENT_SECRET")),
        use_msi: flag(config.attr("use_msi"), "ARM_USE_MSI"),
        use_oidc: flag(config.attr("use_oidc"), "ARM_USE_OIDC"),
        oidc_token_file_path: text(config.attr("oidc_token_file_path"), Some("ARM_OIDC_TOKEN_FILE_PATH")),
        use_cli: flag(config.attr("use_cli"), "ARM_USE_CLI"),
        arm_endpoint: text(config.attr("arm_endpoint"), Some("AKSID_ARM_ENDPOINT"))
            .unwrap_or_else(|| arm_default.into()),
        authority_host: text(config.attr("authority_host"), Some("AKSID_AUTHORITY_HOST"))
            .unwrap_or_else(|| authority_default.into()),
        ca_certificate: text(config.attr("ca_certificate"), Some("AKSID_CA_CERTIFICATE")),
        write_quota_reserve: match config.attr("write_quota_reserve").as_number() {
            Some(n) => parse_reserve(n.as_i64(), "").ok(),
            None => env("AKSID_WRITE_QUOTA_RESERVE").and_then(|v| parse_reserve(v.trim().parse().ok(), "").ok()),
        },
        write_pacing_off: !config.attr("write_pacing").as_bool().unwrap_or_else(|| {
            env("AKSID_WRITE_PACING").is_none_or(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0"))
        }),
        environment,
        kubernetes: kubernetes_with_fallbacks(config.attr("kubernetes"), env),
        ..Default::default()
    };
    auth::fill(config, env, &mut s);
    s
}

/// The configured secret or certificate argument (a certificate wins, as in azurerm), or
/// "none". Unknowns select nothing yet.
fn secret_or_certificate(config: &Value) -> &'static str {
    let set = |n: &str| !config.attr(n).is_null() && !config.attr(n).is_unknown();
    ["client_certificate_path", "client_certificate", "client_secret"].into_iter().find(|n| set(n)).unwrap_or("none")
}

fn kubernetes_with_fallbacks(k: &Value, env: &dyn Fn(&str) -> Option<String>) -> KubernetesSettings {
    let text = |v: &Value, var: Option<&str>| text_or_env(v, var, env);
    KubernetesSettings {
        host: text(k.attr("host"), Some("KUBE_HOST")),
        token: text(k.attr("token"), Some("KUBE_TOKEN")),
        cluster_ca_certificate: text(k.attr("cluster_ca_certificate"), Some("KUBE_CLUSTER_CA_CERT_DATA")),
        client_certificate: text(k.attr("client_certificate"), Some("KUBE_CLIENT_CERT_DATA")),
        client_key: text(k.attr("client_key"), Some("KUBE_CLIENT_KEY_DATA")),
        config_path: text(k.attr("config_path"), Some("KUBE_CONFIG_PATH")),
        config_context: text(k.attr("config_context"), Some("KUBE_CTX")),
        exec: exec_settings(k.attr("exec")),
    }
}

/// The `exec` block, if present. Unknown or null elements are left out.
fn exec_settings(exec: &Value) -> Option<ExecSettings> {
    if exec.is_null() || exec.is_unknown() {
        return None;
    }
    let text = |name: &str| exec.attr(name).as_str().unwrap_or_default().to_string();
    Some(ExecSettings {
        api_version: text("api_version"),
        command: text("command"),
        args: exec
            .attr("args")
            .as_elements()
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        env: exec
            .attr("env")
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default(),
    })
}

/// Checks of the `kubernetes` block that need only the configuration.
fn validate_kubernetes(k: &Value, d: &mut Diagnostics) {
    let at = |name: &str| AttributePath::attr("kubernetes").then_attr(name);
    if let Some(host) = k.attr("host").as_str() {
        if let Err(e) = check_endpoint(host) {
            d.error_at(at("host"), "Insecure or invalid kubernetes host", e);
        }
    }
    let cert = !k.attr("client_certificate").is_null();
    let key = !k.attr("client_key").is_null();
    if cert != key {
        let (have, missing) =
            if cert { ("client_certificate", "client_key") } else { ("client_key", "client_certificate") };
        d.error_at(
            at(have),
            format!("{have} needs {missing}"),
            "A client certificate and its key are only usable together.",
        );
    }
    let exec = k.attr("exec");
    if exec.is_null() {
        return;
    }
    for name in ["api_version", "command"] {
        if exec.attr(name).as_str().is_some_and(|v| v.trim().is_empty()) {
            d.error_at(
                at("exec").then_attr(name),
                format!("Empty kubernetes.exec.{name}"),
                format!("kubernetes.exec.{name} must not be empty."),
            );
        }
    }
    if !k.attr("token").is_null() {
        d.error_at(
            at("exec"),
            "Conflicting Kubernetes credentials",
            "kubernetes.token and kubernetes.exec are both set; choose one way to authenticate.",
        );
    }
}

/// The `kubernetes` checks again once environment variables are combined with the block
/// (reported by variable name when one of them is involved).
fn check_kubernetes_environment(config: &Value, s: &KubernetesSettings, d: &mut Diagnostics) {
    let k = config.attr("kubernetes");
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    if set(&s.token) && s.exec.is_some() && k.attr("token").is_null() {
        d.error_at(
            AttributePath::attr("kubernetes").then_attr("exec"),
            "Conflicting Kubernetes credentials",
            "KUBE_TOKEN is set and so is kubernetes.exec; unset one of them.",
        );
    }
    if set(&s.client_certificate) != set(&s.client_key) {
        d.error(
            "Incomplete Kubernetes client certificate",
            "kubernetes.client_certificate/KUBE_CLIENT_CERT_DATA and kubernetes.client_key/KUBE_CLIENT_KEY_DATA \
             are only usable together; set both or neither.",
        );
    }
    if set(&s.config_context) && !set(&s.config_path) {
        let source = if k.attr("config_context").is_null() { "KUBE_CTX" } else { "kubernetes.config_context" };
        d.error(
            format!("{source} needs a kubeconfig"),
            format!(
                "{source} names a context of a kubeconfig file: set kubernetes.config_path or KUBE_CONFIG_PATH too."
            ),
        );
    }
    if let Some(host) = s.host.as_deref().filter(|_| k.attr("host").is_null()) {
        if let Err(e) = check_endpoint(host) {
            d.error("Insecure or invalid KUBE_HOST", e);
        }
    }
}

/// The checks `validate` made on the configuration, again for values that came from the
/// environment (reported by variable name, since there is no attribute to point at).
fn check_environment_values(config: &Value, env: &dyn Fn(&str) -> Option<String>, s: &Settings, d: &mut Diagnostics) {
    let from_env = |attr: &str, var: &str| -> bool { config.attr(attr).is_null() && env(var).is_some() };
    for (attr, var, value) in [
        ("subscription_id", "ARM_SUBSCRIPTION_ID", &s.subscription_id),
        ("tenant_id", "ARM_TENANT_ID", &s.tenant_id),
        ("client_id", "ARM_CLIENT_ID", &s.client_id),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !is_guid(v) && from_env(attr, var)) {
            d.error(format!("Invalid {var}"), format!("{var}={v:?} is not a GUID."));
        }
    }
    if !ENVIRONMENTS.contains(&s.environment.as_str()) {
        d.error("Invalid ARM_ENVIRONMENT", format!("{:?} is not one of: {}.", s.environment, ENVIRONMENTS.join(", ")));
    }
    for (var, value) in [("AKSID_ARM_ENDPOINT", &s.arm_endpoint), ("AKSID_AUTHORITY_HOST", &s.authority_host)] {
        if let Err(e) = check_endpoint(value) {
            d.error(format!("Insecure or invalid {var}"), e);
        }
    }
    if let Some(v) = env("AKSID_WRITE_QUOTA_RESERVE").filter(|_| config.attr("write_quota_reserve").is_null()) {
        if let Err(e) = parse_reserve(v.trim().parse().ok(), &format!("AKSID_WRITE_QUOTA_RESERVE={v:?}")) {
            d.error("Invalid AKSID_WRITE_QUOTA_RESERVE", e);
        }
    }
}

/// Exactly one authentication method, with the identifiers it needs, once the configuration
/// and the environment are combined.
fn check_auth_requirements(s: &Settings, d: &mut Diagnostics) {
    let methods = s.auth_methods();
    if methods.len() > 1 {
        d.error(
            "Conflicting authentication methods",
            format!("The configuration and ARM_* environment variables together select {:?}; choose one.", methods),
        );
    }
    if s.use_oidc && (s.client_id.is_none() || s.tenant_id.is_none()) {
        d.error_at(
            AttributePath::attr("use_oidc"),
            "OIDC authentication needs client_id and tenant_id",
            "Set client_id and tenant_id (or ARM_CLIENT_ID and ARM_TENANT_ID) to the identity the federated token is for.",
        );
    }
    if methods == [AuthMethod::ClientSecret] && (s.client_id.is_none() || s.tenant_id.is_none()) {
        d.error_at(
            AttributePath::attr("client_secret"),
            "A client secret needs client_id and tenant_id",
            "Set client_id and tenant_id (or ARM_CLIENT_ID and ARM_TENANT_ID) of the service principal.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{codec, Number};

    const G: &str = "00000000-0000-0000-0000-000000000001";

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = codec::from_json(b"{}", &schema().block.value_type()).unwrap();
        for (k, val) in pairs {
            v.set_attr(k, val.clone());
        }
        v
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn malformed_guid_points_at_attribute() {
        let d = validate(&config(&[("tenant_id", Value::string("not-a-guid"))]));
        assert!(d.has_errors());
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("tenant_id")));
    }

    #[test]
    fn conflicting_auth_is_an_error_on_the_second_method() {
        let d = validate(&config(&[("use_msi", Value::Bool(true)), ("use_cli", Value::Bool(true))]));
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("use_cli")));
        assert!(d.0[0].summary.contains("Conflicting"));
        // unknowns select nothing yet
        assert!(!validate(&config(&[("use_msi", Value::Bool(true)), ("use_cli", Value::Unknown)])).has_errors());
    }

    #[test]
    fn write_quota_reserve_and_pacing() {
        let s = resolve(&config(&[("use_cli", Value::Bool(true))]), &no_env).unwrap();
        assert_eq!((s.write_quota_reserve, s.write_pacing_off), (None, false), "defaults: pacing on");
        let env = |k: &str| match k {
            "AKSID_WRITE_QUOTA_RESERVE" => Some("5".to_string()),
            "AKSID_WRITE_PACING" => Some("false".to_string()),
            _ => None,
        };
        let s = resolve(&config(&[("use_cli", Value::Bool(true))]), &env).unwrap();
        assert_eq!((s.write_quota_reserve, s.write_pacing_off), (Some(5), true));
        let set = config(&[
            ("use_cli", Value::Bool(true)),
            ("write_quota_reserve", Value::Number(Number::Int(0))),
            ("write_pacing", Value::Bool(true)),
        ]);
        let s = resolve(&set, &env).unwrap();
        assert_eq!((s.write_quota_reserve, s.write_pacing_off), (Some(0), false), "the block wins");
        for bad in [Number::Int(-1), Number::Float(1.5), Number::Int(100_001)] {
            let d = validate(&config(&[("write_quota_reserve", Value::Number(bad))]));
            assert_eq!(d.0[0].attribute, Some(AttributePath::attr("write_quota_reserve")), "{d:?}");
        }
        let bad_env = |k: &str| (k == "AKSID_WRITE_QUOTA_RESERVE").then(|| "lots".to_string());
        let d = resolve(&config(&[("use_cli", Value::Bool(true))]), &bad_env).unwrap_err();
        assert!(d.0[0].summary.contains("AKSID_WRITE_QUOTA_RESERVE"), "{d:?}");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_endpoint("http://127.0.0.1:8443/").is_ok());
        assert!(check_endpoint("http://localhost:1/").is_ok());
        assert!(check_endpoint("http://[::1]:1/").is_ok());
        assert!(check_endpoint("https://management.azure.com/").is_ok());
        assert!(check_endpoint("http://10.0.0.5/").unwrap_err().contains("not loopback"));
        assert!(check_endpoint("http://management.azure.com/").is_err());
        let d = validate(&config(&[("arm_endpoint", Value::string("http://arm.example.com/"))]));
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("arm_endpoint")));
    }

    #[test]
    fn environment_fallbacks_and_defaults() {
        let env = |k: &str| match k {
            "ARM_TENANT_ID" | "ARM_CLIENT_ID" => Some(G.to_string()),
            "ARM_CLIENT_SECRET" => Some("s3cret".to_string()),
            "ARM_ENVIRONMENT" => Some("china".to_string()),
            _ => None,
        };
        let s = resolve(&config(&[]), &env).unwrap();
        assert_eq!(s.auth_methods(), vec![AuthMethod::ClientSecret]);
        assert_eq!(s.arm_endpoint, "https://management.chinacloudapi.cn/");
        assert!(!format!("{s:?}").contains("s3cret"), "secrets never reach Debug output");
        // config wins over the environment
        let s = resolve(&config(&[("environment", Value::string("public"))]), &env).unwrap();
        assert_eq!(s.authority_host, "https://login.microsoftonline.com/");
    }

    #[test]
    fn environment_conflicts_are_reported() {
        let env = |k: &str| (k == "ARM_USE_MSI").then(|| "true".to_string());
        let d = resolve(&config(&[("use_cli", Value::Bool(true))]), &env).unwrap_err();
        assert!(d.0[0].summary.contains("Conflicting"));
        let d = resolve(&config(&[("use_oidc", Value::Bool(true))]), &no_env).unwrap_err();
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("use_oidc")));
    }

    #[test]
    fn kubernetes_client_cert_needs_key() {
        let k = Value::object([("client_certificate", Value::string("PEM"))]);
        let d = validate(&config(&[("kubernetes", k)]));
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("kubernetes").then_attr("client_certificate")));
    }

    fn kubelogin() -> Value {
        Value::object([
            ("api_version", Value::string("client.authentication.k8s.io/v1beta1")),
            ("command", Value::string("kubelogin")),
            ("args", Value::list_of_strings(["get-token", "--login", "azurecli"])),
            ("env", Value::Map([("AAD_LOGIN_METHOD".to_string(), Value::string("azurecli"))].into())),
        ])
    }

    #[test]
    fn kubernetes_exec_block_is_in_the_schema() {
        let k = &schema().block.blocks[0];
        let exec = k.block.blocks.iter().find(|b| b.type_name == "exec").expect("exec block");
        let attr = |n: &str| exec.block.attribute_named(n).unwrap();
        assert!(attr("api_version").required && attr("command").required);
        assert_eq!(attr("args").ty, Type::list(Type::String));
        assert_eq!(attr("env").ty, Type::map(Type::String));
    }

    #[test]
    fn kubernetes_exec_block_is_resolved() {
        let k = Value::object([("host", Value::string("https://aks.example:443")), ("exec", kubelogin())]);
        let s = resolve(&config(&[("kubernetes", k)]), &no_env).unwrap();
        let exec = s.kubernetes.exec.clone().expect("exec");
        assert_eq!(exec.command, "kubelogin");
        assert_eq!(exec.api_version, "client.authentication.k8s.io/v1beta1");
        assert_eq!(exec.args, ["get-token", "--login", "azurecli"]);
        assert_eq!(exec.env["AAD_LOGIN_METHOD"], "azurecli");
        assert!(s.kubernetes.is_set());
        assert!(!resolve(&config(&[]), &no_env).unwrap().kubernetes.is_set());
    }

    #[test]
    fn empty_exec_fields_are_errors_on_their_path() {
        for field in ["command", "api_version"] {
            let mut exec = kubelogin();
            exec.set_attr(field, Value::string(" "));
            let d = validate(&config(&[("kubernetes", Value::object([("exec", exec)]))]));
            assert_eq!(d.0.len(), 1, "{:?}", d.0);
            let want = AttributePath::attr("kubernetes").then_attr("exec").then_attr(field);
            assert_eq!(d.0[0].attribute, Some(want));
        }
        // Unknown until apply: nothing to judge yet.
        let mut exec = kubelogin();
        exec.set_attr("command", Value::Unknown);
        assert!(!validate(&config(&[("kubernetes", Value::object([("exec", exec)]))])).has_errors());
    }

    #[test]
    fn token_and_exec_conflict_from_config_or_environment() {
        let k = Value::object([("token", Value::string("t")), ("exec", kubelogin())]);
        let d = validate(&config(&[("kubernetes", k)]));
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("kubernetes").then_attr("exec")));
        let env = |k: &str| (k == "KUBE_TOKEN").then(|| "t".to_string());
        let d = resolve(&config(&[("kubernetes", Value::object([("exec", kubelogin())]))]), &env).unwrap_err();
        assert!(d.0[0].detail.contains("KUBE_TOKEN"), "{:?}", d.0);
    }

    #[test]
    fn kubernetes_environment_fallbacks() {
        let env = |k: &str| {
            let v = match k {
                "KUBE_HOST" => "https://aks.example:443",
                "KUBE_TOKEN" => "tok",
                "KUBE_CLUSTER_CA_CERT_DATA" => "CA",
                "KUBE_CLIENT_CERT_DATA" => "CERT",
                "KUBE_CLIENT_KEY_DATA" => "KEY",
                "KUBE_CONFIG_PATH" => "/kubeconfig",
                "KUBE_CTX" => "dev",
                _ => return None,
            };
            Some(v.to_string())
        };
        let k = resolve(&config(&[]), &env).unwrap().kubernetes;
        assert_eq!(
            [
                k.host,
                k.token,
                k.cluster_ca_certificate,
                k.client_certificate,
                k.client_key,
                k.config_path,
                k.config_context
            ],
            ["https://aks.example:443", "tok", "CA", "CERT", "KEY", "/kubeconfig", "dev"].map(|v| Some(v.to_string()))
        );
        // The block wins over the environment.
        let block = Value::object([("config_context", Value::string("prod"))]);
        let k = resolve(&config(&[("kubernetes", block)]), &env).unwrap().kubernetes;
        assert_eq!(k.config_context.as_deref(), Some("prod"));
    }

    #[test]
    fn kubernetes_context_without_kubeconfig_and_bad_env_host_are_errors() {
        let env = |k: &str| (k == "KUBE_CTX").then(|| "dev".to_string());
        let d = resolve(&config(&[]), &env).unwrap_err();
        assert!(d.0[0].summary.contains("KUBE_CTX"), "{:?}", d.0);
        let env = |k: &str| (k == "KUBE_HOST").then(|| "http://10.0.0.1".to_string());
        let d = resolve(&config(&[]), &env).unwrap_err();
        assert!(d.0[0].summary.contains("KUBE_HOST"), "{:?}", d.0);
    }
}
