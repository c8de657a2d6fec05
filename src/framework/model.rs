//! Typed models: decode a Terraform [`Value`] (config, plan or state) into a Rust struct once at
//! the edge, work on types, and encode the result back once.
//!
//! Field names are attribute and block names, so a typo cannot silently read null: each
//! resource checks its model against its schema with [`assert_model_matches_schema`] in a unit
//! test.
//!
//! | Terraform value              | Rust type                                            |
//! |------------------------------|------------------------------------------------------|
//! | object, single nested block  | a `struct` (`Option<Struct>` when it may be null)    |
//! | list, set, tuple, list block | `Vec<T>`, `BTreeSet<T>`, tuples                      |
//! | map                          | `BTreeMap<String, T>`, `HashMap<String, T>`          |
//! | string, bool, number         | `String`, `bool`, integers (range-checked), floats   |
//! | null or missing attribute    | `Option::None`                                       |
//! | unknown                      | [`Known::Unknown`] (`Known<T>` or `Option<Known<T>>`) |
//! | string naming a unit variant | a fieldless `enum`                                   |
//!
//! A null reaching a non-`Option` type, or an unknown reaching anything but `Known<T>`, is an
//! error whose diagnostic points at the attribute (e.g. `extra_assignment[2].scope`).
//!
//! ```
//! use aksid::framework::model::{decode, encode_as};
//! use aksid::framework::{Attribute, Block, NestedBlock, Nesting, Type, Value};
//! use aksid::known::Known;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, Serialize)]
//! struct Model {
//!     cluster_id: Known<String>,
//!     id: Option<Known<String>>,
//!     extra_assignment: Vec<Extra>,
//! }
//!
//! #[derive(Deserialize, Serialize)]
//! struct Extra {
//!     scope: String,
//!     role: String,
//! }
//!
//! let schema = Block::new("")
//!     .attribute(Attribute::required("cluster_id", Type::String, ""))
//!     .attribute(Attribute::computed("id", Type::String, ""))
//!     .block(NestedBlock::new(
//!         "extra_assignment",
//!         Nesting::List,
//!         Block::new("")
//!             .attribute(Attribute::required("scope", Type::String, ""))
//!             .attribute(Attribute::required("role", Type::String, "")),
//!     ));
//! let plan = Value::object([
//!     ("cluster_id", Value::Unknown),
//!     ("extra_assignment", Value::List(vec![Value::object([
//!         ("scope", Value::string("/subscriptions/s")),
//!         ("role", Value::string("Reader")),
//!     ])])),
//! ]);
//! let mut model: Model = decode(&plan).unwrap();
//! assert_eq!(model.cluster_id, Known::Unknown);
//! assert_eq!(model.extra_assignment[0].role, "Reader");
//! model.id = Some(Known::Unknown);
//! let planned = encode_as(&model, &schema.value_type()).unwrap();
//! assert!(planned.attr("id").is_unknown());
//! // In a unit test of the resource:
//! aksid::framework::model::assert_model_matches_schema::<Model>(&schema);
//! ```
//!
//! `#[serde(flatten)]` and enums with data are not supported.

mod de;
mod ser;
mod shape;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::codec::Reader;
use super::diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep};
use super::types::Type;
use super::value::Value;
use crate::known::Known;

pub use shape::{field_names, schema_differences};

/// Newtype-struct name under which `Known<T>` asks for a value that may be unknown.
const KNOWN_TOKEN: &str = "$aksid::Known";
/// Unit-struct name under which `Known::Unknown` serializes.
const UNKNOWN_TOKEN: &str = "$aksid::Unknown";

/// Decode a value into a model. Errors carry the path of the offending value.
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, Diagnostics> {
    T::deserialize(de::ValueDeserializer(value)).map_err(Diagnostics::from)
}

/// Decode MessagePack of type `ty`, as Terraform sends it, straight into a model: the same
/// result as [`decode`] of `codec::from_msgpack(bytes, ty)`, without building the [`Value`]
/// tree in between.
pub fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8], ty: &Type) -> Result<T, Diagnostics> {
    decode_msgpack_except(bytes, ty, &[])
}

/// [`decode_msgpack`], stepping over the top-level attributes in `skip` without reading them:
/// the model sees them as absent.
pub fn decode_msgpack_except<T: DeserializeOwned>(bytes: &[u8], ty: &Type, skip: &[&str]) -> Result<T, Diagnostics> {
    let mut reader = Reader::new(bytes);
    let model = T::deserialize(stream::Stream { reader: &mut reader, ty, skip })?;
    reader.finish().map_err(|e| Error::new("Invalid value", e.message))?;
    Ok(model)
}

/// Encode a model into a value. Sequences become lists, maps maps and structs objects; use
/// [`encode_as`] to get a value that conforms to a schema type.
pub fn encode<T: Serialize>(model: &T) -> Result<Value, Diagnostics> {
    model.serialize(ser::ValueSerializer).map_err(Diagnostics::from)
}

/// Encode a model and shape it to `ty` (usually `block.value_type()`): sequences become the
/// schema's list, set or tuple, attributes the model left out become null, and a model field
/// the schema does not have is an error.
pub fn encode_as<T: Serialize>(model: &T, ty: &Type) -> Result<Value, Diagnostics> {
    let value = model.serialize(ser::ValueSerializer)?;
    Ok(conform(value, ty)?)
}

/// Panics, listing every difference, unless the model's fields and the block's attributes and
/// nested blocks (recursively) agree. Meant for one unit test per resource.
pub fn assert_model_matches_schema<T: DeserializeOwned>(block: &super::schema::Block) {
    let differences = schema_differences::<T>(block);
    assert!(
        differences.is_empty(),
        "model {} does not match its schema:\n  {}",
        std::any::type_name::<T>(),
        differences.join("\n  ")
    );
}

