//! Client-credential and client-assertion checks of the token endpoint, against the
//! store fixture of the store's unit tests.

use serde_json::{json, Map, Value};
use time::Duration;

use super::{check_client_credentials, ASSERTION_TYPE};
use crate::store::tests::{fic, store, t0, uami, ADMIN, TENANT};
use crate::store::Store;

fn form(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

fn base(client: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client.into()),
        ("scope", "https://management.azure.com/.default".into()),
    ]
}

fn check(s: &Store, tenant: &str, extra: &[(&str, &str)], client: &str) -> Result<String, crate::errors::AadError> {
    let mut pairs: Vec<(&str, String)> = base(client);
    for (k, v) in extra {
        pairs.retain(|(kk, _)| kk != k);
        pairs.push((k, v.to_string()));
    }
    let f: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check_client_credentials(s, tenant, &form(&f), t0() + Duration::seconds(1))
        .map(|(p, aud, _)| format!("{}|{aud}", p.object_id))
}

fn assertion(iss: &str, sub: &str, aud: &str, exp: i64) -> String {
    let h = crate::util::b64url(br#"{"alg":"RS256"}"#);
    let p = crate::util::b64url(json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp}).to_string().as_bytes());
    format!("{h}.{p}.sig")
}

const ADMIN_APP: &str = "60000000-0000-0000-0000-000000000001";

#[test]
fn secrets() {
    let s = store();
    assert_eq!(
        check(&s, TENANT, &[("client_secret", "s3cret")], ADMIN_APP).unwrap(),
        format!("{ADMIN}|https://management.azure.com")
    );
    let e = check(&s, TENANT, &[("client_secret", "wrong")], ADMIN_APP).unwrap_err();
    assert_eq!((e.status, e.error.as_str(), e.aadsts), (401, "invalid_client", 7000215));
    let e = check(&s, TENANT, &[("client_secret", "s3cret")], "99999999-9999-9999-9999-999999999999").unwrap_err();
    assert_eq!((e.status, e.error.as_str(), e.aadsts), (400, "unauthorized_client", 700016));
    let e = check(&s, "nope", &[("client_secret", "s3cret")], ADMIN_APP).unwrap_err();
    assert_eq!((e.status, e.error.as_str(), e.aadsts), (400, "invalid_request", 90002));
    let e = check(
        &s,
        TENANT,
        &[("client_secret", "s3cret"), ("scope", "https://management.azure.com/user_impersonation")],
        ADMIN_APP,
    )
    .unwrap_err();
    assert_eq!((e.error.as_str(), e.aadsts), ("invalid_scope", 1002012));
    let e = check(&s, TENANT, &[], ADMIN_APP).unwrap_err();
    assert_eq!(e.aadsts, 7000218);
    // Not replicated yet: unknown to AAD.
    let e = check(&s, TENANT, &[("client_secret", "x")], "60000000-0000-0000-0000-000000000007").unwrap_err();
    assert_eq!(e.aadsts, 700016);
    let ok = check(
        &s,
        TENANT,
        &[("client_secret", "s3cret"), ("scope", "https://management.core.windows.net//.default")],
        ADMIN_APP,
    )
    .unwrap();
    assert!(ok.ends_with("|https://management.core.windows.net/"));
}

