//! aksid-emulator: a local HTTPS server implementing the Azure Resource Manager,
//! Entra ID and Kubernetes REST contracts the aksid Terraform provider uses, so
//! its acceptance tests (and users' modules) run without Azure.
//!
//! Layout: pure state and rules live in [`store`] (and [`k8s::objects`]); the
//! HTTP layers ([`arm`], [`entra`], [`k8s`], [`admin`]) parse requests and render
//! responses; [`server`] wires them together behind TLS ([`tls`]).

pub mod admin;
pub mod app;
pub mod arm;
pub mod entra;
pub mod errors;
pub mod faults;
pub mod ids;
pub mod k8s;
pub mod seed;
pub mod server;
pub mod store;
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
