//! The `Date` and `DateTime` scalars. Both are checked at validation as well
//! as parsed, so a malformed one is refused naming its input path.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, NaiveDate, Utc};

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// Exactly `YYYY-MM-DD`: chrono alone would take `2026-1-1` or `+2026-01-01`.
pub fn parse(text: &str) -> Option<NaiveDate> {
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

/// A calendar date, `YYYY-MM-DD` exactly.
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

/// A point in time, RFC 3339 (`2026-03-01T09:00:00.641937+00:00`), stored
/// in whole microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.to_utc())
}

/// A point in time as RFC 3339, like `2026-03-01T09:00:00.641937+00:00`;
/// answered in UTC with at most microseconds.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse_timestamp(s).map(Timestamp).ok_or_else(|| {
                InputValueError::custom(
                    "expected a date and time as RFC 3339, like 2026-03-01T09:00:00Z",
                )
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if parse_timestamp(s).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
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
