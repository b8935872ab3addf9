use sea_orm::entity::prelude::*;

/// How many of a register's risks (archived ones left out) sit in one
/// heatmap cell of one basis; (-1, -1) counts those without both levels.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_cell_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub register_id: String,
    /// INHERENT or RESIDUAL.
    #[sea_orm(primary_key, auto_increment = false)]
    pub basis: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub likelihood: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub impact: i32,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
