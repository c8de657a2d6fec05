//! A proptest driver for fuzz targets, bounded by a case count AND a time budget.
//!
//! `AKSID_FUZZ_CASES` (default 256, so `make test` stays fast) and `AKSID_FUZZ_SECONDS`
//! (default 30) bound each target; whichever is reached first ends it. `make fuzz` sets a huge
//! case count and a time per target. `AKSID_FUZZ_SEED` fixes the RNG seed (printed by every
//! run) to replay a run. A failure is shrunk to a minimal input and reported with the panic's
//! message and source location.
//!
//! Shared by `tests/fuzz.rs` and `emulator/tests/fuzz.rs` (included with `#[path]`).
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::sync::Once;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestRunner};

pub struct Budget {
    pub cases: u64,
    pub time: Duration,
    pub seed: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    Some(raw.trim().parse().unwrap_or_else(|_| panic!("{name}={raw:?} is not a whole number")))
}

impl Budget {
    pub fn from_env() -> Budget {
        let seed = env_u64("AKSID_FUZZ_SEED").unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            (t.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32)
        });
        Budget {
            cases: env_u64("AKSID_FUZZ_CASES").unwrap_or(256),
            time: Duration::from_secs(env_u64("AKSID_FUZZ_SECONDS").unwrap_or(30)),
            seed,
        }
    }
}

thread_local! {
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    /// (message, location) of the first and the latest panic while fuzzing on this thread.
    static PANICS: RefCell<(Option<String>, Option<String>)> = const { RefCell::new((None, None)) };
}

/// While a target runs, its panics are recorded (not printed: shrinking panics many times);
/// every other panic goes to the previous hook as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.with(Cell::get) {
                return previous(info);
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-string panic payload)".into());
            let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
            let text = format!("{msg} at {at}");
            PANICS.with(|p| {
                let mut p = p.borrow_mut();
                if p.0.is_none() {
                    p.0 = Some(text.clone());
                }
                p.1 = Some(text);
            });
        }));
    });
}

/// Run `test` on inputs from `strategy` until the budget is spent; print the number of
/// executions; panic with the shrunk input on the first failure (an `Err` or a panic).
pub fn fuzz<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    let budget = Budget::from_env();
    let config = Config {
        cases: u32::try_from(budget.cases).unwrap_or(u32::MAX),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(budget.seed),
        // Shrinking is bounded as well, so a finding is reported in reasonable time.
        max_shrink_time: 120_000,
        max_shrink_iters: 200_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    install_panic_hook();
    PANICS.with(|p| *p.borrow_mut() = (None, None));
    let started = Instant::now();
    let mut executions: u64 = 0;
    FUZZING.with(|f| f.set(true));
    let outcome = loop {
        if executions >= budget.cases || started.elapsed() >= budget.time {
            break Ok(());
        }
        let tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(why) => break Err(format!("the input strategy gave up: {why}")),
        };
        executions += 1;
        if let Err(e) = runner.run_one(tree, &test) {
            break Err(e.to_string());
        }
    };
    FUZZING.with(|f| f.set(false));
    let secs = started.elapsed().as_secs_f64();
    let findings = usize::from(outcome.is_err());
    println!(
        "fuzz {name}: {executions} executions in {secs:.1}s ({:.0}/s), {findings} findings, seed {}",
        executions as f64 / secs.max(1e-9),
        budget.seed
    );
    if let Err(e) = outcome {
        let (first, last) = PANICS.with(|p| p.borrow().clone());
        panic!(
            "fuzz target {name} failed after {executions} executions (replay with AKSID_FUZZ_SEED={}):\n{e}\n\
             first panic: {}\nlast panic (the shrunk input): {}",
            budget.seed,
            first.as_deref().unwrap_or("none"),
            last.as_deref().unwrap_or("none"),
        );
    }
}
