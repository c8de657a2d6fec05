//! `DynamicValue` codecs: cty values to and from MessagePack (what Terraform always sends and
//! what we always reply with) and from JSON (accepted on input, e.g. raw state).
//!
//! Wire rules (Terraform's `docs/plugin-protocol/object-wire-format.md`): null is nil; an
//! unknown is any extension value (we emit ext 0, `d4 00 00`; Terraform ≥1.6 may send refined
//! unknowns as ext 12, which we read as plain unknown); numbers are int, float or decimal
//! string; objects carry every attribute; a `dynamic` value is `[type JSON, value]`.
//!
//! The decoder reads from a byte slice and checks every length against the bytes left before
//! allocating, so arbitrary input yields a value or an error, never a panic or a huge allocation.

use std::collections::BTreeMap;

use rmp::Marker;
use serde_json::Value as Json;

use super::types::Type;
use super::value::{Number, Value};

/// A value that does not fit its type, or bytes that are not a valid encoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message} (at {path})")]
pub struct CodecError {
    pub message: String,
    /// Where in the value, e.g. `.assignments[2].scope`.
    pub path: String,
}

fn err(path: &str, message: impl Into<String>) -> CodecError {
    CodecError { message: message.into(), path: if path.is_empty() { "(root)".into() } else { path.into() } }
}

// ---------------------------------------------------------------- encoding

/// Encode `value` as MessagePack under `ty`.
pub fn to_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    encode(&mut out, value, ty, "")?;
    Ok(out)
}

// Writing into a Vec cannot fail, so the rmp results are discarded throughout.
fn encode(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &str) -> Result<(), CodecError> {
    match (ty, value) {
        (_, Value::Null) => {
            let _ = rmp::encode::write_nil(out);
            Ok(())
        }
        (_, Value::Unknown) => {
            out.extend_from_slice(&[0xd4, 0x00, 0x00]);
            Ok(())
        }
        (Type::Dynamic, v) => encode_dynamic(out, v, path),
        (t, Value::Dynamic(concrete, inner)) if t == concrete => encode(out, inner, t, path),
        (Type::String, Value::String(s)) => {
            let _ = rmp::encode::write_str(out, s);
            Ok(())
        }
        (Type::Bool, Value::Bool(b)) => {
            let _ = rmp::encode::write_bool(out, *b);
            Ok(())
        }
        (Type::Number, Value::Number(n)) => {
            encode_number(out, n);
            Ok(())
        }
        (Type::List(et), Value::List(items)) | (Type::Set(et), Value::Set(items)) => {
            encode_elements(out, items, et, path)
        }
        (Type::Tuple(types), Value::Tuple(items)) => encode_tuple(out, items, types, path),
        (Type::Map(et), Value::Map(entries)) => encode_map(out, entries, et, path),
        (Type::Object(attr_types), Value::Object(attrs)) => encode_object(out, attrs, attr_types, path),
        (t, v) => Err(err(path, format!("expected {}, got {}", t.friendly_name(), kind_name(v)))),
    }
}

/// A value in a `dynamic` slot travels with its type, `[type JSON, value]`; a value that does
/// not carry one is given the type it most plausibly has.
fn encode_dynamic(out: &mut Vec<u8>, value: &Value, path: &str) -> Result<(), CodecError> {
    let inferred;
    let (concrete, inner) = match value {
        Value::Dynamic(concrete, inner) => (concrete, inner.as_ref()),
        v => {
            inferred = infer_type(v);
            (&inferred, v)
        }
    };
    let _ = rmp::encode::write_array_len(out, 2);
    let _ = rmp::encode::write_bin(out, &concrete.to_json_bytes());
    encode(out, inner, concrete, path)
}

