//! The aksid provider: its configuration and the resources, data sources and functions it
//! offers. Clients built at Configure time are shared with resources through `ProviderState`.
//!
//! Configure also probes the endpoints when the configuration departs from the defaults (a
//! `ca_certificate`, or an explicit `arm_endpoint`/`authority_host`), so that a CA that does
//! not sign an endpoint's certificate is reported on the provider block, not minutes later on
//! a resource. An endpoint that does not answer is not an error there: it may come up later.

pub mod config;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::azure::arm::ArmClient;
use crate::azure::credentials::CredentialChain;
use crate::azure::http::{self, EndpointError, Failure};
use crate::framework::{
    AttributePath, DataSource, Diagnostic, Diagnostics, Function, Provider, Resource, Schema, Value,
};
use crate::functions;
use crate::resources;

/// The provider's source address, as users write it in `required_providers`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/aksid/aksid";

pub use crate::clients::{Clients, ProviderState};

fn build_clients(settings: config::Settings) -> Result<(Clients, reqwest::Client), Diagnostics> {
    let http = http::build_client(settings.ca_certificate.as_deref()).map_err(|e| {
        let d: Diagnostics =
            Diagnostic::error("Invalid ca_certificate", e).at(AttributePath::attr("ca_certificate")).into();
        d
    })?;
    let chain = Arc::new(CredentialChain::new(&settings, http.clone()));
    let arm = ArmClient::new(http.clone(), &settings.arm_endpoint, chain, &settings.environment)
        .with_ca_certificate(settings.ca_certificate.as_deref())
        .with_pacing(
            settings.write_quota_reserve.unwrap_or(crate::azure::pacer::DEFAULT_RESERVE),
            !settings.write_pacing_off,
        );
    Ok((Clients { settings, arm, kube: Default::default(), permissions: Default::default() }, http))
}

/// How long the Configure probe waits for each endpoint.
const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// One endpoint to probe: the attributes that name it and a cheap unauthenticated URL on it
/// that answers without a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeTarget {
    origin: String,
    attributes: Vec<&'static str>,
    url: String,
}

