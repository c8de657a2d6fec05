//! Field sets of server-side apply: the fields of an object that one manager owns,
//! and their `FieldsV1` encoding in `metadata.managedFields`.
//!
//! A path is a list of field names (struct fields or map keys). Lists are atomic in
//! the emulator (see `walk`), so the list-item elements of `FieldsV1` (`k:`, `v:`, `i:`)
//! are never produced. `FieldsV1` marks every field with `f:`; a field that is owned
//! itself and also has owned children gets a `".": {}` entry, as the API server writes it.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// A field path, e.g. `["metadata", "labels", "app"]`.
pub type Path = Vec<String>;

/// A set of owned field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub fn contains(&self, path: &[String]) -> bool {
        self.0.iter().any(|p| p.as_slice() == path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Keep only the paths for which `keep` is true.
    pub fn retain(&mut self, keep: impl Fn(&Path) -> bool) {
        self.0.retain(|p| keep(p));
    }

    /// The `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let paths: Vec<&[String]> = self.0.iter().filter(|p| !p.is_empty()).map(Vec::as_slice).collect();
        Value::Object(encode_level(&paths))
    }

    /// Read a `fieldsV1` object. Element kinds the emulator does not produce (`k:`,
    /// `v:`, `i:`) are kept as opaque names, so they round-trip.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = BTreeSet::new();
        decode(v, &mut Vec::new(), &mut out);
        FieldSet(out)
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(iter: I) -> Self {
        FieldSet(iter.into_iter().collect())
    }
}

/// `.spec.selector`, the spelling of conflict messages.
pub fn display(path: &[String]) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

/// `f:name`; a list element kept from a foreign entry (`k:…`, `v:…`, `i:…`) as is.
/// Field and label names cannot contain `:`, so the two never mix.
fn element_key(name: &str) -> String {
    if ["k:", "v:", "i:"].iter().any(|p| name.starts_with(p)) {
        name.to_string()
    } else {
        format!("f:{name}")
    }
}

/// Encode sorted, non-empty paths that share the current prefix.
fn encode_level(paths: &[&[String]]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut i = 0;
    while i < paths.len() {
        let head = &paths[i][0];
        let mut member = false;
        let mut rest: Vec<&[String]> = Vec::new();
        while i < paths.len() && &paths[i][0] == head {
            if paths[i].len() == 1 {
                member = true;
            } else {
                rest.push(&paths[i][1..]);
            }
            i += 1;
        }
        let children = encode_level(&rest);
        let mut node = Map::new();
        if member && !children.is_empty() {
            node.insert(".".into(), json!({}));
        }
        node.extend(children);
        out.insert(element_key(head), Value::Object(node));
    }
    out
}

fn decode(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = v.as_object() else { return };
    if map.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
        return;
    }
    for (key, child) in map {
        if key == "." {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
            continue;
        }
        prefix.push(key.strip_prefix("f:").unwrap_or(key).to_string());
        decode(child, prefix, out);
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn encodes_like_the_api_server() {
        let set: FieldSet =
            [p("metadata.labels"), p("metadata.labels.app"), p("spec.type"), p("spec.clientID")].into_iter().collect();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:clientID": {}, "f:type": {}},
            })
        );
    }

    #[test]
    fn decode_inverts_encode() {
        let set: FieldSet = [
            p("metadata.annotations.azure/client-id"),
            p("metadata.labels"),
            p("metadata.labels.a"),
            p("spec.selector"),
        ]
        .into_iter()
        .collect();
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
        // Foreign element kinds survive as opaque names.
        let foreign = json!({"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}}});
        assert_eq!(FieldSet::from_fields_v1(&foreign).to_fields_v1(), foreign);
    }

    #[test]
    fn set_operations_and_display() {
        let a: FieldSet = [p("spec.a"), p("spec.b")].into_iter().collect();
        let b: FieldSet = [p("spec.b"), p("spec.c")].into_iter().collect();
        assert_eq!(a.intersection(&b), [p("spec.b")].into_iter().collect());
        assert_eq!(a.difference(&b), [p("spec.a")].into_iter().collect());
        assert_eq!(a.union(&b).iter().count(), 3);
        assert_eq!(display(&p("spec.selector")), ".spec.selector");
        assert!(FieldSet::from_fields_v1(&json!("not an object")).is_empty());
    }
}
