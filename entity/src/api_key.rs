use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An organization's key for an integration: it acts as its own member
/// (`member_id`), with a role, until it expires or is revoked. Only the
/// SHA-256 of its secret is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// The member that history and events name as the actor.
    pub member_id: String,
    pub name: String,
    pub role: String,
    /// The secret's first characters: shown in lists, and how a secret is
    /// looked up.
    #[sea_orm(unique)]
    pub prefix: String,
    /// Hex SHA-256 of the whole secret.
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
