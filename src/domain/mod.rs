//! Rules with no I/O: enums and their stored names, scales and scoring,
//! validation, identifiers, custom field values and risk history. Everything
//! here is unit-tested without a database.

pub mod custom_fields;
pub mod date;
pub mod enums;
pub mod history;
pub mod identifiers;
pub mod inputs;
pub mod risk;
pub mod risk_csv;
pub mod scales;
pub mod scoring;
pub mod validation;
