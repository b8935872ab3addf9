//! `risk_view` also gives the id of the row's `risks` half, as `risks_id`.
//!
//! Why: a read of a list of risks by id (a re-score reads 1,000 a
//! statement) restricted only `risk_scores` by the list. PostgreSQL, at its
//! default `random_page_cost`, then joined `risks` by scanning all of it
//! (114 ms for 1,000 of 100,000 risks) rather than looking each row up; a
//! read that names the list on both ids picks each side by its primary key
//! (13 ms).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `risk_view` as migration 11 left it, with `risks_id` or without.
fn view(risks_id: bool) -> String {
    format!(
        "CREATE VIEW risk_view AS SELECT \
         s.id, r.org_id, r.register_id, r.identifier, r.title, r.description, r.category, \
         r.department, s.status, r.stage, r.closure_reason, r.closed_at, r.severity_id, \
         r.owner_id, s.likelihood_level, s.impact_level, r.likelihood_rationale, \
         r.impact_rationale, s.residual_likelihood_override, s.residual_impact_override, \
         r.residual_override_reason, r.residual_overridden_by, r.residual_overridden_at, \
         r.tolerance_level, r.treatment, r.treatment_description, r.treatment_rationale, \
         r.mitigation_target_at, r.notes, r.source, r.source_id, s.inherent_score, \
         s.inherent_band, s.residual_likelihood_level, s.residual_impact_level, \
         s.residual_likelihood_value, s.residual_impact_value, s.residual_score, \
         s.residual_band, s.residual_overridden, s.target_likelihood_level, \
         s.target_impact_level, s.target_likelihood_value, s.target_impact_value, \
         s.target_score, s.target_band, s.within_tolerance, s.version, r.created_at, \
         r.created_by, s.updated_at, s.updated_by{} \
         FROM risks r JOIN risk_scores s \
         ON s.id = r.id AND s.register_id = r.register_id AND s.org_id = r.org_id",
        if risks_id { ", r.id AS risks_id" } else { "" }
    )
}

async fn replace(manager: &SchemaManager<'_>, risks_id: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared("DROP VIEW risk_view").await?;
    db.execute_unprepared(&view(risks_id)).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, false).await
    }
}
