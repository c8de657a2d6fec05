//! A small, protocol-agnostic provider framework: values, schemas, diagnostics and the traits
//! that resources, data sources and functions implement. Nothing here knows about protobuf.

pub mod codec;
pub mod diagnostics;
pub mod duration;
pub mod encoded;
pub mod model;
pub mod provider;
pub mod schema;
pub mod types;
pub mod value;

pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use encoded::Encoded;
pub use provider::*;
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use types::Type;
pub use value::{Number, Value};
