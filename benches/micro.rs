//! Micro-benchmarks of the pure pieces a large `aksid_cluster_identity_roles` runs through on
//! every plan: the msgpack codec (its state value), the matrix expansion with the policy check,
//! and the engine's diff of desired, recorded and existing grants. Each at 1,000 and 4,000
//! grants, so the page in `docs/performance.md` can show how they grow.
//!
//! `make bench-micro` runs them (release profile). `cargo test --benches` runs each once in
//! criterion's test mode, which is how CI keeps them compiling and working.

use std::hint::black_box;
use std::time::Duration;

use aksid::framework::codec::{from_msgpack, to_msgpack};
use aksid::framework::{Type, Value};
use aksid::planner::{self, ClusterIntent, Known, Origin, Recorded};
use aksid::resources::cluster_identity_roles::schema;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 2] = [1_000, 4_000];
const CONTROL_PLANE: &str = "b8f85bd4-6abc-4007-8e05-bc515255b609";
const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
const SUBS: [&str; 2] = ["9c195f54-5580-4cd2-9e24-3114522757f4", "ad089f8f-9110-4b0c-9b4b-410b023815eb"];

/// Subnet ids split evenly over two subscriptions, as the 4,000-grant scale benchmark does.
fn subnet_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let sub = SUBS[i * SUBS.len() / n];
            format!(
                "/subscriptions/{sub}/resourceGroups/rg-bench/providers/Microsoft.Network/virtualNetworks/vnet-bench/subnets/snet-{i:04}"
            )
        })
        .collect()
}

fn intent(n: usize) -> ClusterIntent {
    ClusterIntent {
        control_plane_principal_id: Known::Known(CONTROL_PLANE.to_string()),
        kubelet_principal_id: Known::Known(KUBELET.to_string()),
        node_resource_group_id: Known::Known(String::new()),
        subnet_ids: subnet_ids(n),
        ..ClusterIntent::default()
    }
}

fn desired(n: usize) -> Vec<planner::DesiredAssignment> {
    match planner::expand(&intent(n)) {
        Ok(e) => e.assignments,
        Err(f) => panic!("the benchmark's intent must pass the policy: {f:?}"),
    }
}

/// What a steady-state plan sees: state records every grant. (It lists what exists only for
/// grants state does not hold, so `existing` is empty then.)
fn recorded(desired: &[planner::DesiredAssignment]) -> Vec<Recorded> {
    desired
        .iter()
        .map(|d| Recorded {
            key: d.key.clone(),
            id: d.id().into_option().expect("principal known"),
            scope: d.scope.clone(),
            role_definition_id: d.role_definition_id(),
            principal_id: CONTROL_PLANE.to_string(),
            origin: Origin::Created,
        })
        .collect()
}

/// A realistic value of `ty`: one element per id in each list, plausible strings.
fn sample(ty: &Type, name: &str, ids: &[String]) -> Value {
    match ty {
        Type::String => Value::string(format!("{name}-{}", ids.first().map_or("", |s| s.as_str()))),
        Type::Number => Value::int(4),
        Type::Bool => Value::Bool(false),
        Type::List(el) if name == "subnet_ids" => {
            debug_assert!(matches!(**el, Type::String));
            Value::List(ids.iter().map(|s| Value::string(s.as_str())).collect())
        }
        Type::List(el) if name == "assignments" => {
            Value::List(ids.iter().map(|s| sample(el, "grant", std::slice::from_ref(s))).collect())
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) | Type::Tuple(_) | Type::Dynamic => Value::Null,
        Type::Object(attrs) => {
            Value::object(attrs.iter().map(|(k, t)| (k.as_str(), sample(t, k, ids))).collect::<Vec<_>>())
        }
    }
}

fn codec(c: &mut Criterion) {
    let ty = schema().block.value_type();
    let mut g = c.benchmark_group("codec");
    for n in SIZES {
        let value = sample(&ty, "", &subnet_ids(n));
        let bytes = to_msgpack(&value, &ty).expect("encodes");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("encode_state", n), &value, |b, v| {
            b.iter(|| to_msgpack(black_box(v), &ty).expect("encodes"))
        });
        g.bench_with_input(BenchmarkId::new("decode_state", n), &bytes, |b, bytes| {
            b.iter(|| from_msgpack(black_box(bytes), &ty).expect("decodes"))
        });
    }
    g.finish();
}

fn expansion(c: &mut Criterion) {
    let mut g = c.benchmark_group("matrix");
    for n in SIZES {
        let intent = intent(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("expand_with_policy", n), &intent, |b, i| {
            b.iter(|| planner::expand(black_box(i)).expect("passes the policy"))
        });
    }
    g.finish();
}

fn diff(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    for n in SIZES {
        let desired = desired(n);
        let recorded = recorded(&desired);
        g.throughput(Throughput::Elements(n as u64));
        // Every plan and refresh of an applied resource: all grants recorded.
        g.bench_with_input(BenchmarkId::new("decide_steady", n), &n, |b, _| {
            b.iter(|| planner::decide(black_box(&desired), black_box(&recorded), &[]))
        });
        // First apply: nothing recorded, nothing existing (every grant is a create).
        g.bench_with_input(BenchmarkId::new("decide_create", n), &n, |b, _| {
            b.iter(|| planner::decide(black_box(&desired), &[], &[]))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Shorter than criterion's defaults (3 s + 5 s per benchmark): these are stable to a few per
    // cent within a second, and `make bench-micro` stays near a minute.
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = codec, expansion, diff
}
criterion_main!(benches);
