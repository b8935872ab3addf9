//! Int inputs that do not fit 32 bits, found before an operation runs.
//! GraphQL's Int is 32 bits, and async-graphql's validation lets any 64-bit
//! integer through: a resolver reading `first: 10000000000` or
//! `input: {likelihoodLevel: 10000000000}` refuses it only then, in an
//! error that names no argument, let alone the input field. Here each
//! argument a field is given is read against its type from the schema, as
//! the spec's "values of correct type" rule reads it, so the refusal names
//! its path (`input.likelihoodLevel`) and nothing runs.

use async_graphql::Name;
use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{BaseType, Type};
use std::collections::HashMap;

/// Each input object type's fields and their types.
pub type InputObjects = HashMap<Name, Vec<(Name, Type)>>;

/// The range of GraphQL's Int.
pub const INT_RANGE: &str = "an Int is a whole number from -2147483648 to 2147483647";

/// Where in `value`, given for an input of type `ty` at `path`, an Int does
/// not fit 32 bits. A value of any other kind is validation's to report.
pub fn out_of_range(
    objects: &InputObjects,
    ty: &Type,
    value: &ConstValue,
    path: &str,
) -> Option<String> {
    match (&ty.base, value) {
        (BaseType::List(item), ConstValue::List(items)) => items
            .iter()
            .enumerate()
            .find_map(|(i, value)| out_of_range(objects, item, value, &format!("{path}.{i}"))),
        // A single value where a list goes is a list of one.
        (BaseType::List(item), value) => out_of_range(objects, item, value, path),
        (BaseType::Named(name), ConstValue::Number(n)) if name == "Int" => {
            let whole = n.as_i64()?;
            i32::try_from(whole).is_err().then(|| path.to_owned())
        }
        (BaseType::Named(name), ConstValue::Object(given)) => {
            objects.get(name)?.iter().find_map(|(field, ty)| {
                let value = given.get(field)?;
                out_of_range(objects, ty, value, &format!("{path}.{field}"))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        Type::new(text).expect("a type")
    }

    fn objects() -> InputObjects {
        let mut objects = InputObjects::new();
        objects.insert(
            Name::new("In"),
            vec![
                (Name::new("level"), ty("Int")),
                (Name::new("weight"), ty("Float")),
                (Name::new("matrix"), ty("[[Int!]!]")),
            ],
        );
        objects
    }

    fn value(json: serde_json::Value) -> ConstValue {
        ConstValue::from_json(json).expect("a value")
    }

    #[test]
    fn an_int_past_32_bits_is_found_by_its_path() {
        let objects = objects();
        let find = |t: &str, v| out_of_range(&objects, &ty(t), &value(v), "arg");
        assert_eq!(find("Int", serde_json::json!(2_147_483_647)), None);
        assert_eq!(find("Int!", serde_json::json!(-2_147_483_648_i64)), None);
        assert_eq!(
            find("Int", serde_json::json!(2_147_483_648_i64)),
            Some("arg".into())
        );
        assert_eq!(
            find("In", serde_json::json!({"level": 10_000_000_000_i64})),
            Some("arg.level".into())
        );
        assert_eq!(
            find(
                "In",
                serde_json::json!({"matrix": [[1, 2], [3, -10_000_000_000_i64]]})
            ),
            Some("arg.matrix.1.1".into())
        );
        assert_eq!(
            find("[Int]", serde_json::json!(10_000_000_000_i64)),
            Some("arg".into())
        );
    }

    #[test]
    fn what_is_not_an_int_is_left_to_validation() {
        let objects = objects();
        let find = |t: &str, v| out_of_range(&objects, &ty(t), &value(v), "arg");
        // A Float takes any number; a fraction or a string in an Int's
        // place is validation's error, with its own message.
        assert_eq!(
            find("In", serde_json::json!({"weight": 10_000_000_000_i64})),
            None
        );
        assert_eq!(find("Int", serde_json::json!(1.5)), None);
        assert_eq!(find("Int", serde_json::json!("10000000000")), None);
        assert_eq!(find("Unknown", serde_json::json!({"level": 1e10})), None);
    }
}
