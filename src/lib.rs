//! terraform-provider-aksid: a Terraform provider (plugin protocol 5) that wires up the Azure
//! identities of AKS clusters with least privilege.
//!
//! Layers and the path of one request are described in `ARCHITECTURE.md` at the repository
//! root: `plugin` → `protocol` → `provider` → `resources` (glue) → `executor` → `planner`
//! (pure) and `azure` (clients) → `domain` (pure Azure model); `framework` underneath all.

pub mod azure;
pub mod clients;
pub mod domain;
pub mod executor;
pub mod framework;
pub mod functions;
pub mod known;
pub mod kube;
pub mod locks;
pub mod logging;
pub mod planner;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod resources;
pub mod settings;

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
