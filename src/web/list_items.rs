//! How many list items a document may ask for, counted before it runs. Depth
//! and complexity count a document's fields as written, not what they
//! multiply to: `risks(first: 500) { nodes { register { risks(first: 500) {
//! nodes { register { risks(first: 500) { nodes { id } } } } } } } }` is a
//! dozen fields deep and asks for 125 million risks, and a control's risks
//! lead to their controls and back to their risks. So each list counts the
//! items it may return, times the items of the lists around it, as GitHub's
//! node limit does.
//!
//! A list's items are its `first` or `last`, else its argument's default,
//! else the default page. A list without paging counts `UNPAGED`: a risk's
//! links and custom fields, an organization's registers, controls and
//! severities are short lists. A control's risks, which can be a whole
//! register, count a full page. A connection's `edges` and `nodes` are the
//! page its field already counted.
//!
//! This is the one walk that knows the type of each field it meets, so it
//! also reads each field's arguments against their types (`int_inputs`).

use super::int_inputs::{self, InputObjects};
use crate::config::Limits;
use async_graphql::Positioned;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, FieldDefinition, InputValueDefinition,
    OperationDefinition, OperationType, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Name, Value as ConstValue, Variables};
use std::collections::HashMap;

/// What a short list without paging counts.
const UNPAGED: u64 = 10;

/// Lists without paging whose length has no bound but the register's.
const UNBOUNDED: &[(&str, &str)] = &[("Control", "risks")];

/// How a field's items multiply what it selects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Count {
    /// Not a list, or a connection's `edges` or `nodes`.
    Once,
    /// A page: `first` or `last`, else this default, else the default page.
    Page(Option<u64>),
    /// A short list without paging.
    Unpaged,
    /// A list without paging or bound.
    Unbounded,
}

struct FieldShape {
    /// The named type it returns.
    ty: Name,
    count: Count,
    /// Its arguments' names and types.
    arguments: Vec<(Name, Type)>,
}

/// The schema as far as the walk needs: each object and interface type's
/// fields, and each input object's.
pub struct Shapes {
    types: HashMap<Name, HashMap<Name, FieldShape>>,
    inputs: InputObjects,
}

impl Shapes {
    /// Read from the schema's SDL, once, when the app starts.
    pub fn of(sdl: &str) -> Self {
        let mut shapes = Self {
            types: HashMap::new(),
            inputs: InputObjects::new(),
        };
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return shapes;
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let ty = ty.node;
            let owner = ty.name.node;
            let fields = match ty.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                TypeKind::InputObject(input) => {
                    shapes.inputs.insert(owner, typed(input.fields));
                    continue;
                }
                _ => continue,
            };
            let fields = fields
                .into_iter()
                .map(|field| {
                    let field = field.node;
                    let shape = FieldShape {
                        ty: named(&field.ty.node).clone(),
                        count: count(&owner, &field),
                        arguments: typed(field.arguments),
                    };
                    (field.name.node, shape)
                })
                .collect();
            shapes.types.insert(owner, fields);
        }
        shapes
    }
}

/// Each input value's name and type.
fn typed(values: Vec<Positioned<InputValueDefinition>>) -> Vec<(Name, Type)> {
    values
        .into_iter()
        .map(|value| (value.node.name.node, value.node.ty.node))
        .collect()
}

/// How `field` of type `owner` counts its items.
fn count(owner: &str, field: &FieldDefinition) -> Count {
    let first = field.arguments.iter().find(|a| a.node.name.node == "first");
    if let Some(first) = first {
        let default = first.node.default_value.as_ref();
        return Count::Page(default.and_then(|d| match &d.node {
            ConstValue::Number(n) => n.as_u64(),
            _ => None,
        }));
    }
    let list = matches!(field.ty.node.base, BaseType::List(_));
    if !list || owner.ends_with("Connection") {
        Count::Once
    } else if UNBOUNDED.contains(&(owner, field.name.node.as_str())) {
        Count::Unbounded
    } else {
        Count::Unpaged
    }
}

/// The type a field's values are of, inside any lists.
fn named(ty: &Type) -> &Name {
    match &ty.base {
        BaseType::Named(name) => name,
        BaseType::List(inner) => named(inner),
    }
}

