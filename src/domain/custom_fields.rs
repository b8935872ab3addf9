//! Custom field definitions and the values risks hold in them (Hyperproof's
//! model, plus BOOLEAN). A value uses exactly the member of its field's type.

use super::enums::{CustomFieldType, NumberFormat};
use super::validation;
use crate::error::{AppError, AppResult};
use chrono::NaiveDate;
use serde_json::{Value, json};

pub const MAX_OPTIONS: usize = 100;

/// A client's value for one field; every member null clears the field.
#[derive(Clone, Debug, Default)]
pub struct ValueInput {
    pub text: Option<String>,
    pub number: Option<f64>,
    pub boolean: Option<bool>,
    pub date: Option<NaiveDate>,
    pub user_id: Option<String>,
    pub selection: Option<String>,
    pub selections: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Number(f64),
    Boolean(bool),
    Date(NaiveDate),
    User(String),
    Selection(String),
    Selections(Vec<String>),
}

impl FieldValue {
    /// The value as history records it.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Text(s) | FieldValue::User(s) | FieldValue::Selection(s) => json!(s),
            FieldValue::Number(n) => json!(n),
            FieldValue::Boolean(b) => json!(b),
            FieldValue::Date(d) => json!(d.to_string()),
            FieldValue::Selections(list) => json!(list),
        }
    }
}

/// The parts of a definition that decide which values it takes.
#[derive(Clone, Debug)]
pub struct FieldRules<'a> {
    pub field_type: CustomFieldType,
    pub number_format: Option<NumberFormat>,
    pub options: &'a [String],
}

