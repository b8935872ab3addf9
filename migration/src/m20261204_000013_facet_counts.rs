//! Heatmap counts by value of the columns a heatmap is filtered by (stage,
//! category, department, owner, severity, treatment), kept like the cell
//! counts of migration 4 in the transaction of every change: a heatmap
//! filtered by one of them reads at most a row per cell and value, where
//! counting the register through both tables took 50-116 ms at 100,000
//! risks on PostgreSQL. Only open risks are counted, and only by the values
//! they have (a filter names values). Existing risks are counted here once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RiskFacetCounts {
    Table,
    RegisterId,
    Basis,
    Facet,
    Value,
    Likelihood,
    Impact,
    Count,
}

/// The counted columns, by the name the counts give them.
const FACETS: [&str; 6] = [
    "stage",
    "category",
    "department",
    "owner_id",
    "severity_id",
    "treatment",
];

/// Counts the open risks by one facet's values and one basis's cells.
fn backfill(facet: &str, basis: &str, likelihood: &str, impact: &str) -> String {
    let cell = |level: &str| {
        format!("CASE WHEN {likelihood} IS NULL OR {impact} IS NULL THEN -1 ELSE {level} END")
    };
    format!(
        "INSERT INTO risk_facet_counts (register_id, basis, facet, value, likelihood, impact, count) \
         SELECT register_id, '{basis}', '{facet}', {facet}, {l}, {i}, COUNT(*) FROM risk_view \
         WHERE status NOT IN ('CLOSED', 'ARCHIVED') AND {facet} IS NOT NULL \
         GROUP BY register_id, {facet}, {l}, {i}",
        l = cell(likelihood),
        i = cell(impact),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |column: RiskFacetCounts| ColumnDef::new(column).string().not_null().to_owned();
        let int = |column: RiskFacetCounts| ColumnDef::new(column).integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(RiskFacetCounts::Table)
                    .col(text(RiskFacetCounts::RegisterId))
                    .col(text(RiskFacetCounts::Basis))
                    .col(text(RiskFacetCounts::Facet))
                    .col(text(RiskFacetCounts::Value))
                    .col(int(RiskFacetCounts::Likelihood))
                    .col(int(RiskFacetCounts::Impact))
                    .col(
                        ColumnDef::new(RiskFacetCounts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RiskFacetCounts::RegisterId)
                            .col(RiskFacetCounts::Basis)
                            .col(RiskFacetCounts::Facet)
                            .col(RiskFacetCounts::Value)
                            .col(RiskFacetCounts::Likelihood)
                            .col(RiskFacetCounts::Impact),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for facet in FACETS {
            db.execute_unprepared(&backfill(
                facet,
                "INHERENT",
                "likelihood_level",
                "impact_level",
            ))
            .await?;
            db.execute_unprepared(&backfill(
                facet,
                "RESIDUAL",
                "residual_likelihood_level",
                "residual_impact_level",
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RiskFacetCounts::Table).to_owned())
            .await
    }
}
