//! Indexes for the risk filters the foundation left unindexed (department,
//! stage, treatment, inherent band, tolerance), each led by the register as
//! every dashboard query names one; covering indexes for the heatmap
//! aggregate, which filters by register, organization and status and groups
//! by a cell's levels, so that it never reads the table; and indexes in the
//! exact order of each sort (its key, then id), so that a page stops after
//! its rows instead of sorting the register. PostgreSQL scans a plain index
//! backwards as DESC NULLS FIRST, so the nullable keys get a DESC NULLS LAST
//! index of their own there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{self, ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &[&str])] = &[
    ("risks_register_department", &["register_id", "department"]),
    ("risks_register_stage", &["register_id", "stage"]),
    ("risks_register_treatment", &["register_id", "treatment"]),
    (
        "risks_register_inherent_band",
        &["register_id", "inherent_band"],
    ),
    (
        "risks_register_tolerance",
        &["register_id", "within_tolerance"],
    ),
    (
        "risks_heatmap_residual",
        &[
            "register_id",
            "org_id",
            "status",
            "residual_likelihood_level",
            "residual_impact_level",
        ],
    ),
    (
        "risks_heatmap_inherent",
        &[
            "register_id",
            "org_id",
            "status",
            "likelihood_level",
            "impact_level",
        ],
    ),
    (
        "risks_order_residual",
        &["register_id", "residual_score", "id"],
    ),
    (
        "risks_order_inherent",
        &["register_id", "inherent_score", "id"],
    ),
    ("risks_order_created", &["register_id", "created_at", "id"]),
    ("risks_order_updated", &["register_id", "updated_at", "id"]),
    (
        "risks_order_identifier",
        &["register_id", "identifier", "id"],
    ),
    ("risks_order_title", &["register_id", "title", "id"]),
    (
        "risks_order_target_date",
        &["register_id", "mitigation_target_at", "id"],
    ),
];

/// PostgreSQL only: the DESC NULLS LAST orders of the nullable sort keys.
const POSTGRES_DESC: &[(&str, &str)] = &[
    ("risks_order_residual_desc", "residual_score"),
    ("risks_order_inherent_desc", "inherent_score"),
    ("risks_order_target_date_desc", "mitigation_target_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table("risks");
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index.take()).await?;
        }
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            for (name, column) in POSTGRES_DESC {
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let names = INDEXES
            .iter()
            .map(|(n, _)| *n)
            .chain(POSTGRES_DESC.iter().map(|(n, _)| *n));
        for name in names {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table("risks")
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
