//! The `Date` scalar: a calendar date as `YYYY-MM-DD`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// Exactly `YYYY-MM-DD`: chrono alone would take `2026-1-1` or `+2026-01-01`.
fn parse(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shape
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse(s)
                .map(Date)
                .ok_or_else(|| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    /// Checked at validation too, where the error names the input path.
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if parse(s).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_iso_dates_parse() {
        assert_eq!(parse("2026-03-01"), NaiveDate::from_ymd_opt(2026, 3, 1));
        for bad in [
            "2026-1-1",
            "2026-01-1",
            "+2026-01-01",
            "2026-02-30",
            "2026/01/01",
            " 2026-01-01",
            "२०२६-०१-०१",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
