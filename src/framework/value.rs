//! The provider's in-memory model of a cty value: what Terraform sends in config, plan and
//! state, including the parts that are not known yet.
//!
//! A `Value` carries no type of its own; the schema's `Type` travels beside it (the codec in
//! `msgpack.rs` needs both). The one exception is `Dynamic`, whose concrete type is only known
//! from the wire.

use std::collections::BTreeMap;
use std::fmt;

use super::types::Type;

/// A cty number. cty numbers are arbitrary precision; we keep exact integers and floats as
/// native values and anything larger as its decimal text, so nothing is rounded in transit.
#[derive(Debug, Clone)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A number that fits neither i64 nor an exact f64, as decimal text (e.g. `18446744073709551616`).
    Decimal(String),
}

/// Integers up to 2^53 are exact in f64.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

impl Number {
    /// A float, folded to `Int` when it is integral and in range, so that `1.0 == 1`.
    pub fn from_f64(f: f64) -> Number {
        if f.is_finite() && f.fract() == 0.0 && (-MAX_EXACT..=MAX_EXACT).contains(&f) {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    pub fn from_u64(u: u64) -> Number {
        match i64::try_from(u) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(u.to_string()),
        }
    }

    /// Parse cty's decimal-string form of a number.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        if let Ok(i) = t.parse::<i64>() {
            return Some(Number::Int(i));
        }
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
            return None;
        }
        let f = t.parse::<f64>().ok()?;
        if !f.is_finite() {
            return Some(Number::Decimal(t.to_string()));
        }
        // Keep the text when f64 would lose digits (e.g. a 30-digit integer).
        let exact = if t.contains(['.', 'e', 'E']) {
            format!("{f}").parse::<f64>().ok() == Some(f)
        } else {
            (f.abs() < MAX_EXACT) || format!("{f:.0}") == t.trim_start_matches('+')
        };
        if exact {
            Some(Number::from_f64(f))
        } else {
            Some(Number::Decimal(t.to_string()))
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Decimal(s) => s.parse().unwrap_or(f64::NAN),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Number::Decimal(a), Number::Decimal(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

/// A cty value. Collections hold values of their element type; objects map every attribute
/// of their type (a missing key is treated as null when encoding).
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply (or, in config, until another resource is applied).
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Elements in no particular order; equality ignores order.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A value received for a `dynamic` type, with the concrete type it arrived with.
    Dynamic(Type, Box<Value>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) | (Unknown, Unknown) => true,
            (Bool(a), Bool(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (String(a), String(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) => {
                a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
            }
            (Map(a), Map(b)) | (Object(a), Object(b)) => a == b,
            (Dynamic(ta, a), Dynamic(tb, b)) => ta == tb && a == b,
            _ => false,
        }
    }
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    pub fn object<I, S>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn list_of_strings<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    /// `Some(s)` or `None` when null; an unknown or a non-string also gives `None`.
    pub fn from_opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, v) => v.as_bool(),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(m) | Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// An object's attribute; null when the value is null or lacks it.
    pub fn attr(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Mutable access to an object's attribute (inserting null when missing).
    pub fn attr_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => Some(m.entry(name.to_string()).or_insert(Value::Null)),
            _ => None,
        }
    }

    pub fn set_attr(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.attr_mut(name) {
            *slot = value;
        }
    }

    /// Replace every unknown, however deep, by null: what a value must look like before it
    /// can be stored as state.
    pub fn unknowns_to_null(self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::List(v) => Value::List(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Set(v) => Value::Set(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Tuple(v) => Value::Tuple(v.into_iter().map(Value::unknowns_to_null).collect()),
            Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, v.unknowns_to_null())).collect()),
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, v.unknowns_to_null())).collect()),
            Value::Dynamic(t, v) => Value::Dynamic(t, Box::new(v.unknowns_to_null())),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Number::from_f64(1.0), Number::Int(1));
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert_eq!(Number::parse("0.5"), Some(Number::Float(0.5)));
        assert_eq!(
            Number::parse("123456789012345678901234567890"),
            Some(Number::Decimal("123456789012345678901234567890".into()))
        );
        assert_eq!(Number::from_u64(u64::MAX), Number::Decimal(u64::MAX.to_string()));
        assert_eq!(Number::parse("abc"), None);
    }

    #[test]
    fn sets_ignore_order() {
        let a = Value::Set(vec![Value::string("x"), Value::string("y")]);
        let b = Value::Set(vec![Value::string("y"), Value::string("x")]);
        assert_eq!(a, b);
        assert_ne!(a, Value::List(vec![Value::string("x"), Value::string("y")]));
    }

    #[test]
    fn wholly_known_looks_inside() {
        let v = Value::object([("a", Value::List(vec![Value::Unknown]))]);
        assert!(!v.is_wholly_known());
        assert!(v.clone().unknowns_to_null().is_wholly_known());
        assert!(Value::object([("a", Value::Null)]).is_wholly_known());
    }
}
