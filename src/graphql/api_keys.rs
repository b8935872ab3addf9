//! Organization API keys: for integrations that cannot hold a user's token.
//! Admins only.

use super::ContextExt;
use super::viewer::{Member, member};
use crate::domain::date::Timestamp;
use crate::domain::enums::Role;
use crate::error::AppResult;
use crate::store::api_keys;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::api_key;

pub struct ApiKey(pub api_key::Model);

/// A key an integration sends as `X-API-Key` (or `apiKey` in
/// `connection_init`). It acts as a member of its own, named like the key.
#[Object]
impl ApiKey {
    /// Global ID.
    fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// What it is for, e.g. "Jira sync".
    fn name(&self) -> &str {
        &self.0.name
    }
    /// What it may do.
    fn role(&self) -> AppResult<Role> {
        Role::from_stored(&self.0.role)
    }
    /// The first characters of its secret, to tell keys apart.
    fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// When it was created.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it stops working; null for never.
    fn expires_at(&self) -> Option<Timestamp> {
        self.0.expires_at.map(Timestamp)
    }
    /// When it was last used, to the minute; null when never.
    fn last_used_at(&self) -> Option<Timestamp> {
        self.0.last_used_at.map(Timestamp)
    }
    /// When it was revoked; null while it works.
    fn revoked_at(&self) -> Option<Timestamp> {
        self.0.revoked_at.map(Timestamp)
    }
    /// The admin who created it.
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, Some(&self.0.created_by)).await
    }
    /// The member it acts as: history and events name it as the actor.
    async fn member(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, Some(&self.0.member_id)).await
    }
}

/// A new key, with its secret: shown this once, never again.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    /// The key.
    api_key: ApiKey,
    /// The secret to give the integration.
    secret: String,
}

/// A new key.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What it is for, 1 to 200 characters.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it stops working; never when null.
    pub expires_at: Option<Timestamp>,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The organization's API keys, newest first, revoked ones included;
    /// never their secrets. Admins only.
    async fn api_keys(&self, ctx: &Context<'_>) -> AppResult<Vec<ApiKey>> {
        let actor = ctx.actor(Role::Admin)?;
        let keys = api_keys::list(actor).await?;
        Ok(keys.into_iter().map(ApiKey).collect())
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key. The answer holds its secret, the only time it is
    /// shown; only a hash is kept. Admins only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key.")] input: CreateApiKeyInput,
    ) -> AppResult<CreatedApiKey> {
        let actor = ctx.actor(Role::Admin)?;
        let expires_at = input.expires_at.map(|at| at.0);
        let created = api_keys::create(actor, &input.name, input.role, expires_at).await?;
        Ok(CreatedApiKey {
            api_key: ApiKey(created.key),
            secret: created.secret,
        })
    }

    /// Revokes an API key: its next request, and the subscriptions it has
    /// open on any instance, are refused. Admins only.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key.")] id: ID,
    ) -> AppResult<ApiKey> {
        let actor = ctx.actor(Role::Admin)?;
        let key = api_keys::revoke(actor, &id).await?;
        ctx.services()?.feed.revoked(&key.id).await?;
        Ok(ApiKey(key))
    }
}
