//! The authentication arguments pipelines set through azurerm's variables: federated tokens
//! from GitHub Actions, Azure DevOps, a file or the AKS workload identity webhook, and client
//! certificates. Names, fallbacks and precedence follow azurerm.

use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Type, Value};
use crate::settings::{AuthMethod, Settings, Sourced};

pub const REQUEST_URL_VARS: [&str; 3] =
    ["ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL", "SYSTEM_OIDCREQUESTURI"];
pub const REQUEST_TOKEN_VARS: [&str; 3] =
    ["ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SYSTEM_ACCESSTOKEN"];
pub const SERVICE_CONNECTION_VARS: [&str; 2] =
    ["ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID"];

/// The block with the pipeline authentication arguments added.
pub fn attributes(block: Block) -> Block {
    let s = |name: &str, d: &str| Attribute::optional(name, Type::String, d);
    block
        .attribute(s(
            "oidc_request_url",
            "URL to request a federated token from (GitHub Actions, Azure DevOps), with use_oidc. Env: `ARM_OIDC_REQUEST_URL`, `ACTIONS_ID_TOKEN_REQUEST_URL`, `SYSTEM_OIDCREQUESTURI`.",
        ))
        .attribute(
            s(
                "oidc_request_token",
                "Bearer token for oidc_request_url. Env: `ARM_OIDC_REQUEST_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `SYSTEM_ACCESSTOKEN`.",
            )
            .sensitive(),
        )
        .attribute(s("oidc_token", "A federated (OIDC) token, with use_oidc. Env: `ARM_OIDC_TOKEN`.").sensitive())
        .attribute(s(
            "ado_pipeline_service_connection_id",
            "Azure DevOps service connection whose federated token to request, with use_oidc. Env: `ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID`, `ARM_OIDC_AZURE_SERVICE_CONNECTION_ID`.",
        ))
        .attribute(Attribute::optional(
            "use_aks_workload_identity",
            Type::Bool,
            "Authenticate with the token file, client and tenant the AKS workload identity webhook injects (`AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`). Env: `ARM_USE_AKS_WORKLOAD_IDENTITY`.",
        ))
        .attribute(s(
            "client_certificate_path",
            "Path to a PKCS#12 (PFX) certificate of the service principal. Env: `ARM_CLIENT_CERTIFICATE_PATH`.",
        ))
        .attribute(
            s("client_certificate", "Base64 of a PKCS#12 (PFX) certificate of the service principal. Env: `ARM_CLIENT_CERTIFICATE`.")
                .sensitive(),
        )
        .attribute(
            s("client_certificate_password", "Password of the PKCS#12 certificate. Env: `ARM_CLIENT_CERTIFICATE_PASSWORD`.")
                .sensitive(),
        )
}

/// The configured value, else the first of `vars` that is set; empty strings count as unset.
fn sourced(config: &Value, attr: &str, vars: &[&str], env: &dyn Fn(&str) -> Option<String>) -> Option<Sourced> {
    if let Some(v) = config.attr(attr).as_str().filter(|v| !v.is_empty()) {
        return Some(Sourced { value: v.to_string(), from: attr.to_string() });
    }
    vars.iter().find_map(|var| env(var).filter(|v| !v.is_empty()).map(|value| Sourced { value, from: var.to_string() }))
}

/// Fill in the pipeline arguments from the configuration and environment (nothing checked).
pub fn fill(config: &Value, env: &dyn Fn(&str) -> Option<String>, s: &mut Settings) {
    let one = |attr: &str, var: &str| sourced(config, attr, &[var], env).map(|v| v.value);
    s.oidc_token = one("oidc_token", "ARM_OIDC_TOKEN");
    s.oidc_request_url = sourced(config, "oidc_request_url", &REQUEST_URL_VARS, env);
    s.oidc_request_token = sourced(config, "oidc_request_token", &REQUEST_TOKEN_VARS, env);
    s.ado_service_connection_id = sourced(config, "ado_pipeline_service_connection_id", &SERVICE_CONNECTION_VARS, env);
    s.use_aks_workload_identity =
        super::flag_or_env(config.attr("use_aks_workload_identity"), "ARM_USE_AKS_WORKLOAD_IDENTITY", env);
    s.client_certificate_path = one("client_certificate_path", "ARM_CLIENT_CERTIFICATE_PATH");
    s.client_certificate = one("client_certificate", "ARM_CLIENT_CERTIFICATE");
    s.client_certificate_password = one("client_certificate_password", "ARM_CLIENT_CERTIFICATE_PASSWORD");
    if s.use_aks_workload_identity {
        // The webhook's variables fill what is not set; a mismatch is reported by `check`.
        s.aks_token_file = env("AZURE_FEDERATED_TOKEN_FILE").filter(|v| !v.is_empty());
        if s.client_id.is_none() {
            s.client_id = env("AZURE_CLIENT_ID").filter(|v| !v.is_empty());
        }
        if s.tenant_id.is_none() {
            s.tenant_id = env("AZURE_TENANT_ID").filter(|v| !v.is_empty());
        }
    }
}

