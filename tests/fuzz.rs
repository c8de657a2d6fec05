//! Fuzz targets for the provider's parsers of untrusted text and bytes: the msgpack decoder
//! (`DynamicValue`s from Terraform), the ARM id parser (ids from configuration and from Azure)
//! and the duration parser (`timeouts`). Structure-aware proptest strategies mix valid,
//! nearly valid and random inputs. Case count and time come from the environment (see
//! `fuzzing/runner.rs`); `make fuzz` runs each target for a fixed time.

#[path = "fuzzing/arm_ids.rs"]
mod arm_ids;
#[path = "fuzzing/runner.rs"]
mod runner;

use std::time::Duration;

use aksid::domain::ids::{ResourceId, ScopeKind};
use aksid::framework::codec::{from_json, from_msgpack, to_msgpack};
use aksid::framework::duration;
use aksid::framework::{Number, Type, Value};
use arm_ids::{id_like, structured_id};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use runner::fuzz;

// ---------------------------------------------------------------- msgpack

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![Just(Type::String), Just(Type::Number), Just(Type::Bool), Just(Type::Dynamic)];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

/// A concrete (non-dynamic) type, for the inside of a dynamic value.
fn arb_concrete_type() -> impl Strategy<Value = Type> {
    arb_type().prop_filter("concrete", |t| *t != Type::Dynamic)
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Number::from_f64),
        "-?[1-9][0-9]{19,40}".prop_map(|s| Number::parse(&s).expect("digits parse")),
        "-?[0-9]{1,20}\\.[0-9]{1,30}".prop_map(|s| Number::parse(&s).expect("decimal parses")),
    ]
}

/// A value of `ty`, with nulls and unknowns anywhere.
fn arb_value(ty: Type, depth: u32) -> BoxedStrategy<Value> {
    let special = prop_oneof![Just(Value::Null), Just(Value::Unknown)];
    let concrete: BoxedStrategy<Value> = match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::List(et) => prop::collection::vec(arb_value(*et, depth), 0..4).prop_map(Value::List).boxed(),
        Type::Set(et) => prop::collection::vec(arb_value(*et, depth), 0..4)
            .prop_map(|items| {
                let mut out: Vec<Value> = Vec::new();
                for x in items {
                    if !out.contains(&x) {
                        out.push(x);
                    }
                }
                Value::Set(out)
            })
            .boxed(),
        Type::Map(et) => {
            prop::collection::btree_map(".{0,6}", arb_value(*et, depth), 0..4).prop_map(Value::Map).boxed()
        }
        Type::Object(attrs) => {
            let fields: Vec<_> =
                attrs.into_iter().map(|(k, t)| arb_value(t, depth).prop_map(move |v| (k.clone(), v))).collect();
            fields.prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed()
        }
        Type::Tuple(types) => {
            let elems: Vec<_> = types.into_iter().map(|t| arb_value(t, depth)).collect();
            elems.prop_map(Value::Tuple).boxed()
        }
        // A dynamic slot carries a value of any concrete type (bounded nesting).
        Type::Dynamic if depth == 0 => Just(Value::Null).boxed(),
        Type::Dynamic => arb_concrete_type()
            .prop_flat_map(move |t| {
                arb_value(t.clone(), depth - 1).prop_map(move |v| Value::Dynamic(t.clone(), Box::new(v)))
            })
            .boxed(),
    };
    prop_oneof![1 => special, 5 => concrete].boxed()
}

fn typed_value() -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(|t| (Just(t.clone()), arb_value(t, 2)))
}

/// How to damage a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1, 0xc4, 0xc7, 0xc9, 0xcb, 0xcf, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde,
        0xdf, 0xe0, 0xff,
    ]);
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (any::<usize>(), interesting).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..8usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len();
        match m {
            Mutation::Flip { at, xor } if n > 0 => bytes[at % n] ^= xor,
            Mutation::Set { at, byte } if n > 0 => bytes[at % n] = *byte,
            Mutation::Truncate { at } => bytes.truncate(at % (n + 1)),
            Mutation::Insert { at, bytes: b } => {
                let at = at % (n + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Remove { at, len } if n > 0 => {
                let at = at % n;
                bytes.drain(at..(at + len).min(n));
            }
            _ => {}
        }
    }
    bytes
}

/// `depth` dynamic values nested in one another (`["list","dynamic"]` all the way down).
fn nested_dynamic(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..depth {
        out.push(0x92); // [type, value]
        let t = br#"["list","dynamic"]"#;
        out.push(0xa0 | t.len() as u8);
        out.extend_from_slice(t);
        out.push(0x91); // a list of one element
    }
    out.push(0xc0);
    out
}

/// Bytes for the decoder: random, a damaged valid encoding, or deep nesting.
fn decoder_input() -> impl Strategy<Value = (Type, Vec<u8>)> {
    prop_oneof![
        3 => (arb_type(), prop::collection::vec(any::<u8>(), 0..512)),
        6 => (typed_value(), prop::collection::vec(arb_mutation(), 1..4)).prop_map(|((t, v), ms)| {
            let bytes = to_msgpack(&v, &t).expect("a generated value encodes");
            (t, mutate(bytes, &ms))
        }),
        1 => (1usize..20_000).prop_map(|d| (Type::Dynamic, nested_dynamic(d))),
    ]
}

