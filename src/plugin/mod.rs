//! go-plugin transport: the handshake, AutoMTLS and the side services Terraform expects from
//! every plugin process.

pub mod allocator;
pub mod handshake;
pub mod serve;
pub mod services;
pub mod tls;