/// What each selected method needs, once the configuration and environment are combined.
pub fn check(config: &Value, env: &dyn Fn(&str) -> Option<String>, s: &Settings, d: &mut Diagnostics) {
    if s.client_certificate_path.is_some() && s.client_certificate.is_some() {
        d.error(
            "Two client certificates",
            "client_certificate_path/ARM_CLIENT_CERTIFICATE_PATH and client_certificate/ARM_CLIENT_CERTIFICATE are both set; set one.",
        );
    }
    if s.oidc_token.is_some() && s.oidc_token_file_path.is_some() {
        d.error(
            "Two OIDC tokens",
            "oidc_token/ARM_OIDC_TOKEN and oidc_token_file_path/ARM_OIDC_TOKEN_FILE_PATH are both set; set one.",
        );
    }
    let methods = s.auth_methods();
    if methods.contains(&AuthMethod::ClientCertificate) && (s.client_id.is_none() || s.tenant_id.is_none()) {
        d.error(
            "A client certificate needs client_id and tenant_id",
            "Set client_id and tenant_id (or ARM_CLIENT_ID and ARM_TENANT_ID) of the service principal the certificate belongs to.",
        );
    }
    let missing = |what: &str, vars: &[&str]| format!("{what} ({}) is not set.", vars.join(", "));
    for (method, name) in [
        (AuthMethod::GitHubOidc, "GitHub Actions OIDC"),
        (AuthMethod::AzureDevOpsOidc, "Azure DevOps workload identity federation"),
    ] {
        if !methods.contains(&method) {
            continue;
        }
        match &s.oidc_request_url {
            None => d.error(format!("{name} needs a request URL"), missing("oidc_request_url", &REQUEST_URL_VARS)),
            Some(url) => {
                if let Err(e) = super::check_endpoint(&url.value) {
                    d.error(format!("Insecure or invalid {}", url.from), e);
                }
            }
        }
        if s.oidc_request_token.is_none() {
            d.error(format!("{name} needs a request token"), missing("oidc_request_token", &REQUEST_TOKEN_VARS));
        }
    }
    if s.use_aks_workload_identity {
        check_aks(config, env, s, d);
    }
}

