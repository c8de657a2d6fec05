pub mod arm;
pub mod cluster;
pub mod credentials;
pub mod http;
pub mod retry;
pub mod role_assignments;
pub mod role_definitions;
