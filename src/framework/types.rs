//! cty types: the type system Terraform uses for every value it exchanges with a provider.
//!
//! A schema's attribute `type` travels as cty's JSON type notation (`"string"`,
//! `["list","string"]`, `["object",{...}]`), so the type model and its JSON codec live together.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A cty type. `Dynamic` stands for "any type, decided per value".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    String,
    Number,
    Bool,
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

/// Why a JSON type description could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid cty type JSON: {0}")]
pub struct TypeJsonError(pub String);

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }
    pub fn object<I, S>(attributes: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object(attributes.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// cty's JSON notation for this type.
    pub fn to_json(&self) -> Json {
        match self {
            Type::String => Json::from("string"),
            Type::Number => Json::from("number"),
            Type::Bool => Json::from("bool"),
            Type::Dynamic => Json::from("dynamic"),
            Type::List(e) => Json::Array(vec!["list".into(), e.to_json()]),
            Type::Set(e) => Json::Array(vec!["set".into(), e.to_json()]),
            Type::Map(e) => Json::Array(vec!["map".into(), e.to_json()]),
            Type::Object(attrs) => Json::Array(vec![
                "object".into(),
                Json::Object(attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect()),
            ]),
            Type::Tuple(elems) => {
                Json::Array(vec!["tuple".into(), Json::Array(elems.iter().map(Type::to_json).collect())])
            }
        }
    }

    /// The bytes Terraform expects in `Schema.Attribute.type`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("a JSON value always serializes")
    }

    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, TypeJsonError> {
        let json: Json = serde_json::from_slice(bytes).map_err(|e| TypeJsonError(e.to_string()))?;
        Type::from_json(&json)
    }

    pub fn from_json(json: &Json) -> Result<Type, TypeJsonError> {
        match json {
            Json::String(s) => match s.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(TypeJsonError(format!("unknown primitive type {other:?}"))),
            },
            Json::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str().ok_or_else(|| TypeJsonError("type kind must be a string".into()))?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let attrs = parts[1]
                            .as_object()
                            .ok_or_else(|| TypeJsonError("object attributes must be a JSON object".into()))?;
                        let mut out = BTreeMap::new();
                        for (name, t) in attrs {
                            out.insert(name.clone(), Type::from_json(t)?);
                        }
                        Ok(Type::Object(out))
                    }
                    "tuple" => {
                        let elems = parts[1]
                            .as_array()
                            .ok_or_else(|| TypeJsonError("tuple elements must be a JSON array".into()))?;
                        Ok(Type::Tuple(elems.iter().map(Type::from_json).collect::<Result<_, _>>()?))
                    }
                    other => Err(TypeJsonError(format!("unknown type kind {other:?}"))),
                }
            }
            // An object type may carry a third element listing optional attributes.
            Json::Array(parts) if parts.len() == 3 && parts[0] == "object" => {
                Type::from_json(&Json::Array(parts[..2].to_vec()))
            }
            other => Err(TypeJsonError(format!("unexpected {other}"))),
        }
    }

    /// A short human name, for error messages.
    pub fn friendly_name(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::Dynamic => "any".into(),
            Type::List(e) => format!("list of {}", e.friendly_name()),
            Type::Set(e) => format!("set of {}", e.friendly_name()),
            Type::Map(e) => format!("map of {}", e.friendly_name()),
            Type::Object(_) => "object".into(),
            Type::Tuple(_) => "tuple".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_notation_round_trips() {
        let t = Type::object([
            ("name", Type::String),
            ("tags", Type::map(Type::String)),
            ("ids", Type::set(Type::list(Type::Number))),
            ("pair", Type::Tuple(vec![Type::Bool, Type::Dynamic])),
        ]);
        let bytes = t.to_json_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"["object",{"ids":["set",["list","number"]],"name":"string","pair":["tuple",["bool","dynamic"]],"tags":["map","string"]}]"#
        );
        assert_eq!(Type::from_json_bytes(&bytes).unwrap(), t);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Type::from_json_bytes(b"\"strin\"").is_err());
        assert!(Type::from_json_bytes(b"[\"list\"]").is_err());
        assert!(Type::from_json_bytes(b"[\"object\",[]]").is_err());
        assert!(Type::from_json_bytes(b"{").is_err());
    }
}