/// The webhook's variables agree with what is configured (as azurerm requires).
fn check_aks(config: &Value, env: &dyn Fn(&str) -> Option<String>, s: &Settings, d: &mut Diagnostics) {
    let at = AttributePath::attr("use_aks_workload_identity");
    if s.aks_token_file.is_none() {
        d.error_at(
            at.clone(),
            "AKS workload identity needs AZURE_FEDERATED_TOKEN_FILE",
            "use_aks_workload_identity reads the token file the workload identity webhook injects as AZURE_FEDERATED_TOKEN_FILE, which is not set: is the pod's service account labelled azure.workload.identity/use=true?",
        );
    }
    for (attr, fallback, var, value) in [
        ("client_id", "ARM_CLIENT_ID", "AZURE_CLIENT_ID", &s.client_id),
        ("tenant_id", "ARM_TENANT_ID", "AZURE_TENANT_ID", &s.tenant_id),
    ] {
        let injected = env(var).filter(|v| !v.is_empty());
        let configured =
            config.attr(attr).as_str().map(str::to_string).or_else(|| env(fallback)).filter(|v| !v.is_empty());
        match (configured, injected) {
            (Some(c), Some(i)) if !c.eq_ignore_ascii_case(&i) => d.error_at(
                at.clone(),
                format!("AKS workload identity: {attr} does not match {var}"),
                format!("With use_aks_workload_identity/ARM_USE_AKS_WORKLOAD_IDENTITY, {attr}/{fallback} is {c:?} but the workload identity webhook set {var}={i:?}; remove one or make them match."),
            ),
            _ if value.is_none() => d.error_at(
                at.clone(),
                format!("AKS workload identity needs {var}"),
                format!("Neither {attr}/{fallback} nor {var} is set."),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{resolve, schema};
    use crate::framework::{codec, Value};
    use crate::settings::AuthMethod;

    const G: &str = "00000000-0000-0000-0000-000000000001";
    const H: &str = "00000000-0000-0000-0000-000000000002";

    fn empty() -> Value {
        codec::from_json(b"{}", &schema().block.value_type()).unwrap()
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn github_variables_in_azurerm_order() {
        let env = env_of(&[
            ("ARM_USE_OIDC", "true"),
            ("ARM_TENANT_ID", G),
            ("ARM_CLIENT_ID", G),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.example/idtoken"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t1"),
            ("SYSTEM_ACCESSTOKEN", "t2"),
            ("ARM_OIDC_REQUEST_TOKEN", "t0"),
        ]);
        let s = resolve(&empty(), &env).unwrap();
        assert_eq!(s.auth_methods(), [AuthMethod::GitHubOidc]);
        let token = s.oidc_request_token.clone().unwrap();
        assert_eq!((token.value.as_str(), token.from.as_str()), ("t0", "ARM_OIDC_REQUEST_TOKEN"));
        assert_eq!(s.oidc_request_url.unwrap().from, "ACTIONS_ID_TOKEN_REQUEST_URL");
        assert!(!format!("{:?}", resolve(&empty(), &env).unwrap()).contains("t0"), "no secret in Debug");
    }

    #[test]
    fn a_service_connection_means_azure_devops_and_a_token_wins_over_both() {
        let ado = env_of(&[
            ("ARM_USE_OIDC", "true"),
            ("ARM_TENANT_ID", G),
            ("ARM_CLIENT_ID", G),
            ("SYSTEM_OIDCREQUESTURI", "https://dev.azure.com/o/p/_apis/oidctoken"),
            ("SYSTEM_ACCESSTOKEN", "t"),
            ("ARM_OIDC_AZURE_SERVICE_CONNECTION_ID", H),
        ]);
        let s = resolve(&empty(), &ado).unwrap();
        assert_eq!(s.auth_methods(), [AuthMethod::AzureDevOpsOidc]);
        assert_eq!(s.ado_service_connection_id.unwrap().from, "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID");
        let mut config = empty();
        config.set_attr("oidc_token", Value::string("jwt"));
        assert_eq!(resolve(&config, &ado).unwrap().auth_methods(), [AuthMethod::Oidc]);
        // Without a request URL the method cannot work: said at once.
        let no_url = env_of(&[
            ("ARM_USE_OIDC", "true"),
            ("ARM_TENANT_ID", G),
            ("ARM_CLIENT_ID", G),
            ("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", H),
            ("SYSTEM_ACCESSTOKEN", "t"),
        ]);
        let d = resolve(&empty(), &no_url).unwrap_err();
        assert!(d.0[0].detail.contains("SYSTEM_OIDCREQUESTURI"), "{:?}", d.0);
    }

    #[test]
    fn a_certificate_wins_over_a_secret() {
        let env = env_of(&[
            ("ARM_TENANT_ID", G),
            ("ARM_CLIENT_ID", G),
            ("ARM_CLIENT_SECRET", "s"),
            ("ARM_CLIENT_CERTIFICATE_PATH", "/c.pfx"),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", "pw"),
        ]);
        let s = resolve(&empty(), &env).unwrap();
        assert_eq!(s.auth_methods(), [AuthMethod::ClientCertificate]);
        assert_eq!(s.client_certificate_password.as_deref(), Some("pw"));
    }

    #[test]
    fn aks_workload_identity_takes_the_webhook_variables_and_reports_mismatches() {
        let env = env_of(&[
            ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
            ("AZURE_CLIENT_ID", G),
            ("AZURE_TENANT_ID", H),
        ]);
        let s = resolve(&empty(), &env).unwrap();
        assert_eq!(s.auth_methods(), [AuthMethod::AksWorkloadIdentity]);
        assert_eq!((s.client_id.as_deref(), s.tenant_id.as_deref()), (Some(G), Some(H)));
        let mut config = empty();
        config.set_attr("client_id", Value::string(H));
        let d = resolve(&config, &env).unwrap_err();
        assert!(d.0[0].summary.contains("client_id does not match AZURE_CLIENT_ID"), "{:?}", d.0);
        let no_file =
            env_of(&[("ARM_USE_AKS_WORKLOAD_IDENTITY", "true"), ("AZURE_CLIENT_ID", G), ("AZURE_TENANT_ID", H)]);
        let d = resolve(&empty(), &no_file).unwrap_err();
        assert!(d.0[0].summary.contains("AZURE_FEDERATED_TOKEN_FILE"), "{:?}", d.0);
    }
}
