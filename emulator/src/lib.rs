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

/// Where the shared specs live for tests: `AKSID_SPECS_DIR`, else `../../shared/specs`.
#[cfg(test)]
pub(crate) fn specs_dir_for_tests() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("AKSID_SPECS_DIR") {
        return Some(d.into());
    }
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs");
    d.is_dir().then_some(d)
}
