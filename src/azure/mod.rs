pub mod arm;
pub mod cluster;
pub mod credentials;
pub mod http;
pub mod ids;
pub mod names;
pub mod retry;
pub mod roles;
