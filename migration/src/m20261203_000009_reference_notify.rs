//! PostgreSQL only: a change to the rows every page refers to (members,
//! registers, severities, custom field definitions) notifies
//! `riskgraph_reference`, so that every instance drops what it keeps of
//! them (`graphql::reference`), whoever wrote: riskgraph on any instance,
//! or another client of the same database. One notification a statement;
//! PostgreSQL sends it at commit and folds repeats within a transaction. A
//! register's identifier counter, which every new risk moves, is left out:
//! nothing kept shows it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{self, ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each table, with the columns whose update is a change (all when None):
/// a column added to `registers` later is added to its trigger then.
pub(crate) const TABLES: &[(&str, Option<&str>)] = &[
    ("members", None),
    (
        "registers",
        Some(concat!(
            "id, org_id, name, description, identifier_prefix, scales, archived, ",
            "version, created_at, updated_at"
        )),
    ),
    ("severities", None),
    ("custom_field_definitions", None),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION riskgraph_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('riskgraph_reference', TG_TABLE_NAME); RETURN NULL; END $$",
        )
        .await?;
        for (table, columns) in TABLES {
            let update = columns.map_or("UPDATE".to_owned(), |c| format!("UPDATE OF {c}"));
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_reference AFTER {update} OR DELETE OR TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION riskgraph_reference_changed()"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, _) in TABLES {
            db.execute_unprepared(&format!("DROP TRIGGER {table}_reference ON {table}"))
                .await?;
        }
        db.execute_unprepared("DROP FUNCTION riskgraph_reference_changed()")
            .await?;
        Ok(())
    }
}
