use sea_orm::entity::prelude::*;
use serde::Serialize;

/// The change feed and the history in one table: written in the transaction of
/// the change it records, read by cursor (`seq`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "risk_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub org_id: String,
    pub register_id: String,
    pub risk_id: String,
    pub kind: String,
    pub cause: String,
    pub actor_id: Option<String>,
    pub occurred_at: DateTimeUtc,
    /// JSON list of `{field, from, to}`.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    /// JSON residual score before and after, null when unscored.
    #[sea_orm(column_type = "Text", nullable)]
    pub residual_before: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub residual_after: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
