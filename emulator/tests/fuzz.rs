//! Fuzz targets for the emulator's request parsing: ARM scopes and ids, `$filter`
//! expressions, label selectors and merge patches, tokens and base64, fault rules, and whole
//! HTTP requests (method, path, query, headers, body) sent through the real router in-process.
//! Case count and time come from the environment (see `tests/fuzzing/runner.rs` at the
//! repository root); `make fuzz` runs each target for a fixed time.

#[path = "../../tests/fuzzing/arm_ids.rs"]
mod arm_ids;
#[path = "../../tests/fuzzing/runner.rs"]
mod runner;

use std::sync::Arc;

use aksid_emulator::app::App;
use aksid_emulator::faults::{FaultSpec, Faults};
use aksid_emulator::ids::{self, Scope};
use aksid_emulator::store::k8s::rules::{matches_label_selector, merge_patch};
use aksid_emulator::store::rbac::{parse_ra_filter, parse_rd_filter, RaFilter, RdFilter};
use aksid_emulator::store::Store;
use aksid_emulator::{arm, entra, util, Seed};
use arm_ids::{flip_case, id_like, structured_id};
use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use runner::fuzz;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const TENANT: &str = "4aca8002-c6b1-4e6a-8956-0d030db855bf";
const SPOKE: &str = "9c195f54-5580-4cd2-9e24-3114522757f4";
const HUB: &str = "ad089f8f-9110-4b0c-9b4b-410b023815eb";
const TF_APP: &str = "3b390046-4482-48ab-9d61-c1358b55d2bb";
const TF_SECRET: &str = "emulator-terraform-secret";
const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
const K8S_TOKEN: &str = "emulator-kubernetes-token-aks-spoke";

fn ok_or_fail<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(format!("{what}: {e}")))
}

// ---------------------------------------------------------------- scopes and ids

fn check_scope(input: &str) -> TestCaseResult {
    // Total functions on any text.
    let key = ids::key(input);
    prop_assert_eq!(ids::key(&key), key.clone(), "key is idempotent");
    prop_assert!(ids::id_eq(input, input));
    let _ = (ids::with_leading_slash(input), ids::parse_role_definition_id(input));
    let segs = ids::segments(input);
    let _ = (ids::split_authorization(&segs, "roleAssignments"), ids::split_authorization(&segs, "roleDefinitions"));
    let Ok(a) = Scope::parse(input) else { return Ok(()) };
    prop_assert_eq!(a.key(), key, "the parsed key is the text's key");
    prop_assert_eq!(ids::subscription_of(input), a.subscription());
    // parse → display → parse gives the same scope.
    let b = ok_or_fail(Scope::parse(&a.display()), "re-parse of the display form")?;
    prop_assert_eq!(&b, &a);
    let c = ok_or_fail(Scope::parse(&a.key()), "parse of the key")?;
    prop_assert_eq!(c.key(), a.key());
    let _ = (a.resource_group(), a.resource_type(), a.resource_name(), a.resource_path());
    let mut cur = a;
    for _ in 0..64 {
        let Some(p) = cur.parent() else {
            prop_assert_eq!(cur, Scope::Tenant, "only the tenant has no parent");
            return Ok(());
        };
        prop_assert!(p.is_prefix_of(&cur), "{} contains {}", p.key(), cur.key());
        cur = p;
    }
    Err(TestCaseError::fail("the parent chain does not end"))
}

#[test]
fn fuzz_scope_parser_on_arbitrary_strings() {
    fuzz("emulator_scope_arbitrary", prop_oneof![any::<String>(), "\\PC{0,100}", "[/a-zA-Z.%]{0,60}"], |s| {
        check_scope(&s)
    });
}

#[test]
fn fuzz_scope_parser_on_id_shaped_strings() {
    fuzz("emulator_scope_shaped", prop_oneof![4 => structured_id(), 1 => id_like()], |s| check_scope(&s));
}

// ---------------------------------------------------------------- $filter

/// Whitespace between the words of a filter.
fn ws() -> impl Strategy<Value = String> {
    prop::sample::select(vec![" ", " ", "  ", "\t", " \t "]).prop_map(String::from)
}

/// A quoted value as it appears in a filter: no quotes inside, single spaces only.
fn filter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[A-Za-z0-9()-]{1,12}( [A-Za-z0-9()-]{1,12}){0,3}",
        Just("Storage and Backup".to_string()),
        Just("a AND b".to_string()),
    ]
}

