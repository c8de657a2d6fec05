//! Compatibility with `azurerm_role_assignment`: its argument names as alternatives to ours,
//! and the state conversion behind `moved { from = azurerm_role_assignment.x ... }`
//! (MoveResourceState, Terraform ≥1.8). Pure: no I/O.

use serde_json::Value as Json;

use super::{known, set, Assignment};
use crate::domain::roles;
use crate::framework::{AttributePath, Diagnostic, Diagnostics, MoveRequest};
use crate::known::Known;
use crate::planner::Origin;

/// The only azurerm type whose state this resource takes over.
pub const SOURCE_TYPE: &str = "azurerm_role_assignment";

/// The schema version of `azurerm_role_assignment` (the resource declares none, so 0).
pub const SOURCE_SCHEMA_VERSION: i64 = 0;

/// One way of naming the role is required; several are accepted when they agree (a generated
/// configuration repeats the role in all three). ABAC conditions are refused rather than dropped
/// (dropping one would silently widen the grant).
pub fn validate(m: &Assignment, d: &mut Diagnostics) {
    if m.role.is_none() && m.role_definition_name.is_none() && m.role_definition_id.is_none() {
        d.error_at(
            AttributePath::attr("role"),
            "Missing role",
            "Set one of role, role_definition_name or role_definition_id.",
        );
    }
    if let (Some(role), Some(name)) = (known(&m.role), known(&m.role_definition_name)) {
        if !role.trim().eq_ignore_ascii_case(name.trim()) {
            d.error_at(
                AttributePath::attr("role_definition_name"),
                "Conflicting role arguments",
                format!("role is {role:?} but role_definition_name is {name:?}: set only one of them."),
            );
        }
    }
    if known(&m.condition).is_some_and(|c| !c.is_empty()) {
        d.error_at(
            AttributePath::attr("condition"),
            "Conditions are not supported",
            "aksid_role_assignment does not manage ABAC conditions. Keep this assignment in azurerm_role_assignment.",
        );
    }
}

/// The role as configured, in whichever of the three spellings the configuration uses.
pub fn role_from_config(config: &Assignment, m: &mut Assignment) {
    if let Some(role) =
        [&config.role, &config.role_definition_name, &config.role_definition_id].into_iter().find(|a| a.is_some())
    {
        m.role = role.clone();
    }
}

fn same_role_id(id: &str, guid: &str) -> bool {
    !guid.is_empty() && id.to_ascii_lowercase().ends_with(&format!("/{}", guid.to_ascii_lowercase()))
}

/// The planned `role_definition_id`: the configured one (which must name the role the other
/// arguments name), the spelling state already holds for the same role (azurerm stores the
/// subscription form), else the tenant form.
pub fn plan_role_definition_id(
    config: &Assignment,
    m: &mut Assignment,
    prior: Option<&Assignment>,
    guid: &str,
) -> Result<(), Diagnostics> {
    if let Some(c) = known(&config.role_definition_id).filter(|c| !same_role_id(c, guid)) {
        return Err(Diagnostic::error(
            "Conflicting role arguments",
            format!("role_definition_id {c:?} is not the role the other arguments name (role definition {guid})."),
        )
        .at(AttributePath::attr("role_definition_id"))
        .into());
    }
    let prior_id = prior.and_then(|p| known(&p.role_definition_id)).filter(|p| same_role_id(p, guid));
    m.role_definition_id = match (&config.role_definition_id, prior_id) {
        (Some(Known::Unknown), _) => Some(Known::Unknown),
        (_, Some(p)) => set(p),
        (Some(c), None) => Some(c.clone()),
        (None, None) => set(format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}")),
    };
    Ok(())
}