#[test]
fn assertions() {
    let mut s = store();
    let future = t0().unix_timestamp() + 600;
    let uami_client = s.state.identities[0].client_id.clone();
    let good =
        assertion("https://issuer.example/", "system:serviceaccount:ns:sa", "api://AzureADTokenExchange", future);
    let with =
        |a: &str| vec![("client_assertion", a.to_string()), ("client_assertion_type", ASSERTION_TYPE.to_string())];
    let run = |s: &Store, a: &str, client: &str| {
        let w = with(a);
        let e: Vec<(&str, &str)> = w.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(s, TENANT, &e, client)
    };
    assert!(run(&s, &good, &uami_client).is_ok(), "seeded FIC on the UAMI");
    let e = run(
        &s,
        &assertion("https://issuer.example/", "system:serviceaccount:ns:other", "api://AzureADTokenExchange", future),
        &uami_client,
    )
    .unwrap_err();
    assert_eq!((e.error.as_str(), e.aadsts), ("invalid_client", 70021));
    assert!(e.description.starts_with("No matching federated identity record found for presented assertion."));
    let e = run(
        &s,
        &assertion("https://issuer.example/", "system:serviceaccount:ns:sa", "api://other", future),
        &uami_client,
    )
    .unwrap_err();
    assert_eq!(e.aadsts, 700212);
    let e = run(
        &s,
        &assertion(
            "https://issuer.example/",
            "system:serviceaccount:ns:sa",
            "api://AzureADTokenExchange",
            t0().unix_timestamp() - 1,
        ),
        &uami_client,
    )
    .unwrap_err();
    assert_eq!(e.aadsts, 700024);
    let e = run(&s, "not-a-jwt", &uami_client).unwrap_err();
    assert_eq!(e.aadsts, 50027);
    // A FIC added through the API is honoured.
    let r = uami("id1");
    s.put_fic(&r, "gha", fic("https://token.actions.githubusercontent.com", "repo:o/r:ref:refs/heads/main")).unwrap();
    let a = assertion(
        "https://token.actions.githubusercontent.com",
        "repo:o/r:ref:refs/heads/main",
        "api://AzureADTokenExchange",
        future,
    );
    assert!(run(&s, &a, &uami_client).is_ok());
    // Wrong assertion type.
    let e =
        check(&s, TENANT, &[("client_assertion", &good), ("client_assertion_type", "x")], &uami_client).unwrap_err();
    assert_eq!(e.aadsts, 900144);
}

/// Exchange a client assertion for a token as `client`.
fn exchange(s: &Store, assertion: &str, client: &str) -> Result<String, crate::errors::AadError> {
    check(s, TENANT, &[("client_assertion", assertion), ("client_assertion_type", ASSERTION_TYPE)], client)
}

/// Entra matches a federated credential's issuer and subject exactly: a trailing
/// slash, a case difference or surrounding blanks is another issuer.
#[test]
fn federated_issuer_and_subject_match_byte_for_byte() {
    let mut s = store();
    let future = t0().unix_timestamp() + 600;
    let aud = "api://AzureADTokenExchange";
    let sa = "system:serviceaccount:ns:sa";
    let uami_client = s.state.identities[0].client_id.clone();
    assert!(exchange(&s, &assertion("https://issuer.example/", sa, aud, future), &uami_client).is_ok());
    for (iss, sub) in [
        ("https://issuer.example", sa),
        ("https://issuer.example//", sa),
        ("https://ISSUER.example/", sa),
        ("HTTPS://issuer.example/", sa),
        (" https://issuer.example/", sa),
        ("https://issuer.example/", "system:serviceaccount:NS:sa"),
    ] {
        let e = exchange(&s, &assertion(iss, sub, aud, future), &uami_client).unwrap_err();
        assert_eq!((e.error.as_str(), e.aadsts), ("invalid_client", 70021), "{iss:?} {sub:?}");
    }
    // The same for a service principal's federated credentials.
    let gh = "https://token.actions.githubusercontent.com";
    let subject = "repo:org/infra:environment:prod";
    let admin = s.state.principals.iter_mut().find(|p| p.object_id == ADMIN).unwrap();
    admin.federated.push(crate::store::FederatedSubject { issuer: gh.into(), subject: subject.into() });
    assert!(exchange(&s, &assertion(gh, subject, aud, future), ADMIN_APP).is_ok());
    let e = exchange(&s, &assertion(&format!("{gh}/"), subject, aud, future), ADMIN_APP).unwrap_err();
    assert_eq!(e.aadsts, 70021);
    let e = exchange(&s, &assertion(gh, &subject.to_uppercase(), aud, future), ADMIN_APP).unwrap_err();
    assert_eq!(e.aadsts, 70021);
}
