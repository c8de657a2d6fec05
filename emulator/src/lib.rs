//! aksid-emulator: a local HTTPS server implementing the Azure Resource Manager,
//! Entra ID and Kubernetes REST contracts the aksid Terraform provider uses, so
//! its acceptance tests (and users' modules) run without Azure.
//!
//! Layout, in layers (a module only uses modules of lower layers, so the
//! `use crate::…` graph between top-level modules has no cycle; `make check-cycles`
//! keeps it that way):
//! 1. leaves: [`util`], [`errors`], [`ids`], [`settings`], [`reqlog`] (request log
//!    types), [`faults`] (fault rules), [`throttle`] (ARM's token buckets), [`tls`];
//! 2. [`seed`] (the seed format), then [`store`]: pure state and rules, including the
//!    Kubernetes objects ([`store::k8s`]);
//! 3. [`app`]: one emulator instance's state (store, faults, log, throttling buckets);
//! 4. the HTTP layers: [`entra`], [`arm`], [`k8s`], [`admin`], and [`middleware`];
//! 5. [`server`] wires them together behind TLS.

pub mod admin;
pub mod app;
pub mod arm;
pub mod entra;
pub mod errors;
pub mod faults;
pub mod ids;
pub mod k8s;
pub mod middleware;
pub mod reqlog;
pub mod seed;
pub mod server;
pub mod settings;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod util;

pub use seed::Seed;
pub use server::{start, Options, ReadyInfo, Server};

/// The repository's `specs/` directory (upstream contract data, see `specs/README.md`).
/// Panics when it is missing: a test that needs the data must fail, not skip.
#[cfg(test)]
pub(crate) fn specs_dir_for_tests() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    assert!(d.is_dir(), "specs directory not found at {} (it is part of the repository)", d.display());
    d
}
