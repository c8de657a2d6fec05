//! `data "aksid_role_definition"`: look up a built-in Azure role offline, by name or by id.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::assignments::Attr;
use crate::domain::roles::{self, BuiltinRole};
use crate::framework::model::{decode, encode_as};
use crate::framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, Schema, Type, Value};
use crate::known::Known;

pub struct RoleDefinitionDataSource;

/// The typed model of the data source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RoleDefinitionData {
    name: Attr<String>,
    id: Attr<String>,
    role_definition_id: Option<String>,
    guid: Option<String>,
    privileged: Option<bool>,
    actions: Option<Vec<String>>,
    not_actions: Option<Vec<String>>,
    data_actions: Option<Vec<String>>,
    not_data_actions: Option<Vec<String>>,
}

const DESCRIPTION: &str = "Looks up a built-in Azure role in the provider's offline catalog, by name \
(case-insensitive) or by id. No API call is made, so the result is known at plan time.";

#[async_trait]
impl DataSource for RoleDefinitionDataSource {
    fn type_name(&self) -> &'static str {
        "aksid_role_definition"
    }

    fn schema(&self) -> Schema {
        let strings = Type::list(Type::String);
        Schema {
            version: 0,
            block: Block::new(DESCRIPTION)
                .attribute(Attribute::optional_computed(
                    "name",
                    Type::String,
                    "Role name, e.g. `AcrPull` (case-insensitive). Set exactly one of `name` and `id`.",
                ))
                .attribute(Attribute::optional(
                    "id",
                    Type::String,
                    "Role definition GUID, `/providers/Microsoft.Authorization/roleDefinitions/<GUID>`, or the \
                     subscription-scoped form of that id.",
                ))
                .attribute(Attribute::computed(
                    "role_definition_id",
                    Type::String,
                    "Tenant-scoped id: `/providers/Microsoft.Authorization/roleDefinitions/<GUID>`.",
                ))
                .attribute(Attribute::computed("guid", Type::String, "The role definition GUID."))
                .attribute(Attribute::computed(
                    "privileged",
                    Type::Bool,
                    "True for roles that can grant access or change anything: Owner, Contributor, User Access \
                     Administrator, Role Based Access Control Administrator.",
                ))
                .attribute(Attribute::computed("actions", strings.clone(), "Control-plane actions the role allows."))
                .attribute(Attribute::computed("not_actions", strings.clone(), "Control-plane actions excluded."))
                .attribute(Attribute::computed("data_actions", strings.clone(), "Data-plane actions the role allows."))
                .attribute(Attribute::computed("not_data_actions", strings, "Data-plane actions excluded.")),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let m: RoleDefinitionData = match decode(config) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        if matches!(m.name, Some(Known::Unknown)) || matches!(m.id, Some(Known::Unknown)) {
            return d;
        }
        let text = |a: &Attr<String>| a.as_ref().and_then(Known::known).cloned();
        match (text(&m.name).as_deref(), text(&m.id).as_deref()) {
            (Some(_), Some(_)) => {
                d.error_at(AttributePath::attr("id"), "Conflicting role selectors", "Set either name or id, not both.")
            }
            (None, None) => d.error_at(
                AttributePath::root(),
                "Missing role selector",
                "Set name (e.g. \"AcrPull\") or id (a role definition GUID or id).",
            ),
            (Some(n), None) => {
                if let Err(e) = lookup_by_name(n) {
                    d.extend(e);
                }
            }
            (None, Some(i)) => {
                if let Err(e) = lookup_by_id(i) {
                    d.extend(e);
                }
            }
        }
        d
    }

    async fn read(&self, config: &Value) -> Result<Value, Diagnostics> {
        let m: RoleDefinitionData = decode(config)?;
        let text = |a: &Attr<String>| a.as_ref().and_then(Known::known).cloned();
        let (role, name) = match (text(&m.name).as_deref(), text(&m.id).as_deref()) {
            // Keep the user's spelling: a configured value must come back unchanged.
            (Some(n), _) => (lookup_by_name(n)?, n.to_string()),
            (None, Some(i)) => {
                let role = lookup_by_id(i)?;
                (role, role.name.clone())
            }
            (None, None) => return Err(self.validate(config)),
        };
        let out = RoleDefinitionData {
            name: Some(Known::Known(name)),
            id: m.id,
            role_definition_id: Some(role.tenant_id()),
            guid: Some(role.guid.clone()),
            privileged: Some(role.privileged()),
            actions: Some(role.actions.clone()),
            not_actions: Some(role.not_actions.clone()),
            data_actions: Some(role.data_actions.clone()),
            not_data_actions: Some(role.not_data_actions.clone()),
        };
        encode_as(&out, &self.schema().block.value_type())
    }
}