/// At apply: the planned spelling of the same role stays, else the tenant form.
pub fn applied_role_definition_id(m: &mut Assignment, guid: &str) {
    if !known(&m.role_definition_id).is_some_and(|p| same_role_id(p, guid)) {
        m.role_definition_id = set(format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"));
    }
}

/// The planned `role_definition_name`: the configured one (the prior spelling when only the
/// case differs), else what state holds unless the grant is replaced.
pub fn plan_role_definition_name(config: &Assignment, m: &mut Assignment, prior: Option<&Assignment>, replacing: bool) {
    let prior_name = prior.and_then(|p| known(&p.role_definition_name));
    m.role_definition_name = match (known(&config.role_definition_name), prior_name) {
        (Some(c), Some(p)) if p.eq_ignore_ascii_case(c) => set(p),
        _ if config.role_definition_name.is_some() => config.role_definition_name.clone(),
        _ if replacing => None,
        _ => m.role_definition_name.clone(),
    };
}

fn move_error(summary: &str, detail: impl Into<String>) -> Diagnostics {
    Diagnostic::error(summary, detail).into()
}

/// A string attribute of the azurerm state; the SDK stores unset strings as "", read as absent.
fn text<'a>(s: &'a Json, key: &str) -> Option<&'a str> {
    s.get(key).and_then(Json::as_str).filter(|v| !v.is_empty())
}

fn check_source(req: &MoveRequest<'_>) -> Result<(), Diagnostics> {
    let provider_type = req.source_provider_address.rsplit('/').next().unwrap_or_default();
    if provider_type != "azurerm" || req.source_type_name != SOURCE_TYPE {
        return Err(move_error(
            "Cannot move this resource type",
            format!(
                "aksid_role_assignment takes over azurerm_role_assignment only, not {} of {}.",
                req.source_type_name, req.source_provider_address
            ),
        ));
    }
    if req.source_schema_version != SOURCE_SCHEMA_VERSION {
        return Err(move_error(
            "Unknown azurerm state version",
            format!(
                "The azurerm_role_assignment state has schema version {}; this provider understands version {}. \
                 Refresh it with the azurerm provider first, or remove it from state and import the assignment.",
                req.source_schema_version, SOURCE_SCHEMA_VERSION
            ),
        ));
    }
    Ok(())
}

/// What aksid does not manage must not vanish silently: refuse instead.
fn check_supported(s: &Json, id: &str) -> Result<(), Diagnostics> {
    if text(s, "condition").is_some() {
        return Err(move_error(
            "Cannot move a conditional role assignment",
            format!("{id} has an ABAC condition, which aksid_role_assignment does not manage. Keep it in azurerm."),
        ));
    }
    if text(s, "delegated_managed_identity_resource_id").is_some() || id.contains('|') {
        return Err(move_error(
            "Cannot move a cross-tenant role assignment",
            format!("{id} is delegated to a managed identity of another tenant, which aksid does not manage."),
        ));
    }
    Ok(())
}

/// The `aksid_role_assignment` state for the same assignment: same id and name, so nothing is
/// replaced. Recorded as imported: destroy deletes it, as azurerm would have.
pub fn from_azurerm(req: &MoveRequest<'_>) -> Result<Assignment, Diagnostics> {
    check_source(req)?;
    let s: Json = serde_json::from_slice(req.source_state_json)
        .map_err(|e| move_error("Unreadable azurerm state", format!("The source state is not JSON: {e}")))?;
    let Some(id) = text(&s, "id") else {
        return Err(move_error("Unreadable azurerm state", "The azurerm_role_assignment state has no id."));
    };
    check_supported(&s, id)?;
    let name = text(&s, "name").or_else(|| id.rsplit('/').next()).unwrap_or_default();
    let scope = text(&s, "scope").map(str::to_string).or_else(|| {
        id.split_once("/providers/Microsoft.Authorization/roleAssignments/").map(|(scope, _)| scope.to_string())
    });
    let role_id = text(&s, "role_definition_id");
    let role_by_name = text(&s, "role_definition_name");
    let Some(role) = role_by_name.or(role_id) else {
        return Err(move_error("Unreadable azurerm state", format!("{id} names no role definition.")));
    };
    let guid = role_id.and_then(|r| r.rsplit('/').next()).unwrap_or_default();
    let role_name = role_by_name.map(str::to_string).or_else(|| roles::by_guid(guid).map(|r| r.name.clone()));
    let principal_type = text(&s, "principal_type").unwrap_or(crate::resources::assignments::PRINCIPAL_TYPE);
    let opt = |key: &str| text(&s, key).map(|v| Known::Known(v.to_string()));
    Ok(Assignment {
        id: set(id),
        name: set(name),
        scope: scope.map(Known::Known),
        role: set(role),
        role_definition_name: opt("role_definition_name"),
        principal_id: opt("principal_id"),
        principal_type: set(principal_type),
        description: opt("description"),
        role_definition_id: opt("role_definition_id"),
        role_name: role_name.or_else(|| Some(guid.to_string())).filter(|n| !n.is_empty()).map(Known::Known),
        origin: set(Origin::Imported.as_str()),
        skip_service_principal_aad_check: s
            .get("skip_service_principal_aad_check")
            .and_then(Json::as_bool)
            .map(Known::Known),
        condition_version: opt("condition_version"),
        timeouts: timeouts(&s),
        ..Assignment::default()
    })
}

