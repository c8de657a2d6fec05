//! [`Known<T>`]: a value that may not be known until apply.
//!
//! A leaf module shared by the planner (pure logic) and the framework's typed models; the serde
//! support that maps [`Known::Unknown`] to a Terraform unknown lives in `framework::model`.

/// A value that may be unknown at plan time (a Terraform unknown, e.g. the
/// principal id of an identity that is created in the same apply).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Known<T> {
    Known(T),
    Unknown,
}

impl<T> Known<T> {
    pub fn is_known(&self) -> bool {
        matches!(self, Known::Known(_))
    }

    /// The value, if known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Known::Known(v) => Some(v),
            Known::Unknown => None,
        }
    }

    pub fn into_option(self) -> Option<T> {
        match self {
            Known::Known(v) => Some(v),
            Known::Unknown => None,
        }
    }

    pub fn as_ref(&self) -> Known<&T> {
        match self {
            Known::Known(v) => Known::Known(v),
            Known::Unknown => Known::Unknown,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Known(v) => Known::Known(f(v)),
            Known::Unknown => Known::Unknown,
        }
    }
}

impl<T> From<Option<T>> for Known<T> {
    /// `None` becomes [`Known::Unknown`].
    fn from(v: Option<T>) -> Self {
        v.map_or(Known::Unknown, Known::Known)
    }
}