fn same_endpoint(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// What Configure probes: nothing with the environment's defaults and no `ca_certificate`
/// (offline use stays fast); otherwise each endpoint set explicitly, or both when a
/// `ca_certificate` is set (a TLS-inspecting proxy is in front of the defaults too). Endpoints
/// on one origin (an emulator) are probed once.
fn probe_targets(s: &config::Settings) -> Vec<ProbeTarget> {
    let (arm_default, authority_default) = config::default_endpoints(&s.environment);
    let with_ca = s.ca_certificate.is_some();
    let mut targets: Vec<ProbeTarget> = Vec::new();
    for (attribute, endpoint, default, path) in [
        // 401 without a token: no redirect, no body worth reading.
        ("arm_endpoint", &s.arm_endpoint, arm_default, "subscriptions?api-version=2022-12-01"),
        ("authority_host", &s.authority_host, authority_default, "common/v2.0/.well-known/openid-configuration"),
    ] {
        if !with_ca && same_endpoint(endpoint, default) {
            continue;
        }
        let origin = http::origin_of(endpoint);
        match targets.iter_mut().find(|t| t.origin == origin) {
            Some(t) => t.attributes.push(attribute),
            None => targets.push(ProbeTarget {
                origin,
                attributes: vec![attribute],
                url: format!("{}/{path}", endpoint.trim_end_matches('/')),
            }),
        }
    }
    targets
}

/// Probe the endpoints concurrently; a TLS failure is an error on `ca_certificate` if set,
/// else on the endpoint's attribute. Anything else is left to the requests that need them.
async fn probe(client: &reqwest::Client, s: &config::Settings) -> Diagnostics {
    let targets = probe_targets(s);
    let results =
        futures_util::future::join_all(targets.iter().map(|t| client.get(&t.url).timeout(PROBE_TIMEOUT).send())).await;
    let mut d = Diagnostics::new();
    for (target, result) in targets.iter().zip(results) {
        let Err(e) = result else { continue };
        let failure = http::classify(&e);
        // Only the endpoint itself is judged, should a redirect have led elsewhere.
        let here = e.url().is_none_or(|u| http::origin_of(u.as_str()) == target.origin);
        if !matches!(failure, Failure::Tls(_)) || !here {
            tracing::debug!(endpoint = %target.origin, "Configure probe got no answer, left to the requests: {e}");
            continue;
        }
        d.push(probe_diagnostic(target, failure, s.ca_certificate.as_deref(), http::chain_text(&e)));
    }
    d
}

fn probe_diagnostic(target: &ProbeTarget, failure: Failure, ca: Option<&str>, detail: String) -> Diagnostic {
    let names = target.attributes.join(" and ");
    let first = target.attributes.first().copied();
    let mut text = EndpointError::new(&target.origin, first, failure, ca, detail).to_string();
    if let Some(first) = first.filter(|_| target.attributes.len() > 1) {
        // One origin behind both settings: say so where the error names the setting.
        text = text.replacen(&format!("({first})"), &format!("({names})"), 1);
    }
    let at = if ca.is_some() { "ca_certificate" } else { first.unwrap_or("arm_endpoint") };
    Diagnostic::error(format!("Cannot use {names}: {}", failure.describe()), text).at(AttributePath::attr(at))
}

#[derive(Default)]
pub struct AksidProvider {
    state: Arc<ProviderState>,
}

impl AksidProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Provider for AksidProvider {
    fn schema(&self) -> Schema {
        config::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        config::validate(config)
    }

    async fn configure(&self, config: &Value, _terraform_version: &str) -> Diagnostics {
        // Unknown provider configuration (e.g. from a resource not yet created) is resolved
        // when it becomes known; until then nothing that needs it can run.
        match config::resolve(config, &|k| std::env::var(k).ok()) {
            Ok(settings) => {
                tracing::debug!(settings = ?settings, "provider configured");
                match build_clients(settings) {
                    Ok((clients, client)) => {
                        let d = probe(&client, &clients.settings).await;
                        if d.has_errors() {
                            return d;
                        }
                        self.state.set(clients);
                        d
                    }
                    Err(d) => d,
                }
            }
            Err(d) => d,
        }
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        vec![Arc::new(functions::role_assignment_name::RoleAssignmentName)]
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(resources::cluster_identity_roles::ClusterIdentityRoles::new(self.state.clone())),
            Arc::new(resources::role_assignment::RoleAssignmentResource::new(self.state.clone())),
            Arc::new(resources::pod_identity::PodIdentityResource::new(self.state.clone())),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(resources::role_definition::RoleDefinitionDataSource),
            Arc::new(resources::cluster::ClusterDataSource::new(self.state.clone())),
            Arc::new(resources::access_report::AccessReportDataSource::new(self.state.clone())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::http::TlsProblem;

    fn settings(arm: &str, authority: &str, ca: Option<&str>) -> config::Settings {
        config::Settings {
            environment: "public".into(),
            arm_endpoint: arm.into(),
            authority_host: authority.into(),
            ca_certificate: ca.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_without_a_ca_are_not_probed() {
        let s = settings("https://management.azure.com/", "https://login.microsoftonline.com/", None);
        assert!(probe_targets(&s).is_empty(), "offline use with defaults must not touch the network");
        let s = config::Settings { environment: "china".into(), ..s };
        assert_eq!(probe_targets(&s).len(), 2, "public endpoints in the china cloud are explicit");
    }

    #[test]
    fn explicit_endpoints_or_a_ca_are_probed_once_per_origin() {
        let emu = settings("https://127.0.0.1:8443/", "https://127.0.0.1:8443", None);
        let t = probe_targets(&emu);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].origin, "https://127.0.0.1:8443");
        assert_eq!(t[0].attributes, vec!["arm_endpoint", "authority_host"]);
        assert_eq!(t[0].url, "https://127.0.0.1:8443/subscriptions?api-version=2022-12-01");

        let only_arm = settings("https://arm.contoso.example", "https://login.microsoftonline.com/", None);
        let t = probe_targets(&only_arm);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].attributes, vec!["arm_endpoint"]);

        let proxy = settings("https://management.azure.com/", "https://login.microsoftonline.com/", Some("/ca.pem"));
        let t = probe_targets(&proxy);
        assert_eq!(t.iter().map(|t| t.attributes[0]).collect::<Vec<_>>(), vec!["arm_endpoint", "authority_host"]);
        assert!(t[1].url.starts_with("https://login.microsoftonline.com/common/"), "{}", t[1].url);
    }

    #[test]
    fn probe_failures_point_at_ca_certificate_when_set() {
        let target = ProbeTarget {
            origin: "https://127.0.0.1:8443".into(),
            attributes: vec!["arm_endpoint", "authority_host"],
            url: "https://127.0.0.1:8443/subscriptions".into(),
        };
        let failure = Failure::Tls(TlsProblem::UnknownIssuer);
        let d = probe_diagnostic(&target, failure, Some("/tmp/other-ca.pem"), "UnknownIssuer".into());
        assert_eq!(d.attribute, Some(AttributePath::attr("ca_certificate")));
        assert!(d.summary.contains("arm_endpoint and authority_host"), "{}", d.summary);
        for want in ["https://127.0.0.1:8443 (arm_endpoint and authority_host)", "ca_certificate \"/tmp/other-ca.pem\""]
        {
            assert!(d.detail.contains(want), "{want} in {}", d.detail);
        }
        let d = probe_diagnostic(&target, failure, None, "UnknownIssuer".into());
        assert_eq!(d.attribute, Some(AttributePath::attr("arm_endpoint")));
        assert!(d.detail.contains("Trusted CAs: the system roots."), "{}", d.detail);
    }
}
