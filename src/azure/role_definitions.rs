//! Role definitions on ARM: looking up custom roles by name at a scope (built-in roles come
//! from the offline catalog in `roles`).

use std::time::Instant;

use reqwest::Method;
use serde_json::Value as Json;

use super::arm::{ArmClient, ArmError};
use super::role_assignments::API_VERSION;

/// GUIDs (lowercase) of the role definitions named `name` that are visible at `scope`
/// (`$filter=roleName eq '…'`).
pub async fn find_by_name(
    arm: &ArmClient,
    scope: &str,
    name: &str,
    deadline: Instant,
) -> Result<Vec<String>, ArmError> {
    let path = format!("{}/providers/Microsoft.Authorization/roleDefinitions", scope.trim_end_matches('/'));
    let filter = format!("roleName eq '{}'", name.replace('\'', "''"));
    let resp =
        arm.send(Method::GET, &path, &[("api-version", API_VERSION), ("$filter", &filter)], None, deadline).await?;
    Ok(resp
        .body
        .get("value")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("name").and_then(Json::as_str).map(str::to_ascii_lowercase))
        .collect())
}
