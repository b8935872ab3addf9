//! Organization API keys for integrations: a hash of each secret, never the
//! secret, looked up by the secret's prefix.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrgId,
    MemberId,
    Name,
    Role,
    Prefix,
    SecretHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |column: ApiKeys| ColumnDef::new(column).string().not_null().to_owned();
        let time = |column: ApiKeys| {
            ColumnDef::new(column)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(text(ApiKeys::Id).primary_key())
                    .col(text(ApiKeys::OrgId))
                    .col(text(ApiKeys::MemberId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Role))
                    .col(text(ApiKeys::Prefix).unique_key())
                    .col(text(ApiKeys::SecretHash))
                    .col(text(ApiKeys::CreatedBy))
                    .col(
                        ColumnDef::new(ApiKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(time(ApiKeys::ExpiresAt))
                    .col(time(ApiKeys::LastUsedAt))
                    .col(time(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_org")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::OrgId)
                    .col(ApiKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
