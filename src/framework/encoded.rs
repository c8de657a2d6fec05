//! A value as Terraform sent it, decoded only when and how the resource asks: into a [`Value`],
//! or straight into a typed model. A resource whose state holds thousands of grants decodes the
//! MessagePack into its model directly, so the state never exists as a `Value` tree as well.

use prost::bytes::Bytes;
use serde::de::DeserializeOwned;

use super::codec;
use super::diagnostics::{Diagnostic, Diagnostics};
use super::model;
use super::types::Type;
use super::value::Value;

/// The MessagePack encoding of null.
const MSGPACK_NIL: u8 = 0xc0;

#[derive(Debug, Clone)]
enum Form {
    Absent,
    /// Usually a slice of the whole request's buffer (see `build.rs`).
    Msgpack(Bytes),
    Json(Bytes),
    /// Already decoded, e.g. by a caller that had it as a `Value`.
    Decoded(Value),
}

/// A request value of type `ty`, still in its wire form.
#[derive(Debug, Clone)]
pub struct Encoded {
    form: Form,
    ty: Type,
    /// What the value is, for messages (e.g. "prior state").
    what: &'static str,
}

impl Encoded {
    /// From a `DynamicValue`'s two fields: MessagePack if present, else JSON; neither is null.
    pub fn new(msgpack: Bytes, json: Bytes, ty: Type, what: &'static str) -> Encoded {
        let form = match (msgpack.is_empty(), json.is_empty()) {
            (false, _) => Form::Msgpack(msgpack),
            (true, false) => Form::Json(json),
            (true, true) => Form::Absent,
        };
        Encoded { form, ty, what }
    }

    pub fn absent(ty: Type, what: &'static str) -> Encoded {
        Encoded { form: Form::Absent, ty, what }
    }

    pub fn from_value(value: Value, ty: Type, what: &'static str) -> Encoded {
        Encoded { form: Form::Decoded(value), ty, what }
    }

    /// The same value in a buffer of its own. A slice keeps the whole request buffer alive
    /// (the other values with it); a value kept while the others are freed is detached first.
    pub fn detached(self) -> Encoded {
        let form = match self.form {
            Form::Msgpack(b) => Form::Msgpack(Bytes::copy_from_slice(&b)),
            Form::Json(b) => Form::Json(Bytes::copy_from_slice(&b)),
            other => other,
        };
        Encoded { form, ..self }
    }

    /// Whether the value is null, without decoding it.
    pub fn is_null(&self) -> bool {
        match &self.form {
            Form::Absent => true,
            Form::Msgpack(b) => b[..] == [MSGPACK_NIL],
            Form::Json(b) => b.trim_ascii() == b"null",
            Form::Decoded(v) => v.is_null(),
        }
    }

    /// The value as a [`Value`].
    pub fn into_value(self) -> Result<Value, Diagnostics> {
        let decoded = match self.form {
            Form::Absent => return Ok(Value::Null),
            Form::Decoded(v) => return Ok(v),
            Form::Msgpack(b) => codec::from_msgpack(&b, &self.ty),
            Form::Json(b) => codec::from_json(&b, &self.ty),
        };
        decoded.map_err(|e| invalid(self.what, e.to_string()))
    }

    /// The value decoded into a model (see [`model::decode`]); MessagePack is decoded
    /// directly, without a [`Value`] in between. A null value decodes as the model's null
    /// (e.g. `None`).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Diagnostics> {
        match &self.form {
            Form::Msgpack(b) => model::decode_msgpack(b, &self.ty),
            Form::Decoded(v) => model::decode(v),
            Form::Absent => model::decode(&Value::Null),
            Form::Json(b) => {
                model::decode(&codec::from_json(b, &self.ty).map_err(|e| invalid(self.what, e.to_string()))?)
            }
        }
    }

    /// [`Encoded::decode`], freeing the wire bytes as soon as the model exists.
    pub fn into_model<T: DeserializeOwned>(self) -> Result<T, Diagnostics> {
        self.decode()
    }

    /// [`Encoded::into_model`] without the top-level attributes in `skip`, which the model
    /// sees as absent (null). MessagePack steps over them unread.
    pub fn into_model_except<T: DeserializeOwned>(self, skip: &[&str]) -> Result<T, Diagnostics> {
        match &self.form {
            Form::Msgpack(b) => model::decode_msgpack_except(b, &self.ty, skip),
            _ => {
                let mut value = self.into_value()?;
                for name in skip {
                    value.set_attr(name, Value::Null);
                }
                model::decode(&value)
            }
        }
    }
}

fn invalid(what: &str, why: String) -> Diagnostics {
    Diagnostic::error(
        format!("Invalid {what} received from Terraform"),
        format!("The value could not be decoded: {why}. This is a bug in the provider or in Terraform."),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty() -> Type {
        Type::object([("name", Type::String), ("ids", Type::list(Type::String))])
    }

    fn sample() -> Value {
        Value::object([("name", Value::string("a")), ("ids", Value::list_of_strings(["x", "y"]))])
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Model {
        name: String,
        ids: Vec<String>,
    }

    #[test]
    fn null_is_seen_without_decoding() {
        assert!(Encoded::absent(ty(), "state").is_null());
        assert!(Encoded::new(Bytes::from_static(&[MSGPACK_NIL]), Bytes::new(), ty(), "state").is_null());
        assert!(Encoded::new(Bytes::new(), Bytes::from_static(b" null "), ty(), "state").is_null());
        assert!(Encoded::from_value(Value::Null, ty(), "state").is_null());
        let bytes = codec::to_msgpack(&sample(), &ty()).unwrap();
        assert!(!Encoded::new(bytes.into(), Bytes::new(), ty(), "state").is_null());
    }

    #[test]
    fn every_form_decodes_to_the_same_model_and_value() {
        let msgpack = codec::to_msgpack(&sample(), &ty()).unwrap();
        let json = Bytes::from_static(br#"{"name":"a","ids":["x","y"]}"#);
        let forms = [
            Encoded::new(msgpack.into(), Bytes::new(), ty(), "state"),
            Encoded::new(Bytes::new(), json, ty(), "state"),
            Encoded::from_value(sample(), ty(), "state"),
        ];
        for e in forms {
            assert_eq!(e.decode::<Model>().unwrap(), Model { name: "a".into(), ids: vec!["x".into(), "y".into()] });
            assert_eq!(e.into_value().unwrap(), sample());
        }
    }

    #[test]
    fn broken_bytes_name_what_they_were() {
        let e = Encoded::new(Bytes::from_static(&[0x92, 0xa1]), Bytes::new(), ty(), "prior state");
        assert!(e.decode::<Model>().is_err());
        let d = e.into_value().unwrap_err();
        assert_eq!(d.0[0].summary, "Invalid prior state received from Terraform");
    }
}
