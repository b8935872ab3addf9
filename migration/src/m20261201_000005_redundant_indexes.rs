//! Drops the risk indexes whose columns lead another index: a register and
//! one sort key, each of which the sort-order index (register, key, id)
//! serves as well. Every re-score writes these columns, so each index less
//! is work less for a change that moves thousands of risks.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index, with its columns (for `down`).
const REDUNDANT: &[(&str, &str)] = &[
    ("risks_register_created", "created_at"),
    ("risks_register_updated", "updated_at"),
    ("risks_register_title", "title"),
    ("risks_register_target_date", "mitigation_target_at"),
    ("risks_register_inherent", "inherent_score"),
    ("risks_register_residual", "residual_score"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in REDUNDANT {
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
        for (name, column) in REDUNDANT {
            manager
                .create_index(
                    Index::create()
                        .name(*name)
                        .table("risks")
                        .col("register_id")
                        .col(*column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