/// Why a value could not be decoded into a model, or a model encoded into a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Filled in from the inside out, as the error travels up through the containers.
    path: Vec<PathStep>,
    summary: String,
    detail: String,
}

impl Error {
    fn new(summary: &str, detail: impl Into<String>) -> Error {
        Error { path: Vec::new(), summary: summary.into(), detail: detail.into() }
    }

    fn within(mut self, step: PathStep) -> Error {
        self.path.insert(0, step);
        self
    }

    pub fn path(&self) -> AttributePath {
        AttributePath(self.path.clone())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path())?;
        }
        write!(f, "{}: {}", self.summary, self.detail)
    }
}

impl std::error::Error for Error {}

impl serde::de::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Error {
        Error::new("Invalid value", msg.to_string())
    }

    fn invalid_type(unexpected: serde::de::Unexpected<'_>, expected: &dyn serde::de::Expected) -> Error {
        Error::new("Unexpected value type", format!("Got {unexpected}, expected {expected}."))
    }

    fn missing_field(field: &'static str) -> Error {
        Error::new("Missing attribute", format!("The attribute `{field}` is required but absent."))
            .within(PathStep::Attribute(field.into()))
    }
}

impl serde::ser::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Error {
        Error::new("Cannot encode value", msg.to_string())
    }
}

impl From<Error> for Diagnostics {
    fn from(e: Error) -> Diagnostics {
        let d = Diagnostic::error(e.summary, e.detail);
        match e.path.is_empty() {
            true => d.into(),
            false => d.at(AttributePath(e.path)).into(),
        }
    }
}

impl<T: Serialize> Serialize for Known<T> {
    /// A known value serializes as itself; `Unknown` as a unit struct that [`encode`] turns
    /// into an unknown and other formats (e.g. JSON) write as null.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Known::Known(v) => s.serialize_newtype_struct(KNOWN_TOKEN, v),
            Known::Unknown => s.serialize_unit_struct(UNKNOWN_TOKEN),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Known<T> {
    /// Only [`decode`] produces `Unknown`; other formats see `Known<T>` as a transparent
    /// newtype, so a JSON null fails exactly as it would for `T`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KnownVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for KnownVisitor<T> {
            type Value = Known<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or an unknown")
            }

            // Only reached through `de::ValueDeserializer` on an unknown value.
            fn visit_unit<E: serde::de::Error>(self) -> Result<Known<T>, E> {
                Ok(Known::Unknown)
            }

            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Known<T>, D::Error> {
                T::deserialize(d).map(Known::Known)
            }
        }

        d.deserialize_newtype_struct(KNOWN_TOKEN, KnownVisitor(std::marker::PhantomData))
    }
}

/// Shape an encoded value to a schema type (see [`encode_as`]).
fn conform(value: Value, ty: &Type) -> Result<Value, Error> {
    let each = |items: Vec<Value>, element: &Type| -> Result<Vec<Value>, Error> {
        let conformed = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| conform(v, element).map_err(|e| e.within(PathStep::Index(i as i64))));
        conformed.collect()
    };
    match (ty, value) {
        (_, v @ (Value::Null | Value::Unknown)) | (Type::Dynamic, v) => Ok(v),
        (Type::String, v @ Value::String(_))
        | (Type::Bool, v @ Value::Bool(_))
        | (Type::Number, v @ Value::Number(_)) => Ok(v),
        (Type::List(e), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            Ok(Value::List(each(items, e)?))
        }
        (Type::Set(e), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            // cty sets hold distinct elements.
            let mut distinct: Vec<Value> = Vec::new();
            for v in each(items, e)? {
                if !distinct.contains(&v) {
                    distinct.push(v);
                }
            }
            Ok(Value::Set(distinct))
        }
        (Type::Tuple(types), Value::List(items) | Value::Tuple(items)) if items.len() == types.len() => {
            let conformed = items
                .into_iter()
                .zip(types)
                .enumerate()
                .map(|(i, (v, t))| conform(v, t).map_err(|e| e.within(PathStep::Index(i as i64))));
            Ok(Value::Tuple(conformed.collect::<Result<_, _>>()?))
        }
        (Type::Map(e), Value::Map(m) | Value::Object(m)) => {
            let conformed = m
                .into_iter()
                .map(|(k, v)| conform(v, e).map(|v| (k.clone(), v)).map_err(|e| e.within(PathStep::Key(k))));
            Ok(Value::Map(conformed.collect::<Result<_, _>>()?))
        }
        (Type::Object(attrs), Value::Object(mut m) | Value::Map(mut m)) => {
            let mut out = std::collections::BTreeMap::new();
            for (name, t) in attrs {
                let v = m.remove(name).unwrap_or(Value::Null);
                out.insert(name.clone(), conform(v, t).map_err(|e| e.within(PathStep::Attribute(name.clone())))?);
            }
            match m.into_keys().next() {
                Some(extra) => Err(Error::new("Model does not match schema", "The schema has no such attribute.")
                    .within(PathStep::Attribute(extra))),
                None => Ok(Value::Object(out)),
            }
        }
        (ty, v) => Err(Error::new(
            "Model does not match schema",
            format!("The model produced {} where the schema expects {}.", kind(&v), ty.friendly_name()),
        )),
    }
}

/// A value's kind, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Tuple(_) => "a tuple",
        Value::Dynamic(_, inner) => kind(inner),
    }
}
