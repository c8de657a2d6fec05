//! A model's shape, read from its `Deserialize` impl: a tracing deserializer answers every
//! request with a placeholder and records the field names that `deserialize_struct` receives.

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use super::Error;
use crate::framework::schema::Block;
use crate::framework::types::Type;

/// What a model type decodes: a struct, a collection of something, or anything else.
#[derive(Debug, Default)]
enum Shape {
    #[default]
    Leaf,
    Struct(Vec<(&'static str, Shape)>),
    Seq(Box<Shape>),
    Map(Box<Shape>),
}

fn trace<T: DeserializeOwned>() -> Shape {
    let mut shape = Shape::Leaf;
    // A model's own validation may reject the placeholders; what was traced so far stands.
    let _ = T::deserialize(Tracer(&mut shape));
    shape
}

/// The (serialized) field names of a struct model; empty for anything that is not a struct.
pub fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    match trace::<T>() {
        Shape::Struct(fields) => fields.into_iter().map(|(name, _)| name).collect(),
        _ => Vec::new(),
    }
}

/// Every disagreement between a model and a block's attributes and nested blocks, recursively
/// wherever the model has a struct (including attributes of object type); empty when they agree.
pub fn schema_differences<T: DeserializeOwned>(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    compare(&trace::<T>(), &block.value_type(), "", &mut out);
    out
}

fn compare(shape: &Shape, ty: &Type, path: &str, out: &mut Vec<String>) {
    let join = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    match (shape, ty) {
        (Shape::Leaf, _) | (_, Type::Dynamic) | (Shape::Seq(_), Type::Tuple(_)) => {}
        (Shape::Seq(s), Type::List(e) | Type::Set(e)) | (Shape::Map(s), Type::Map(e)) => compare(s, e, path, out),
        (Shape::Map(s), Type::Object(attrs)) => attrs.iter().for_each(|(name, t)| compare(s, t, &join(name), out)),
        (Shape::Struct(fields), Type::Object(attrs)) => {
            for name in attrs.keys().filter(|a| !fields.iter().any(|(f, _)| f == a)) {
                out.push(format!("`{}` is in the schema but has no field in the model", join(name)));
            }
            for (name, s) in fields {
                match attrs.get(*name) {
                    Some(t) => compare(s, t, &join(name), out),
                    None => out.push(format!("`{}` is a field of the model but not in the schema", join(name))),
                }
            }
        }
        (s, t) => {
            let what = match s {
                Shape::Struct(_) => "a struct",
                Shape::Seq(_) => "a sequence",
                _ => "a map",
            };
            let place = if path.is_empty() { "the model".to_string() } else { format!("`{path}`") };
            out.push(format!("{place} is {what} but the schema has {}", t.friendly_name()));
        }
    }
}

/// Records into `.0` the shape that the visitor asks for.
struct Tracer<'s>(&'s mut Shape);

macro_rules! placeholder {
    ($($method:ident => $visit:ident($($v:expr)?)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit($($v)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = Error;

    placeholder! {
        deserialize_any => visit_unit(), deserialize_ignored_any => visit_unit(),
        deserialize_unit => visit_unit(), deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_u8(0), deserialize_i16 => visit_u8(0), deserialize_i32 => visit_u8(0),
        deserialize_i64 => visit_u8(0), deserialize_i128 => visit_u8(0), deserialize_u8 => visit_u8(0),
        deserialize_u16 => visit_u8(0), deserialize_u32 => visit_u8(0), deserialize_u64 => visit_u8(0),
        deserialize_u128 => visit_u8(0), deserialize_f32 => visit_f64(0.0), deserialize_f64 => visit_f64(0.0),
        deserialize_char => visit_char('x'), deserialize_str => visit_borrowed_str(""),
        deserialize_string => visit_borrowed_str(""), deserialize_identifier => visit_borrowed_str(""),
        deserialize_bytes => visit_borrowed_bytes(b""), deserialize_byte_buf => visit_borrowed_bytes(b""),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let mut element = Shape::Leaf;
        let result = visitor.visit_seq(One { element: Some(&mut element), key: false });
        *self.0 = Shape::Seq(Box::new(element));
        result
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let mut value = Shape::Leaf;
        let result = visitor.visit_map(One { element: Some(&mut value), key: true });
        *self.0 = Shape::Map(Box::new(value));
        result
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut shapes: Vec<(&'static str, Shape)> = fields.iter().map(|f| (*f, Shape::Leaf)).collect();
        let result = visitor.visit_map(Fields { shapes: &mut shapes, next: 0 });
        *self.0 = Shape::Struct(shapes);
        result
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum::<StrDeserializer<'_, Error>>(first.into_deserializer())
    }
}

/// A sequence of one element, or a map of one entry, whose element or value is traced.
struct One<'s> {
    element: Option<&'s mut Shape>,
    /// A map: the key comes first and is a placeholder string.
    key: bool,
}

impl<'de> de::SeqAccess<'de> for One<'_> {
    type Error = Error;
    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Error> {
        self.element.take().map(|shape| seed.deserialize(Tracer(shape))).transpose()
    }
}

impl<'de> de::MapAccess<'de> for One<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match std::mem::take(&mut self.key) {
            true => seed.deserialize(Tracer(&mut Shape::Leaf)).map(Some),
            false => Ok(None),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let shape = self.element.take().ok_or_else(|| Error::new("Invalid value", "No map value to trace."))?;
        seed.deserialize(Tracer(shape))
    }
}

/// A struct's fields, each value traced into its own slot.
struct Fields<'a> {
    shapes: &'a mut Vec<(&'static str, Shape)>,
    next: usize,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((name, _)) = self.shapes.get(self.next) else { return Ok(None) };
        seed.deserialize(BorrowedStrDeserializer::<Error>::new(name)).map(Some)
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let i = self.next;
        self.next += 1;
        let (_, shape) = self.shapes.get_mut(i).ok_or_else(|| Error::new("Invalid value", "No field to trace."))?;
        seed.deserialize(Tracer(shape))
    }
}
