//! Limits async-graphql does not check itself, or checks too late: bracket
//! nesting (its parser recurses once per level, so a deep enough document
//! overflows the stack before any limit of its own applies), selection depth
//! through fragment spreads, and aliases per document.

use crate::error::AppError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Value, Variables};
use std::collections::HashMap;
use std::ops::Range;

/// The deepest nesting of `{`, `[` and `(` in a GraphQL document: selection
/// sets, arguments, list and object values, list types. Strings, block strings
/// and comments are skipped. One pass, no allocation, so it is safe to run on
/// any input before the parser sees it.
pub fn graphql_nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    lex(
        text,
        |b| match b {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        },
        |_| {},
    );
    deepest
}

/// Reads GraphQL text as its lexer does, in one pass: each byte outside
/// strings, block strings and comments goes to `code`; the span of each
/// string's content (between its quotes, escapes as written) to `string`.
/// Block strings and comments go to neither.
pub fn lex(text: &str, mut code: impl FnMut(u8), mut string: impl FnMut(Range<usize>)) {
    let bytes = text.as_bytes();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // An escaped triple quote does not end the block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                let end = string_end(bytes, i);
                string(i + 1..end.min(bytes.len()));
                i = end;
            }
            _ => code(b),
        }
        i += 1;
    }
}

/// The deepest nesting of objects and arrays in JSON text, strings skipped.
/// Checked before serde_json parses a body, whose own recursion limit would
/// answer a syntax error instead of LIMIT_EXCEEDED.
pub fn json_nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => i = string_end(bytes, i),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The index of the quote that closes the string opened at `start` (or the
/// end of the input); a backslash escapes the byte after it.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' | b'\n' => return i,
            _ => i += 1,
        }
    }
    i
}

