pub mod roles;
