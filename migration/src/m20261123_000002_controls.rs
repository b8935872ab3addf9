//! Controls and their links to risks.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("controls")
                    .col(string("id").primary_key())
                    .col(string("org_id"))
                    .col(string_null("identifier"))
                    .col(string("name"))
                    .col(text_null("description"))
                    .col(string("health"))
                    .col(double("effectiveness"))
                    .col(boolean("archived"))
                    .col(integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("controls", "org_id")
                            .to("organizations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("controls_org_identifier")
                    .table("controls")
                    .col("org_id")
                    .col("identifier")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("controls_org_name")
                    .table("controls")
                    .col("org_id")
                    .col("archived")
                    .col("name")
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("risk_controls")
                    .col(string("risk_id"))
                    .col(string("control_id"))
                    .col(string("org_id"))
                    .col(string("reduces"))
                    // Null: the link follows its control's effectiveness.
                    .col(double_null("strength"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("risk_id").col("control_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("risk_controls", "risk_id")
                            .to("risks", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("risk_controls", "control_id")
                            .to("controls", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("risk_controls_control")
                    .table("risk_controls")
                    .col("control_id")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("risk_controls").take())
            .await?;
        manager
            .drop_table(Table::drop().table("controls").take())
            .await
    }
}
