use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One typed value per (risk, field); exactly the column of the field's type is set.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "custom_field_values")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub risk_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field_id: String,
    pub org_id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub text_value: Option<String>,
    pub number_value: Option<f64>,
    pub boolean_value: Option<bool>,
    pub date_value: Option<Date>,
    pub user_id: Option<String>,
    pub selection: Option<String>,
    /// JSON array, for MULTI_SELECT.
    #[sea_orm(column_type = "Text", nullable)]
    pub selections: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
