use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;
use crate::framework::{Attribute, Block, NestedBlock, Nesting, Number};

fn sample_block() -> Block {
    Block::new("sample")
        .attribute(Attribute::computed("id", Type::String, ""))
        .attribute(Attribute::required("cluster_id", Type::String, ""))
        .attribute(Attribute::optional("count", Type::Number, ""))
        .attribute(Attribute::optional("ratio", Type::Number, ""))
        .attribute(Attribute::optional("enabled", Type::Bool, ""))
        .attribute(Attribute::optional("acr_ids", Type::list(Type::String), ""))
        .attribute(Attribute::optional("zones", Type::set(Type::String), ""))
        .attribute(Attribute::optional("tags", Type::map(Type::String), ""))
        .block(NestedBlock::new(
            "extra_assignment",
            Nesting::List,
            Block::new("")
                .attribute(Attribute::required("scope", Type::String, ""))
                .attribute(Attribute::optional("role", Type::String, ""))
                .attribute(Attribute::optional("weight", Type::Number, "")),
        ))
        .block(NestedBlock::new(
            "timeouts",
            Nesting::Single,
            Block::new("").attribute(Attribute::optional("create", Type::String, "")),
        ))
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Sample {
    id: Option<Known<String>>,
    cluster_id: Known<String>,
    count: Option<Known<i64>>,
    ratio: Option<Known<f64>>,
    enabled: Option<Known<bool>>,
    acr_ids: Option<Known<Vec<Option<Known<String>>>>>,
    zones: Option<Known<BTreeSet<String>>>,
    tags: Option<Known<BTreeMap<String, Option<Known<String>>>>>,
    extra_assignment: Vec<Extra>,
    timeouts: Option<Timeouts>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Extra {
    scope: Known<String>,
    role: Option<Known<String>>,
    weight: Option<Known<u16>>,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct Timeouts {
    create: Option<String>,
}

fn extra(scope: Value) -> Value {
    Value::object([("scope", scope), ("role", Value::Null), ("weight", Value::Null)])
}

fn sample_value(extras: Vec<Value>) -> Value {
    let mut v = Value::object([("cluster_id", Value::string("/c")), ("extra_assignment", Value::List(extras))]);
    for name in ["id", "count", "ratio", "enabled", "acr_ids", "zones", "tags", "timeouts"] {
        v.set_attr(name, Value::Null);
    }
    v
}

fn error_of<T: DeserializeOwned + fmt::Debug>(v: &Value) -> Diagnostic {
    let diags = decode::<T>(v).expect_err("decoding should fail");
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    diags.0[0].clone()
}

fn path_of(d: &Diagnostic) -> String {
    d.attribute.as_ref().map(ToString::to_string).unwrap_or_default()
}

#[test]
fn decodes_nested_blocks_unknowns_and_nulls() {
    let mut v = sample_value(vec![extra(Value::string("/s")), extra(Value::Unknown)]);
    v.set_attr("id", Value::Unknown);
    v.set_attr("timeouts", Value::object([("create", Value::string("5m"))]));
    v.set_attr("zones", Value::Set(vec![Value::string("2"), Value::string("1")]));
    let m: Sample = decode(&v).unwrap();
    assert_eq!(m.id, Some(Known::Unknown));
    assert_eq!(m.cluster_id, Known::Known("/c".into()));
    assert_eq!(m.count, None);
    assert_eq!(m.extra_assignment[0].scope, Known::Known("/s".into()));
    assert_eq!(m.extra_assignment[1].scope, Known::Unknown);
    assert_eq!(m.timeouts, Some(Timeouts { create: Some("5m".into()) }));
    assert_eq!(m.zones, Some(Known::Known(BTreeSet::from(["1".to_string(), "2".to_string()]))));
    assert_eq!(encode_as(&m, &sample_block().value_type()).unwrap(), v);
}

#[test]
fn missing_attributes_decode_as_none_and_missing_required_ones_fail() {
    let m: Timeouts = decode(&Value::Object(BTreeMap::new())).unwrap();
    assert_eq!(m.create, None);
    let d = error_of::<Sample>(&Value::object([("extra_assignment", Value::List(vec![extra(Value::Null)]))]));
    assert_eq!(d.summary, "Missing value");
    assert_eq!(path_of(&d), "extra_assignment[0].scope");
    let d = error_of::<Sample>(&Value::object([("cluster_id", Value::string("/c"))]));
    assert_eq!((d.summary.as_str(), path_of(&d)), ("Missing attribute", "extra_assignment".to_string()));
}

#[test]
fn error_paths_point_at_the_offending_value() {
    let mut v = sample_value(vec![extra(Value::string("/a")), extra(Value::string("/b")), extra(Value::Bool(true))]);
    let d = error_of::<Sample>(&v);
    assert_eq!(path_of(&d), "extra_assignment[2].scope");
    assert_eq!(d.summary, "Unexpected value type");
    assert!(d.detail.contains("boolean `true`"), "{}", d.detail);

    v.set_attr("extra_assignment", Value::List(vec![]));
    v.set_attr("tags", Value::Map(BTreeMap::from([("k".to_string(), Value::int(1))])));
    assert_eq!(path_of(&error_of::<Sample>(&v)), "tags[\"k\"]");

    v.set_attr("tags", Value::Null);
    v.set_attr("acr_ids", Value::List(vec![Value::Null, Value::List(vec![])]));
    assert_eq!(path_of(&error_of::<Sample>(&v)), "acr_ids[1]");

    let top = Value::object([("create", Value::int(3))]);
    assert_eq!(path_of(&error_of::<Timeouts>(&top)), "create");
    // A failure of the whole value has no attribute to point at.
    assert_eq!(error_of::<Timeouts>(&Value::string("x")).attribute, None);
}

#[test]
fn unknowns_are_only_accepted_by_known() {
    #[derive(Debug, Deserialize)]
    struct Plain {
        #[allow(dead_code)]
        name: Option<String>,
    }
    let d = error_of::<Plain>(&Value::object([("name", Value::Unknown)]));
    assert_eq!((d.summary.as_str(), path_of(&d)), ("Value not known yet", "name".to_string()));
    assert_eq!(decode::<Known<String>>(&Value::Unknown).unwrap(), Known::Unknown);
    assert_eq!(decode::<Option<Known<String>>>(&Value::Unknown).unwrap(), Some(Known::Unknown));
    assert_eq!(decode::<Option<Known<String>>>(&Value::Null).unwrap(), None);
    assert_eq!(error_of::<Known<String>>(&Value::Null).summary, "Missing value");
    assert_eq!(error_of::<Vec<String>>(&Value::List(vec![Value::Unknown])).summary, "Value not known yet");
    // Known values inside a dynamic slot are read through it.
    let dynamic = Value::Dynamic(Type::String, Box::new(Value::string("x")));
    assert_eq!(decode::<Known<String>>(&dynamic).unwrap(), Known::Known("x".into()));
}

#[test]
fn known_through_other_formats() {
    // Outside `encode`/`decode`, `Known<T>` is transparent and `Unknown` writes null.
    assert_eq!(serde_json::to_string(&Known::<String>::Unknown).unwrap(), "null");
    assert_eq!(serde_json::to_string(&Known::Known(3)).unwrap(), "3");
    assert_eq!(serde_json::from_str::<Known<u8>>("3").unwrap(), Known::Known(3));
    assert!(serde_json::from_str::<Known<u8>>("null").is_err());
    assert_eq!(serde_json::from_str::<Option<Known<u8>>>("null").unwrap(), None);
    assert_eq!(encode(&Known::<String>::Unknown).unwrap(), Value::Unknown);
    assert_eq!(encode(&Some(Known::Known("a"))).unwrap(), Value::string("a"));
}

#[test]
fn integers_are_range_checked() {
    let n = |s: &str| Value::Number(Number::parse(s).unwrap());
    assert_eq!(decode::<u8>(&Value::int(255)).unwrap(), 255);
    assert_eq!(decode::<i8>(&Value::int(-128)).unwrap(), -128);
    assert_eq!(decode::<u64>(&n("18446744073709551615")).unwrap(), u64::MAX);
    assert_eq!(decode::<u64>(&n("1e19")).unwrap(), 10_000_000_000_000_000_000);
    assert_eq!(decode::<i128>(&n("123456789012345678901234567890")).unwrap(), 123456789012345678901234567890);
    assert_eq!(decode::<i64>(&n("2.0")).unwrap(), 2);
    for (value, why) in [
        (Value::int(256), "Expected a whole number from 0 to 255, got 256."),
        (Value::int(-1), "Expected a whole number from 0 to 255, got -1."),
        (n("1.5"), "Expected a whole number from 0 to 255, got 1.5."),
        (n("18446744073709551617"), "Expected a whole number from 0 to 255, got 18446744073709551617."),
    ] {
        let d = error_of::<u8>(&value);
        assert_eq!((d.summary.as_str(), d.detail.as_str()), ("Invalid number", why));
    }
    assert!(decode::<i8>(&Value::int(-129)).is_err());
    assert!(decode::<u64>(&n("18446744073709551616")).is_err());
    assert!(decode::<i64>(&n("1e300")).is_err());
    assert!(decode::<u32>(&Value::Number(Number::Float(f64::INFINITY))).is_err());
    assert!(decode::<f32>(&n("1e300")).is_err());
    assert_eq!(decode::<f64>(&n("0.25")).unwrap(), 0.25);
    assert_eq!(error_of::<u8>(&Value::string("1")).summary, "Unexpected value type");
}

#[test]
fn enums_are_strings() {
    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Identity {
        ControlPlane,
        Kubelet,
    }
    assert_eq!(decode::<Identity>(&Value::string("control_plane")).unwrap(), Identity::ControlPlane);
    assert_eq!(encode(&Identity::Kubelet).unwrap(), Value::string("kubelet"));
    let d = error_of::<Vec<Identity>>(&Value::List(vec![Value::string("cluster")]));
    assert_eq!(path_of(&d), "[0]");
    assert!(d.detail.contains("unknown variant `cluster`"), "{}", d.detail);
    assert!(decode::<Identity>(&Value::int(1)).is_err());
}

#[test]
fn maps_and_tuples() {
    let m = Value::Map(BTreeMap::from([("a".to_string(), Value::int(1))]));
    assert_eq!(decode::<HashMap<String, u32>>(&m).unwrap(), HashMap::from([("a".to_string(), 1)]));
    assert_eq!(
        encode(&BTreeMap::from([(1, true)])).unwrap(),
        Value::Map(BTreeMap::from([("1".into(), Value::Bool(true))]))
    );
    let pair = Value::Tuple(vec![Value::string("x"), Value::int(2)]);
    assert_eq!(decode::<(String, u8)>(&pair).unwrap(), ("x".to_string(), 2));
    assert!(decode::<(String,)>(&pair).is_err());
    let ty = Type::Tuple(vec![Type::String, Type::Number]);
    assert_eq!(encode_as(&("x", 2), &ty).unwrap(), pair);
}

#[test]
fn encode_as_conforms_to_the_schema_type() {
    #[derive(Serialize)]
    struct Partial {
        cluster_id: &'static str,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        zones: Vec<&'static str>,
        extra_assignment: Vec<Extra>,
    }
    let partial = Partial { cluster_id: "/c", zones: vec!["1", "1", "2"], extra_assignment: vec![] };
    let v = encode_as(&partial, &sample_block().value_type()).unwrap();
    assert_eq!(v.attr("zones"), &Value::Set(vec![Value::string("1"), Value::string("2")]));
    assert_eq!(v.attr("extra_assignment"), &Value::List(vec![]));
    assert_eq!(v.as_object().unwrap().len(), 10);
    assert!(v.attr("timeouts").is_null() && v.attr("id").is_null());
    // Without a type, sequences are lists and skipped fields stay absent.
    let plain = encode(&Partial { zones: vec![], ..partial }).unwrap();
    assert_eq!(plain, Value::object([("cluster_id", Value::string("/c")), ("extra_assignment", Value::List(vec![]))]));

    #[derive(Serialize)]
    struct Wrong {
        cluster_id: u8,
        extra_assignment: Vec<Extra>,
        zone: String,
    }
    let ty = sample_block().value_type();
    let wrong = |cluster_id, zone: &str| Wrong { cluster_id, extra_assignment: vec![], zone: zone.into() };
    let d = encode_as(&wrong(1, "z"), &ty).unwrap_err().0.remove(0);
    assert_eq!(path_of(&d), "cluster_id");
    assert!(d.detail.contains("a number where the schema expects string"), "{}", d.detail);
    assert_eq!(encode_as(&None::<bool>, &Type::Bool).unwrap(), Value::Null);
    assert_eq!(encode_as(&Known::<bool>::Unknown, &Type::Bool).unwrap(), Value::Unknown);
    let Type::Object(mut attrs) = ty else { unreachable!() };
    attrs.insert("cluster_id".into(), Type::Number);
    let d = encode_as(&wrong(1, "z"), &Type::Object(attrs)).unwrap_err().0.remove(0);
    assert_eq!((d.summary.as_str(), path_of(&d)), ("Model does not match schema", "zone".to_string()));
}

#[test]
fn encoding_refuses_what_terraform_cannot_hold() {
    assert_eq!(encode(&f64::NAN).unwrap_err().0[0].summary, "Cannot encode value");
    let d = encode(&vec![Some(1.0), Some(f64::NAN)]).unwrap_err().0.remove(0);
    assert_eq!(path_of(&d), "[1]");
    assert!(encode(&BTreeMap::from([((1, 2), 3)])).is_err());
    assert_eq!(encode(&u64::MAX).unwrap(), Value::Number(Number::Decimal(u64::MAX.to_string())));
    assert_eq!(encode(&(1u128 << 70)).unwrap(), Value::Number(Number::Decimal((1u128 << 70).to_string())));
}

#[test]
fn schema_agreement() {
    assert_model_matches_schema::<Sample>(&sample_block());
    assert_eq!(field_names::<Extra>(), ["scope", "role", "weight"]);
    assert!(field_names::<String>().is_empty());

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Drifted {
        id: Option<Known<String>>,
        cluster: Known<String>,
        count: Option<Known<i64>>,
        ratio: Option<f64>,
        enabled: Option<bool>,
        acr_ids: Option<Vec<String>>,
        zones: Option<Vec<String>>,
        tags: Option<BTreeMap<String, String>>,
        #[serde(rename = "extra_assignment")]
        extras: Vec<DriftedExtra>,
        timeouts: Option<Known<String>>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct DriftedExtra {
        scope: String,
        role: String,
        weight: u16,
        priority: u8,
    }
    let diffs = schema_differences::<Drifted>(&sample_block());
    assert_eq!(
        diffs,
        [
            "`cluster_id` is in the schema but has no field in the model",
            "`cluster` is a field of the model but not in the schema",
            "`extra_assignment.priority` is a field of the model but not in the schema",
        ]
    );
    let nested = Block::new("").block(NestedBlock::new("timeouts", Nesting::Single, Block::new("")));
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct ListForSingle {
        timeouts: Vec<Timeouts>,
    }
    assert_eq!(schema_differences::<ListForSingle>(&nested), ["`timeouts` is a sequence but the schema has object"]);
    assert_eq!(schema_differences::<Vec<u8>>(&nested), ["the model is a sequence but the schema has object"]);
    let caught = std::panic::catch_unwind(|| assert_model_matches_schema::<Drifted>(&sample_block()));
    assert!(caught.is_err());
}

/// Values of the sample schema that `Sample` can represent: any attribute may be null or
/// unknown except where the model makes it required.
fn arb_sample() -> impl Strategy<Value = Value> {
    fn maybe(s: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 4 => s].boxed()
    }
    let string = || "[a-z/]{0,6}".prop_map(Value::String);
    let known_string = || prop_oneof![Just(Value::Unknown), string()];
    let extra = (known_string(), maybe(string()), maybe((0..=u16::MAX).prop_map(|w| Value::int(w.into()))))
        .prop_map(|(s, r, w)| Value::object([("scope", s), ("role", r), ("weight", w)]));
    let timeouts = prop_oneof![Just(Value::Null), string()].prop_map(|c| Value::object([("create", c)]));
    (
        (maybe(string()), known_string(), maybe(any::<i64>().prop_map(Value::int))),
        (maybe(any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Value::Number(Number::from_f64(f))))),
        (
            maybe(any::<bool>().prop_map(Value::Bool)),
            maybe(prop::collection::vec(maybe(string()), 0..3).prop_map(Value::List)),
        ),
        maybe(
            prop::collection::btree_set("[a-z]{0,3}", 0..4)
                .prop_map(|s| Value::Set(s.into_iter().map(Value::String).collect())),
        ),
        maybe(prop::collection::btree_map("[a-z]{0,3}", maybe(string()), 0..3).prop_map(Value::Map)),
        (prop::collection::vec(extra, 0..3), prop_oneof![Just(Value::Null), timeouts]),
    )
        .prop_map(|((id, cluster, count), ratio, (enabled, acr_ids), zones, tags, (extras, timeouts))| {
            Value::object([
                ("id", id),
                ("cluster_id", cluster),
                ("count", count),
                ("ratio", ratio),
                ("enabled", enabled),
                ("acr_ids", acr_ids),
                ("zones", zones),
                ("tags", tags),
                ("extra_assignment", Value::List(extras)),
                ("timeouts", timeouts),
            ])
        })
}

/// Any value at all, with object attributes often named like the sample's.
fn arb_any() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        Just("cluster_id".to_string()),
        Just("extra_assignment".to_string()),
        Just("scope".to_string()),
        Just("weight".to_string()),
        Just("tags".to_string()),
        "[a-z]{0,3}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(Value::Unknown),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::int),
        any::<f64>().prop_map(|f| Value::Number(Number::Float(f))),
        "-?[0-9]{1,40}(\\.[0-9]{1,3})?".prop_map(|s| Value::Number(Number::Decimal(s))),
        ".{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::btree_map(name.clone(), inner.clone(), 0..4).prop_map(Value::Map),
            prop::collection::btree_map(name.clone(), inner.clone(), 0..4).prop_map(Value::Object),
            inner.prop_map(|v| Value::Dynamic(Type::Dynamic, Box::new(v))),
        ]
    })
}

