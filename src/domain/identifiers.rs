//! IDs: a type prefix and a time-ordered random part (`rsk_01j…`), so `node(id)`
//! knows the type and IDs never collide across types.

use ulid::Ulid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Organization,
    Member,
    Register,
    Severity,
    CustomField,
    Risk,
    Control,
    ApiKey,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Organization,
        Kind::Member,
        Kind::Register,
        Kind::Severity,
        Kind::CustomField,
        Kind::Risk,
        Kind::Control,
        Kind::ApiKey,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Kind::Organization => "org",
            Kind::Member => "mem",
            Kind::Register => "reg",
            Kind::Severity => "sev",
            Kind::CustomField => "cf",
            Kind::Risk => "rsk",
            Kind::Control => "ctl",
            Kind::ApiKey => "key",
        }
    }
}

pub fn new_id(kind: Kind) -> String {
    format!(
        "{}_{}",
        kind.prefix(),
        Ulid::new().to_string().to_lowercase()
    )
}

/// The kind an ID names, from its prefix.
pub fn kind_of(id: &str) -> Option<Kind> {
    let (prefix, _) = id.split_once('_')?;
    Kind::ALL.into_iter().find(|kind| kind.prefix() == prefix)
}

/// The generated identifier of a register's n-th risk: `RA-7`.
pub fn risk_identifier(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_kind() {
        let id = new_id(Kind::Risk);
        assert!(id.starts_with("rsk_"));
        assert_eq!(kind_of(&id), Some(Kind::Risk));
        assert_eq!(kind_of("nope_123"), None);
        assert_eq!(kind_of("garbage"), None);
    }
}
