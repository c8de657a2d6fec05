//! Schemas: the shape of a provider's, resource's or data source's configuration and state,
//! with the flags (required/optional/computed/sensitive) that tell Terraform how to plan it.

use std::collections::BTreeMap;

use super::types::Type;
use super::value::Value;

#[derive(Debug, Clone)]
pub struct Schema {
    /// Bumped whenever stored state needs an upgrade step.
    pub version: i64,
    pub block: Block,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    /// Markdown.
    pub description: String,
    pub deprecated: bool,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    /// Markdown.
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl Attribute {
    fn new(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            name: name.into(),
            ty,
            description: description.into(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
        }
    }
    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Attribute { required: true, ..Attribute::new(name, ty, description) }
    }
    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, ..Attribute::new(name, ty, description) }
    }
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { computed: true, ..Attribute::new(name, ty, description) }
    }
    /// Set by the user or, when left out, by the provider.
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, computed: true, ..Attribute::new(name, ty, description) }
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
}

impl NestedBlock {
    pub fn new(type_name: &str, nesting: Nesting, block: Block) -> Self {
        NestedBlock { type_name: type_name.into(), block, nesting, min_items: 0, max_items: 0 }
    }
    pub fn max_items(mut self, n: i64) -> Self {
        self.max_items = n;
        self
    }
}

impl Block {
    pub fn new(description: &str) -> Self {
        Block { description: description.into(), ..Block::default() }
    }
    pub fn attribute(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }

    /// The object type of a value conforming to this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> =
            self.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        for nb in &self.blocks {
            let inner = nb.block.value_type();
            let t = match nb.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
                Nesting::Map => Type::map(inner),
            };
            attrs.insert(nb.type_name.clone(), t);
        }
        Type::Object(attrs)
    }

    pub fn attribute_named(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Turn computed attributes that the user left null into unknowns: the provider will
    /// decide them during apply. Nested blocks are visited too.
    pub fn mark_computed_nulls_unknown(&self, config: &Value, planned: &mut Value) {
        let Value::Object(attrs) = planned else { return };
        for a in self.attributes.iter().filter(|a| a.computed) {
            let configured = !config.attr(&a.name).is_null();
            let slot = attrs.entry(a.name.clone()).or_insert(Value::Null);
            if !configured && slot.is_null() {
                *slot = Value::Unknown;
            }
        }
        for nb in &self.blocks {
            let cfg = config.attr(&nb.type_name);
            let Some(slot) = attrs.get_mut(&nb.type_name) else { continue };
            match (nb.nesting, slot) {
                (Nesting::Single | Nesting::Group, v @ Value::Object(_)) => {
                    nb.block.mark_computed_nulls_unknown(cfg, v)
                }
                (Nesting::List, Value::List(items)) => {
                    let cfg_items = cfg.as_elements().unwrap_or(&[]);
                    for (i, item) in items.iter_mut().enumerate() {
                        let c = cfg_items.get(i).unwrap_or(&Value::Null);
                        nb.block.mark_computed_nulls_unknown(c, item);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Block {
        Block::new("test")
            .attribute(Attribute::required("name", Type::String, ""))
            .attribute(Attribute::computed("id", Type::String, ""))
            .attribute(Attribute::optional_computed("mode", Type::String, ""))
            .block(NestedBlock::new(
                "timeouts",
                Nesting::Single,
                Block::new("").attribute(Attribute::optional("create", Type::String, "")),
            ))
            .block(NestedBlock::new(
                "rule",
                Nesting::List,
                Block::new("").attribute(Attribute::computed("key", Type::String, "")),
            ))
    }

    #[test]
    fn value_type_includes_blocks() {
        let Type::Object(attrs) = block().value_type() else { panic!("object expected") };
        assert_eq!(attrs["timeouts"], Type::object([("create", Type::String)]));
        assert_eq!(attrs["rule"], Type::list(Type::object([("key", Type::String)])));
    }

    #[test]
    fn computed_nulls_become_unknown_but_configured_values_stay() {
        let config = Value::object([
            ("name", Value::string("a")),
            ("mode", Value::string("fast")),
            ("rule", Value::List(vec![Value::object([("key", Value::Null)])])),
        ]);
        let mut planned = config.clone();
        planned.set_attr("id", Value::Null);
        block().mark_computed_nulls_unknown(&config, &mut planned);
        assert!(planned.attr("id").is_unknown());
        assert_eq!(planned.attr("mode"), &Value::string("fast"));
        assert_eq!(planned.attr("name"), &Value::string("a"));
        assert!(planned.attr("rule").as_elements().unwrap()[0].attr("key").is_unknown());
    }
}
