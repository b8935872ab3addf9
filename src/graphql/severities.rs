//! Severities (4me's model).

use super::ContextExt;
use crate::domain::date::Timestamp;
use crate::domain::enums::Role;
use crate::domain::inputs::{CreateSeverityInput, SeverityFilter, UpdateSeverityInput};
use crate::error::AppResult;
use crate::store;
use async_graphql::{Context, ID, Object};
use entity::severity;

/// How severe a risk is, on the organization's own list.
pub struct Severity(pub severity::Model);

#[Object]
impl Severity {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// name in lower case with spaces replaced by underscores; read-only.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn information(&self) -> Option<&str> {
        self.0.information.as_deref()
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// A disabled severity cannot be set on a risk.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    async fn source_id(&self) -> Option<&str> {
        self.0.source_id.as_deref()
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

#[derive(Default)]
pub struct SeverityQuery;

#[Object]
impl SeverityQuery {
    /// The organization's severities, by position then name.
    async fn severities(
        &self,
        ctx: &Context<'_>,
        filter: Option<SeverityFilter>,
    ) -> AppResult<Vec<Severity>> {
        let actor = ctx.actor(Role::Viewer)?;
        let list = store::severities::list(actor, filter.unwrap_or_default()).await?;
        Ok(list.into_iter().map(Severity).collect())
    }

    async fn severity(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Severity>> {
        ctx.principal()?;
        Ok(ctx
            .loaders()?
            .severities
            .load_one(id.0)
            .await?
            .map(Severity))
    }
}

#[derive(Default)]
pub struct SeverityMutation;

#[Object]
impl SeverityMutation {
    async fn create_severity(
        &self,
        ctx: &Context<'_>,
        input: CreateSeverityInput,
    ) -> AppResult<Option<Severity>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(Severity(
            store::severities::create(actor, input).await?,
        )))
    }

    async fn update_severity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateSeverityInput,
    ) -> AppResult<Option<Severity>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(Severity(
            store::severities::update(actor, &id, input).await?,
        )))
    }

    /// Deletes a severity that no risk uses; disable one that is in use.
    async fn delete_severity(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ID>> {
        let actor = ctx.actor(Role::Admin)?;
        store::severities::delete(actor, &id).await?;
        Ok(Some(id))
    }
}