fn lookup_by_name(name: &str) -> Result<&'static BuiltinRole, Diagnostics> {
    roles::by_name(name).ok_or_else(|| {
        let suggestions = roles::suggest(name, 3);
        let hint = match suggestions.as_slice() {
            [] => "See the list of built-in roles in the provider documentation.".to_string(),
            [one] => format!("Did you mean {one:?}?"),
            many => {
                format!("Did you mean {}?", many.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", or "))
            }
        };
        let mut d = Diagnostics::new();
        d.error_at(
            AttributePath::attr("name"),
            "Unknown built-in role",
            format!("{name:?} is not a built-in role in aksid's catalog. {hint}"),
        );
        d
    })
}

fn lookup_by_id(id: &str) -> Result<&'static BuiltinRole, Diagnostics> {
    let mut d = Diagnostics::new();
    match roles::parse_role_definition_id(id) {
        Err(e) => {
            d.error_at(AttributePath::attr("id"), "Invalid role definition id", e.to_string());
            Err(d)
        }
        Ok(r) => roles::by_guid(&r.guid).ok_or_else(|| {
            d.error_at(
                AttributePath::attr("id"),
                "Not a built-in role",
                format!(
                    "Role definition {} is not in aksid's built-in catalog. Custom roles are resolved \
                     through Azure Resource Manager by the resources that assign them.",
                    r.guid
                ),
            );
            d
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::codec;

    fn config(name: Option<&str>, id: Option<&str>) -> Value {
        let mut v = codec::from_json(b"{}", &RoleDefinitionDataSource.schema().block.value_type()).unwrap();
        v.set_attr("name", Value::from_opt_string(name));
        v.set_attr("id", Value::from_opt_string(id));
        v
    }

    #[test]
    fn model_and_schema_agree() {
        crate::framework::model::assert_model_matches_schema::<RoleDefinitionData>(
            &RoleDefinitionDataSource.schema().block,
        );
    }

    #[tokio::test]
    async fn by_name_any_case_keeps_user_spelling() {
        let v = RoleDefinitionDataSource.read(&config(Some("acrpull"), None)).await.unwrap();
        assert_eq!(v.attr("name"), &Value::string("acrpull"));
        assert_eq!(v.attr("guid"), &Value::string("7f951dda-4ed3-4680-a7ca-43fe172d538d"));
        assert_eq!(v.attr("privileged"), &Value::Bool(false));
        // the result must encode under the schema, wholly known
        let ty = RoleDefinitionDataSource.schema().block.value_type();
        assert!(v.is_wholly_known());
        codec::to_msgpack(&v, &ty).unwrap();
    }

    #[tokio::test]
    async fn by_subscription_scoped_id() {
        let id = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
        let v = RoleDefinitionDataSource.read(&config(None, Some(id))).await.unwrap();
        assert_eq!(v.attr("name"), &Value::string("Owner"));
        assert_eq!(v.attr("privileged"), &Value::Bool(true));
        assert_eq!(
            v.attr("role_definition_id"),
            &Value::string("/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
        );
    }

    #[test]
    fn misspelled_name_suggests_the_closest() {
        let d = RoleDefinitionDataSource.validate(&config(Some("Storage Blod Data Reader"), None));
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("name")));
        assert!(d.0[0].detail.contains("Did you mean \"Storage Blob Data Reader\""), "{}", d.0[0].detail);
    }

    #[test]
    fn exactly_one_selector() {
        assert!(RoleDefinitionDataSource.validate(&config(None, None)).has_errors());
        assert!(RoleDefinitionDataSource.validate(&config(Some("Owner"), Some("x"))).has_errors());
        let mut unknown = config(None, None);
        unknown.set_attr("name", Value::Unknown);
        assert!(!RoleDefinitionDataSource.validate(&unknown).has_errors(), "unknown waits for apply");
    }
}
