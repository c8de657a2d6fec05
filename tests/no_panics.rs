//! No value of any attribute, and no string given as a timeout, can panic the provider:
//! arbitrary values of each resource's and data source's schema type go through validation
//! and planning (offline: the provider is not configured, so nothing reaches the network).

use std::sync::Arc;

use aksid::framework::{PlanRequest, Provider, Resource, Type, Value};
use aksid::provider::AksidProvider;
use proptest::prelude::*;

/// Strings that exercise the parsers: ids, GUIDs, durations, role names, junk.
fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        "[0-9]{1,25}(\\.[0-9]{0,5})?(ns|us|ms|s|m|h)([0-9]{1,20}(s|m|h))?",
        "(/subscriptions/[0-9a-fA-F-]{0,40}(/resourceGroups/[a-z-]{0,8}(/providers/[A-Za-z.]{0,20}(/[a-zA-Z]{1,12}/[a-z0-9-]{0,8}){0,3})?)?)?/?",
        Just("/".to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        Just("Owner".to_string()),
        Just("AcrPull".to_string()),
        Just("kubelet".to_string()),
    ]
}

/// Any value of type `ty`: null, unknown, or a known value whose parts are again arbitrary.
fn value_of(ty: &Type, depth: u32) -> BoxedStrategy<Value> {
    let leaf: BoxedStrategy<Value> = match ty {
        Type::String => interesting_string().prop_map(Value::String).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => prop_oneof![
            any::<i64>().prop_map(Value::int),
            any::<f64>().prop_map(|f| Value::Number(aksid::framework::Number::from_f64(f))),
        ]
        .boxed(),
        Type::List(e) | Type::Set(e) if depth > 0 => {
            let set = matches!(ty, Type::Set(_));
            proptest::collection::vec(value_of(e, depth - 1), 0..4)
                .prop_map(move |v| if set { Value::Set(v) } else { Value::List(v) })
                .boxed()
        }
        Type::Map(e) if depth > 0 => {
            proptest::collection::btree_map("[a-z]{1,4}", value_of(e, depth - 1), 0..3).prop_map(Value::Map).boxed()
        }
        Type::Object(attrs) if depth > 0 => {
            let parts: Vec<BoxedStrategy<(String, Value)>> = attrs
                .iter()
                .map(|(k, t)| {
                    let k = k.clone();
                    value_of(t, depth - 1).prop_map(move |v| (k.clone(), v)).boxed()
                })
                .collect();
            parts.prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed()
        }
        _ => Just(Value::Null).boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => leaf].boxed()
}

fn resources() -> Vec<Arc<dyn Resource>> {
    AksidProvider::new().resources()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn config_strategy(r: &Arc<dyn Resource>) -> BoxedStrategy<Value> {
    let ty = r.schema().block.value_type();
    value_of(&ty, 4).prop_filter("a configuration is an object", |v| matches!(v, Value::Object(_))).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn validate_and_plan_never_panic(
        (index, config) in (0..resources().len()).prop_flat_map(|i| (Just(i), config_strategy(&resources()[i])))
    ) {
        let r = resources()[index].clone();
        let _ = r.validate(&config);
        let rt = runtime();
        let req = PlanRequest {
            prior_state: Value::Null,
            proposed_new_state: config.clone(),
            config: config.clone(),
            prior_private: Vec::new(),
        };
        let _ = rt.block_on(r.plan(req));
        // The same value as prior state, for an update plan, with unreadable private state.
        let req = PlanRequest {
            prior_state: config.clone(),
            proposed_new_state: config.clone(),
            config,
            prior_private: b"not json".to_vec(),
        };
        let _ = rt.block_on(r.plan(req));
    }

    #[test]
    fn any_timeout_string_is_a_diagnostic_or_accepted(timeout in interesting_string()) {
        for r in resources() {
            let ty = r.schema().block.value_type();
            let Type::Object(attrs) = &ty else { continue };
            if !attrs.contains_key("timeouts") {
                continue;
            }
            let config = Value::Object(
                attrs
                    .keys()
                    .map(|k| {
                        let v = if k == "timeouts" {
                            Value::object([("create", Value::String(timeout.clone())), ("delete", Value::String(timeout.clone()))])
                        } else {
                            Value::Null
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            );
            let _ = r.validate(&config);
            let req = PlanRequest { prior_state: Value::Null, proposed_new_state: config.clone(), config, prior_private: Vec::new() };
            let _ = runtime().block_on(r.plan(req));
        }
    }
}