/// azurerm's create and delete timeouts carry over; read and update have no counterpart.
fn timeouts(s: &Json) -> Option<super::Timeouts> {
    let t = s.get("timeouts").filter(|t| t.is_object())?;
    let get = |k: &str| t.get(k).and_then(Json::as_str).map(|v| Known::Known(v.to_string()));
    let (create, delete) = (get("create"), get("delete"));
    (create.is_some() || delete.is_some()).then_some(super::Timeouts { create, delete })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "9c195f54-5580-4cd2-9e24-3114522757f4";
    const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

    /// An `azurerm_role_assignment` instance as Terraform stores it (schema version 0): the SDK
    /// writes "" for unset strings and the subscription form of the role definition id.
    fn source(overrides: &[(&str, Json)]) -> Json {
        let scope =
            format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr");
        let mut s = serde_json::json!({
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/cc97febf-558a-4304-8434-c250813acd87"),
            "name": "cc97febf-558a-4304-8434-c250813acd87",
            "scope": scope,
            "role_definition_id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"),
            "role_definition_name": "AcrPull",
            "principal_id": "dd045a39-4adf-491f-be2d-1611bf4e408e",
            "principal_type": "ServicePrincipal",
            "description": "",
            "condition": "",
            "condition_version": "",
            "skip_service_principal_aad_check": false,
            "delegated_managed_identity_resource_id": "",
            "timeouts": null
        });
        for (k, v) in overrides {
            s[*k] = v.clone();
        }
        s
    }

    fn moved(state: &Json) -> Result<Assignment, Diagnostics> {
        moved_from("registry.terraform.io/hashicorp/azurerm", SOURCE_TYPE, 0, state)
    }

    fn moved_from(provider: &str, ty: &str, version: i64, state: &Json) -> Result<Assignment, Diagnostics> {
        let json = serde_json::to_vec(state).unwrap();
        from_azurerm(&MoveRequest {
            source_provider_address: provider,
            source_type_name: ty,
            source_schema_version: version,
            source_state_json: &json,
            source_private: br#"{"schema_version":"0"}"#,
        })
    }

    fn k(s: &str) -> Attr<String> {
        set(s)
    }

    use super::super::Attr;

    #[test]
    fn a_typical_azurerm_state_keeps_id_name_and_role_spelling() {
        let src = source(&[]);
        let m = moved(&src).unwrap();
        assert_eq!(m.id, k(src["id"].as_str().unwrap()), "same id: no replacement");
        assert_eq!(m.name, k("cc97febf-558a-4304-8434-c250813acd87"));
        assert_eq!(m.scope, k(src["scope"].as_str().unwrap()));
        assert_eq!(m.role, k("AcrPull"), "the role by name, as azurerm read it");
        assert_eq!(m.role_definition_name, k("AcrPull"));
        assert_eq!(m.role_definition_id, k(src["role_definition_id"].as_str().unwrap()), "azurerm's spelling stays");
        assert_eq!(m.role_name, k("AcrPull"));
        assert_eq!(m.principal_id, k("dd045a39-4adf-491f-be2d-1611bf4e408e"));
        assert_eq!(m.principal_type, k("ServicePrincipal"));
        assert_eq!(m.skip_service_principal_aad_check, Some(Known::Known(false)));
        assert_eq!(m.origin, k("imported"), "destroy deletes it, as azurerm would have");
        for (what, empty) in [("description", &m.description), ("condition", &m.condition)] {
            assert_eq!(*empty, None, "{what}: the SDK's empty string is null here");
        }
        assert_eq!(m.condition_version, None);
        assert!(m.timeouts.is_none() && m.allow_broad_scope.is_none() && m.delete_adopted_on_destroy.is_none());
        // The result encodes under this resource's schema.
        assert!(super::super::to_value(&m).is_ok());
    }

    #[test]
    fn role_by_id_only_and_description_and_timeouts_carry_over() {
        let m = moved(&source(&[
            ("role_definition_name", Json::from("")),
            ("description", Json::from("pull images")),
            ("principal_type", Json::from("")),
            ("timeouts", serde_json::json!({"create": "30m", "read": "5m", "update": null, "delete": "15m"})),
        ]))
        .unwrap();
        assert!(m.role.as_ref().and_then(Known::known).unwrap().ends_with(ACR_PULL));
        assert_eq!(m.role_definition_name, None);
        assert_eq!(m.role_name, k("AcrPull"), "named from the built-in catalog");
        assert_eq!(m.description, k("pull images"));
        assert_eq!(m.principal_type, k("ServicePrincipal"), "what plan would default to, so no replacement");
        let t = m.timeouts.unwrap();
        assert_eq!((t.create, t.delete), (k("30m"), k("15m")));
    }

    #[test]
    fn what_aksid_cannot_manage_is_refused_not_dropped() {
        let cases = [
            (source(&[("condition", Json::from("@Resource[x] StringEquals 'y'"))]), "conditional"),
            (
                source(&[(
                    "delegated_managed_identity_resource_id",
                    Json::from("/subscriptions/x/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i"),
                )]),
                "cross-tenant",
            ),
            (source(&[("id", Json::from(""))]), "no id"),
            (source(&[("role_definition_name", Json::from("")), ("role_definition_id", Json::from(""))]), "no role"),
        ];
        for (state, expected) in cases {
            let d = moved(&state).unwrap_err();
            let text = format!("{} {}", d.0[0].summary, d.0[0].detail);
            assert!(text.contains(expected), "{expected}: {text}");
        }
        let src = source(&[]);
        for (provider, ty, version, expected) in [
            ("registry.terraform.io/hashicorp/azurerm", "azurerm_role_definition", 0, "azurerm_role_definition"),
            ("registry.terraform.io/hashicorp/null", SOURCE_TYPE, 0, "hashicorp/null"),
            ("registry.terraform.io/hashicorp/azurerm", SOURCE_TYPE, 1, "schema version 1"),
        ] {
            let d = moved_from(provider, ty, version, &src).unwrap_err();
            assert!(d.0[0].detail.contains(expected), "{expected}: {}", d.0[0].detail);
        }
        let garbage = from_azurerm(&MoveRequest {
            source_provider_address: "registry.terraform.io/hashicorp/azurerm",
            source_type_name: SOURCE_TYPE,
            source_schema_version: 0,
            source_state_json: b"{not json",
            source_private: b"",
        });
        assert!(garbage.unwrap_err().0[0].summary.contains("Unreadable"));
    }

    fn config(role: &str, by_name: &str, by_id: &str) -> Assignment {
        let opt = |v: &str| if v.is_empty() { None } else { set(v) };
        Assignment {
            role: opt(role),
            role_definition_name: opt(by_name),
            role_definition_id: opt(by_id),
            ..Assignment::default()
        }
    }

    #[test]
    fn one_role_spelling_or_agreeing_ones_and_no_conditions() {
        let errors = |m: &Assignment| {
            let mut d = Diagnostics::new();
            validate(m, &mut d);
            d.0.iter().map(|d| d.summary.clone()).collect::<Vec<_>>()
        };
        assert!(errors(&config("Reader", "", "")).is_empty());
        assert!(errors(&config("", "Reader", "")).is_empty());
        assert!(errors(&config("", "", ACR_PULL)).is_empty());
        assert_eq!(errors(&config("", "", "")), ["Missing role"]);
        assert!(errors(&config("Reader", "reader", ACR_PULL)).is_empty(), "agreeing names (the id is checked at plan)");
        assert_eq!(errors(&config("Reader", "Contributor", "")), ["Conflicting role arguments"]);
        let mut c = config("Reader", "", "");
        c.condition = set("x");
        assert_eq!(errors(&c), ["Conditions are not supported"]);
        c.condition = set("");
        assert!(errors(&c).is_empty(), "an empty condition is no condition");
    }

    #[test]
    fn the_configured_spelling_becomes_the_role() {
        let mut m = Assignment { role: k("from prior"), ..Assignment::default() };
        role_from_config(&config("", "AcrPull", ""), &mut m);
        assert_eq!(m.role, k("AcrPull"));
        role_from_config(&config("", "", ACR_PULL), &mut m);
        assert_eq!(m.role, k(ACR_PULL));
        let mut unknown = config("", "", "");
        unknown.role_definition_name = Some(Known::Unknown);
        role_from_config(&unknown, &mut m);
        assert_eq!(m.role, Some(Known::Unknown));
    }

    #[test]
    fn role_definition_id_keeps_the_spelling_state_or_config_has() {
        let sub_form = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}");
        let tenant_form = format!("/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}");
        let prior = Assignment { role_definition_id: k(&sub_form.to_uppercase()), ..Assignment::default() };
        let plan = |config: &Assignment, prior: Option<&Assignment>| {
            let mut m = Assignment::default();
            plan_role_definition_id(config, &mut m, prior, ACR_PULL).unwrap();
            m.role_definition_id
        };
        assert_eq!(plan(&config("", "", &sub_form), Some(&prior)), prior.role_definition_id, "same role: prior");
        assert_eq!(plan(&config("AcrPull", "", ""), Some(&prior)), prior.role_definition_id);
        assert_eq!(plan(&config("", "", &sub_form), None), k(&sub_form), "as configured");
        assert_eq!(plan(&config("AcrPull", "", ""), None), k(&tenant_form));
        let other = Assignment { role_definition_id: k(&tenant_form.replace(ACR_PULL, SUB)), ..Assignment::default() };
        assert_eq!(plan(&config("AcrPull", "", ""), Some(&other)), k(&tenant_form), "another role: recomputed");
        let mut unknown = config("AcrPull", "", "");
        unknown.role_definition_id = Some(Known::Unknown);
        assert_eq!(plan(&unknown, Some(&prior)), Some(Known::Unknown), "unknown in config stays unknown");
        let other_role = config("AcrPull", "", &tenant_form.replace(ACR_PULL, SUB));
        let err = plan_role_definition_id(&other_role, &mut Assignment::default(), None, ACR_PULL).unwrap_err();
        assert_eq!(err.0[0].summary, "Conflicting role arguments");
        let mut m = Assignment { role_definition_id: k(&sub_form), ..Assignment::default() };
        applied_role_definition_id(&mut m, ACR_PULL);
        assert_eq!(m.role_definition_id, k(&sub_form), "apply keeps the planned spelling");
        applied_role_definition_id(&mut m, SUB);
        assert_eq!(m.role_definition_id, k(&tenant_form.replace(ACR_PULL, SUB)));
    }

    #[test]
    fn role_definition_name_follows_config_then_state() {
        let prior = Assignment { role_definition_name: k("AcrPull"), ..Assignment::default() };
        let plan = |config: &Assignment, proposed: Attr<String>, replacing: bool| {
            let mut m = Assignment { role_definition_name: proposed, ..Assignment::default() };
            plan_role_definition_name(config, &mut m, Some(&prior), replacing);
            m.role_definition_name
        };
        assert_eq!(plan(&config("", "acrpull", ""), k("acrpull"), false), k("AcrPull"), "case only: prior");
        assert_eq!(plan(&config("", "Reader", ""), k("Reader"), true), k("Reader"));
        assert_eq!(plan(&config("AcrPull", "", ""), k("AcrPull"), false), k("AcrPull"), "unset: state's");
        assert_eq!(plan(&config("Reader", "", ""), k("AcrPull"), true), None, "replaced: stale name dropped");
    }
}