proptest! {
    #[test]
    fn conforming_values_round_trip(v in arb_sample()) {
        let model: Sample = decode(&v).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        prop_assert_eq!(encode_as(&model, &sample_block().value_type()).unwrap(), v);
    }

    #[test]
    fn arbitrary_values_never_panic(v in arb_any()) {
        let _ = decode::<Sample>(&v);
        let _ = decode::<Vec<Extra>>(&v);
        let _ = decode::<BTreeMap<String, Option<Known<i16>>>>(&v);
        let _ = decode::<(u8, f32, char)>(&v);
        let _ = decode::<Option<Known<u128>>>(&v);
        let _ = decode::<serde_json::Value>(&v);
        let ty = sample_block().value_type();
        let _ = conform(v.clone(), &ty);
        if let Ok(model) = decode::<Sample>(&v) {
            prop_assert!(encode_as(&model, &ty).is_ok());
        }
    }

    #[test]
    fn integer_decoding_matches_the_exact_value(i in any::<i64>()) {
        let v = Value::int(i);
        prop_assert_eq!(decode::<i32>(&v).ok(), i32::try_from(i).ok());
        prop_assert_eq!(decode::<u16>(&v).ok(), u16::try_from(i).ok());
        prop_assert_eq!(decode::<u64>(&v).ok(), u64::try_from(i).ok());
    }
}

