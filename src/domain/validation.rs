//! Limits on text fields (4me's) and the small derivations that go with them.

use crate::error::{AppError, AppResult};
use async_graphql::MaybeUndefined;

pub const TITLE_MAX: usize = 128;
pub const NAME_MAX: usize = 128;
pub const LABEL_MAX: usize = 128;
pub const SEVERITY_DESCRIPTION_MAX: usize = 255;
pub const SOURCE_MAX: usize = 30;
pub const SOURCE_ID_MAX: usize = 128;
pub const IDENTIFIER_MAX: usize = 64;
pub const PREFIX_MAX: usize = 16;
/// Search text: SQLite refuses LIKE patterns past 50,000 bytes, and no one
/// searches a register with more than a sentence.
pub const SEARCH_MAX: usize = 256;
/// Description, notes, information and other long texts: 64 KiB.
pub const LONG_TEXT_MAX_BYTES: usize = 64 * 1024;

/// The new value of a required field in a partial update: absent is no
/// change, null is an error (a required field cannot be cleared).
pub fn not_cleared<T>(field: &str, value: MaybeUndefined<T>) -> AppResult<Option<T>> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Err(AppError::bad_input(field, "cannot be cleared")),
        MaybeUndefined::Value(v) => Ok(Some(v)),
    }
}

/// Text of at most `max` characters.
pub fn bounded(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// Text that must not be blank, of at most `max` characters.
pub fn required(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(field, "must not be blank"));
    }
    bounded(field, value, max)
}

/// Optional short text, trimmed: blank is none, longer than `max` refused.
pub fn optional_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    bounded(field, &value, max)?;
    Ok(Some(value))
}

/// An email address, as far as a form can tell: something@something.
pub fn email(field: &str, value: &str) -> AppResult<()> {
    match value.split_once('@') {
        Some((user, domain)) if !user.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(AppError::bad_input(field, "not an email address")),
    }
}

/// Long text: at most 64 KiB of UTF-8.
pub fn long_text(field: &str, value: &str) -> AppResult<()> {
    if value.len() > LONG_TEXT_MAX_BYTES {
        return Err(AppError::bad_input(field, "at most 64 KiB"));
    }
    Ok(())
}

/// 4me's severity reference: the name in lower case, spaces as underscores.
pub fn severity_reference(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

/// A register's identifier prefix: letters, digits, `_` or `-`, 1 to 16 long.
pub fn identifier_prefix(field: &str, prefix: &str) -> AppResult<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= PREFIX_MAX
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(AppError::bad_input(
            field,
            format!("1 to {PREFIX_MAX} letters, digits, '_' or '-'"),
        ));
    }
    Ok(())
}

/// A level given by a client: within `0..len`.
pub fn level(field: &str, level: i32, len: usize, what: &str) -> AppResult<usize> {
    usize::try_from(level)
        .ok()
        .filter(|l| *l < len)
        .ok_or_else(|| {
            AppError::bad_input(
                field,
                format!(
                    "{what} level must be between 0 and {}",
                    len.saturating_sub(1)
                ),
            )
        })
}

/// How many items a page asks for through `field` (`first` or `last`):
/// LIMIT_EXCEEDED past the largest page, `max`. When not given, `default`,
/// or the largest page if that is smaller.
pub fn page_size(field: &str, given: Option<i32>, default: usize, max: usize) -> AppResult<u64> {
    let Some(n) = given else {
        return Ok(default.min(max) as u64);
    };
    let n = usize::try_from(n).map_err(|_| AppError::bad_input(field, "must not be negative"))?;
    if n > max {
        return Err(AppError::LimitExceeded(format!(
            "{field} may be at most {max}"
        )));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_from_none_to_the_largest() {
        assert_eq!(page_size("first", Some(0), 50, 500).ok(), Some(0));
        assert_eq!(page_size("last", Some(500), 50, 500).ok(), Some(500));
        let negative = page_size("first", Some(-1), 50, 500)
            .err()
            .map(|e| e.code());
        assert_eq!(negative, Some("BAD_USER_INPUT"));
        let past = page_size("last", Some(501), 50, 500)
            .err()
            .map(|e| e.message());
        assert_eq!(past.as_deref(), Some("last may be at most 500"));
        // Not given: the default, but never past the largest page.
        assert_eq!(page_size("first", None, 50, 500).ok(), Some(50));
        assert_eq!(page_size("first", None, 100, 20).ok(), Some(20));
    }

    #[test]
    fn optional_text_is_trimmed_and_bounded() {
        assert_eq!(
            optional_text("n", Some("  a ".into()), 3).ok(),
            Some(Some("a".into()))
        );
        assert_eq!(optional_text("n", Some("   ".into()), 3).ok(), Some(None));
        assert!(optional_text("n", Some("abcd".into()), 3).is_err());
        assert!(email("e", "a@b").is_ok());
        assert!(email("e", "not mail").is_err() && email("e", "@b").is_err());
    }

    #[test]
    fn references_are_lower_case_with_underscores() {
        assert_eq!(severity_reference("Very High"), "very_high");
        assert_eq!(severity_reference(" Top Priority "), "top_priority");
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(bounded("title", &"é".repeat(128), 128).is_ok());
        assert!(bounded("title", &"é".repeat(129), 128).is_err());
        assert!(required("title", "   ", 128).is_err());
        assert!(long_text("notes", &"x".repeat(64 * 1024)).is_ok());
        assert!(long_text("notes", &"x".repeat(64 * 1024 + 1)).is_err());
    }

    #[test]
    fn prefixes_and_levels() {
        assert!(identifier_prefix("p", "RA").is_ok());
        assert!(identifier_prefix("p", "R A").is_err());
        assert!(identifier_prefix("p", "").is_err());
        assert_eq!(level("l", 4, 5, "likelihood").ok(), Some(4));
        assert!(level("l", 5, 5, "likelihood").is_err());
        assert!(level("l", -1, 5, "likelihood").is_err());
    }
}
