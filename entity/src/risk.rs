use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A risk with its denormalized scores: the score columns are recomputed in the
/// same transaction as any change that moves them, so heatmaps, filters and
/// sorts run as indexed SQL.
///
/// Read from the view `risk_view`, which joins the two tables a risk is
/// kept in: `risks` (what people write) and `risk_scores` (its status,
/// levels, scores and version, which a re-score rewrites). Writes go to the
/// tables (`store::risk_tables`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "risk_view")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub register_id: String,
    pub identifier: String,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub category: Option<String>,
    pub department: Option<String>,
    pub status: String,
    pub stage: String,
    pub closure_reason: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub severity_id: Option<String>,
    pub owner_id: Option<String>,
    pub likelihood_level: Option<i32>,
    pub impact_level: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub likelihood_rationale: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub impact_rationale: Option<String>,
    pub residual_likelihood_override: Option<i32>,
    pub residual_impact_override: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub residual_override_reason: Option<String>,
    pub residual_overridden_by: Option<String>,
    pub residual_overridden_at: Option<DateTimeUtc>,
    pub tolerance_level: Option<i32>,
    pub treatment: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub treatment_description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub treatment_rationale: Option<String>,
    pub mitigation_target_at: Option<Date>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    pub source: Option<String>,
    pub source_id: Option<String>,

    pub inherent_score: Option<f64>,
    pub inherent_band: Option<i32>,
    pub residual_likelihood_level: Option<i32>,
    pub residual_impact_level: Option<i32>,
    pub residual_likelihood_value: Option<f64>,
    pub residual_impact_value: Option<f64>,
    pub residual_score: Option<f64>,
    pub residual_band: Option<i32>,
    pub residual_overridden: bool,
    pub target_likelihood_level: Option<i32>,
    pub target_impact_level: Option<i32>,
    pub target_likelihood_value: Option<f64>,
    pub target_impact_value: Option<f64>,
    pub target_score: Option<f64>,
    pub target_band: Option<i32>,
    pub within_tolerance: Option<bool>,

    pub version: i32,
    pub created_at: DateTimeUtc,
    pub created_by: Option<String>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
