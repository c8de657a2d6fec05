//! A `serde::Deserializer` straight over the MessagePack bytes Terraform sends, guided by the
//! schema type: what [`super::decode_msgpack`] uses so that a large state never exists as a
//! [`Value`] tree next to its typed model (at 4,000 grants, each tree is megabytes).
//!
//! Containers (objects, maps, lists, sets, tuples) are streamed element by element. Leaves
//! (strings, numbers, bools, null, unknown, dynamic values) are read by the codec's reader into
//! a small [`Value`] and handed to [`ValueDeserializer`], so both decoders mean the same thing
//! by every value.

use std::collections::BTreeMap;

use rmp::Marker;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::de::ValueDeserializer;
use super::Error;
use crate::framework::codec::{CodecError, Reader};
use crate::framework::diagnostics::PathStep;
use crate::framework::types::Type;
use crate::framework::value::Value;

pub(super) struct Stream<'r, 'a> {
    pub(super) reader: &'r mut Reader<'a>,
    pub(super) ty: &'r Type,
    /// Attributes of this object to step over unread (they decode as absent).
    pub(super) skip: &'r [&'r str],
}

fn wire(e: CodecError) -> Error {
    Error::new("Invalid value", e.message)
}

/// What comes next: a container to stream, or a leaf already read.
enum Next<'r, 'a> {
    Container(Stream<'r, 'a>),
    Leaf(Value),
}

impl<'r, 'a> Stream<'r, 'a> {
    fn next(self) -> Result<Next<'r, 'a>, Error> {
        let container =
            matches!(self.ty, Type::Object(_) | Type::Map(_) | Type::List(_) | Type::Set(_) | Type::Tuple(_));
        // Null and unknown (any extension) are leaves whatever the type.
        let absent = matches!(
            self.reader.peek(),
            Some(
                Marker::Null
                    | Marker::FixExt1
                    | Marker::FixExt2
                    | Marker::FixExt4
                    | Marker::FixExt8
                    | Marker::FixExt16
                    | Marker::Ext8
                    | Marker::Ext16
                    | Marker::Ext32
            )
        );
        if container && !absent {
            return Ok(Next::Container(self));
        }
        self.reader.value(self.ty, "").map(Next::Leaf).map_err(wire)
    }

    /// Read the container as the visitor asks (a present container: `deserialize_any`).
    fn container<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let m = self.reader.marker("").map_err(wire)?;
        match self.ty {
            Type::Object(attrs) => {
                let n = self.reader.map_len(m, "").map_err(wire)?;
                let skip = self.skip;
                visitor.visit_map(Entries {
                    reader: self.reader,
                    types: EntryTypes::Object(attrs),
                    left: n,
                    pending: None,
                    skip,
                })
            }
            Type::Map(et) => {
                let n = self.reader.map_len(m, "").map_err(wire)?;
                visitor.visit_map(Entries {
                    reader: self.reader,
                    types: EntryTypes::Map(et),
                    left: n,
                    pending: None,
                    skip: &[],
                })
            }
            Type::List(et) | Type::Set(et) => {
                let n = self.reader.array_len(m, "").map_err(wire)?;
                elements(visitor, Elements { reader: self.reader, types: ElementTypes::Same(et), next: 0, len: n })
            }
            Type::Tuple(types) => {
                let n = self.reader.array_len(m, "").map_err(wire)?;
                if n != types.len() {
                    return Err(Error::new("Invalid value", format!("A tuple of {} elements has {n}.", types.len())));
                }
                elements(visitor, Elements { reader: self.reader, types: ElementTypes::Each(types), next: 0, len: n })
            }
            _ => Err(Error::new("Invalid value", "Expected a collection.")),
        }
    }
}

/// Visit a sequence; like [`ValueDeserializer`], a visitor that stops early is an error.
fn elements<'de, V: Visitor<'de>>(visitor: V, mut seq: Elements<'_, '_>) -> Result<V::Value, Error> {
    let out = visitor.visit_seq(&mut seq)?;
    match seq.len - seq.next {
        0 => Ok(out),
        _ => Err(de::Error::invalid_length(seq.len, &"fewer elements")),
    }
}

