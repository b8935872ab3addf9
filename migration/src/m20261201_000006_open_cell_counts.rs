//! Heatmaps count open risks only: the kept cell counts leave out CLOSED
//! risks as well as ARCHIVED ones, so they are counted again here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Counts again, for both bases, the risks whose status is not in `left_out`.
async fn recount(manager: &SchemaManager<'_>, left_out: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared("DELETE FROM risk_cell_counts")
        .await?;
    for (basis, likelihood, impact) in [
        ("INHERENT", "likelihood_level", "impact_level"),
        (
            "RESIDUAL",
            "residual_likelihood_level",
            "residual_impact_level",
        ),
    ] {
        let cell = |level: &str| {
            format!("CASE WHEN {likelihood} IS NULL OR {impact} IS NULL THEN -1 ELSE {level} END")
        };
        db.execute_unprepared(&format!(
            "INSERT INTO risk_cell_counts (register_id, basis, likelihood, impact, count) \
             SELECT register_id, '{basis}', {l}, {i}, COUNT(*) FROM risks \
             WHERE status NOT IN ({left_out}) GROUP BY register_id, {l}, {i}",
            l = cell(likelihood),
            i = cell(impact),
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recount(manager, "'CLOSED', 'ARCHIVED'").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recount(manager, "'ARCHIVED'").await
    }
}