#[test]
fn fuzz_msgpack_decoder_never_panics_and_what_it_accepts_reencodes() {
    fuzz("msgpack_decode", decoder_input(), |(ty, bytes)| {
        if let Ok(v) = from_msgpack(&bytes, &ty) {
            // Whatever the decoder accepts is a value of `ty`: it encodes, and decodes again
            // to the same value.
            let again = to_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
            let back = from_msgpack(&again, &ty).map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
            prop_assert_eq!(back, v);
        }
        let _ = from_msgpack(&bytes, &Type::Dynamic);
        let _ = from_json(&bytes, &ty);
        Ok(())
    });
}

#[test]
fn fuzz_msgpack_round_trips() {
    fuzz("msgpack_round_trip", typed_value(), |(ty, v)| {
        let bytes = to_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        prop_assert_eq!(from_msgpack(&bytes, &ty).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?, v.clone());
        // The same value inside a dynamic slot, when it has a concrete type.
        if ty != Type::Dynamic {
            let dynamic = Value::Dynamic(ty.clone(), Box::new(v));
            let bytes = to_msgpack(&dynamic, &Type::Dynamic).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(
                from_msgpack(&bytes, &Type::Dynamic).map_err(|e| TestCaseError::fail(format!("{e}")))?,
                dynamic
            );
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- ARM ids

fn check_id(input: &str) -> TestCaseResult {
    let Ok(a) = ResourceId::parse(input) else { return Ok(()) };
    prop_assert_eq!(a.to_string(), input, "Display prints the input unchanged");
    // parse → display → parse is stable.
    let b = ResourceId::parse(a.as_str()).map_err(|e| TestCaseError::fail(format!("re-parse: {e}")))?;
    prop_assert_eq!(&a, &b);
    prop_assert_eq!(a.key(), b.key());
    prop_assert_eq!(a.canonical(), b.canonical());
    prop_assert_eq!(a.scope_kind(), b.scope_kind());
    // The canonical form names the same object, and is a fixed point.
    let c = ResourceId::parse(&a.canonical()).map_err(|e| TestCaseError::fail(format!("canonical: {e}")))?;
    prop_assert_eq!(a.key(), c.key());
    prop_assert_eq!(c.canonical(), a.canonical());
    prop_assert_eq!(a.key(), a.key().to_lowercase());
    // Accessors are total, and the parent chain ends at the tenant.
    let _ = (a.subscription_id(), a.resource_group(), a.provider_namespace(), a.resource_type(), a.name());
    let _ = a.extension_scope();
    let mut cur = a.clone();
    for _ in 0..64 {
        let Some(p) = cur.parent() else {
            prop_assert_eq!(cur.scope_kind(), ScopeKind::Tenant, "only the tenant has no parent: {}", cur.canonical());
            return Ok(());
        };
        prop_assert!(p.is_ancestor_of(&cur), "{} is an ancestor of {}", p.canonical(), cur.canonical());
        prop_assert!(p.is_ancestor_of(&a));
        cur = p;
    }
    Err(TestCaseError::fail("the parent chain does not end"))
}

#[test]
fn fuzz_arm_id_parser_on_arbitrary_strings() {
    fuzz("arm_id_arbitrary", prop_oneof![any::<String>(), "\\PC{0,120}", "[/a-zA-Z.]{0,60}"], |s| check_id(&s));
}

#[test]
fn fuzz_arm_id_parser_on_id_shaped_strings() {
    fuzz("arm_id_shaped", prop_oneof![4 => structured_id(), 1 => id_like()], |s| check_id(&s));
}

// ---------------------------------------------------------------- durations

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Text shaped like a Go duration: parts of digits (maybe with a fraction) and a unit, with
/// odd units, signs and spaces mixed in.
fn duration_like() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h", "", "d", "S", "H", "mss", "x"]);
    let number = prop_oneof!["[0-9]{1,3}", "[0-9]{1,25}", "[0-9]{0,4}\\.[0-9]{0,25}", "\\.", "-[0-9]{1,3}", "\\+1"];
    (prop::collection::vec((number, unit), 1..6), prop::sample::select(vec!["", " ", "\t", "\u{a0}"])).prop_map(
        |(parts, pad)| format!("{pad}{}{pad}", parts.into_iter().map(|(n, u)| format!("{n}{u}")).collect::<String>()),
    )
}

#[test]
fn fuzz_duration_parser_never_panics_and_stays_bounded() {
    let input = prop_oneof![any::<String>(), "\\PC{0,40}", duration_like()];
    fuzz("duration_parse", input, |s| {
        if let Ok(d) = duration::parse(&s) {
            prop_assert!(d > Duration::ZERO && d <= duration::MAX, "{s:?} gave {d:?}");
        }
        Ok(())
    });
}

#[test]
fn fuzz_duration_parser_sums_integer_parts_exactly() {
    let parts = prop::collection::vec((0u128..100_000, 0..UNITS.len()), 1..5);
    fuzz("duration_exact", parts, |parts| {
        let text: String = parts.iter().map(|(n, u)| format!("{n}{}", UNITS[*u].0)).collect();
        let total: u128 = parts.iter().map(|(n, u)| n * UNITS[*u].1).sum();
        match duration::parse(&text) {
            Ok(d) => prop_assert_eq!(d.as_nanos(), total, "{}", text),
            Err(e) => prop_assert!(total == 0 || total > duration::MAX.as_nanos(), "{text:?} rejected: {e}"),
        }
        Ok(())
    });
}
