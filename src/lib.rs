//! terraform-provider-aksid: a Terraform provider (plugin protocol 5) that wires up the Azure
//! identities of AKS clusters with least privilege.
//!
//! Layers, each one module boundary from the next (see `docs/design.md`):
//! `plugin` (go-plugin transport) → `protocol` (tfplugin5 gRPC ⇄ framework) → `framework`
//! (values, schemas, traits) ← `provider`/`resources` (our provider) → `azure` (pure Azure logic).

pub mod azure;
pub mod framework;
pub mod functions;
pub mod kube;
pub mod logging;
pub mod planner;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod resources;

/// Code generated from `proto/` at build time.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    pub mod tfplugin5 {
        tonic::include_proto!("tfplugin5");
    }
    pub mod go_plugin {
        tonic::include_proto!("plugin");
    }
}
