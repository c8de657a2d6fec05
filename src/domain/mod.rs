//! The pure Azure vocabulary both the planner and the clients build on: ARM resource ids,
//! deterministic role-assignment names, the built-in role catalog and the ownership marker.
//! No I/O, and no imports from the rest of the crate.

pub mod ids;
pub mod names;
pub mod ownership;
pub mod roles;

/// A GUID in its 8-4-4-4-12 form (subscription, tenant, principal and role ids), either case.
pub fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids() {
        assert!(super::is_guid("2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c"));
        assert!(super::is_guid("2A8F9B1C-0D3E-4F5A-8B6C-7D8E9F0A1B2C"));
        assert!(!super::is_guid("2a8f9b1c0d3e4f5a8b6c7d8e9f0a1b2c"));
        assert!(!super::is_guid("{2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c}"));
        assert!(!super::is_guid("hub"));
    }
}
