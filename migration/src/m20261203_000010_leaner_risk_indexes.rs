//! Risk indexes fewer to write on every change of a risk: five for a risk
//! without a source key, four for one with.
//!
//! A re-score or a remap updates thousands of risks; on PostgreSQL each
//! updated row gets a new entry in every index of the table (about 4 µs per
//! index per row here), so the index count sets the pace of both.
//! - The DESC NULLS LAST twins of the nullable sort keys (PostgreSQL only):
//!   a page by such a key reads its values and its nulls apart, each in the
//!   order of the one (register, key, id) index, read either way
//!   (`risk_query::run`).
//! - (register, status) is the prefix of both heatmap indexes once the
//!   organization, which every query names, is between them: (register,
//!   organization, status, …) serves every status filter and count.
//! - (organization, source, sourceId) is unique only where both are set
//!   (nulls are distinct), and every lookup names both: a partial index on
//!   the risks that have them keeps the same rule and the same lookups,
//!   without an entry for each risk made by hand.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SOURCE: &str = "risks_org_source";
const SOURCE_COLUMNS: [&str; 3] = ["org_id", "source", "source_id"];
const STATUS: &str = "risks_register_status";
/// The twins, by key (PostgreSQL only).
const DESC_TWINS: [(&str, &str); 3] = [
    ("risks_order_residual_desc", "residual_score"),
    ("risks_order_inherent_desc", "inherent_score"),
    ("risks_order_target_date_desc", "mitigation_target_at"),
];

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table("risks")
        .if_exists()
        .to_owned()
}

fn source_index() -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(SOURCE).table("risks").unique();
    for column in SOURCE_COLUMNS {
        index.col(column);
    }
    index.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in DESC_TWINS {
            manager.drop_index(drop(name)).await?;
        }
        manager.drop_index(drop(STATUS)).await?;
        manager.drop_index(drop(SOURCE)).await?;
        manager
            .create_index(
                source_index()
                    .and_where(Expr::col("source").is_not_null())
                    .and_where(Expr::col("source_id").is_not_null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(drop(SOURCE)).await?;
        manager.create_index(source_index()).await?;
        manager
            .create_index(
                Index::create()
                    .name(STATUS)
                    .table("risks")
                    .col("register_id")
                    .col("status")
                    .take(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            for (name, column) in DESC_TWINS {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(
                        "CREATE INDEX {name} ON risks (register_id, {column} DESC NULLS LAST, id DESC)"
                    ))
                    .await?;
            }
        }
        Ok(())
    }
}
