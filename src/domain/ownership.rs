//! Who holds a role assignment, so that destroy never deletes a grant that another aksid object
//! now holds.
//!
//! Deterministic names mean two objects that ask for the same grant (the old and the new object
//! of a `-replace`, a tainted object and its successor, a module refactor) write the *same*
//! assignment. Each write therefore stamps an ownership marker, `[aksid-owner=<token>]`, at the
//! end of the assignment's description, with a token fresh for that write. State records, per
//! assignment, the marker it last wrote or saw. Delete is compare-and-delete: an assignment is
//! deleted only while its marker is still the recorded one. A successor that rewrote the
//! assignment changed the marker, so the predecessor's destroy leaves it in place.
//!
//! Pure: formatting, parsing and the decision. The I/O lives in `reconcile`.

const PREFIX: &str = "[aksid-owner=";

/// A fresh token for one write.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `text` with the marker for `token` appended (any earlier marker replaced).
pub fn stamp(text: Option<&str>, token: &str) -> String {
    match strip(text).as_deref() {
        Some(t) => format!("{t} {PREFIX}{token}]"),
        None => format!("{PREFIX}{token}]"),
    }
}

/// The token of the marker at the end of a description, if there is one.
pub fn marker(description: Option<&str>) -> Option<&str> {
    let d = description?.trim_end();
    let start = d.rfind(PREFIX)?;
    let token = d[start + PREFIX.len()..].strip_suffix(']')?;
    (!token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(token)
}

/// The description without its marker: what the user wrote (None when nothing is left).
pub fn strip(description: Option<&str>) -> Option<String> {
    let d = description?;
    let text = match marker(Some(d)) {
        Some(_) => &d[..d.trim_end().rfind(PREFIX).unwrap_or(d.len())],
        None => d,
    };
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

/// What destroy may do with an assignment that still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteDecision {
    /// Its marker is the one recorded: ours to delete.
    Delete,
    /// Another write (another aksid object) stamped it since: leave it to that holder.
    HeldByAnother { token: String },
}

/// Compare-and-delete: `recorded` is the marker state holds for the assignment, `current` the
/// marker it carries now. Only a recorded marker that another write has replaced means another
/// object holds it. No record (state written before markers, an imported grant that carried
/// none, or private state Terraform dropped when the provider crashed mid-apply) means ours, as
/// before markers existed: otherwise a crash would leave grants that no destroy removes.
pub fn decide(recorded: Option<&str>, current: Option<&str>) -> DeleteDecision {
    match (recorded, current) {
        (Some(r), Some(c)) if !r.eq_ignore_ascii_case(c) => DeleteDecision::HeldByAnother { token: c.to_string() },
        _ => DeleteDecision::Delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_and_read_back() {
        let t = new_token();
        let d = stamp(Some("pull for batch jobs"), &t);
        assert_eq!(d, format!("pull for batch jobs [aksid-owner={t}]"));
        assert_eq!(marker(Some(&d)), Some(t.as_str()));
        assert_eq!(strip(Some(&d)).as_deref(), Some("pull for batch jobs"));
        let bare = stamp(None, &t);
        assert_eq!(marker(Some(&bare)), Some(t.as_str()));
        assert_eq!(strip(Some(&bare)), None);
    }

    #[test]
    fn restamping_replaces_the_marker() {
        let first = stamp(Some("x"), "aaa");
        let second = stamp(Some(&first), "bbb");
        assert_eq!(second, "x [aksid-owner=bbb]");
    }

    #[test]
    fn descriptions_without_a_marker() {
        assert_eq!(marker(None), None);
        assert_eq!(marker(Some("made by az aks update --attach-acr")), None);
        assert_eq!(marker(Some("[aksid-owner=]")), None);
        assert_eq!(marker(Some("[aksid-owner=a b]")), None);
        assert_eq!(strip(Some("  ")), None);
        assert_eq!(strip(Some("plain")).as_deref(), Some("plain"));
    }

    #[test]
    fn compare_and_delete() {
        assert_eq!(decide(Some("a"), Some("a")), DeleteDecision::Delete);
        assert_eq!(decide(Some("a"), Some("A")), DeleteDecision::Delete);
        assert_eq!(decide(None, None), DeleteDecision::Delete);
        assert_eq!(decide(Some("a"), None), DeleteDecision::Delete);
        assert_eq!(decide(Some("a"), Some("b")), DeleteDecision::HeldByAnother { token: "b".into() });
        // Nothing recorded (e.g. private state lost in a crash): ours, as before markers.
        assert_eq!(decide(None, Some("b")), DeleteDecision::Delete);
    }
}