/// The streaming decoder's answer must be the `Value` decoder's, model or diagnostic alike.
fn both_decoders<T: DeserializeOwned + fmt::Debug + PartialEq>(v: &Value, ty: &Type) -> Result<(), TestCaseError> {
    let bytes = crate::framework::codec::to_msgpack(v, ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let streamed = decode_msgpack::<T>(&bytes, ty);
    let Ok(value) = crate::framework::codec::from_msgpack(&bytes, ty) else {
        // Bytes the codec refuses (e.g. a dynamic value typed dynamic) fail both ways.
        prop_assert!(streamed.is_err());
        return Ok(());
    };
    let through_value = decode::<T>(&value);
    prop_assert_eq!(format!("{streamed:?}"), format!("{through_value:?}"));
    Ok(())
}

#[test]
fn streaming_decoder_reports_what_the_value_decoder_reports() {
    let ty = sample_block().value_type();
    let mut bad_weight = extra(Value::string("/s"));
    bad_weight.set_attr("weight", Value::int(70_000));
    let mut unknown_create = sample_value(vec![]);
    unknown_create.set_attr("timeouts", Value::object([("create", Value::Unknown)]));
    let cases = [
        sample_value(vec![extra(Value::string("/a")), extra(Value::Null)]),
        sample_value(vec![extra(Value::string("/a")), bad_weight]),
        unknown_create,
        sample_value(vec![extra(Value::Unknown)]),
    ];
    for v in &cases {
        both_decoders::<Sample>(v, &ty).unwrap();
    }
    let e = decode_msgpack::<Sample>(&crate::framework::codec::to_msgpack(&cases[0], &ty).unwrap(), &ty).unwrap_err();
    assert_eq!(path_of(&e.0[0]), "extra_assignment[1].scope");
}

#[test]
fn streaming_decoder_refuses_trailing_bytes_and_foreign_attributes() {
    let ty = sample_block().value_type();
    let mut bytes = crate::framework::codec::to_msgpack(&sample_value(vec![]), &ty).unwrap();
    bytes.push(0xc0);
    assert!(decode_msgpack::<Sample>(&bytes, &ty).is_err());
    let narrow = Type::object([("cluster_id", Type::String)]);
    let wide = Type::object([("cluster_id", Type::String), ("other", Type::String)]);
    let v = Value::object([("cluster_id", Value::string("/c")), ("other", Value::string("x"))]);
    let e = decode_msgpack::<Sample>(&crate::framework::codec::to_msgpack(&v, &wide).unwrap(), &narrow).unwrap_err();
    assert_eq!(path_of(&e.0[0]), "other");
}

proptest! {
    #[test]
    fn streaming_decoder_matches_the_value_decoder(v in arb_sample()) {
        both_decoders::<Sample>(&v, &sample_block().value_type())?;
    }

    #[test]
    fn streaming_decoder_matches_on_collections(v in arb_any()) {
        let ty = Type::map(Type::list(Type::Number));
        if crate::framework::codec::to_msgpack(&v, &ty).is_ok() {
            both_decoders::<BTreeMap<String, Option<Known<Vec<Option<Known<i16>>>>>>>(&v, &ty)?;
            both_decoders::<HashMap<String, Vec<u8>>>(&v, &ty)?;
        }
        let ty = Type::Tuple(vec![Type::Number, Type::String, Type::Dynamic]);
        if crate::framework::codec::to_msgpack(&v, &ty).is_ok() {
            both_decoders::<(u8, String, serde_json::Value)>(&v, &ty)?;
        }
    }

    #[test]
    fn streaming_decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_msgpack::<Sample>(&bytes, &sample_block().value_type());
        let _ = decode_msgpack::<Vec<Extra>>(&bytes, &Type::list(Type::Dynamic));
    }
}

proptest! {
    #[test]
    fn skipped_attributes_decode_as_absent(v in arb_sample(), skip in prop::sample::subsequence(vec!["id", "tags", "zones", "timeouts", "acr_ids"], 0..=5)) {
        let ty = sample_block().value_type();
        let bytes = crate::framework::codec::to_msgpack(&v, &ty).unwrap();
        let mut nulled = v.clone();
        for name in &skip {
            nulled.set_attr(name, Value::Null);
        }
        let skipped = decode_msgpack_except::<Sample>(&bytes, &ty, &skip);
        prop_assert_eq!(format!("{skipped:?}"), format!("{:?}", decode::<Sample>(&nulled)));
    }
}
