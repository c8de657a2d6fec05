//! Objects as one multi-document YAML string (for a `manifests` output, e.g. to commit to a
//! GitOps repository instead of letting aksid write to the cluster).

use ::kube::api::DynamicObject;

/// Why an object could not be written as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot render {object} as YAML: {reason}")]
pub struct YamlError {
    pub object: String,
    pub reason: String,
}

/// `objects` as YAML documents separated by `---`, in the given order. Server-set metadata
/// (uid, resourceVersion, managedFields, …) is left out so the output is stable and re-appliable.
pub fn render(objects: &[DynamicObject]) -> Result<String, YamlError> {
    let docs = objects.iter().map(manifest_value).collect::<Result<Vec<_>, _>>()?;
    serde_saphyr::to_string_multiple(&docs)
        .map_err(|e| YamlError { object: "the manifests".into(), reason: e.to_string() })
}

fn manifest_value(obj: &DynamicObject) -> Result<serde_json::Value, YamlError> {
    let mut clean = obj.clone();
    let meta = &mut clean.metadata;
    meta.uid = None;
    meta.resource_version = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.managed_fields = None;
    if let Some(data) = clean.data.as_object_mut() {
        data.remove("status");
    }
    serde_json::to_value(&clean).map_err(|e| YamlError { object: describe(obj), reason: e.to_string() })
}

fn describe(obj: &DynamicObject) -> String {
    let kind = obj.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("object");
    let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
    let name = obj.metadata.name.as_deref().unwrap_or_default();
    format!("{kind} {ns}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::objects::{azure_identity, azure_identity_binding, service_account, to_dynamic, Meta};

    fn sample() -> Vec<DynamicObject> {
        let meta = Meta::new("orders", "apps");
        vec![
            azure_identity(&meta, "/subscriptions/s/resourceGroups/rg/providers/x/y", "0123"),
            azure_identity_binding(&Meta::new("orders-binding", "apps"), "orders", "true"),
            to_dynamic(&service_account(&meta, "0123", None)).unwrap(),
        ]
    }

    #[test]
    fn documents_are_separated_and_parse_back_to_the_same_objects() {
        let objects = sample();
        let text = render(&objects).unwrap();
        assert_eq!(text.matches("\n---\n").count(), 2, "{text}");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        let expected: Vec<serde_json::Value> = objects.iter().map(|o| serde_json::to_value(o).unwrap()).collect();
        assert_eq!(docs, expected);
    }

    #[test]
    fn ambiguous_strings_stay_strings() {
        // A client id of digits, or a selector of "true", must not turn into a number/boolean.
        let text = render(&sample()).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        assert_eq!(docs[0]["spec"]["clientID"], "0123");
        assert_eq!(docs[0]["spec"]["type"], 0);
        assert_eq!(docs[1]["spec"]["selector"], "true");
    }

    #[test]
    fn server_fields_are_left_out() {
        let mut obj = sample().remove(0);
        obj.metadata.uid = Some("u-1".into());
        obj.metadata.resource_version = Some("42".into());
        obj.data["status"] = serde_json::json!({"availableReplicas": 1});
        let text = render(&[obj]).unwrap();
        assert!(!text.contains("u-1") && !text.contains("resourceVersion") && !text.contains("status"), "{text}");
        assert!(text.starts_with("apiVersion: aadpodidentity.k8s.io/v1\nkind: AzureIdentity\n"), "{text}");
    }

    #[test]
    fn no_objects_is_an_empty_string() {
        assert_eq!(render(&[]).unwrap(), "");
    }
}