/// What an operation asks for, read before it runs.
pub struct Asked {
    /// The list items, at most `u64::MAX`.
    pub items: u64,
    /// The path of the first argument holding an Int past 32 bits.
    pub int_out_of_range: Option<String>,
}

/// What `operation` asks for with `variables`.
pub fn asked(
    shapes: &Shapes,
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &Variables,
    limits: &Limits,
) -> Asked {
    let root = match operation.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    };
    let mut walk = Walk {
        shapes,
        document,
        operation,
        variables,
        limits,
        fragments: HashMap::new(),
        int_out_of_range: None,
    };
    let items = walk.set(&operation.selection_set.node, root);
    Asked {
        items,
        int_out_of_range: walk.int_out_of_range,
    }
}

struct Walk<'a> {
    shapes: &'a Shapes,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a Variables,
    limits: &'a Limits,
    /// Each fragment's items, counted once however often it is spread;
    /// None while it is walked (a cycle, which validation reports).
    fragments: HashMap<&'a str, Option<u64>>,
    /// The first argument met that holds an Int past 32 bits.
    int_out_of_range: Option<String>,
}

impl<'a> Walk<'a> {
    /// The items one object of type `ty` asks for through `set`.
    fn set(&mut self, set: &'a SelectionSet, ty: &str) -> u64 {
        let mut items = 0u64;
        for selection in &set.items {
            let more = match &selection.node {
                Selection::Field(field) => self.field(&field.node, ty),
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment
                        .type_condition
                        .as_ref()
                        .map_or(ty, |c| c.node.on.node.as_str());
                    self.set(&fragment.selection_set.node, on)
                }
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            };
            items = items.saturating_add(more);
        }
        items
    }

    fn fragment(&mut self, name: &'a str) -> u64 {
        if let Some(known) = self.fragments.get(name) {
            return known.unwrap_or(0);
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        self.fragments.insert(name, None);
        let fragment = &fragment.node;
        let items = self.set(
            &fragment.selection_set.node,
            fragment.type_condition.node.on.node.as_str(),
        );
        self.fragments.insert(name, Some(items));
        items
    }

    fn field(&mut self, field: &'a Field, ty: &str) -> u64 {
        // Introspection and __typename: not the data's, and shallow.
        let Some(shape) = self
            .shapes
            .types
            .get(ty)
            .and_then(|fields| fields.get(field.name.node.as_str()))
        else {
            return 0;
        };
        if self.int_out_of_range.is_none() {
            self.int_out_of_range = self.int_past_32_bits(field, shape);
        }
        let below = self.set(&field.selection_set.node, shape.ty.as_str());
        let each = match shape.count {
            Count::Once => return below,
            // A larger page is refused on its own field, saying so.
            Count::Page(default) => ["last", "first"]
                .iter()
                .find_map(|arg| self.argument(field, arg))
                .or(default)
                .unwrap_or(self.limits.default_page_size as u64)
                .min(self.full_page()),
            Count::Unpaged => UNPAGED,
            Count::Unbounded => self.full_page(),
        };
        each.saturating_mul(below.saturating_add(1))
    }

    /// The path of the first of `field`'s arguments that holds an Int past
    /// 32 bits.
    fn int_past_32_bits(&self, field: &Field, shape: &FieldShape) -> Option<String> {
        shape.arguments.iter().find_map(|(name, ty)| {
            let value = self.given(field, name)?;
            int_inputs::out_of_range(&self.shapes.inputs, ty, &value, name)
        })
    }

    fn full_page(&self) -> u64 {
        self.limits.max_page_size as u64
    }

    /// A whole-number argument, given in the document or by a variable; one
    /// of any other kind is validation's to report, and counts as not given.
    fn argument(&self, field: &Field, name: &str) -> Option<u64> {
        match self.given(field, name)? {
            ConstValue::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// An argument's value, from the document or its variables; None when
    /// not given, or when a variable it names is neither sent nor defaulted.
    fn given(&self, field: &Field, name: &str) -> Option<ConstValue> {
        field
            .get_argument(name)?
            .node
            .clone()
            .into_const_with(|variable| self.variable(&variable).ok_or(()))
            .ok()
    }

    fn variable(&self, name: &Name) -> Option<ConstValue> {
        if let Some(value) = self.variables.get(name) {
            return Some(value.clone());
        }
        self.operation
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref())
            .map(|d| d.node.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked_by(query: &str, variables: serde_json::Value) -> u64 {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let (_, operation) = document.operations.iter().next().expect("an operation");
        let variables = Variables::from_json(variables);
        let shapes = Shapes::of(&crate::graphql::sdl());
        asked(
            &shapes,
            &document,
            &operation.node,
            &variables,
            &Limits::default(),
        )
        .items
    }

    #[test]
    fn a_page_counts_what_it_asks_for_or_its_default() {
        let nodes = "{ nodes { id title } }";
        assert_eq!(
            asked_by(&format!("{{ risks(first: 7) {nodes} }}"), json()),
            7
        );
        assert_eq!(
            asked_by(&format!("{{ risks(last: 9) {nodes} }}"), json()),
            9
        );
        assert_eq!(asked_by(&format!("{{ risks {nodes} }}"), json()), 50);
        // The SDL's default of an event page.
        assert_eq!(asked_by("{ riskEvents { nodes { seq } } }", json()), 100);
        let by_variable = "query($n: Int = 3) { risks(first: $n) { nodes { id } } }";
        assert_eq!(asked_by(by_variable, json()), 3);
        assert_eq!(asked_by(by_variable, serde_json::json!({ "n": 11 })), 11);
        // Past the largest page, the field refuses it itself.
        let huge = serde_json::json!({ "n": 1_000_000_000 });
        assert_eq!(asked_by(by_variable, huge), 500);
        // Fields that are not lists add nothing.
        assert_eq!(asked_by("{ __typename viewer { name } }", json()), 0);
    }

    #[test]
    fn nested_lists_multiply() {
        let nested = "{ risks(first: 500) { nodes { register { risks(first: 500) {
            nodes { register { risks(first: 500) { edges { node { id } } } } } } } } } }";
        assert_eq!(asked_by(nested, json()), 500 * (1 + 500 * (1 + 500)));
        // A page of risks with their links and custom fields: short lists
        // without paging.
        let page = "{ risks(first: 500) { nodes { controls { control { name } }
            customFields { text } } } }";
        assert_eq!(asked_by(page, json()), 500 * (1 + UNPAGED + UNPAGED));
        // A control's risks count as a full page.
        let links =
            "{ controls { risks { risk { controls { control { risks { risk { id } } } } } } } }";
        let risks = 500 * (1 + UNPAGED * (1 + 500));
        assert_eq!(asked_by(links, json()), UNPAGED * (1 + risks));
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let spread = "{ risks(first: 4) { nodes { ...R } } a: risks(first: 2) { nodes { ...R } } }
            fragment R on Risk { history(first: 10) { nodes { seq } } }";
        assert_eq!(asked_by(spread, json()), 4 * (1 + 10) + 2 * (1 + 10));
        let inline = "{ node(id: \"x\") { ... on Risk { controls { strength } } } }";
        assert_eq!(asked_by(inline, json()), UNPAGED);
        // Fragments spread twice at each of 40 levels: counted, not walked
        // 2^40 times, and saturating.
        let levels: String = (0..40)
            .map(|i| {
                format!(
                    "fragment F{i} on Risk {{ register {{ a: risks(first: 500) {{ nodes {{ ...F{n} }} }} \
                     b: risks(first: 500) {{ nodes {{ ...F{n} }} }} }} }}\n",
                    n = i + 1
                )
            })
            .collect();
        let query =
            format!("{{ risks {{ nodes {{ ...F0 }} }} }} {levels} fragment F40 on Risk {{ id }}");
        assert_eq!(asked_by(&query, json()), u64::MAX);
        // A cycle ends the walk; validation reports it.
        let cycle =
            "{ risks { nodes { ...A } } } fragment A on Risk { controls { risk { ...A } } }";
        assert_eq!(asked_by(cycle, json()), 50 * (1 + UNPAGED));
    }

    fn json() -> serde_json::Value {
        serde_json::json!({})
    }
}
