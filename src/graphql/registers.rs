//! Registers: their scales, custom fields and risks.

use super::ContextExt;
use super::custom_fields::CustomFieldDefinition;
use super::heatmaps::{Heatmap, RegisterSummary, heatmap, summary};
use super::risks::{RiskConnection, risk_connection};
use super::scores::RiskScales;
use crate::domain::date::Timestamp;
use crate::domain::enums::Role;
use crate::domain::enums::ScoreBasis;
use crate::domain::inputs::{CreateRegisterInput, RiskFilter, RiskOrder, UpdateRegisterInput};
use crate::domain::scales::Scales;
use crate::error::{AppError, AppResult};
use crate::store::{self, risk_query::PageArgs};
use async_graphql::{Context, ID, Object};
use entity::register;

/// A register of risks with its own scales and bands.
#[derive(Clone)]
pub struct Register {
    pub model: register::Model,
    pub scales: Scales,
}

impl Register {
    pub fn new(model: register::Model) -> AppResult<Self> {
        Ok(Self {
            scales: Scales::of(&model)?,
            model,
        })
    }
}

#[Object]
impl Register {
    pub async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn description(&self) -> Option<&str> {
        self.model.description.as_deref()
    }
    /// Prefix of generated risk identifiers, e.g. RA gives RA-1, RA-2, ...
    async fn identifier_prefix(&self) -> &str {
        &self.model.identifier_prefix
    }
    async fn archived(&self) -> bool {
        self.model.archived
    }
    async fn scales(&self) -> RiskScales {
        RiskScales::from(&self.scales)
    }
    /// The register's custom fields in position order.
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] include_archived: Option<bool>,
    ) -> AppResult<Vec<CustomFieldDefinition>> {
        let include_archived = include_archived.unwrap_or(false);
        let fields = ctx
            .loaders()?
            .fields_by_register
            .load_one(self.model.id.clone())
            .await?
            .unwrap_or_default();
        Ok(fields
            .into_iter()
            .filter(|f| include_archived || !f.archived)
            .map(CustomFieldDefinition)
            .collect())
    }
    /// The register's risks; the filter's registerId is ignored here.
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn risks(
        &self,
        ctx: &Context<'_>,
        filter: Option<RiskFilter>,
        search: Option<String>,
        order_by: Option<Vec<RiskOrder>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<RiskConnection> {
        let mut filter = filter.unwrap_or_default();
        filter.register_id = Some(ID(self.model.id.clone()));
        risk_connection(
            ctx,
            filter,
            search,
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }
    /// Likelihood x impact counts of the register's risks that match the filter.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "ScoreBasis::Residual")] basis: ScoreBasis,
        filter: Option<RiskFilter>,
    ) -> AppResult<Heatmap> {
        heatmap(ctx, self.clone(), basis, filter).await
    }
    async fn summary(&self, ctx: &Context<'_>) -> AppResult<RegisterSummary> {
        summary(ctx, self).await
    }
    async fn version(&self) -> i32 {
        self.model.version
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.model.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.model.updated_at)
    }
}

#[derive(Default)]
pub struct RegisterQuery;

#[Object]
impl RegisterQuery {
    /// The organization's registers, by name.
    async fn registers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] include_archived: Option<bool>,
    ) -> AppResult<Vec<Register>> {
        let include_archived = include_archived.unwrap_or(false);
        store::registers::list(ctx.actor(Role::Viewer)?, include_archived)
            .await?
            .into_iter()
            .map(Register::new)
            .collect()
    }

    /// A register's heatmap: counts per likelihood x impact cell of the risks
    /// that match the filter.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        register_id: ID,
        #[graphql(default_with = "ScoreBasis::Residual")] basis: ScoreBasis,
        filter: Option<RiskFilter>,
    ) -> AppResult<Heatmap> {
        ctx.principal()?;
        let found = ctx.loaders()?.registers.load_one(register_id.0).await?;
        let register = Register::new(found.ok_or_else(|| AppError::not_found("register"))?)?;
        heatmap(ctx, register, basis, filter).await
    }

    async fn register(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Register>> {
        ctx.principal()?;
        let found = ctx.loaders()?.registers.load_one(id.0).await?;
        found.map(Register::new).transpose()
    }
}

#[derive(Default)]
pub struct RegisterMutation;

#[Object]
impl RegisterMutation {
    /// Creates a register; without scales or a preset it gets the default 5x5.
    async fn create_register(
        &self,
        ctx: &Context<'_>,
        input: CreateRegisterInput,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        Register::new(store::registers::create(actor, input).await?).map(Some)
    }

    /// Changes a register. New scales re-score its risks; scales that would
    /// strand existing levels need `scalesRemap`.
    async fn update_register(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateRegisterInput,
        expected_version: Option<i32>,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        Register::new(store::registers::update(actor, &id, input, expected_version).await?)
            .map(Some)
    }

    async fn archive_register(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        Register::new(store::registers::archive(actor, &id).await?).map(Some)
    }
}
