//! PostgreSQL only: the notification of a change to the rows every page
//! refers to (migration 9) names the organization whose rows changed, so an
//! instance drops only what it keeps of that organization. One notification
//! an organization a transaction: the trigger fires for each row, and
//! PostgreSQL folds repeats of a payload within a transaction. A truncated
//! table, a row moved between organizations, or an organization id too long
//! for a payload notify with an empty payload: every organization's rows.

use super::m20261203_000009_reference_notify::{self as statement_level, TABLES};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{self, ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // A payload is at most 8,000 bytes.
        db.execute_unprepared(
            "CREATE FUNCTION riskgraph_reference_row_changed() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               IF TG_OP = 'UPDATE' AND NEW.org_id IS DISTINCT FROM OLD.org_id \
                  OR octet_length(OLD.org_id) >= 7900 THEN \
                 PERFORM pg_notify('riskgraph_reference', ''); \
               ELSE \
                 PERFORM pg_notify('riskgraph_reference', OLD.org_id); \
               END IF; \
               RETURN NULL; \
             END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE FUNCTION riskgraph_reference_truncated() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               PERFORM pg_notify('riskgraph_reference', ''); RETURN NULL; \
             END $$",
        )
        .await?;
        for (table, columns) in TABLES {
            let update = columns.map_or("UPDATE".to_owned(), |c| format!("UPDATE OF {c}"));
            db.execute_unprepared(&format!(
                "DROP TRIGGER {table}_reference ON {table}; \
                 CREATE TRIGGER {table}_reference AFTER {update} OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION riskgraph_reference_row_changed(); \
                 CREATE TRIGGER {table}_reference_truncated AFTER TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION riskgraph_reference_truncated()"
            ))
            .await?;
        }
        db.execute_unprepared("DROP FUNCTION riskgraph_reference_changed()")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, _) in TABLES {
            db.execute_unprepared(&format!(
                "DROP TRIGGER {table}_reference ON {table}; \
                 DROP TRIGGER {table}_reference_truncated ON {table}"
            ))
            .await?;
        }
        db.execute_unprepared(
            "DROP FUNCTION riskgraph_reference_row_changed(); \
             DROP FUNCTION riskgraph_reference_truncated()",
        )
        .await?;
        // Migration 9's statement triggers, as it made them.
        statement_level::Migration.up(manager).await
    }
}
