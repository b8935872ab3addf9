//! SeaORM entities, one module per table. Nothing else lives here: rules are in
//! the service's `domain`, queries in its `store`.

pub mod api_key;
pub mod control;
pub mod custom_field_definition;
pub mod custom_field_value;
pub mod member;
pub mod organization;
pub mod register;
pub mod risk;
pub mod risk_cell_count;
pub mod risk_control;
pub mod risk_event;
pub mod severity;
