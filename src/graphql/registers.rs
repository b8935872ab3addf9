//! Registers: their scales, custom fields and risks.

use super::custom_fields::CustomFieldDefinition;
use super::heatmaps::{BreakdownGroup, Heatmap, RegisterSummary, breakdown, heatmap, summary};
use super::risks::{RiskConnection, risk_connection};
use super::scores::RiskScales;
use super::{ContextExt, changing_reference};
use crate::domain::date::Timestamp;
use crate::domain::enums::{BreakdownKey, Role, ScoreBasis};
use crate::domain::inputs::{CreateRegisterInput, RiskFilter, RiskOrder, UpdateRegisterInput};
use crate::domain::scales::Scales;
use crate::error::AppResult;
use crate::store::{self, risk_query::PageArgs};
use async_graphql::{Context, ID, Object};
use entity::register;
use std::sync::Arc;

/// A register with its scales read: shared, so that the register of every
/// risk on a page is read (and its scales parsed) once per request.
#[derive(Clone)]
pub struct Register {
    pub model: Arc<register::Model>,
    pub scales: Arc<Scales>,
}

impl Register {
    pub fn new(model: impl Into<Arc<register::Model>>) -> AppResult<Self> {
        let model = model.into();
        Ok(Self {
            scales: Arc::new(Scales::of(&model)?),
            model,
        })
    }
}

/// A register of risks with its own scales and bands.
#[Object]
impl Register {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    /// Shown in lists.
    fn name(&self) -> &str {
        &self.model.name
    }
    /// Free text; null when none.
    fn description(&self) -> Option<&str> {
        self.model.description.as_deref()
    }
    /// Prefix of generated risk identifiers, e.g. RA gives RA-1, RA-2, ...
    fn identifier_prefix(&self) -> &str {
        &self.model.identifier_prefix
    }
    /// An archived register takes no new risks and is left out of lists.
    fn archived(&self) -> bool {
        self.model.archived
    }
    /// Likelihood and impact levels, bands and optional matrix that score its risks.
    fn scales(&self) -> RiskScales {
        RiskScales::from(self.scales.as_ref())
    }
    /// The register's custom fields in position order.
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)", desc = "Also list archived fields.")]
        include_archived: Option<bool>,
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
        #[graphql(desc = "Which of the register's risks; its registerId is ignored.")]
        filter: Option<RiskFilter>,
        #[graphql(
            desc = "Case-insensitive text to find in identifier, title, description, sourceId or a custom text value; at most 256 characters."
        )]
        search: Option<String>,
        #[graphql(
            desc = "Sort keys, most significant first; oldest first when null or empty. The id breaks ties, so pages never skip or repeat."
        )]
        order_by: Option<Vec<RiskOrder>>,
        #[graphql(
            desc = "How many to return, from the start or after `after`; 50 when neither first nor last is given, at most 500."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from this connection: return the items after it.")]
        after: Option<String>,
        #[graphql(desc = "How many to return from the end or before `before`; at most 500.")]
        last: Option<i32>,
        #[graphql(desc = "A cursor from this connection: return the items before it.")]
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
    /// Likelihood x impact counts of the register's open risks that match the
    /// filter: CLOSED and ARCHIVED risks are left out unless the filter names
    /// statuses.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "ScoreBasis::Residual",
            desc = "Place risks by inherent or residual levels."
        )]
        basis: ScoreBasis,
        #[graphql(desc = "Which risks to count; its registerId is ignored.")] filter: Option<
            RiskFilter,
        >,
    ) -> AppResult<Heatmap> {
        heatmap(ctx, self.clone(), basis, filter).await
    }
    /// Counts of the register's open risks by band and tolerance, and of all
    /// its risks by status.
    async fn summary(&self, ctx: &Context<'_>) -> AppResult<RegisterSummary> {
        summary(ctx, self).await
    }
    /// The register's risks that match the filter, grouped for a chart:
    /// count, average and highest score per group, in one aggregate. As in
    /// `risks`, ARCHIVED risks are left out unless the filter asks for them.
    /// Bands come lowest first; other groups by count, largest first.
    async fn breakdown(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to group by.")] by: BreakdownKey,
        #[graphql(
            default_with = "Some(ScoreBasis::Residual)",
            desc = "Which scores (and, for BAND, which bands) to report; RESIDUAL when null."
        )]
        basis: Option<ScoreBasis>,
        #[graphql(desc = "Which risks; its registerId is ignored.")] filter: Option<RiskFilter>,
    ) -> AppResult<Vec<BreakdownGroup>> {
        let basis = basis.unwrap_or(ScoreBasis::Residual);
        breakdown(ctx, self, by, basis, filter).await
    }
    /// Grows by one with every change; pass as expectedVersion to update safely.
    fn version(&self) -> i32 {
        self.model.version
    }
    /// When the register was created.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.model.created_at)
    }
    /// When the register last changed.
    fn updated_at(&self) -> Timestamp {
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
        #[graphql(default_with = "Some(false)", desc = "Also list archived registers.")]
        include_archived: Option<bool>,
    ) -> AppResult<Vec<Register>> {
        let include_archived = include_archived.unwrap_or(false);
        store::registers::list(ctx.viewer()?, include_archived)
            .await?
            .into_iter()
            .map(Register::new)
            .collect()
    }

    /// A register's heatmap: counts per likelihood x impact cell of the open
    /// risks that match the filter. CLOSED and ARCHIVED risks are left out
    /// unless the filter names statuses.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register.")] register_id: ID,
        #[graphql(
            default_with = "ScoreBasis::Residual",
            desc = "Place risks by inherent or residual levels."
        )]
        basis: ScoreBasis,
        #[graphql(desc = "Which risks to count; its registerId is ignored.")] filter: Option<
            RiskFilter,
        >,
    ) -> AppResult<Heatmap> {
        let actor = ctx.viewer()?;
        let found = store::find::<register::Entity>(actor.db, actor.org_id(), &register_id).await?;
        let register = Register::new(found)?;
        heatmap(ctx, register, basis, filter).await
    }

    /// A register by ID; null when it does not exist for the caller.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register's global ID.")] id: ID,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.viewer()?;
        let found = store::find_optional::<register::Entity>(actor.db, actor.org_id(), &id).await?;
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
        #[graphql(desc = "The new register.")] input: CreateRegisterInput,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        Register::new(store::registers::create(actor, input).await?).map(Some)
    }

    /// Changes a register. New scales re-score its risks; scales that would
    /// strand existing levels need `scalesRemap`.
    async fn update_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateRegisterInput,
        #[graphql(desc = "Refuse with CONFLICT unless the register is at this version.")]
        expected_version: Option<i32>,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        let write = store::registers::update(actor, &id, input, expected_version);
        Register::new(changing_reference(ctx, write).await?).map(Some)
    }

    /// Archives a register: it takes no new risks and leaves lists. Admins only.
    async fn archive_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register to archive.")] id: ID,
    ) -> AppResult<Option<Register>> {
        let actor = ctx.actor(Role::Admin)?;
        Register::new(changing_reference(ctx, store::registers::archive(actor, &id)).await?)
            .map(Some)
    }
}
