//! Strings no field may hold. A NUL character is refused by PostgreSQL's
//! text type (which would surface as an internal error) and silently stored
//! by SQLite; nothing a person types contains one, so the request is refused
//! before any resolver runs, naming where the NUL was found.

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Value as ConstValue, Variables};

fn path_with(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The path of the first string holding a NUL in a constant value.
fn in_const(value: &ConstValue, path: &str) -> Option<String> {
    match value {
        ConstValue::String(s) if s.contains('\0') => Some(path.to_owned()),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_const(v, &path_with(path, &i.to_string()))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_const(v, &path_with(path, k.as_str()))),
        _ => None,
    }
}

fn in_field(field: &Field) -> Option<String> {
    field
        .arguments
        .iter()
        .find_map(|(name, value)| {
            // Variables are checked on their own; here they stand as null.
            let literal = value
                .node
                .clone()
                .into_const_with(|_| Ok::<_, ()>(ConstValue::Null))
                .ok()?;
            in_const(
                &literal,
                &path_with(field.name.node.as_str(), name.node.as_str()),
            )
        })
        .or_else(|| in_set(&field.selection_set.node))
}

fn in_set(set: &SelectionSet) -> Option<String> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => in_field(&field.node),
        Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
        Selection::FragmentSpread(_) => None,
    })
}

/// Where the variables hold a NUL, as `variables.input.title`.
pub fn nul_in_variables(variables: &Variables) -> Option<String> {
    variables
        .iter()
        .find_map(|(name, value)| in_const(value, &format!("variables.{name}")))
}

/// Whether the text of a document could spell a NUL at all: raw, or as an
/// escape (`\u{0}` is `\u0000` by then: `web::escapes` wrote it so). Most
/// documents cannot, and skip the walk of their literals.
pub fn may_spell_nul(query: &str) -> bool {
    query.contains('\0') || query.contains("\\u0000")
}

/// Where an argument literal holds a NUL, as `updateRisk.input.title`.
/// Variable defaults are literals too.
pub fn nul_in_document(document: &ExecutableDocument) -> Option<String> {
    let operations = document.operations.iter().map(|(_, op)| &op.node);
    for operation in operations {
        for definition in &operation.variable_definitions {
            let d = &definition.node;
            if let Some(default) = &d.default_value
                && let Some(path) = in_const(&default.node, &format!("variables.{}", d.name.node))
            {
                return Some(path);
            }
        }
        if let Some(path) = in_set(&operation.selection_set.node) {
            return Some(path);
        }
    }
    document
        .fragments
        .values()
        .find_map(|f| in_set(&f.node.selection_set.node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_in_variables_and_literals() {
        let vars = Variables::from_json(json!({"input": {"tags": ["a", "b\u{0}"]}}));
        assert_eq!(
            nul_in_variables(&vars).as_deref(),
            Some("variables.input.tags.1")
        );
        assert_eq!(
            nul_in_variables(&Variables::from_json(json!({"a": "ok"}))),
            None
        );
        let doc = async_graphql::parser::parse_query(
            r#"mutation { updateRisk(id: "x", input: {title: "a\u0000b"}) { id } }"#,
        )
        .expect("parses");
        assert_eq!(
            nul_in_document(&doc).as_deref(),
            Some("updateRisk.input.title")
        );
        let doc = async_graphql::parser::parse_query(
            r#"query($s: String = "\u0000") { risks(search: $s) { totalCount } }"#,
        )
        .expect("parses");
        assert_eq!(nul_in_document(&doc).as_deref(), Some("variables.s"));
        assert!(may_spell_nul(r#"{ a(s: "\u0000") }"#) && may_spell_nul("{ a(s: \"\0\") }"));
        assert!(!may_spell_nul(r#"{ a(s: "\u0041 \\") }"#));
    }
}
