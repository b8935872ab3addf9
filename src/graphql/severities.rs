//! Severities (4me's model).

use super::{ContextExt, changing_reference};
use crate::domain::date::Timestamp;
use crate::domain::enums::Role;
use crate::domain::inputs::{CreateSeverityInput, SeverityFilter, UpdateSeverityInput};
use crate::error::AppResult;
use crate::store;
use async_graphql::{Context, ID, Object};
use entity::severity;
use std::sync::Arc;

pub struct Severity(pub Arc<severity::Model>);

impl From<severity::Model> for Severity {
    fn from(model: severity::Model) -> Self {
        Self(Arc::new(model))
    }
}

/// How severe a risk is, on the organization's own list.
#[Object]
impl Severity {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// 1 to 128 characters.
    fn name(&self) -> &str {
        &self.0.name
    }
    /// name in lower case with spaces replaced by underscores; read-only.
    fn reference(&self) -> &str {
        &self.0.reference
    }
    /// Up to 255 characters; null when none.
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Longer guidance; null when none.
    fn information(&self) -> Option<&str> {
        self.0.information.as_deref()
    }
    /// Sort position, ascending.
    fn position(&self) -> i32 {
        self.0.position
    }
    /// A disabled severity cannot be set on a risk.
    fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// The system the severity comes from; null when none.
    fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// Its id in that system; null when none.
    fn source_id(&self) -> Option<&str> {
        self.0.source_id.as_deref()
    }
    /// When the severity was created.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it last changed.
    fn updated_at(&self) -> Timestamp {
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
        #[graphql(desc = "Which severities; all when null.")] filter: Option<SeverityFilter>,
    ) -> AppResult<Vec<Severity>> {
        let actor = ctx.viewer()?;
        let list = store::severities::list(actor, filter.unwrap_or_default()).await?;
        Ok(list.into_iter().map(Severity::from).collect())
    }

    /// A severity by ID; null when it does not exist for the caller.
    async fn severity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The severity's global ID.")] id: ID,
    ) -> AppResult<Option<Severity>> {
        ctx.principal()?;
        let actor = ctx.viewer()?;
        let found = store::find_optional::<severity::Entity>(actor.db, actor.org_id(), &id).await?;
        Ok(found.map(Severity::from))
    }
}

#[derive(Default)]
pub struct SeverityMutation;

#[Object]
impl SeverityMutation {
    /// Adds a severity to the organization's list. Admins only.
    async fn create_severity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new severity.")] input: CreateSeverityInput,
    ) -> AppResult<Option<Severity>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(Severity::from(
            store::severities::create(actor, input).await?,
        )))
    }

    /// Changes a severity. Admins only.
    async fn update_severity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The severity to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateSeverityInput,
    ) -> AppResult<Option<Severity>> {
        let actor = ctx.actor(Role::Admin)?;
        let write = store::severities::update(actor, &id, input);
        Ok(Some(Severity::from(changing_reference(ctx, write).await?)))
    }

    /// Deletes a severity that no risk uses; disable one that is in use.
    async fn delete_severity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The severity to delete.")] id: ID,
    ) -> AppResult<Option<ID>> {
        let actor = ctx.actor(Role::Admin)?;
        changing_reference(ctx, store::severities::delete(actor, &id)).await?;
        Ok(Some(id))
    }
}
