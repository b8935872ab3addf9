//! `risk_scores` keeps a copy of each column of `risks` that a dashboard
//! filters by (stage, category, department, owner, severity, treatment, and
//! the creation, closure and mitigation target dates), written with it
//! (`risk_tables`). A heatmap, count or summary filtered by one then reads
//! `risk_scores` alone instead of joining the two tables' rows.
//!
//! Why: the join of a register's rows costs more than the count. Measured
//! in `psql` on 100,000 risks in one register, the residual heatmap:
//! filtered by a category held by one risk in eight, 51-54 ms joined and
//! 25-28 ms from `risk_scores` alone; by a treatment every risk has, about
//! 85 ms and 34-36 ms. The copies have no indexes, so a re-score, which
//! rewrites a row and an entry in each of its table's indexes, writes no
//! more entries than before (an `UPDATE` of 10,000 risks' scores: 480-680
//! ms with the copies, 530-630 without).
//!
//! The originals stay in `risks`, with their indexes, for pages and
//! lookups. No foreign key needs mirroring: deleting a severity a risk uses
//! is refused, and members are never deleted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The copies, nullable whatever the original: SQLite cannot add a NOT
/// NULL column without a constant default.
fn copies() -> Vec<ColumnDef> {
    vec![
        string_null("stage"),
        string_null("category"),
        string_null("department"),
        string_null("owner_id"),
        string_null("severity_id"),
        string_null("treatment"),
        timestamp_with_time_zone_null("closed_at"),
        date_null("mitigation_target_at"),
        timestamp_with_time_zone_null("created_at"),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut names = Vec::new();
        // One column a statement: SQLite alters one at a time.
        for column in copies() {
            names.push(column.get_column_name().to_string());
            manager
                .alter_table(
                    Table::alter()
                        .table("risk_scores")
                        .add_column(column)
                        .take(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE risk_scores SET ({list}) = (SELECT {list} FROM risks r WHERE r.id = risk_scores.id)",
                list = names.join(", ")
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in copies() {
            manager
                .alter_table(
                    Table::alter()
                        .table("risk_scores")
                        .drop_column(Alias::new(column.get_column_name()))
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
