//! Drops three risk indexes that other indexes already serve.
//!
//! On PostgreSQL every update of a risk writes a new entry into each of its
//! indexes (an update sets `updated_at`, which is indexed, so none is HOT):
//! about 4 µs per index per row, which is most of a re-score of thousands of
//! risks. These three are covered:
//! - the cells of a register, (register, likelihood, impact) for each basis:
//!   a cell filter is read from the covering heatmap index (register,
//!   organization, status, likelihood, impact), which every query's
//!   organization and status conditions lead to anyway;
//! - the identifier order (register, identifier, id): identifiers are unique
//!   in a register, so the unique (register, identifier) index gives the
//!   same order (SQLite sees that; PostgreSQL sorts its groups of one).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index, with its columns (for `down`).
const DROPPED: &[(&str, &[&str])] = &[
    (
        "risks_register_inherent_cell",
        &["register_id", "likelihood_level", "impact_level"],
    ),
    (
        "risks_register_residual_cell",
        &[
            "register_id",
            "residual_likelihood_level",
            "residual_impact_level",
        ],
    ),
    (
        "risks_order_identifier",
        &["register_id", "identifier", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in DROPPED {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table("risks")
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in DROPPED {
            let mut index = Index::create();
            index.name(*name).table("risks");
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index.take()).await?;
        }
        Ok(())
    }
}
