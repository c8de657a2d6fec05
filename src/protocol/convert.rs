//! Translation between framework types and the generated tfplugin5 messages.

use crate::framework::{
    codec, AttributePath, Block, Diagnostic, Diagnostics, Encoded, Function, Nesting, PathStep, Schema, Severity, Type,
    Value,
};
use crate::proto::tfplugin5 as pb;

pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error as i32,
            Severity::Warning => pb::diagnostic::Severity::Warning as i32,
        },
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.attribute.as_ref().map(attribute_path),
    }
}

pub fn diagnostics(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter().map(diagnostic).collect()
}

pub fn attribute_path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attribute(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema { version: s.version, block: Some(block(&s.block, s.version)) }
}

fn block(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b
            .attributes
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.clone(),
                r#type: a.ty.to_json_bytes(),
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: pb::StringKind::Markdown as i32,
                deprecated: a.deprecated,
                write_only: false,
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.type_name.clone(),
                block: Some(block(&nb.block, version)),
                nesting: match nb.nesting {
                    Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                    Nesting::List => pb::schema::nested_block::NestingMode::List,
                    Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                    Nesting::Map => pb::schema::nested_block::NestingMode::Map,
                    Nesting::Group => pb::schema::nested_block::NestingMode::Group,
                } as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
    }
}

pub fn function(f: &dyn Function) -> pb::Function {
    pb::Function {
        parameters: f
            .parameters()
            .into_iter()
            .map(|p| pb::function::Parameter {
                name: p.name.to_string(),
                r#type: p.ty.to_json_bytes(),
                allow_null_value: false,
                allow_unknown_values: false,
                description: p.description.to_string(),
                description_kind: pb::StringKind::Markdown as i32,
            })
            .collect(),
        variadic_parameter: None,
        r#return: Some(pb::function::Return { r#type: f.return_type().to_json_bytes() }),
        summary: f.summary().to_string(),
        description: f.description().to_string(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}

/// A `DynamicValue` kept as it came, for the resource to decode (see [`Encoded`]).
pub fn encoded(dv: Option<pb::DynamicValue>, ty: &Type, what: &'static str) -> Encoded {
    match dv {
        Some(dv) => Encoded::new(dv.msgpack, dv.json, ty.clone(), what),
        None => Encoded::absent(ty.clone(), what),
    }
}

/// Decode a `DynamicValue` (msgpack, or JSON as a fallback). An absent value is null.
pub fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &'static str) -> Result<Value, Diagnostics> {
    encoded(dv.cloned(), ty, what).into_value()
}

pub fn encode(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    codec::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue { msgpack: msgpack.into(), json: Default::default() })
        .map_err(|e| {
            Diagnostic::error(
                format!("Provider produced an invalid {what}"),
                format!("The value could not be encoded: {e}. This is a bug in the provider."),
            )
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_carry_severity_and_path() {
        let d =
            Diagnostic::error("bad", "fix it").at(AttributePath::attr("kubernetes").then_index(0).then_attr("host"));
        let p = diagnostic(&d);
        assert_eq!(p.severity, pb::diagnostic::Severity::Error as i32);
        let steps = p.attribute.unwrap().steps;
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].selector, Some(pb::attribute_path::step::Selector::ElementKeyInt(0)));
    }

    #[test]
    fn json_dynamic_value_is_accepted() {
        let dv = pb::DynamicValue { msgpack: Default::default(), json: br#"{"a":"x"}"#.to_vec().into() };
        let v = decode(Some(&dv), &Type::object([("a", Type::String)]), "config").unwrap();
        assert_eq!(v.attr("a"), &Value::string("x"));
    }
}
