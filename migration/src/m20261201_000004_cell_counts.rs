//! The heatmap's cell counts, kept in the transaction of every change that
//! moves a risk between cells: an unfiltered heatmap reads at most one row
//! per cell instead of aggregating the register. A risk without both levels
//! counts in the cell (-1, -1); archived risks are not counted. Existing
//! risks are counted here once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RiskCellCounts {
    Table,
    RegisterId,
    Basis,
    Likelihood,
    Impact,
    Count,
}

/// Counts the risks of one basis's level columns.
fn backfill(basis: &str, likelihood: &str, impact: &str) -> String {
    let cell = |level: &str| {
        format!("CASE WHEN {likelihood} IS NULL OR {impact} IS NULL THEN -1 ELSE {level} END")
    };
    format!(
        "INSERT INTO risk_cell_counts (register_id, basis, likelihood, impact, count) \
         SELECT register_id, '{basis}', {l}, {i}, COUNT(*) FROM risks \
         WHERE status <> 'ARCHIVED' GROUP BY register_id, {l}, {i}",
        l = cell(likelihood),
        i = cell(impact),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RiskCellCounts::Table)
                    .col(
                        ColumnDef::new(RiskCellCounts::RegisterId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RiskCellCounts::Basis).string().not_null())
                    .col(
                        ColumnDef::new(RiskCellCounts::Likelihood)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RiskCellCounts::Impact).integer().not_null())
                    .col(
                        ColumnDef::new(RiskCellCounts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RiskCellCounts::RegisterId)
                            .col(RiskCellCounts::Basis)
                            .col(RiskCellCounts::Likelihood)
                            .col(RiskCellCounts::Impact),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&backfill("INHERENT", "likelihood_level", "impact_level"))
            .await?;
        db.execute_unprepared(&backfill(
            "RESIDUAL",
            "residual_likelihood_level",
            "residual_impact_level",
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RiskCellCounts::Table).to_owned())
            .await
    }
}
