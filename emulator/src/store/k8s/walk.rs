//! Walking objects the way server-side apply does: the fields a configuration sets,
//! what changed between two versions of an object, merging an applied configuration
//! into the live object, and removing fields that nobody owns any more.
//!
//! The kind's structural schema says how a field is owned: a struct (schema object with
//! properties) or a map (`labels`, `annotations`) is walked into, and everything else
//! (scalars, lists, free-form objects) is one field owned as a whole. Treating every
//! list as atomic is right for these CRDs (no `x-kubernetes-list-type`); for
//! `ServiceAccount.secrets` the API server keys items by name, the emulator does not.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path};
use super::schema::{Schema, OBJECT_META};

/// Schema of the field `key` below a node at `depth` (the top-level `metadata` is
/// walked as [`OBJECT_META`]). `None`: not known, an atomic field.
fn child(schema: Option<&'static Schema>, key: &str, depth: usize) -> Option<&'static Schema> {
    if depth == 0 && key == "metadata" {
        return Some(&OBJECT_META);
    }
    match schema? {
        Schema::Object(props) => props.iter().find(|(p, _)| *p == key).map(|(_, s)| s),
        Schema::StringMap => Some(&Schema::String),
        _ => None,
    }
}

/// Is a node walked into (the object root, structs and maps)?
fn granular(schema: Option<&Schema>, depth: usize) -> bool {
    depth == 0 || matches!(schema, Some(Schema::Object(_) | Schema::StringMap))
}

/// The fields a configuration sets (every leaf; an empty struct or map sets nothing).
pub fn leaves(root: &'static Schema, v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    leaves_at(Some(root), v, &mut Vec::new(), &mut out);
    out
}

fn leaves_at(schema: Option<&'static Schema>, v: &Value, path: &mut Path, out: &mut FieldSet) {
    if granular(schema, path.len()) {
        if let Value::Object(m) = v {
            for (k, c) in m {
                let sub = child(schema, k, path.len());
                path.push(k.clone());
                leaves_at(sub, c, path, out);
                path.pop();
            }
            return;
        }
    }
    if !path.is_empty() {
        out.insert(path.clone());
    }
}

/// What changed from one version of an object to the next.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Fields that appear (a struct or map that appears is itself added, with its leaves).
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Diff {
    /// Added or modified: the fields a write sets.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

pub fn compare(root: &'static Schema, old: &Value, new: &Value) -> Diff {
    let mut d = Diff::default();
    diff_at(Some(root), Some(old), Some(new), &mut Vec::new(), &mut d);
    d
}

type MaybeMap<'a> = Option<&'a Map<String, Value>>;

/// `Some(None)` for an absent value, `Some(Some(map))` for an object, `None` otherwise.
fn as_map(v: Option<&Value>) -> Option<MaybeMap<'_>> {
    match v {
        None => Some(None),
        Some(Value::Object(m)) => Some(Some(m)),
        Some(_) => None,
    }
}

fn diff_at(schema: Option<&'static Schema>, old: Option<&Value>, new: Option<&Value>, path: &mut Path, d: &mut Diff) {
    if granular(schema, path.len()) {
        if let (Some(o), Some(n)) = (as_map(old), as_map(new)) {
            let non_empty = |m: MaybeMap<'_>| m.is_some_and(|m| !m.is_empty());
            // Both empty or absent: compared as one leaf (keeps `{}` apart from absent).
            if non_empty(o) || non_empty(n) {
                diff_maps(schema, o, n, path, d);
                return;
            }
        }
    }
    if path.is_empty() {
        return;
    }
    match (old, new) {
        (None, Some(_)) => d.added.insert(path.clone()),
        (Some(_), None) => d.removed.insert(path.clone()),
        (Some(a), Some(b)) if a != b => d.modified.insert(path.clone()),
        _ => {}
    }
}

fn diff_maps(schema: Option<&'static Schema>, o: MaybeMap<'_>, n: MaybeMap<'_>, path: &mut Path, d: &mut Diff) {
    if !path.is_empty() {
        if o.is_none() {
            d.added.insert(path.clone());
        }
        if n.is_none() {
            d.removed.insert(path.clone());
        }
    }
    let keys: BTreeSet<&String> = o.into_iter().chain(n).flat_map(|m| m.keys()).collect();
    for k in keys {
        let sub = child(schema, k, path.len());
        path.push(k.clone());
        diff_at(sub, o.and_then(|m| m.get(k)), n.and_then(|m| m.get(k)), path, d);
        path.pop();
    }
}

/// Merge an applied configuration into the live object: structs and maps field by
/// field, everything else replaced by the configuration's value.
pub fn merge(root: &'static Schema, live: &mut Value, config: &Value) {
    merge_at(Some(root), live, config, 0);
}

fn merge_at(schema: Option<&'static Schema>, live: &mut Value, config: &Value, depth: usize) {
    if granular(schema, depth) {
        if let (Value::Object(l), Value::Object(c)) = (&mut *live, config) {
            for (k, cv) in c {
                let sub = child(schema, k, depth);
                match l.get_mut(k) {
                    Some(lv) => merge_at(sub, lv, cv, depth + 1),
                    None => {
                        l.insert(k.clone(), cv.clone());
                    }
                }
            }
            return;
        }
    }
    *live = config.clone();
}

pub fn get<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |cur, seg| cur.get(seg))
}

fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = obj;
    for seg in parents {
        match cur.get_mut(seg) {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.remove(last);
    }
}

/// Remove `paths` from `obj`. A struct or map left empty by that is removed too,
/// unless a manager owns it (`owned`); `metadata` always stays.
pub fn remove(obj: &mut Value, paths: &FieldSet, owned: &FieldSet) {
    let mut deepest_first: Vec<&Path> = paths.iter().collect();
    deepest_first.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in deepest_first {
        remove_path(obj, p);
        for len in (1..p.len()).rev() {
            let parent = &p[..len];
            let empty = get(obj, parent).and_then(Value::as_object).is_some_and(Map::is_empty);
            if !empty || owned.contains(parent) || parent == ["metadata"] {
                break;
            }
            remove_path(obj, parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::AZURE_IDENTITY;
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        s.split('.').map(String::from).collect()
    }

    fn set(paths: &[&str]) -> FieldSet {
        paths.iter().map(|s| p(s)).collect()
    }

    #[test]
    fn leaves_walk_structs_and_maps_but_not_lists() {
        let v = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"type": 0, "auxiliaryTenantIDs": ["t1"], "clientPassword": {"name": "n"}, "metadata": {}}});
        assert_eq!(
            leaves(&AZURE_IDENTITY, &v),
            set(&[
                "apiVersion",
                "metadata.labels.x",
                "metadata.name",
                "spec.auxiliaryTenantIDs",
                "spec.clientPassword.name",
                "spec.metadata",
                "spec.type"
            ])
        );
        // An empty struct or map sets nothing.
        assert!(leaves(&AZURE_IDENTITY, &json!({"spec": {}, "metadata": {"labels": {}}})).is_empty());
    }

    #[test]
    fn compare_reports_new_structs_and_leaf_changes() {
        let old = json!({"metadata": {"name": "a", "labels": {"k": "v", "gone": "x"}}, "spec": {"type": 0}});
        let new = json!({"metadata": {"name": "a", "labels": {"k": "v2"}, "annotations": {"n": "1"}},
            "spec": {"type": 0, "clientPassword": {"name": "s"}}});
        let d = compare(&AZURE_IDENTITY, &old, &new);
        assert_eq!(
            d.added,
            set(&["metadata.annotations", "metadata.annotations.n", "spec.clientPassword", "spec.clientPassword.name"])
        );
        assert_eq!(d.modified, set(&["metadata.labels.k"]));
        assert_eq!(d.removed, set(&["metadata.labels.gone"]));
        assert!(compare(&AZURE_IDENTITY, &old, &old).is_empty());
        // `{}` versus absent is a change of the field itself.
        let d = compare(&AZURE_IDENTITY, &json!({}), &json!({"spec": {}}));
        assert_eq!(d.added, set(&["spec"]));
    }

    #[test]
    fn merge_is_field_wise_for_structs_and_maps_only() {
        let mut live =
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"type": 0, "auxiliaryTenantIDs": ["x", "y"]}});
        let cfg = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"auxiliaryTenantIDs": ["z"], "clientID": "c"}});
        merge(&AZURE_IDENTITY, &mut live, &cfg);
        assert_eq!(
            live,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {"type": 0, "auxiliaryTenantIDs": ["z"], "clientID": "c"}})
        );
    }

    #[test]
    fn remove_drops_emptied_parents_unless_owned() {
        let mut obj =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"clientPassword": {"name": "n"}}});
        remove(&mut obj, &set(&["metadata.labels.x", "spec.clientPassword.name"]), &set(&["spec"]));
        assert_eq!(obj, json!({"metadata": {"name": "a"}, "spec": {}}));
        let mut obj = json!({"metadata": {"labels": {"x": "1"}}});
        remove(&mut obj, &set(&["metadata.labels.x", "missing.path"]), &FieldSet::new());
        assert_eq!(obj, json!({"metadata": {}}));
    }
}