/// The deepest nesting of lists and objects in the variables.
pub fn variables_nesting(variables: &Variables) -> usize {
    fn depth(value: &Value) -> usize {
        match value {
            Value::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    variables.values().map(depth).max().unwrap_or(0)
}

/// LIMIT_EXCEEDED for anything nested past `max`.
pub fn too_deep(max: usize) -> AppError {
    AppError::LimitExceeded(format!(
        "the document, its variables or the body nest more than {max} levels"
    ))
}

/// How deep execution walks: fields, inline fragments and fragment spreads
/// each count one level, a spread continuing into its fragment. Errs (with
/// the limit) once `max` is passed, so its own recursion never goes deeper
/// than `max`; fragments are measured once however often they are spread.
/// Cycles are left to validation, which reports them.
pub fn selection_nesting(document: &ExecutableDocument, max: usize) -> Result<usize, usize> {
    let mut walk = NestingWalk {
        document,
        max,
        fragments: HashMap::new(),
    };
    let mut deepest = 0;
    for (_, operation) in document.operations.iter() {
        deepest = deepest.max(walk.set(&operation.node.selection_set.node, 0)?);
    }
    Ok(deepest)
}

struct NestingWalk<'a> {
    document: &'a ExecutableDocument,
    max: usize,
    /// The nesting of each fragment's selection set; None while it is walked.
    fragments: HashMap<&'a str, Option<usize>>,
}

impl<'a> NestingWalk<'a> {
    /// The nesting below a set whose items stand at level `above + 1`.
    fn set(&mut self, set: &'a SelectionSet, above: usize) -> Result<usize, usize> {
        let mut deepest = 0;
        for item in &set.items {
            if above >= self.max {
                return Err(self.max);
            }
            let below = match &item.node {
                Selection::Field(f) => self.set(&f.node.selection_set.node, above + 1)?,
                Selection::InlineFragment(f) => self.set(&f.node.selection_set.node, above + 1)?,
                Selection::FragmentSpread(s) => {
                    self.fragment(s.node.fragment_name.node.as_str(), above + 1)?
                }
            };
            deepest = deepest.max(below + 1);
        }
        Ok(deepest)
    }

    fn fragment(&mut self, name: &'a str, above: usize) -> Result<usize, usize> {
        let nesting = match self.fragments.get(name) {
            Some(Some(nesting)) => *nesting,
            Some(None) => 0,
            None => {
                let Some(fragment) = self.document.fragments.get(name) else {
                    return Ok(0);
                };
                self.fragments.insert(name, None);
                let nesting = self.set(&fragment.node.selection_set.node, above)?;
                self.fragments.insert(name, Some(nesting));
                nesting
            }
        };
        if above + nesting > self.max {
            return Err(self.max);
        }
        Ok(nesting)
    }
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases written in the document, fragments counted once each.
pub fn alias_count(document: &ExecutableDocument) -> usize {
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_aliases_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "{ a: viewer { role } b: viewer { r: role } ...F } fragment F on Query { c: registers { id } }",
        )
        .expect("parses");
        assert_eq!(alias_count(&doc), 4);
    }

    #[test]
    fn graphql_nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(graphql_nesting("{ a }"), 1);
        assert_eq!(graphql_nesting("{ a(f: {x: [[1]]}) { b } }"), 5);
        assert_eq!(graphql_nesting("query($v: [[Int]]) { a }"), 3);
        assert_eq!(graphql_nesting(r#"{ a(s: "{{{[[[\"((") }"#), 2);
        assert_eq!(
            graphql_nesting("{ a(s: \"\"\"{{{ \\\"\"\" [[[ \"\"\") }"),
            2
        );
        assert_eq!(graphql_nesting("# {{{{{{\n{ a }"), 1);
        assert_eq!(graphql_nesting(&"[".repeat(5000)), 5000);
        // Unbalanced or truncated input still answers.
        assert_eq!(graphql_nesting("}}} { \"unterminated"), 1);
        assert_eq!(graphql_nesting("\"\"\"never closed {{{"), 0);
    }

    #[test]
    fn json_nesting_counts_brackets_outside_strings() {
        assert_eq!(json_nesting(br#"{"query": "{ a { b } }", "v": [[{}]]}"#), 4);
        assert_eq!(json_nesting(br#"{"s": "\"[[[["}"#), 1);
        assert_eq!(json_nesting(&b"[".repeat(3000)), 3000);
    }

    fn nesting(query: &str, max: usize) -> Result<usize, usize> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        selection_nesting(&doc, max)
    }

    #[test]
    fn selection_nesting_follows_fragment_spreads() {
        assert_eq!(nesting("{ a { b { c } } }", 10), Ok(3));
        assert_eq!(
            nesting("{ a { ...F } } fragment F on T { b { c } }", 10),
            Ok(4)
        );
        assert_eq!(nesting("{ a { ... on T { b } } }", 10), Ok(3));
        assert_eq!(nesting("{ a { b { c } } }", 3), Ok(3));
        assert_eq!(nesting("{ a { b { c } } }", 2), Err(2));
        // A chain of spreads with no field between them still counts.
        let chain: String = (0..3000)
            .map(|i| format!("fragment F{i} on T {{ ...F{} }}\n", i + 1))
            .collect();
        assert_eq!(nesting(&format!("{{ ...F0 }} {chain}"), 64), Err(64));
        // Fragments spread many times are measured once.
        let wide: String = (0..30)
            .map(|i| {
                format!(
                    "fragment W{i} on T {{ a: x {{ ...W{n} }} b: x {{ ...W{n} }} }}\n",
                    n = i + 1
                )
            })
            .collect();
        assert_eq!(nesting(&format!("{{ ...W0 }} {wide}"), 100), Ok(61));
        // A cycle is validation's to report, and does not loop here.
        assert!(
            nesting(
                "{ ...A } fragment A on T { ...B } fragment B on T { ...A }",
                10
            )
            .is_ok()
        );
    }

    #[test]
    fn measures_variable_nesting() {
        let vars = Variables::from_json(serde_json::json!({"a": 1, "b": {"c": [[1]]}}));
        assert_eq!(variables_nesting(&vars), 3);
    }
}