/// A well-formed role assignment filter and what it must parse to.
fn ra_filter() -> impl Strategy<Value = (String, RaFilter)> {
    (any::<bool>(), prop::option::of((filter_value(), any::<bool>())), any::<bool>(), ws(), ws(), any::<u64>())
        .prop_map(|(at_scope, principal, principal_first, w1, w2, mask)| {
            let mut terms = Vec::new();
            if at_scope {
                terms.push(flip_case("atScope()", mask));
            }
            if let Some((p, assigned)) = &principal {
                let t = if *assigned {
                    format!("{}('{p}')", flip_case("assignedTo", mask >> 9))
                } else {
                    format!("{}{w1}{}{w1}'{p}'", flip_case("principalId", mask >> 19), flip_case("eq", mask >> 31))
                };
                if principal_first {
                    terms.insert(0, t);
                } else {
                    terms.push(t);
                }
            }
            let and = format!("{w2}{}{w2}", flip_case("and", mask >> 40));
            let expected = match (at_scope, principal) {
                (false, None) => RaFilter::All,
                (true, None) => RaFilter::AtScope,
                (false, Some((p, _))) => RaFilter::Principal(p.to_ascii_lowercase()),
                (true, Some((p, _))) => RaFilter::AtScopeForPrincipal(p.to_ascii_lowercase()),
            };
            (format!("{w1}{}", terms.join(&and)), expected)
        })
}

/// A well-formed role definition filter and what it must parse to.
fn rd_filter() -> impl Strategy<Value = (String, RdFilter)> {
    (
        prop::option::of(filter_value()),
        prop::option::of(prop::sample::select(vec!["BuiltInRole", "CustomRole"])),
        any::<bool>(),
        ws(),
        any::<u64>(),
    )
        .prop_map(|(name, role_type, below, w, mask)| {
            let mut terms = Vec::new();
            if let Some(n) = &name {
                terms.push(format!("{}{w}eq{w}'{n}'", flip_case("roleName", mask)));
            }
            if let Some(t) = role_type {
                terms.push(format!("{}{w}{}{w}'{t}'", flip_case("type", mask >> 8), flip_case("eq", mask >> 12)));
            }
            if below {
                terms.push("atScopeAndBelow()".to_string());
            }
            let expected = RdFilter { role_name: name, role_type: role_type.map(String::from) };
            (terms.join(&format!("{w}and{w}")), expected)
        })
}

/// Filter-ish noise: keywords, quotes and parentheses in any order.
fn filter_noise() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "atScope()",
        "assignedTo(",
        "principalId",
        " eq ",
        " and ",
        " AND ",
        "'",
        "''",
        "(",
        ")",
        "roleName",
        "type",
        "x",
        " ",
        "\u{a0}",
        "\u{3000}",
        "é",
        "\t",
    ]);
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

