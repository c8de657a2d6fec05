//! `metadata.managedFields`: which manager owns which fields, and the ownership rules
//! of server-side apply (operation `Apply`) and of every other write (`Update`),
//! following the API server's field manager:
//!
//! * an `Update` takes every field it adds or changes away from the other managers
//!   (never a conflict) and adds them to its own entry;
//! * an `Apply` owns exactly the fields of its configuration. Changing a field that
//!   another manager owns is a conflict unless forced (then the field changes hands);
//!   applying the value a field already has makes the appliers co-owners. Fields the
//!   applier applied last time but not this time are removed, unless another manager
//!   owns them;
//! * fields that a write removes are no longer owned by anyone; empty entries go away.

use serde_json::{json, Value};

use super::fieldset::{display, FieldSet, Path};
use super::kinds::Kind;
use super::walk;
use crate::errors::K8sError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, seconds.
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, op: Operation) -> bool {
        self.manager == manager && self.operation == op
    }

    /// How conflict messages name the manager: `"kubectl"` for an applier,
    /// `"kubectl-edit" using v1` for an updater.
    pub fn describe(&self) -> String {
        match self.operation {
            Operation::Apply => format!("{:?}", self.manager),
            Operation::Update => format!("{:?} using {}", self.manager, self.api_version),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation.as_str(),
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(t) = &self.time {
            v["time"] = json!(t);
        }
        v
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        let operation = match s("operation")?.as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        Some(Entry {
            manager: s("manager").unwrap_or_default(),
            operation,
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            fields: FieldSet::from_fields_v1(v.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }
}

/// The entries recorded on a stored object.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Record `entries` on `obj`, in the API server's order (operation, time, manager).
pub fn write(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (a.operation, &a.time, &a.manager, &a.api_version).cmp(&(b.operation, &b.time, &b.manager, &b.api_version))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries.iter().map(Entry::to_json).collect()));
    }
}

/// Fields nobody owns: identity and server-set metadata, and the kind's server-owned parts.
const STRIPPED: [&[&str]; 13] = [
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "uid"],
    &["metadata", "resourceVersion"],
    &["metadata", "generation"],
    &["metadata", "creationTimestamp"],
    &["metadata", "managedFields"],
    &["metadata", "selfLink"],
    &["metadata", "deletionTimestamp"],
    &["metadata", "deletionGracePeriodSeconds"],
];

fn strip(kind: &Kind, mut set: FieldSet) -> FieldSet {
    let starts = |p: &Path, prefix: &[&str]| p.len() >= prefix.len() && p.iter().zip(prefix).all(|(a, b)| a == b);
    set.retain(|p| {
        let exact = |s: &[&str]| p.len() == s.len() && starts(p, s);
        let top = p.first().map(String::as_str).unwrap_or_default();
        !kind.server_owned.contains(&top)
            && !STRIPPED.iter().any(|s| if s.len() == 1 && s[0] == "metadata" { exact(s) } else { starts(p, s) })
    });
    set
}

/// Ownership after an `Update` (create, replace, merge patch) by `manager`.
pub fn update(kind: &Kind, old: &Value, new: &Value, mut entries: Vec<Entry>, manager: &str, now: &str) -> Vec<Entry> {
    let diff = walk::compare(kind.schema, old, new);
    let changed = strip(kind, diff.changed());
    let removed = strip(kind, diff.removed);
    for e in entries.iter_mut().filter(|e| !e.is(manager, Operation::Update)) {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let touched = !changed.is_empty() || !removed.is_empty();
    match entries.iter_mut().find(|e| e.is(manager, Operation::Update)) {
        Some(e) => {
            e.fields = e.fields.union(&changed).difference(&removed);
            if touched {
                e.time = Some(now.to_string());
            }
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: Operation::Update,
            api_version: kind.api_version(),
            time: Some(now.to_string()),
            fields: changed.difference(&removed),
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    entries
}

/// A field that an apply would change while another manager owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// [`Entry::describe`] of the owner.
    pub manager: String,
    pub path: Path,
}

/// A server-side apply of `config` by `manager` to `live` (`{}` when the object is new).
/// Returns the new object (without `managedFields`) and the new entries, or the conflicts.
pub fn apply(
    kind: &Kind,
    live: &Value,
    config: &Value,
    entries: Vec<Entry>,
    (manager, force): (&str, bool),
    now: &str,
) -> Result<(Value, Vec<Entry>), Vec<Conflict>> {
    let applied = strip(kind, walk::leaves(kind.schema, config));
    let mut merged = live.clone();
    walk::merge(kind.schema, &mut merged, config);
    let last = entries.iter().find(|e| e.is(manager, Operation::Apply)).cloned();
    let mut others: Vec<Entry> = entries.into_iter().filter(|e| !e.is(manager, Operation::Apply)).collect();
    let owned = others.iter().fold(applied.clone(), |acc, e| acc.union(&e.fields));
    if let Some(last) = &last {
        walk::remove(&mut merged, &last.fields.difference(&owned), &owned);
    }
    let diff = walk::compare(kind.schema, live, &merged);
    let changed = strip(kind, diff.changed());
    let removed = strip(kind, diff.removed.clone());
    let mut conflicts: Vec<Conflict> = others
        .iter()
        .flat_map(|e| {
            e.fields
                .intersection(&changed)
                .iter()
                .map(|p| Conflict { manager: e.describe(), path: p.clone() })
                .collect::<Vec<_>>()
        })
        .collect();
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| (&a.manager, &a.path).cmp(&(&b.manager, &b.path)));
        return Err(conflicts);
    }
    for e in &mut others {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let time = match last {
        Some(l) if l.fields == applied && diff.is_empty() => l.time,
        _ => Some(now.to_string()),
    };
    others.push(Entry {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version: kind.api_version(),
        time,
        fields: applied,
    });
    others.retain(|e| !e.fields.is_empty());
    Ok((merged, others))
}

/// The API server's 409 for apply conflicts.
pub fn conflict_error(conflicts: &[Conflict]) -> K8sError {
    let message = match conflicts {
        [one] => format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, display(&one.path)),
        _ => {
            let mut lines = Vec::new();
            let mut current: Option<&str> = None;
            for c in conflicts {
                if current != Some(c.manager.as_str()) {
                    lines.push(format!("conflicts with {}:", c.manager));
                    current = Some(&c.manager);
                }
                lines.push(format!("- {}", display(&c.path)));
            }
            format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
        }
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": display(&c.path)})
        })
        .collect();
    K8sError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}
