//! A `serde::Serializer` into `Value`.

use std::collections::BTreeMap;

use serde::ser::{self, Impossible, Serialize};

use super::{Error, UNKNOWN_TOKEN};
use crate::framework::diagnostics::PathStep;
use crate::framework::value::{Number, Value};

pub(super) struct ValueSerializer;

/// Integer types that fit in i64.
macro_rules! widen {
    ($($method:ident $t:ty),*) => {$(
        fn $method(self, i: $t) -> Result<Value, Error> {
            self.serialize_i64(i.into())
        }
    )*};
}

/// List builders for sequences, tuples and tuple structs.
macro_rules! sequence {
    ($($trait:ident $method:ident),*) => {$(
        impl ser::$trait for Elements {
            type Ok = Value;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                let i = self.0.len() as i64;
                self.0.push(v.serialize(ValueSerializer).map_err(|e| e.within(PathStep::Index(i)))?);
                Ok(())
            }
            fn end(self) -> Result<Value, Error> {
                Ok(Value::List(self.0))
            }
        }
    )*};
}

fn unsupported(what: &str) -> Error {
    Error::new("Cannot encode value", format!("{what} cannot be stored in a Terraform value."))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Elements;
    type SerializeTuple = Elements;
    type SerializeTupleStruct = Elements;
    type SerializeTupleVariant = Impossible<Value, Error>;
    type SerializeMap = Entries;
    type SerializeStruct = Attributes;
    type SerializeStructVariant = Impossible<Value, Error>;

    fn serialize_bool(self, b: bool) -> Result<Value, Error> {
        Ok(Value::Bool(b))
    }
    widen! { serialize_i8 i8, serialize_i16 i16, serialize_i32 i32, serialize_u8 u8, serialize_u16 u16, serialize_u32 u32 }
    fn serialize_i64(self, i: i64) -> Result<Value, Error> {
        Ok(Value::int(i))
    }
    fn serialize_i128(self, i: i128) -> Result<Value, Error> {
        Ok(Value::Number(i64::try_from(i).map_or_else(|_| Number::Decimal(i.to_string()), Number::Int)))
    }
    fn serialize_u64(self, u: u64) -> Result<Value, Error> {
        Ok(Value::Number(Number::from_u64(u)))
    }
    fn serialize_u128(self, u: u128) -> Result<Value, Error> {
        Ok(Value::Number(u64::try_from(u).map_or_else(|_| Number::Decimal(u.to_string()), Number::from_u64)))
    }
    fn serialize_f32(self, f: f32) -> Result<Value, Error> {
        self.serialize_f64(f.into())
    }
    fn serialize_f64(self, f: f64) -> Result<Value, Error> {
        match f.is_nan() {
            true => Err(unsupported("NaN")),
            false => Ok(Value::Number(Number::from_f64(f))),
        }
    }
    fn serialize_char(self, c: char) -> Result<Value, Error> {
        Ok(Value::String(c.to_string()))
    }
    fn serialize_str(self, s: &str) -> Result<Value, Error> {
        Ok(Value::string(s))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Value, Error> {
        Err(unsupported("A byte string"))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, Error> {
        Ok(if name == UNKNOWN_TOKEN { Value::Unknown } else { Value::Null })
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::string(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value, Error> {
        Err(unsupported("An enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Elements, Error> {
        Ok(Elements(Vec::new()))
    }
    fn serialize_tuple(self, _: usize) -> Result<Elements, Error> {
        Ok(Elements(Vec::new()))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Elements, Error> {
        Ok(Elements(Vec::new()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<Value, Error>, Error> {
        Err(unsupported("An enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Entries, Error> {
        Ok(Entries::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Attributes, Error> {
        Ok(Attributes(BTreeMap::new()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<Value, Error>, Error> {
        Err(unsupported("An enum variant with data"))
    }
}

/// A list under construction; errors are prefixed with the element's index.
pub(super) struct Elements(Vec<Value>);

sequence! { SerializeSeq serialize_element, SerializeTuple serialize_element, SerializeTupleStruct serialize_field }

/// A map under construction. Keys may be strings, numbers, bools or unit enum variants.
#[derive(Default)]
pub(super) struct Entries {
    map: BTreeMap<String, Value>,
    key: Option<String>,
}

impl ser::SerializeMap for Entries {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(match key.serialize(ValueSerializer)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(unsupported("A map key that is not a string")),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| unsupported("A map value without a key"))?;
        let value = v.serialize(ValueSerializer).map_err(|e| e.within(PathStep::Key(key.clone())))?;
        self.map.insert(key, value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Map(self.map))
    }
}

/// An object under construction; a skipped field stays absent (`encode_as` fills in null).
pub(super) struct Attributes(BTreeMap<String, Value>);

impl ser::SerializeStruct for Attributes {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, v: &T) -> Result<(), Error> {
        let value = v.serialize(ValueSerializer).map_err(|e| e.within(PathStep::Attribute(name.into())))?;
        self.0.insert(name.into(), value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.0))
    }
}
