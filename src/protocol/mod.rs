//! The tfplugin5 gRPC service and its conversions to and from the framework.

pub mod convert;
pub mod service;

pub use service::ProviderService;