/// Options for a select field: 1 to 100 distinct, non-blank labels.
pub fn validate_options(field: &str, options: &[String]) -> AppResult<()> {
    if options.is_empty() || options.len() > MAX_OPTIONS {
        return Err(AppError::bad_input(
            field,
            format!("a select field needs 1 to {MAX_OPTIONS} options"),
        ));
    }
    for (i, option) in options.iter().enumerate() {
        validation::required(&format!("{field}[{i}]"), option, validation::LABEL_MAX)?;
        if options[..i].contains(option) {
            return Err(AppError::bad_input(
                format!("{field}[{i}]"),
                format!("option {option:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// Checks a definition's type, format and options against each other.
pub fn validate_definition(rules: &FieldRules<'_>, options_given: bool) -> AppResult<()> {
    let select = matches!(
        rules.field_type,
        CustomFieldType::SingleSelect | CustomFieldType::MultiSelect
    );
    if select {
        validate_options("options", rules.options)?;
    } else if options_given {
        return Err(AppError::bad_input(
            "options",
            "only SINGLE_SELECT and MULTI_SELECT fields have options",
        ));
    }
    if rules.number_format.is_some() && rules.field_type != CustomFieldType::Number {
        return Err(AppError::bad_input(
            "numberFormat",
            "only NUMBER fields have a number format",
        ));
    }
    Ok(())
}

fn member_name(field_type: CustomFieldType) -> &'static str {
    match field_type {
        CustomFieldType::Text => "text",
        CustomFieldType::Number => "number",
        CustomFieldType::Boolean => "boolean",
        CustomFieldType::Date => "date",
        CustomFieldType::User => "userId",
        CustomFieldType::SingleSelect => "selection",
        CustomFieldType::MultiSelect => "selections",
    }
}

/// Parses a value for a field: `None` clears it. `field` is the input path.
/// A USER value is only checked for shape here; the store checks membership.
pub fn parse_value(
    field: &str,
    rules: &FieldRules<'_>,
    input: ValueInput,
) -> AppResult<Option<FieldValue>> {
    let ValueInput {
        text,
        number,
        boolean,
        date,
        user_id,
        selection,
        selections,
    } = input;
    let given = [
        ("text", text.is_some()),
        ("number", number.is_some()),
        ("boolean", boolean.is_some()),
        ("date", date.is_some()),
        ("userId", user_id.is_some()),
        ("selection", selection.is_some()),
        ("selections", selections.is_some()),
    ];
    let expected = member_name(rules.field_type);
    if let Some((other, _)) = given.iter().find(|(name, set)| *set && *name != expected) {
        return Err(AppError::bad_input(
            format!("{field}.{other}"),
            format!("a {} field takes `{expected}`", rules.field_type.as_str()),
        ));
    }
    let at = format!("{field}.{expected}");
    let value = match rules.field_type {
        CustomFieldType::Text => text
            .map(|t| validation::long_text(&at, &t).map(|()| FieldValue::Text(t)))
            .transpose()?,
        CustomFieldType::Number => number
            .map(|n| {
                if !n.is_finite() {
                    return Err(AppError::bad_input(&at, "must be a finite number"));
                }
                if rules.number_format == Some(NumberFormat::Percentage)
                    && !(0.0..=100.0).contains(&n)
                {
                    return Err(AppError::bad_input(
                        &at,
                        "a percentage is between 0 and 100",
                    ));
                }
                Ok(FieldValue::Number(n))
            })
            .transpose()?,
        CustomFieldType::Boolean => boolean.map(FieldValue::Boolean),
        CustomFieldType::Date => date.map(FieldValue::Date),
        CustomFieldType::User => user_id.map(FieldValue::User),
        CustomFieldType::SingleSelect => selection
            .map(|s| {
                if rules.options.contains(&s) {
                    Ok(FieldValue::Selection(s))
                } else {
                    Err(AppError::bad_input(
                        &at,
                        format!("{s:?} is not an option of this field"),
                    ))
                }
            })
            .transpose()?,
        CustomFieldType::MultiSelect => selections
            .map(|list| {
                let mut chosen: Vec<String> = Vec::with_capacity(list.len());
                for s in list {
                    if !rules.options.contains(&s) {
                        return Err(AppError::bad_input(
                            &at,
                            format!("{s:?} is not an option of this field"),
                        ));
                    }
                    if !chosen.contains(&s) {
                        chosen.push(s);
                    }
                }
                Ok(FieldValue::Selections(chosen))
            })
            .transpose()?,
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(field_type: CustomFieldType, options: &[String]) -> FieldRules<'_> {
        FieldRules {
            field_type,
            number_format: None,
            options,
        }
    }

    fn field_of<T: std::fmt::Debug>(result: AppResult<T>) -> String {
        match result {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn a_value_uses_the_member_of_its_type() {
        let r = rules(CustomFieldType::Number, &[]);
        let ok = parse_value(
            "cf",
            &r,
            ValueInput {
                number: Some(3.5),
                ..Default::default()
            },
        );
        assert_eq!(ok.ok().flatten(), Some(FieldValue::Number(3.5)));
        let wrong = parse_value(
            "cf",
            &r,
            ValueInput {
                text: Some("x".into()),
                ..Default::default()
            },
        );
        assert_eq!(field_of(wrong), "cf.text");
    }

    #[test]
    fn every_member_null_clears() {
        let r = rules(CustomFieldType::Text, &[]);
        assert_eq!(
            parse_value("cf", &r, ValueInput::default()).ok(),
            Some(None)
        );
    }

    #[test]
    fn selections_must_be_options() {
        let options = vec!["a".to_owned(), "b".to_owned()];
        let single = rules(CustomFieldType::SingleSelect, &options);
        let bad = parse_value(
            "cf",
            &single,
            ValueInput {
                selection: Some("c".into()),
                ..Default::default()
            },
        );
        assert_eq!(field_of(bad), "cf.selection");
        let multi = rules(CustomFieldType::MultiSelect, &options);
        let dedup = parse_value(
            "cf",
            &multi,
            ValueInput {
                selections: Some(vec!["b".into(), "a".into(), "b".into()]),
                ..Default::default()
            },
        );
        assert_eq!(
            dedup.ok().flatten(),
            Some(FieldValue::Selections(vec!["b".into(), "a".into()]))
        );
    }

    #[test]
    fn percentages_stay_within_0_and_100() {
        let r = FieldRules {
            field_type: CustomFieldType::Number,
            number_format: Some(NumberFormat::Percentage),
            options: &[],
        };
        let over = parse_value(
            "cf",
            &r,
            ValueInput {
                number: Some(101.0),
                ..Default::default()
            },
        );
        assert_eq!(field_of(over), "cf.number");
    }

    #[test]
    fn definitions_check_options_and_formats() {
        let dup = vec!["a".to_owned(), "a".to_owned()];
        assert_eq!(
            field_of(validate_definition(
                &rules(CustomFieldType::SingleSelect, &dup),
                true
            )),
            "options[1]"
        );
        assert_eq!(
            field_of(validate_definition(
                &rules(CustomFieldType::SingleSelect, &[]),
                false
            )),
            "options"
        );
        let opts = vec!["a".to_owned()];
        assert_eq!(
            field_of(validate_definition(
                &rules(CustomFieldType::Text, &opts),
                true
            )),
            "options"
        );
        let fmt = FieldRules {
            field_type: CustomFieldType::Text,
            number_format: Some(NumberFormat::Decimal),
            options: &[],
        };
        assert_eq!(field_of(validate_definition(&fmt, false)), "numberFormat");
    }
}