/// Leaves go to `ValueDeserializer`; containers are streamed when present and otherwise
/// treated exactly as `ValueDeserializer` treats a present collection.
macro_rules! forward {
    ($($method:ident($($arg:ident: $t:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $t,)* visitor: V) -> Result<V::Value, Error> {
            match self.next()? {
                Next::Leaf(v) => ValueDeserializer(&v).$method($($arg,)* visitor),
                Next::Container(c) => c.container(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Stream<'_, '_> {
    type Error = Error;

    forward! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(), deserialize_i32(),
        deserialize_i64(), deserialize_i128(), deserialize_u8(), deserialize_u16(), deserialize_u32(),
        deserialize_u64(), deserialize_u128(), deserialize_f32(), deserialize_f64(), deserialize_char(),
        deserialize_str(), deserialize_string(), deserialize_bytes(), deserialize_byte_buf(),
        deserialize_unit(), deserialize_unit_struct(name: &'static str), deserialize_seq(),
        deserialize_tuple(len: usize), deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(), deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]), deserialize_identifier(),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.next()? {
            Next::Leaf(v) => ValueDeserializer(&v).deserialize_option(visitor),
            Next::Container(c) => visitor.visit_some(c),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        match self.next()? {
            Next::Leaf(v) => ValueDeserializer(&v).deserialize_newtype_struct(name, visitor),
            Next::Container(c) => visitor.visit_newtype_struct(c),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // The bytes must still be consumed.
        self.reader.value(self.ty, "").map_err(wire)?;
        visitor.visit_unit()
    }
}

/// The element types of a list or set (`Same`) or a tuple (`Each`).
#[derive(Clone, Copy)]
enum ElementTypes<'r> {
    Same(&'r Type),
    Each(&'r [Type]),
}

/// The value types of an object (by attribute) or a map.
#[derive(Clone, Copy)]
enum EntryTypes<'r> {
    Object(&'r BTreeMap<String, Type>),
    Map(&'r Type),
}

/// The elements of a list, set or tuple, each error prefixed with its index.
struct Elements<'r, 'a> {
    reader: &'r mut Reader<'a>,
    types: ElementTypes<'r>,
    next: usize,
    len: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, '_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Error> {
        if self.next == self.len {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let ty = match self.types {
            ElementTypes::Same(t) => t,
            ElementTypes::Each(types) => &types[i],
        };
        let element = Stream { reader: self.reader, ty, skip: &[] };
        seed.deserialize(element).map(Some).map_err(|e| e.within(PathStep::Index(i as i64)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.next)
    }
}

/// The entries of a map or object, each error prefixed with its key or attribute name.
struct Entries<'r, 'a> {
    reader: &'r mut Reader<'a>,
    types: EntryTypes<'r>,
    left: usize,
    /// The key just read, with its value's type.
    pending: Option<(String, &'r Type)>,
    skip: &'r [&'r str],
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let key = loop {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            let m = self.reader.marker("").map_err(wire)?;
            let key = self.reader.str_after(m, "").map_err(wire)?;
            if !self.skip.contains(&key.as_str()) {
                break key;
            }
            self.reader.skip().map_err(wire)?;
        };
        let ty = match self.types {
            EntryTypes::Object(attrs) => attrs.get(&key).ok_or_else(|| {
                Error::new("Invalid value", "The schema has no such attribute.")
                    .within(PathStep::Attribute(key.clone()))
            })?,
            EntryTypes::Map(t) => t,
        };
        let out = seed.deserialize(StrDeserializer::<Error>::new(&key)).map(Some);
        self.pending = Some((key, ty));
        out
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (key, ty) =
            self.pending.take().ok_or_else(|| Error::new("Invalid value", "A map value was read before its key."))?;
        let step = match self.types {
            EntryTypes::Object(_) => PathStep::Attribute(key),
            _ => PathStep::Key(key),
        };
        seed.deserialize(Stream { reader: self.reader, ty, skip: &[] }).map_err(|e| e.within(step))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}
