//! A `serde::Deserializer` over `&Value`. It hands out no borrowed data, so it works for any
//! `'de`: the streaming decoder ([`super::stream`]) uses it for short-lived leaf values.

use std::collections::btree_map;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use super::{Error, KNOWN_TOKEN};
use crate::framework::diagnostics::PathStep;
use crate::framework::value::{Number, Value};

pub(super) struct ValueDeserializer<'v>(pub(super) &'v Value);

impl ValueDeserializer<'_> {
    /// The value itself (seen through `Dynamic`), unless it is null or unknown.
    fn present(self) -> Result<Self, Error> {
        match self.0 {
            Value::Null => Err(Error::new("Missing value", "A value is required here, but it is null.")),
            Value::Unknown => Err(Error::new(
                "Value not known yet",
                "This value will only be known after apply, but the provider needs it now.",
            )),
            Value::Dynamic(_, inner) => ValueDeserializer(inner).present(),
            _ => Ok(self),
        }
    }
}

/// A whole number that fits `T` (`min..=max`, named in the message); a fractional or
/// out-of-range number is an error.
fn whole<T: TryFrom<i128>>(n: &Number, min: i128, max: i128) -> Result<T, Error> {
    let i = match n {
        Number::Int(i) => Some(i128::from(*i)),
        // `f as i128` saturates, so the bound keeps the range check meaningful.
        Number::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => Some(*f as i128),
        Number::Float(_) => None,
        Number::Decimal(s) => s.parse::<i128>().ok(),
    };
    i.and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| Error::new("Invalid number", format!("Expected a whole number from {min} to {max}, got {n}.")))
}

macro_rules! integers {
    ($($method:ident $t:ty => $visit:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let d = self.present()?;
            match d.0 {
                Value::Number(n) => {
                    let max = i128::try_from(<$t>::MAX).unwrap_or(i128::MAX);
                    visitor.$visit(whole::<$t>(n, <$t>::MIN as i128, max)?)
                }
                _ => d.deserialize_any(visitor),
            }
        }
    )*};
}

/// Methods that need a present value and otherwise let the visitor judge its kind.
macro_rules! present {
    ($($method:ident($($arg:ident: $t:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $t,)* visitor: V) -> Result<V::Value, Error> {
            $(let _ = $arg;)*
            self.present()?.deserialize_any(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Unknown => self.present()?.deserialize_any(visitor),
            Value::Dynamic(_, inner) => ValueDeserializer(inner).deserialize_any(visitor),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Int(i)) => visitor.visit_i64(*i),
            Value::Number(n @ Number::Decimal(s)) => match s.parse::<u64>() {
                Ok(u) => visitor.visit_u64(u),
                // Only as precise as f64: integer and exact types have their own methods.
                Err(_) => visitor.visit_f64(n.as_f64()),
            },
            Value::Number(Number::Float(f)) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                let mut seq = Elements(items.iter().enumerate());
                let out = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(out),
                    _ => Err(de::Error::invalid_length(items.len(), &"fewer elements")),
                }
            }
            Value::Map(m) => visitor.visit_map(Entries { iter: m.iter(), pending: None, object: false }),
            Value::Object(m) => visitor.visit_map(Entries { iter: m.iter(), pending: None, object: true }),
        }
    }

    integers! {
        deserialize_i8 i8 => visit_i8, deserialize_i16 i16 => visit_i16,
        deserialize_i32 i32 => visit_i32, deserialize_i64 i64 => visit_i64,
        deserialize_i128 i128 => visit_i128, deserialize_u8 u8 => visit_u8,
        deserialize_u16 u16 => visit_u16, deserialize_u32 u32 => visit_u32,
        deserialize_u64 u64 => visit_u64, deserialize_u128 u128 => visit_u128,
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let d = self.present()?;
        match d.0 {
            Value::Number(n) => visitor.visit_f64(n.as_f64()),
            _ => d.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let d = self.present()?;
        match d.0 {
            Value::Number(n) if n.as_f64().is_finite() && n.as_f64().abs() > f64::from(f32::MAX) => {
                Err(Error::new("Invalid number", format!("{n} is too large.")))
            }
            Value::Number(n) => visitor.visit_f32(n.as_f64() as f32),
            _ => d.deserialize_any(visitor),
        }
    }

    present! {
        deserialize_bool(), deserialize_char(), deserialize_str(), deserialize_string(),
        deserialize_bytes(), deserialize_byte_buf(), deserialize_seq(), deserialize_map(),
        deserialize_identifier(), deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            Value::Dynamic(_, inner) => ValueDeserializer(inner).deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            _ => self.present()?.deserialize_any(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            // `Known<T>` reads an unknown as a unit (see its `Deserialize`).
            Value::Unknown if name == KNOWN_TOKEN => visitor.visit_unit(),
            Value::Dynamic(_, inner) => ValueDeserializer(inner).deserialize_newtype_struct(name, visitor),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let d = self.present()?;
        match d.0 {
            Value::String(s) => visitor.visit_enum::<StrDeserializer<'_, Error>>(s.as_str().into_deserializer()),
            _ => d.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The elements of a list, set or tuple, each error prefixed with its index.
struct Elements<'v>(std::iter::Enumerate<std::slice::Iter<'v, Value>>);

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Error> {
        let Some((i, v)) = self.0.next() else { return Ok(None) };
        seed.deserialize(ValueDeserializer(v)).map(Some).map_err(|e| e.within(PathStep::Index(i as i64)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of a map or object, each error prefixed with its key or attribute name.
struct Entries<'v> {
    iter: btree_map::Iter<'v, String, Value>,
    pending: Option<(&'v String, &'v Value)>,
    object: bool,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((k, v)) = self.iter.next() else { return Ok(None) };
        self.pending = Some((k, v));
        seed.deserialize(StrDeserializer::new(k)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (k, v) =
            self.pending.take().ok_or_else(|| Error::new("Invalid value", "A map value was read before its key."))?;
        let step = if self.object { PathStep::Attribute(k.clone()) } else { PathStep::Key(k.clone()) };
        seed.deserialize(ValueDeserializer(v)).map_err(|e| e.within(step))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}
