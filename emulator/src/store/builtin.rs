//! Built-in Azure role definitions, compiled in from `data/builtin-roles.json`.

use std::sync::OnceLock;

use serde::Deserialize;

use super::RoleDefinition;

const BUILTIN_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/builtin-roles.json"));

#[derive(Deserialize)]
struct Raw {
    name: String,
    guid: String,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    not_actions: Vec<String>,
    #[serde(default)]
    data_actions: Vec<String>,
    #[serde(default)]
    not_data_actions: Vec<String>,
}

/// All built-in roles, parsed once per process. Like `k8s::KINDS`, this is read-only
/// data compiled into the binary, so emulator instances cannot affect each other through it.
pub fn builtin_roles() -> &'static [RoleDefinition] {
    static ROLES: OnceLock<Vec<RoleDefinition>> = OnceLock::new();
    ROLES.get_or_init(|| {
        // The file is part of the crate's build inputs; a parse failure is a build
        // defect caught by the unit test below, so degrade to "no built-ins".
        let raw: Vec<Raw> = serde_json::from_str(BUILTIN_JSON).unwrap_or_default();
        raw.into_iter()
            .map(|r| RoleDefinition {
                id: r.guid.to_ascii_lowercase(),
                role_name: r.name,
                description: String::new(),
                role_type: "BuiltInRole".into(),
                actions: r.actions,
                not_actions: r.not_actions,
                data_actions: r.data_actions,
                not_data_actions: r.not_data_actions,
                assignable_scopes: vec!["/".into()],
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_contain_admin_roles() {
        let raw: Vec<Raw> = serde_json::from_str(BUILTIN_JSON).expect("builtin-roles.json parses");
        assert_eq!(raw.len(), builtin_roles().len());
        let owner = builtin_roles().iter().find(|r| r.role_name == "Owner").unwrap();
        assert_eq!(owner.id, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
        assert!(builtin_roles().iter().any(|r| r.role_name == "User Access Administrator"));
        assert!(builtin_roles().iter().any(|r| r.role_name == "Role Based Access Control Administrator"));
        for r in builtin_roles() {
            assert!(crate::util::is_guid(&r.id), "{}", r.role_name);
        }
    }
}
