//! `provider::aksid::role_assignment_name(scope, principal_id, role)`: the deterministic name
//! aksid gives a role assignment, for modules that need it without the resource.

use crate::domain::{names, roles};
use crate::framework::{Function, FunctionError, Parameter, Type, Value};

pub struct RoleAssignmentName;

impl Function for RoleAssignmentName {
    fn name(&self) -> &'static str {
        "role_assignment_name"
    }

    fn summary(&self) -> &'static str {
        "The deterministic name of a role assignment"
    }

    fn description(&self) -> &'static str {
        "Returns the GUID aksid uses as the name of the assignment of `role` to `principal_id` at `scope`: \
         a UUIDv5 over the lowercased scope, principal id and role GUID (the convention of Bicep's \
         `guid()`-based names), so it is stable across casing and known at plan time. `role` is a built-in \
         role name, a role definition GUID, or a role definition id."
    }

    fn parameters(&self) -> Vec<Parameter> {
        vec![
            Parameter { name: "scope", ty: Type::String, description: "ARM id of the scope." },
            Parameter { name: "principal_id", ty: Type::String, description: "Object id of the principal." },
            Parameter { name: "role", ty: Type::String, description: "Role name, GUID or role definition id." },
        ]
    }

    fn return_type(&self) -> Type {
        Type::String
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let arg = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or_default();
        let guid = resolve_role_guid(arg(2)).map_err(|text| FunctionError { text, argument: Some(2) })?;
        let name = names::try_role_assignment_name(arg(0), arg(1), &guid)
            .map_err(|e| FunctionError { text: e.to_string(), argument: Some(1) })?;
        if arg(0).trim().is_empty() || !arg(0).starts_with('/') {
            return Err(FunctionError {
                text: format!("scope must be an ARM id, got {:?}", arg(0)),
                argument: Some(0),
            });
        }
        Ok(Value::string(name.to_string()))
    }
}

/// A built-in role name, or any GUID / role definition id form.
pub fn resolve_role_guid(role: &str) -> Result<String, String> {
    if let Some(r) = roles::by_name(role) {
        return Ok(r.guid.clone());
    }
    match roles::parse_role_definition_id(role) {
        Ok(r) => Ok(r.guid),
        Err(_) => {
            let hint = roles::suggest(role, 1).first().map(|s| format!(" Did you mean {s:?}?")).unwrap_or_default();
            Err(format!("{role:?} is neither a built-in role name nor a role definition id.{hint}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg";
    const P: &str = "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c";

    fn call(scope: &str, p: &str, role: &str) -> Result<Value, FunctionError> {
        RoleAssignmentName.call(&[Value::string(scope), Value::string(p), Value::string(role)])
    }

    #[test]
    fn every_role_form_gives_the_same_name() {
        let by_name = call(SCOPE, P, "AcrPull").ok().unwrap();
        for role in [
            "acrpull",
            "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
        ] {
            assert_eq!(call(SCOPE, P, role).ok().unwrap(), by_name, "{role}");
        }
        assert_eq!(call(&SCOPE.replace("resourceGroups", "resourcegroups"), P, "AcrPull").ok().unwrap(), by_name);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        assert_eq!(call(SCOPE, P, "AcrPul").err().unwrap().argument, Some(2));
        assert_eq!(call(SCOPE, "nope", "AcrPull").err().unwrap().argument, Some(1));
        assert_eq!(call("rg", P, "AcrPull").err().unwrap().argument, Some(0));
    }
}
