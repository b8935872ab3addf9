//! An index a heatmap basis of (register, the cell's two levels, score, id)
//! on `risk_scores`: a cell's risks, highest score first, are one walk of
//! it. Without, a cell's first risks were read by walking the register's
//! order by score and skipping the other cells (80,000 rows skipped for a
//! cell of low scores: 65-90 ms at 100,000 risks), and every cell's first
//! risks of a heatmap by a window function over the whole register
//! (540-860 ms).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index: its name and the columns after the register.
const INDEXES: [(&str, [&str; 4]); 2] = [
    (
        "risk_scores_cell_residual",
        [
            "residual_likelihood_level",
            "residual_impact_level",
            "residual_score",
            "id",
        ],
    ),
    (
        "risk_scores_cell_inherent",
        ["likelihood_level", "impact_level", "inherent_score", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            let mut create = Index::create();
            create.name(name).table("risk_scores").col("register_id");
            for column in columns {
                create.col(column);
            }
            manager.create_index(create).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            let drop = Index::drop().name(name).table("risk_scores").to_owned();
            manager.drop_index(drop).await?;
        }
        Ok(())
    }
}