#[test]
fn fuzz_role_assignment_and_definition_filters() {
    let input = prop_oneof![
        3 => ra_filter().prop_map(|(f, e)| (f, Some(e), None)),
        3 => rd_filter().prop_map(|(f, e)| (f, None, Some(e))),
        2 => filter_noise().prop_map(|f| (f, None, None)),
        1 => any::<String>().prop_map(|f| (f, None, None)),
    ];
    fuzz("emulator_filters", input, |(f, ra, rd)| {
        let got_ra = parse_ra_filter(Some(&f));
        let got_rd = parse_rd_filter(Some(&f));
        if let Some(want) = ra {
            prop_assert_eq!(ok_or_fail(got_ra.map_err(|e| format!("{e:?}")), &f)?, want, "{:?}", f);
        }
        if let Some(want) = rd {
            prop_assert_eq!(ok_or_fail(got_rd.map_err(|e| format!("{e:?}")), &f)?, want, "{:?}", f);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- label selectors, merge patch

fn label_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["app", "tier", "aadpodidbinding", "k", "a.b/c"]).prop_map(String::from)
}

/// The selector semantics, written independently: every term must hold.
fn selector_holds(labels: &Map<String, Value>, selector: &str) -> bool {
    let get = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
    selector.split(',').map(str::trim).filter(|t| !t.is_empty()).all(|t| {
        if let Some((k, v)) = t.split_once("!=") {
            get(k) != Some(v.trim())
        } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
            get(k) == Some(v.trim())
        } else if let Some(k) = t.strip_prefix('!') {
            get(k).is_none()
        } else {
            get(t).is_some()
        }
    })
}

fn selector() -> impl Strategy<Value = String> {
    let value = prop::sample::select(vec!["web", "db", "x", ""]);
    let term = prop_oneof![
        (label_key(), value.clone()).prop_map(|(k, v)| format!("{k}={v}")),
        (label_key(), value.clone()).prop_map(|(k, v)| format!("{k}=={v}")),
        (label_key(), value).prop_map(|(k, v)| format!("{k}!={v}")),
        label_key(),
        label_key().prop_map(|k| format!("!{k}")),
    ];
    prop::collection::vec(term, 0..4).prop_map(|t| t.join(","))
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_json_with(true)
}

fn arb_json_with(floats: bool) -> impl Strategy<Value = Value> {
    let number = if floats {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from)
        ]
        .boxed()
    } else {
        any::<i64>().prop_map(Value::from).boxed()
    };
    let leaf =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number, ".{0,8}".prop_map(Value::String)];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,3}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn fuzz_label_selectors_and_merge_patches() {
    let labels = prop::collection::btree_map(label_key(), prop::sample::select(vec!["web", "db", "x", ""]), 0..4)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k, Value::from(v))).collect::<Map<String, Value>>());
    let sel = prop_oneof![3 => selector(), 1 => any::<String>(), 1 => "[a-z=!, ()]{0,20}"];
    fuzz("emulator_selectors_patches", (labels, sel, arb_json(), arb_json()), |(labels, sel, target, patch)| {
        match matches_label_selector(Some(&labels), &sel) {
            Ok(m) if !sel.contains([' ', '(']) => prop_assert_eq!(m, selector_holds(&labels, &sel), "{:?}", sel),
            _ => {}
        }
        let _ = matches_label_selector(None, &sel);
        // JSON merge patch (RFC 7386) is idempotent, and a non-object patch replaces.
        let mut once = target.clone();
        merge_patch(&mut once, &patch);
        let mut twice = once.clone();
        merge_patch(&mut twice, &patch);
        prop_assert_eq!(&twice, &once);
        if !patch.is_object() {
            prop_assert_eq!(&once, &patch);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- tokens, base64, api-version

fn claims() -> impl Strategy<Value = Value> {
    // Floats do not survive a JSON round trip bit for bit; real claims are strings and integers.
    prop::collection::btree_map("[a-z_]{1,8}", arb_json_with(false), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

/// `^\d{4}-\d{2}-\d{2}(-preview)?$`, written independently.
fn api_version_shape(v: &str) -> bool {
    let b = v.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..4).all(digit)
        && b.get(4) == Some(&b'-')
        && (5..7).all(digit)
        && b.get(7) == Some(&b'-')
        && (8..10).all(digit)
        && matches!(&b[b.len().min(10)..], b"" | b"-preview")
}

#[test]
fn fuzz_tokens_base64_and_api_versions() {
    let key = prop::collection::vec(any::<u8>(), 1..48).prop_map(|k| util::b64url(&k));
    let text = prop_oneof![any::<String>(), "[A-Za-z0-9_.=-]{0,80}", "[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview|-x)?"];
    fuzz(
        "emulator_tokens",
        (key.clone(), key, claims(), text, any::<prop::sample::Index>(), 1..63u8),
        |(k1, k2, claims, text, at, delta)| {
            // Arbitrary text is never a token, and never panics the decoders.
            let _ = entra::decode_payload(&text);
            prop_assert!(entra::verify_token(&k1, &text).is_none());
            let _ = util::b64url_decode(&text);
            prop_assert_eq!(arm::valid_api_version(&text), api_version_shape(&text), "{:?}", text);
            // A token verifies with its key and carries its claims.
            let token = entra::mint_token(&k1, &claims);
            let got = entra::verify_token(&k1, &token).map(Value::Object);
            prop_assert_eq!(got.as_ref(), Some(&claims));
            if k1 != k2 {
                prop_assert!(entra::verify_token(&k2, &token).is_none(), "another key does not verify it");
            }
            // Changing any character of the signed part breaks it.
            let signed_len = token.rfind('.').unwrap();
            let i = at.index(signed_len);
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let old = token.as_bytes()[i];
            let pos = alphabet.iter().position(|c| *c == old).unwrap_or(0);
            let new = alphabet[(pos + usize::from(delta)) % alphabet.len()];
            if new != old {
                let mut bad = token.clone().into_bytes();
                bad[i] = new;
                let bad = String::from_utf8(bad).unwrap();
                prop_assert!(entra::verify_token(&k1, &bad).is_none(), "tampered token verified: {}", bad);
            }
            prop_assert_eq!(util::b64url_decode(&util::b64url(text.as_bytes())), Some(text.into_bytes()));
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- fault rules

#[test]
fn fuzz_fault_rules_from_arbitrary_json() {
    let spec = prop_oneof![
        arb_json(),
        (
            prop::sample::select(vec!["*", "GET", "PUT", "get", "BAD METHOD", ""]),
            ".{0,10}",
            prop::option::of(any::<u16>()),
            prop::option::of(prop_oneof![any::<f64>(), 0.0..1.0f64]),
            prop::option::of(any::<u64>()),
            any::<bool>(),
        )
            .prop_map(|(m, p, status, rate, count, drop)| {
                let rate = rate.filter(|r| r.is_finite());
                json!({"method": m, "path_contains": p, "status": status, "rate": rate, "count": count,
                       "drop_connection": drop, "latency_ms": 0})
            }),
    ];
    let requests = prop::collection::vec((prop::sample::select(vec!["GET", "PUT", "put", "DELETE"]), ".{0,20}"), 0..6);
    fuzz("emulator_fault_rules", (prop::collection::vec(spec, 0..4), requests, any::<u64>()), |(specs, reqs, seed)| {
        let mut faults = Faults::default();
        for s in specs {
            if let Ok(spec) = serde_json::from_value::<FaultSpec>(s) {
                if spec.validate().is_ok() {
                    faults.add(spec);
                }
            }
        }
        let mut x = seed;
        let mut roll = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for (method, target) in reqs {
            if let Some(a) = faults.decide(method, &target, &mut roll) {
                let r = faults.rules.iter().find(|r| r.id == a.rule).expect("the rule that fired exists");
                prop_assert!(r.injected >= 1 && r.matched >= r.injected);
                let _ = aksid_emulator::faults::fault_response(&target, &a);
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- whole requests

/// One HTTP request for the router.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum Auth {
    Arm,
    Kubernetes,
    IdentityHeader,
    Garbage,
    None,
}

fn path_segment() -> BoxedStrategy<String> {
    let words = prop::sample::select(vec![
        "subscriptions",
        SPOKE,
        HUB,
        "resourceGroups",
        "rg-spoke-aks",
        "rg-hub-shared",
        "providers",
        "Microsoft.Authorization",
        "roleAssignments",
        "roleDefinitions",
        "Microsoft.ContainerService",
        "managedClusters",
        "aks-spoke",
        "listClusterUserCredential",
        "listClusterAdminCredential",
        "Microsoft.ManagedIdentity",
        "userAssignedIdentities",
        "federatedIdentityCredentials",
        "id-app",
        "fic1",
        "Microsoft.Management",
        "managementGroups",
        "Microsoft.Network",
        "virtualNetworks",
        "vnet-spoke",
        "subnets",
        "snet-nodes",
        "Microsoft.ContainerRegistry",
        "registries",
        "acrhubshared",
        KUBELET,
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "%2F",
        "%00",
        "%ZZ",
        "..",
    ]);
    prop_oneof![
        8 => words.prop_map(String::from),
        2 => "[a-zA-Z0-9._~-]{1,10}",
        1 => any::<String>().prop_map(|s| percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC).to_string()),
    ]
    .boxed()
}

fn k8s_path() -> BoxedStrategy<String> {
    let prefix = prop::sample::select(vec![
        "/k8s/api/v1",
        "/k8s/api/v1",
        "/k8s/apis/aadpodidentity.k8s.io/v1",
        "/k8s/apis/aadpodidentity.k8s.io/v1",
        "/k8s/apis",
        "/k8s",
        "/k8s/version",
    ]);
    let plural =
        prop::sample::select(vec!["serviceaccounts", "azureidentities", "azureidentitybindings", "namespaces", "pods"]);
    let namespace = prop::sample::select(vec!["default", "kube-system", "team-a", "team-b"]);
    let name = prop_oneof![
        prop::sample::select(vec!["default", "sa-1", "id-1", "team-a"]).prop_map(String::from),
        "[a-z0-9.-]{1,12}",
        ".{1,6}"
    ];
    let shaped = (prefix, any::<bool>(), namespace, plural, prop::option::of(name)).prop_map(
        |(p, namespaced, ns, plural, name)| {
            let mut s = p.to_string();
            if namespaced && plural != "namespaces" {
                s.push_str(&format!("/namespaces/{ns}"));
            }
            s.push('/');
            s.push_str(plural);
            if let Some(n) = name {
                s.push('/');
                s.push_str(&percent_encoding::utf8_percent_encode(&n, percent_encoding::NON_ALPHANUMERIC).to_string());
            }
            s
        },
    );
    let loose = prop::collection::vec(prop_oneof![path_segment(), "[a-z0-9.-]{1,12}"], 0..5)
        .prop_map(|r| format!("/k8s/{}", r.join("/")));
    prop_oneof![4 => shaped, 1 => loose].boxed()
}

/// ARM paths along the routes the emulator serves, over seeded and unknown objects.
fn arm_path() -> BoxedStrategy<String> {
    let scope = prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![SPOKE, HUB, "00000000-0000-0000-0000-000000000000", "not-a-guid"])
            .prop_map(|s| format!("/subscriptions/{s}")),
        prop::sample::select(vec![
            format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks"),
            format!("/subscriptions/{HUB}/resourceGroups/rg-hub-shared"),
            format!("/subscriptions/{SPOKE}/resourceGroups/MC_rg-spoke-aks_aks-spoke_westeurope"),
            format!("/subscriptions/{SPOKE}/resourceGroups/rg-missing"),
            format!("/subscriptions/{HUB}/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared"),
            format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes"),
            format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.KeyVault/vaults/kv-spoke"),
            "/providers/Microsoft.Management/managementGroups/mg-platform".to_string(),
        ]),
        structured_id(),
    ];
    let guid = prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        prop::sample::select(vec![
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "cc97febf-558a-4304-8434-c250813acd87",
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        ])
        .prop_map(String::from),
        ".{1,8}"
            .prop_map(|s| percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC).to_string()),
    ];
    let rg = prop::sample::select(vec![
        format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks"),
        format!("/subscriptions/{HUB}/resourceGroups/rg-hub-shared"),
        format!("/subscriptions/{SPOKE}/resourceGroups/rg-nope"),
    ]);
    let identity = prop::sample::select(vec!["id-orders-api", "id-terraform-runner", "id-new", "x"]);
    let fic = prop_oneof![prop::sample::select(vec!["fic1", "gh-main"]).prop_map(String::from), "[a-zA-Z0-9_-]{1,10}"];
    let route = prop_oneof![
        3 => (scope.clone(), prop::option::of(guid.clone()))
            .prop_map(|(s, g)| format!("{s}/providers/Microsoft.Authorization/roleAssignments{}", g.map(|g| format!("/{g}")).unwrap_or_default())),
        2 => (scope.clone(), prop::option::of(guid))
            .prop_map(|(s, g)| format!("{s}/providers/Microsoft.Authorization/roleDefinitions{}", g.map(|g| format!("/{g}")).unwrap_or_default())),
        2 => (rg.clone(), prop::option::of((identity, prop::option::of(prop::option::of(fic))))).prop_map(|(rg, rest)| {
            let mut s = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities");
            if let Some((id, fics)) = rest {
                s.push_str(&format!("/{id}"));
                if let Some(f) = fics {
                    s.push_str("/federatedIdentityCredentials");
                    if let Some(f) = f {
                        s.push_str(&format!("/{f}"));
                    }
                }
            }
            s
        }),
        1 => (rg, prop::sample::select(vec!["", "/aks-spoke", "/aks-spoke/listClusterUserCredential",
            "/aks-spoke/listClusterAdminCredential", "/nope"]))
            .prop_map(|(rg, tail)| format!("{rg}/providers/Microsoft.ContainerService/managedClusters{tail}")),
        1 => scope,
    ];
    (route, any::<u64>(), any::<bool>()).prop_map(|(p, mask, flip)| if flip { flip_case(&p, mask) } else { p }).boxed()
}

fn request_path() -> BoxedStrategy<String> {
    prop_oneof![
        6 => arm_path(),
        2 => prop::collection::vec(path_segment(), 0..12).prop_map(|s| format!("/{}", s.join("/"))),
        1 => structured_id(),
        3 => k8s_path(),
        1 => prop::sample::select(vec![format!("/{TENANT}/oauth2/v2.0/token"), "/x/oauth2/v2.0/token".into(),
            "/%FF/oauth2/v2.0/token".into(), "/msi/token".into()]),
    ]
    .prop_filter("not the admin API", |p| !p.to_ascii_lowercase().starts_with("/_admin"))
    .boxed()
}

fn query() -> BoxedStrategy<Vec<(String, String)>> {
    let key = prop::sample::select(vec![
        "api-version",
        "api-version",
        "$filter",
        "$skipToken",
        "$top",
        "labelSelector",
        "watch",
        "tenantId",
        "resource",
        "client_id",
        "x",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "2022-04-01",
            "2025-01-01",
            "2023-01-31",
            "2022-12-01",
            "2022-04-01-preview",
            "true",
            "-1",
            "99999999999999999999",
            "1"
        ])
        .prop_map(String::from),
        ra_filter().prop_map(|(f, _)| f),
        rd_filter().prop_map(|(f, _)| f),
        filter_noise(),
        selector(),
        any::<String>(),
    ];
    let api_version = prop::option::weighted(
        0.9,
        prop::sample::select(vec!["2022-04-01", "2025-01-01", "2023-01-31", "2022-12-01", "2022-04-01-preview", "1"]),
    );
    (api_version, prop::collection::vec((key.prop_map(String::from), value), 0..3))
        .prop_map(|(v, mut rest)| {
            if let Some(v) = v {
                rest.insert(0, ("api-version".to_string(), v.to_string()));
            }
            rest
        })
        .boxed()
}

fn body() -> BoxedStrategy<Vec<u8>> {
    let guidish = prop_oneof![
        Just(KUBELET.to_string()),
        Just("acdd72a7-3385-48ef-bd42-f606fba81ae7".to_string()),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ".{0,12}",
    ];
    let role_assignment = (guidish.clone(), guidish, prop::option::of(prop::sample::select(vec!["ServicePrincipal", "User", "Alien"])), arb_json())
        .prop_map(|(role, principal, ptype, extra)| {
            json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": principal, "principalType": ptype, "description": extra}})
        });
    let identity = (prop::option::of(prop::sample::select(vec!["westeurope", "eastus", ""])), arb_json())
        .prop_map(|(l, tags)| json!({"location": l, "tags": tags}));
    let fic = (".{0,12}", ".{0,12}", prop::collection::vec(".{0,8}", 0..3))
        .prop_map(|(i, s, a)| json!({"properties": {"issuer": format!("https://{i}"), "subject": s, "audiences": a}}));
    let k8s_object = ("[a-z0-9.-]{0,12}", arb_json(), arb_json()).prop_map(|(name, spec, labels)| {
        json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity",
               "metadata": {"name": name, "labels": labels, "resourceVersion": "1"}, "spec": spec})
    });
    prop_oneof![
        3 => Just(Vec::new()),
        2 => role_assignment.prop_map(|v| v.to_string().into_bytes()),
        1 => identity.prop_map(|v| v.to_string().into_bytes()),
        1 => fic.prop_map(|v| v.to_string().into_bytes()),
        1 => k8s_object.prop_map(|v| v.to_string().into_bytes()),
        1 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(format!("grant_type=client_credentials&client_id={TF_APP}&client_secret={TF_SECRET}&scope=https://management.azure.com/.default").into_bytes()),
    ]
    .boxed()
}

/// Anything: method, path, query, credentials and body chosen independently.
fn loose_request() -> BoxedStrategy<Req> {
    let method = prop::sample::select(vec![
        Method::GET,
        Method::GET,
        Method::PUT,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
    ]);
    let auth = prop_oneof![
        12 => Just(Auth::Arm),
        1 => Just(Auth::Kubernetes),
        1 => Just(Auth::IdentityHeader),
        1 => Just(Auth::Garbage),
        1 => Just(Auth::None),
    ];
    let content_type = prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/merge-patch+json"),
        Some("application/strategic-merge-patch+json"),
        Some("application/json-patch+json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ]);
    (method, request_path(), query(), auth, content_type, body())
        .prop_map(|(method, path, query, auth, content_type, body)| {
            // Kubernetes paths take the cluster token.
            let auth = match auth {
                Auth::Arm if path.starts_with("/k8s") => Auth::Kubernetes,
                Auth::Arm if path.starts_with("/msi/") => Auth::IdentityHeader,
                other => other,
            };
            Req { method, path, query, auth, content_type, body }
        })
        .boxed()
}

const PRINCIPALS: &[&str] = &[
    KUBELET,
    "b8f85bd4-6abc-4007-8e05-bc515255b609",
    "a9c04c4f-34a0-46c8-8b64-1e567add78cd",
    "82f5f809-cb07-4f47-a7a9-5e20dd17b97f",
    "00000000-0000-0000-0000-000000000000",
];
const ROLES: &[&str] = &[
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "11111111-1111-1111-1111-111111111111",
];

fn arm(method: Method, path: String, query: Vec<(String, String)>, body: Option<Value>) -> Req {
    let mut q = vec![("api-version".to_string(), "2022-04-01".to_string())];
    q.extend(query);
    Req {
        method,
        path,
        query: q,
        auth: Auth::Arm,
        content_type: body.as_ref().map(|_| "application/json"),
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

/// Requests that follow a route's contract (right method, a body of the right shape) with
/// values that are sometimes valid and sometimes not, so the handlers' rules are reached.
fn coherent_arm_request() -> BoxedStrategy<Req> {
    let scope = prop::sample::select(vec![
        format!("/subscriptions/{SPOKE}"),
        format!("/subscriptions/{HUB}"),
        format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks"),
        format!("/subscriptions/{HUB}/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared"),
        format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods"),
        format!("/subscriptions/{SPOKE}/resourceGroups/rg-gone"),
        "/providers/Microsoft.Management/managementGroups/mg-x".to_string(),
        "/".to_string(),
    ]);
    let guid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    let role_assignment = (
        scope.clone(),
        guid,
        prop::sample::select(PRINCIPALS),
        prop::sample::select(ROLES),
        prop::option::of(prop::sample::select(vec!["ServicePrincipal", "User", "Group", "Device", "Robot"])),
        prop::option::of(".{0,20}"),
        prop::sample::select(vec![Method::PUT, Method::PUT, Method::GET, Method::DELETE]),
        any::<bool>(),
    )
        .prop_map(|(scope, name, principal, role, ptype, desc, method, tenant_form)| {
            let scope = scope.trim_end_matches('/').to_string();
            let role_id = if tenant_form {
                format!("/providers/Microsoft.Authorization/roleDefinitions/{role}")
            } else {
                format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/{role}")
            };
            let body = (method == Method::PUT).then(|| {
                json!({"properties": {"roleDefinitionId": role_id, "principalId": principal,
                                      "principalType": ptype, "description": desc}})
            });
            arm(method, format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"), vec![], body)
        });
    let list = (
        scope.clone(),
        prop::option::of(prop_oneof![ra_filter().prop_map(|(f, _)| f), filter_noise()]),
        prop::option::of("[0-9]{1,4}|-1|x"),
    )
        .prop_map(|(scope, filter, skip)| {
            let mut q = Vec::new();
            if let Some(f) = filter {
                q.push(("$filter".to_string(), f));
            }
            if let Some(s) = skip {
                q.push(("$skipToken".to_string(), s));
            }
            arm(
                Method::GET,
                format!("{}/providers/Microsoft.Authorization/roleAssignments", scope.trim_end_matches('/')),
                q,
                None,
            )
        });
    let definitions = (
        scope,
        prop::option::of(prop_oneof![rd_filter().prop_map(|(f, _)| f), filter_noise()]),
        prop::option::of(prop::sample::select(ROLES)),
    )
        .prop_map(|(scope, filter, guid)| {
            let q = filter.map(|f| vec![("$filter".to_string(), f)]).unwrap_or_default();
            let tail = guid.map(|g| format!("/{g}")).unwrap_or_default();
            arm(
                Method::GET,
                format!("{}/providers/Microsoft.Authorization/roleDefinitions{tail}", scope.trim_end_matches('/')),
                q,
                None,
            )
        });
    let uami = (
        prop::sample::select(vec!["rg-spoke-aks", "rg-hub-shared", "rg-gone"]),
        prop::sample::select(vec!["id-orders-api", "id-new", "id-other", "bad name!"]),
        prop::sample::select(vec![Method::PUT, Method::PATCH, Method::GET, Method::DELETE]),
        prop::option::of(prop::sample::select(vec!["westeurope", "eastus", ""])),
        prop::option::of(arb_json()),
    )
        .prop_map(|(rg, name, method, location, tags)| {
            let sub = if rg == "rg-hub-shared" { HUB } else { SPOKE };
            let body = matches!(method, Method::PUT | Method::PATCH).then(|| json!({"location": location, "tags": tags}));
            let mut r = arm(method, format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"), vec![], body);
            r.query[0].1 = "2023-01-31".into();
            r
        });
    let fic = (
        prop::sample::select(vec!["id-orders-api", "id-new", "id-gone"]),
        prop_oneof![Just("fic1".to_string()), "[a-zA-Z0-9_-]{0,12}"],
        prop::sample::select(vec![Method::PUT, Method::PUT, Method::GET, Method::DELETE]),
        prop::sample::select(vec!["https://token.actions.githubusercontent.com", "http://insecure", "https://", ""]),
        prop::option::of(".{0,12}"),
        prop::collection::vec(prop::sample::select(vec!["api://AzureADTokenExchange", "x"]), 0..3),
        prop::option::of("[0-9]{1,3}|x"),
    )
        .prop_map(|(id, name, method, issuer, subject, audiences, top)| {
            let base = format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{id}/federatedIdentityCredentials");
            let body = (method == Method::PUT)
                .then(|| json!({"properties": {"issuer": issuer, "subject": subject, "audiences": audiences}}));
            let (path, q) = match (&top, method == Method::GET) {
                (Some(t), true) => (base, vec![("$top".to_string(), t.clone())]),
                _ => (format!("{base}/{name}"), vec![]),
            };
            let mut r = arm(method, path, q, body);
            r.query[0].1 = "2023-01-31".into();
            r
        });
    let cluster = prop::sample::select(vec![
        (Method::GET, ""),
        (Method::POST, "/listClusterUserCredential"),
        (Method::POST, "/listClusterAdminCredential"),
        (Method::GET, "/listClusterUserCredential"),
    ])
    .prop_map(|(m, tail)| {
        let mut r = arm(m, format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke{tail}"), vec![], None);
        r.query[0].1 = "2025-01-01".into();
        r
    });
    prop_oneof![4 => role_assignment, 2 => list, 1 => definitions, 2 => uami, 2 => fic, 1 => cluster].boxed()
}

/// Kubernetes requests that follow the API's contract, with objects that are sometimes valid.
fn coherent_k8s_request() -> BoxedStrategy<Req> {
    let kind = prop::sample::select(vec![
        ("/k8s/api/v1", "serviceaccounts", "v1", "ServiceAccount"),
        ("/k8s/apis/aadpodidentity.k8s.io/v1", "azureidentities", "aadpodidentity.k8s.io/v1", "AzureIdentity"),
        (
            "/k8s/apis/aadpodidentity.k8s.io/v1",
            "azureidentitybindings",
            "aadpodidentity.k8s.io/v1",
            "AzureIdentityBinding",
        ),
    ]);
    let spec = prop_oneof![
        arb_json(),
        (any::<i8>(), ".{0,8}", ".{0,8}").prop_map(|(t, r, c)| json!({"type": t, "resourceID": r, "clientID": c})),
        (".{0,8}", ".{0,8}", any::<i8>())
            .prop_map(|(i, sel, w)| json!({"azureIdentity": i, "selector": sel, "weight": w})),
    ];
    (
        kind,
        prop::sample::select(vec!["default", "kube-system", "team-a"]),
        prop_oneof![
            prop::sample::select(vec!["default", "sa-1", "id-1"]).prop_map(String::from),
            "[a-z0-9.-]{0,12}",
            ".{0,5}"
        ],
        prop::sample::select(vec![Method::POST, Method::POST, Method::PUT, Method::PATCH, Method::GET, Method::DELETE]),
        spec,
        arb_json(),
        prop::option::of(prop::sample::select(vec!["1", "999", "x"])),
        prop::sample::select(vec![
            "application/json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
        ]),
        prop::option::of(selector()),
    )
        .prop_map(|((prefix, plural, api_version, kind), ns, name, method, spec, labels, rv, ct, sel)| {
            let collection = format!("{prefix}/namespaces/{ns}/{plural}");
            let encoded = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC).to_string();
            let path = if method == Method::POST || (method == Method::GET && sel.is_some()) {
                collection
            } else {
                format!("{collection}/{encoded}")
            };
            let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| {
                json!({"apiVersion": api_version, "kind": kind,
                       "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": rv},
                       "spec": spec})
            });
            Req {
                method,
                path,
                query: sel.map(|s| vec![("labelSelector".to_string(), s)]).unwrap_or_default(),
                auth: Auth::Kubernetes,
                content_type: body.as_ref().map(|_| ct),
                body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            }
        })
        .boxed()
}

fn request() -> impl Strategy<Value = Req> {
    prop_oneof![3 => coherent_arm_request(), 2 => coherent_k8s_request(), 3 => loose_request()]
}

/// The emulator's router over the example seed, with a token for the terraform principal.
struct Target {
    router: axum::Router,
    token: String,
    identity_header: String,
    rt: tokio::runtime::Runtime,
}

impl Target {
    fn new() -> Target {
        let seed: Seed = serde_json::from_str(include_str!("../examples/seed.json")).expect("the example seed parses");
        let store = Store::from_seed(&seed, time::OffsetDateTime::now_utc()).expect("the store builds");
        let identity_header = "fuzz-identity-header".to_string();
        let app = Arc::new(App::new(store, None, identity_header.clone(), String::new(), "https://127.0.0.1:1".into()));
        let router = aksid_emulator::server::router(app);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut t = Target { router, token: String::new(), identity_header, rt };
        let form = format!(
            "grant_type=client_credentials&client_id={TF_APP}&client_secret={TF_SECRET}&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        );
        let (status, body) = t.send(
            Request::post(format!("/{TENANT}/oauth2/v2.0/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        t.token = v["access_token"].as_str().unwrap().to_string();
        t
    }

    fn send(&self, req: Request<Body>) -> (u16, Vec<u8>) {
        self.rt.block_on(async {
            let resp = self.router.clone().oneshot(req).await.unwrap_or_else(|never| match never {});
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("the body is readable");
            (status, body.to_vec())
        })
    }

    fn build(&self, r: &Req) -> Option<Request<Body>> {
        let mut uri = r.path.clone();
        if !r.query.is_empty() {
            let q: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&r.query).finish();
            uri.push('?');
            uri.push_str(&q);
        }
        let mut b = Request::builder().method(r.method.clone()).uri(uri);
        b = match r.auth {
            Auth::Arm => b.header("authorization", format!("Bearer {}", self.token)),
            Auth::Kubernetes => b.header("authorization", format!("Bearer {K8S_TOKEN}")),
            Auth::IdentityHeader => b.header("x-identity-header", &self.identity_header),
            Auth::Garbage => b.header("authorization", "Bearer eyJ.e30.x"),
            Auth::None => b,
        };
        if let Some(ct) = r.content_type {
            b = b.header("content-type", ct);
        }
        // Paths that are not valid URIs never reach a server.
        b.body(Body::from(r.body.clone())).ok()
    }
}

#[test]
fn fuzz_http_requests_through_the_router() {
    let target = Target::new();
    fuzz("emulator_http_requests", request(), |r| {
        let Some(req) = target.build(&r) else { return Ok(()) };
        let (status, body) = target.send(req);
        prop_assert!(status < 500, "HTTP {}: {}", status, String::from_utf8_lossy(&body));
        // Error answers are machine-readable: ARM, Entra and Kubernetes all answer JSON. Known
        // exception: a tenant segment that is not UTF-8 (`/%FF/oauth2/v2.0/token`) gets axum's
        // plain-text extractor rejection instead of an Entra error; remove once it does not.
        let known = body.starts_with(b"Invalid URL: ") && r.path.contains("/oauth2/");
        if status >= 400 && !body.is_empty() && !known {
            prop_assert!(
                serde_json::from_slice::<Value>(&body).is_ok(),
                "HTTP {} with a body that is not JSON: {:?}",
                status,
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    });
}