fn encode_number(out: &mut Vec<u8>, n: &Number) {
    match n {
        Number::Int(i) => {
            let _ = rmp::encode::write_sint(out, *i);
        }
        Number::Float(f) => {
            let _ = rmp::encode::write_f64(out, *f);
        }
        Number::Decimal(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
    }
}

/// The items of a list or set, all of type `et`.
fn encode_elements(out: &mut Vec<u8>, items: &[Value], et: &Type, path: &str) -> Result<(), CodecError> {
    let _ = rmp::encode::write_array_len(out, len32(items.len(), path)?);
    for (i, item) in items.iter().enumerate() {
        encode(out, item, et, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn encode_tuple(out: &mut Vec<u8>, items: &[Value], types: &[Type], path: &str) -> Result<(), CodecError> {
    if types.len() != items.len() {
        return Err(err(path, format!("tuple needs {} elements, has {}", types.len(), items.len())));
    }
    let _ = rmp::encode::write_array_len(out, len32(items.len(), path)?);
    for (i, (item, t)) in items.iter().zip(types).enumerate() {
        encode(out, item, t, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn encode_map(out: &mut Vec<u8>, entries: &BTreeMap<String, Value>, et: &Type, path: &str) -> Result<(), CodecError> {
    let _ = rmp::encode::write_map_len(out, len32(entries.len(), path)?);
    for (k, v) in entries {
        let _ = rmp::encode::write_str(out, k);
        encode(out, v, et, &format!("{path}[{k:?}]"))?;
    }
    Ok(())
}

/// Every attribute of the type is written, absent ones as null; attributes the type does not
/// have are an error.
fn encode_object(
    out: &mut Vec<u8>,
    attrs: &BTreeMap<String, Value>,
    attr_types: &BTreeMap<String, Type>,
    path: &str,
) -> Result<(), CodecError> {
    if let Some(extra) = attrs.keys().find(|k| !attr_types.contains_key(*k)) {
        return Err(err(path, format!("unsupported attribute {extra:?}")));
    }
    let _ = rmp::encode::write_map_len(out, len32(attr_types.len(), path)?);
    for (name, t) in attr_types {
        let _ = rmp::encode::write_str(out, name);
        let v = attrs.get(name).unwrap_or(&Value::Null);
        encode(out, v, t, &format!("{path}.{name}"))?;
    }
    Ok(())
}

fn len32(n: usize, path: &str) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| err(path, "collection too large"))
}

/// The type a value most plausibly has, for values placed in a `dynamic` slot without one.
pub fn infer_type(v: &Value) -> Type {
    match v {
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) | Value::Tuple(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Set(items) => Type::set(items.first().map_or(Type::Dynamic, infer_type)),
        Value::Map(m) | Value::Object(m) => Type::Object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect()),
        Value::Dynamic(t, _) => t.clone(),
        Value::Null | Value::Unknown => Type::Dynamic,
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
        Value::Dynamic(..) => "dynamic",
    }
}

// ---------------------------------------------------------------- decoding

/// Decode MessagePack `bytes` as a value of `ty`. Trailing bytes are an error.
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader::new(bytes);
    let v = r.value(ty, "")?;
    r.finish()?;
    Ok(v)
}

/// Deepest nesting of values the decoder accepts: far beyond any real schema or value, and
/// shallow enough that the recursion stays well within a 2 MiB thread stack (dynamic values
/// can nest without limit in a few bytes).
const MAX_DEPTH: usize = 128;

/// MessagePack input read front to back. Also drives the streaming model decoder
/// (`model::stream`), which reads containers itself and leaves to this reader.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0, depth: 0 }
    }

    /// The next marker, not consumed.
    pub(super) fn peek(&self) -> Option<Marker> {
        self.buf.get(self.pos).map(|b| Marker::from_u8(*b))
    }

    /// An error unless every byte was read.
    pub(super) fn finish(&self) -> Result<(), CodecError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(err("", format!("{n} unexpected trailing bytes"))),
        }
    }

    fn take(&mut self, n: usize, path: &str) -> Result<&'a [u8], CodecError> {
        if self.buf.len() - self.pos < n {
            return Err(err(path, "unexpected end of msgpack data"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize, path: &str) -> Result<u64, CodecError> {
        Ok(self.take(n, path)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn marker(&mut self, path: &str) -> Result<Marker, CodecError> {
        Ok(Marker::from_u8(self.take(1, path)?[0]))
    }

    /// The length of a collection, refused when the input cannot possibly hold that many
    /// elements (each takes at least one byte), which also bounds preallocation.
    fn checked_len(&self, n: u64, per_item: usize, path: &str) -> Result<usize, CodecError> {
        let n = usize::try_from(n).map_err(|_| err(path, "length out of range"))?;
        if n.saturating_mul(per_item) > self.remaining() {
            return Err(err(path, "collection length exceeds the data"));
        }
        Ok(n)
    }

    pub(super) fn value(&mut self, ty: &Type, path: &str) -> Result<Value, CodecError> {
        if self.depth >= MAX_DEPTH {
            return Err(err(path, format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let v = self.value_at_depth(ty, path);
        self.depth -= 1;
        v
    }

    fn value_at_depth(&mut self, ty: &Type, path: &str) -> Result<Value, CodecError> {
        let m = self.marker(path)?;
        if m == Marker::Null {
            return Ok(Value::Null);
        }
        if let Some(len) = self.ext_len(m, path)? {
            // Any extension is an unknown; its payload (refinements) is skipped.
            self.take(1 + len, path)?;
            return Ok(Value::Unknown);
        }
        match ty {
            Type::String => Ok(Value::String(self.str_after(m, path)?)),
            Type::Bool => match m {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                _ => Err(err(path, "expected bool")),
            },
            Type::Number => self.number_after(m, path).map(Value::Number),
            Type::List(et) => self.elements_after(m, et, path).map(Value::List),
            Type::Set(et) => self.elements_after(m, et, path).map(Value::Set),
            Type::Tuple(types) => self.tuple_after(m, types, path),
            Type::Map(et) => self.map_after(m, et, path),
            Type::Object(attr_types) => self.object_after(m, attr_types, path),
            Type::Dynamic => self.dynamic_after(m, path),
        }
    }

    /// The items of a list or set, all of type `et`.
    fn elements_after(&mut self, m: Marker, et: &Type, path: &str) -> Result<Vec<Value>, CodecError> {
        let n = self.array_len(m, path)?;
        let mut items = Vec::with_capacity(n);
        for i in 0..n {
            items.push(self.value(et, &format!("{path}[{i}]"))?);
        }
        Ok(items)
    }

    fn tuple_after(&mut self, m: Marker, types: &[Type], path: &str) -> Result<Value, CodecError> {
        let n = self.array_len(m, path)?;
        if n != types.len() {
            return Err(err(path, format!("tuple needs {} elements, got {n}", types.len())));
        }
        let mut items = Vec::with_capacity(n);
        for (i, t) in types.iter().enumerate() {
            items.push(self.value(t, &format!("{path}[{i}]"))?);
        }
        Ok(Value::Tuple(items))
    }

    fn map_after(&mut self, m: Marker, et: &Type, path: &str) -> Result<Value, CodecError> {
        let n = self.map_len(m, path)?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let km = self.marker(path)?;
            let k = self.str_after(km, path)?;
            let v = self.value(et, &format!("{path}[{k:?}]"))?;
            entries.insert(k, v);
        }
        Ok(Value::Map(entries))
    }

    fn object_after(
        &mut self,
        m: Marker,
        attr_types: &BTreeMap<String, Type>,
        path: &str,
    ) -> Result<Value, CodecError> {
        let n = self.map_len(m, path)?;
        let mut attrs = BTreeMap::new();
        for _ in 0..n {
            let km = self.marker(path)?;
            let k = self.str_after(km, path)?;
            let Some(t) = attr_types.get(&k) else {
                return Err(err(path, format!("unsupported attribute {k:?}")));
            };
            let v = self.value(t, &format!("{path}.{k}"))?;
            attrs.insert(k, v);
        }
        // Terraform always sends every attribute; be lenient and fill absent ones.
        for name in attr_types.keys() {
            attrs.entry(name.clone()).or_insert(Value::Null);
        }
        Ok(Value::Object(attrs))
    }

    /// `[type, value]`, the type as JSON in a bin or a str.
    fn dynamic_after(&mut self, m: Marker, path: &str) -> Result<Value, CodecError> {
        let n = self.array_len(m, path)?;
        if n != 2 {
            return Err(err(path, "dynamic value must be [type, value]"));
        }
        let tm = self.marker(path)?;
        let type_bytes = match tm {
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                let len = self.be(bin_width(tm), path)?;
                let len = self.checked_len(len, 1, path)?;
                self.take(len, path)?
            }
            _ => {
                let s = self.str_after(tm, path)?;
                return self.dynamic_tail(s.as_bytes(), path);
            }
        };
        self.dynamic_tail(type_bytes, path)
    }

    fn dynamic_tail(&mut self, type_bytes: &[u8], path: &str) -> Result<Value, CodecError> {
        let concrete = Type::from_json_bytes(type_bytes).map_err(|e| err(path, e.to_string()))?;
        if concrete == Type::Dynamic {
            return Err(err(path, "dynamic value cannot have type dynamic"));
        }
        let inner = self.value(&concrete, path)?;
        Ok(Value::Dynamic(concrete, Box::new(inner)))
    }

    /// Step over one value of any kind without building it (an attribute a model leaves out).
    pub(super) fn skip(&mut self) -> Result<(), CodecError> {
        if self.depth >= MAX_DEPTH {
            return Err(err("", format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let skipped = self.skip_at_depth();
        self.depth -= 1;
        skipped
    }

    fn skip_at_depth(&mut self) -> Result<(), CodecError> {
        let m = self.marker("")?;
        if let Some(len) = self.ext_len(m, "")? {
            return self.take(1 + len, "").map(drop);
        }
        let len = match m {
            Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => 0,
            Marker::U8 | Marker::I8 => 1,
            Marker::U16 | Marker::I16 => 2,
            Marker::U32 | Marker::I32 | Marker::F32 => 4,
            Marker::U64 | Marker::I64 | Marker::F64 => 8,
            Marker::FixStr(n) => u64::from(n),
            Marker::Str8 | Marker::Bin8 => self.be(1, "")?,
            Marker::Str16 | Marker::Bin16 => self.be(2, "")?,
            Marker::Str32 | Marker::Bin32 => self.be(4, "")?,
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                return (0..self.array_len(m, "")?).try_for_each(|_| self.skip());
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                return (0..2 * self.map_len(m, "")?).try_for_each(|_| self.skip());
            }
            _ => return Err(err("", "invalid msgpack marker")),
        };
        let len = self.checked_len(len, 1, "")?;
        self.take(len, "").map(drop)
    }

    /// `Some(payload length)` for extension markers.
    fn ext_len(&mut self, m: Marker, path: &str) -> Result<Option<usize>, CodecError> {
        Ok(Some(match m {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => self.be(1, path)? as usize,
            Marker::Ext16 => self.be(2, path)? as usize,
            Marker::Ext32 => usize::try_from(self.be(4, path)?).map_err(|_| err(path, "ext too long"))?,
            _ => return Ok(None),
        }))
    }

    pub(super) fn str_after(&mut self, m: Marker, path: &str) -> Result<String, CodecError> {
        let len = match m {
            Marker::FixStr(n) => u64::from(n),
            Marker::Str8 => self.be(1, path)?,
            Marker::Str16 => self.be(2, path)?,
            Marker::Str32 => self.be(4, path)?,
            _ => return Err(err(path, "expected string")),
        };
        let len = self.checked_len(len, 1, path)?;
        let bytes = self.take(len, path)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| err(path, "string is not valid UTF-8"))
    }

    fn number_after(&mut self, m: Marker, path: &str) -> Result<Number, CodecError> {
        Ok(match m {
            Marker::FixPos(n) => Number::Int(i64::from(n)),
            Marker::FixNeg(n) => Number::Int(i64::from(n)),
            Marker::U8 => Number::Int(self.be(1, path)? as i64),
            Marker::U16 => Number::Int(self.be(2, path)? as i64),
            Marker::U32 => Number::Int(self.be(4, path)? as i64),
            Marker::U64 => Number::from_u64(self.be(8, path)?),
            Marker::I8 => Number::Int(i64::from(self.be(1, path)? as u8 as i8)),
            Marker::I16 => Number::Int(i64::from(self.be(2, path)? as u16 as i16)),
            Marker::I32 => Number::Int(i64::from(self.be(4, path)? as u32 as i32)),
            Marker::I64 => Number::Int(self.be(8, path)? as i64),
            Marker::F32 => Number::from_f64(f64::from(f32::from_bits(self.be(4, path)? as u32))),
            Marker::F64 => Number::from_f64(f64::from_bits(self.be(8, path)?)),
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let s = self.str_after(m, path)?;
                Number::parse(&s).ok_or_else(|| err(path, format!("invalid number {s:?}")))?
            }
            _ => return Err(err(path, "expected number")),
        })
    }

    pub(super) fn array_len(&mut self, m: Marker, path: &str) -> Result<usize, CodecError> {
        let n = match m {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => self.be(2, path)?,
            Marker::Array32 => self.be(4, path)?,
            _ => return Err(err(path, "expected array")),
        };
        self.checked_len(n, 1, path)
    }

    pub(super) fn map_len(&mut self, m: Marker, path: &str) -> Result<usize, CodecError> {
        let n = match m {
            Marker::FixMap(n) => u64::from(n),
            Marker::Map16 => self.be(2, path)?,
            Marker::Map32 => self.be(4, path)?,
            _ => return Err(err(path, "expected map")),
        };
        self.checked_len(n, 2, path)
    }
}

fn bin_width(m: Marker) -> usize {
    match m {
        Marker::Bin8 => 1,
        Marker::Bin16 => 2,
        _ => 4,
    }
}

/// Decode cty's JSON encoding of a value of `ty` (used for raw state and as a fallback when
/// Terraform sends `DynamicValue.json`). JSON has no unknowns. Attributes that the type does
/// not have are dropped (state written by an older schema may carry them).
pub fn from_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let json: Json = serde_json::from_slice(bytes).map_err(|e| err("", e.to_string()))?;
    from_json_value(&json, ty, "")
}

pub fn from_json_value(json: &Json, ty: &Type, path: &str) -> Result<Value, CodecError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::String => match json {
            Json::String(s) => Ok(Value::String(s.clone())),
            // cty converts primitives to string where needed; state may hold either.
            Json::Number(n) => Ok(Value::String(n.to_string())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(err(path, "expected string")),
        },
        Type::Bool => match json {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(err(path, "expected bool")),
        },
        Type::Number => match json {
            Json::Number(n) => {
                Number::parse(&n.to_string()).map(Value::Number).ok_or_else(|| err(path, "invalid number"))
            }
            Json::String(s) => Number::parse(s).map(Value::Number).ok_or_else(|| err(path, "invalid number")),
            _ => Err(err(path, "expected number")),
        },
        Type::List(et) | Type::Set(et) => {
            let items = json.as_array().ok_or_else(|| err(path, "expected array"))?;
            let vals = items
                .iter()
                .enumerate()
                .map(|(i, j)| from_json_value(j, et, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::List(_)) { Value::List(vals) } else { Value::Set(vals) })
        }
        Type::Tuple(types) => {
            let items = json.as_array().ok_or_else(|| err(path, "expected array"))?;
            if items.len() != types.len() {
                return Err(err(path, "tuple length mismatch"));
            }
            let vals = items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (j, t))| from_json_value(j, t, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Tuple(vals))
        }
        Type::Map(et) => {
            let obj = json.as_object().ok_or_else(|| err(path, "expected object"))?;
            let mut m = BTreeMap::new();
            for (k, j) in obj {
                m.insert(k.clone(), from_json_value(j, et, &format!("{path}[{k:?}]"))?);
            }
            Ok(Value::Map(m))
        }
        Type::Object(attr_types) => {
            let obj = json.as_object().ok_or_else(|| err(path, "expected object"))?;
            let mut m = BTreeMap::new();
            for (name, t) in attr_types {
                let v = match obj.get(name) {
                    Some(j) => from_json_value(j, t, &format!("{path}.{name}"))?,
                    None => Value::Null,
                };
                m.insert(name.clone(), v);
            }
            Ok(Value::Object(m))
        }
        Type::Dynamic => {
            // cty JSON for dynamic: {"value": ..., "type": ...}
            let obj = json.as_object().ok_or_else(|| err(path, "expected {\"value\",\"type\"}"))?;
            let t = obj.get("type").ok_or_else(|| err(path, "dynamic value without type"))?;
            let concrete = Type::from_json(t).map_err(|e| err(path, e.to_string()))?;
            let inner = from_json_value(obj.get("value").unwrap_or(&Json::Null), &concrete, path)?;
            Ok(Value::Dynamic(concrete, Box::new(inner)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj_type() -> Type {
        Type::object([
            ("id", Type::String),
            ("count", Type::Number),
            ("enabled", Type::Bool),
            ("tags", Type::map(Type::String)),
            ("ids", Type::set(Type::String)),
        ])
    }

    #[test]
    fn unknown_is_ext0_and_refined_unknown_reads_as_unknown() {
        assert_eq!(to_msgpack(&Value::Unknown, &Type::String).unwrap(), vec![0xd4, 0, 0]);
        // ext 12 with a refinement map {1: false} (definitely not null)
        let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
        assert_eq!(from_msgpack(&refined, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn object_encodes_every_attribute() {
        let v = Value::object([("id", Value::string("x"))]);
        let bytes = to_msgpack(&v, &obj_type()).unwrap();
        assert_eq!(bytes[0], 0x85, "fixmap with all five attributes");
        let back = from_msgpack(&bytes, &obj_type()).unwrap();
        assert_eq!(back.attr("id"), &Value::string("x"));
        assert!(back.attr("tags").is_null());
    }

    #[test]
    fn numbers_accept_every_wire_form() {
        assert_eq!(from_msgpack(&[0xcc, 200], &Type::Number).unwrap(), Value::int(200));
        assert_eq!(from_msgpack(&[0xd0, 0xff], &Type::Number).unwrap(), Value::int(-1));
        let s = rmp_str("12345678901234567890123");
        assert_eq!(
            from_msgpack(&s, &Type::Number).unwrap(),
            Value::Number(Number::Decimal("12345678901234567890123".into()))
        );
        let mut f = vec![];
        rmp::encode::write_f64(&mut f, 2.5).unwrap();
        assert_eq!(from_msgpack(&f, &Type::Number).unwrap(), Value::Number(Number::Float(2.5)));
    }

    fn rmp_str(s: &str) -> Vec<u8> {
        let mut v = vec![];
        rmp::encode::write_str(&mut v, s).unwrap();
        v
    }

    #[test]
    fn dynamic_carries_its_type() {
        let v = Value::Dynamic(Type::list(Type::String), Box::new(Value::list_of_strings(["a"])));
        let bytes = to_msgpack(&v, &Type::Dynamic).unwrap();
        assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn rejects_wrong_kinds_with_path() {
        let v = Value::object([("count", Value::string("many"))]);
        let e = to_msgpack(&v, &obj_type()).unwrap_err();
        assert_eq!(e.path, ".count");
        let e = from_msgpack(&[0x81, 0xa1, b'z', 0xc0], &obj_type()).unwrap_err();
        assert!(e.message.contains("unsupported attribute"), "{e}");
        assert!(from_msgpack(&[0xc0, 0xc0], &Type::String).is_err(), "trailing bytes");
    }

    #[test]
    fn json_input_is_accepted() {
        let v = from_json(br#"{"id":"a","count":3,"enabled":true,"tags":{"k":"v"},"ids":["x"],"old":1}"#, &obj_type())
            .unwrap();
        assert_eq!(v.attr("count"), &Value::int(3));
        assert_eq!(v.attr("ids"), &Value::Set(vec![Value::string("x")]));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // Dynamic values in a list of dynamic values, 10,000 deep, in 210 KB: this overflowed
        // the stack before nesting was bounded (found by `make fuzz`).
        let nested = |depth: usize| {
            let mut out = Vec::new();
            for _ in 0..depth {
                out.push(0x92);
                out.push(0xa0 | 18);
                out.extend_from_slice(br#"["list","dynamic"]"#);
                out.push(0x91);
            }
            out.push(0xc0);
            out
        };
        let e = from_msgpack(&nested(10_000), &Type::Dynamic).unwrap_err();
        assert!(e.message.contains("nested deeper than"), "{e}");
        assert!(from_msgpack(&nested(10), &Type::Dynamic).is_ok(), "ordinary nesting still decodes");
    }

    fn arb_type() -> impl Strategy<Value = Type> {
        let leaf = prop_oneof![Just(Type::String), Just(Type::Number), Just(Type::Bool)];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
                prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
            ]
        })
    }

    fn arb_value(ty: Type) -> BoxedStrategy<Value> {
        let special = prop_oneof![Just(Value::Null), Just(Value::Unknown)];
        let concrete: BoxedStrategy<Value> = match ty {
            Type::String => ".{0,12}".prop_map(Value::String).boxed(),
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::Number => prop_oneof![
                any::<i64>().prop_map(|i| Value::Number(Number::Int(i))),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Value::Number(Number::from_f64(f))),
                "[1-9][0-9]{20,30}".prop_map(|s| Value::Number(Number::parse(&s).unwrap())),
            ]
            .boxed(),
            Type::List(et) => prop::collection::vec(arb_value(*et), 0..4).prop_map(Value::List).boxed(),
            Type::Set(et) => prop::collection::vec(arb_value(*et), 0..4)
                .prop_map(|mut v| {
                    // set elements are distinct
                    let mut out: Vec<Value> = Vec::new();
                    for x in v.drain(..) {
                        if !out.contains(&x) {
                            out.push(x);
                        }
                    }
                    Value::Set(out)
                })
                .boxed(),
            Type::Map(et) => {
                prop::collection::btree_map("[a-z]{0,4}", arb_value(*et), 0..4).prop_map(Value::Map).boxed()
            }
            Type::Object(attrs) => {
                let fields: Vec<_> =
                    attrs.into_iter().map(|(k, t)| arb_value(t).prop_map(move |v| (k.clone(), v))).collect();
                fields.prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed()
            }
            Type::Tuple(types) => {
                let elems: Vec<_> = types.into_iter().map(arb_value).collect();
                elems.prop_map(Value::Tuple).boxed()
            }
            Type::Dynamic => Just(Value::Null).boxed(),
        };
        prop_oneof![1 => special, 4 => concrete].boxed()
    }

    proptest! {
        #[test]
        fn msgpack_round_trips((ty, v) in arb_type().prop_flat_map(|t| (Just(t.clone()), arb_value(t)))) {
            let bytes = to_msgpack(&v, &ty).unwrap();
            prop_assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v.clone());
            // the same value also survives inside a dynamic slot when wholly known and typed
            let dynamic = Value::Dynamic(ty.clone(), Box::new(v.clone()));
            let bytes = to_msgpack(&dynamic, &Type::Dynamic).unwrap();
            prop_assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), dynamic);
        }

        #[test]
        fn arbitrary_bytes_never_panic(ty in arb_type(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = from_msgpack(&bytes, &ty);
            let _ = from_msgpack(&bytes, &Type::Dynamic);
            let _ = from_json(&bytes, &ty);
        }

        #[test]
        fn huge_declared_lengths_are_refused(prefix in prop_oneof![Just(0xddu8), Just(0xdf), Just(0xdb)], len in any::<u32>()) {
            let mut bytes = vec![prefix];
            bytes.extend_from_slice(&len.max(16).to_be_bytes());
            prop_assert!(from_msgpack(&bytes, &Type::list(Type::String)).is_err());
            prop_assert!(from_msgpack(&bytes, &Type::map(Type::String)).is_err());
            prop_assert!(from_msgpack(&bytes, &Type::String).is_err());
        }
    }
}
