use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A control linked to a risk: which side it reduces and, when given, its
/// own strength (otherwise the control's effectiveness is in force).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "risk_controls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub risk_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub control_id: String,
    pub org_id: String,
    pub reduces: String,
    pub strength: Option<f64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::control::Entity",
        from = "Column::ControlId",
        to = "super::control::Column::Id"
    )]
    Control,
}

impl Related<super::control::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Control.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
