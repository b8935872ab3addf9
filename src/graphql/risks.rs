//! Risks: the Risk type, its Relay connection, and the risk mutations.

use super::ContextExt;
use super::controls::ControlLink;
use super::custom_fields::CustomFieldValue;
use super::history::{RiskEventConnection, events_page};
use super::loaders::Wants;
use super::registers::Register;
use super::scores::{RiskScore, risk_score};
use super::severities::Severity;
use super::viewer::{Member, member};
use crate::domain::date::{Date, Timestamp};
use crate::domain::enums::{
    ChangeCause, ClosureReason, RiskEventKind, RiskStage, RiskStatus, Role, TreatmentStrategy,
};
use crate::domain::inputs::{CreateRiskInput, RiskFilter, RiskOrder};
use crate::domain::risk::{RiskPatch, Stored, stored_score};
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use crate::store::{self, risk_query};
use async_graphql::{Context, ID, Lookahead, Object, SimpleObject};
use entity::risk;

/// A risk in a register, with its inherent and residual scores.
pub struct Risk(pub risk::Model);

impl Risk {
    async fn register_of(&self, ctx: &Context<'_>) -> AppResult<Register> {
        let found = ctx
            .loaders()?
            .registers
            .load_one(self.0.register_id.clone())
            .await?;
        Register::new(found.ok_or_else(|| AppError::not_found("register"))?)
    }

    async fn score(&self, ctx: &Context<'_>, which: Stored) -> AppResult<Option<RiskScore>> {
        let register = self.register_of(ctx).await?;
        Ok(stored_score(&self.0, which, &register.scales).map(|s| risk_score(&register.scales, s)))
    }
}

#[Object]
impl Risk {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Unique in its register: generated from the register prefix (RA-7) unless given.
    async fn identifier(&self) -> &str {
        &self.0.identifier
    }
    async fn register(&self, ctx: &Context<'_>) -> AppResult<Register> {
        self.register_of(ctx).await
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    async fn status(&self) -> AppResult<RiskStatus> {
        RiskStatus::from_stored(&self.0.status)
    }
    async fn stage(&self) -> AppResult<RiskStage> {
        RiskStage::from_stored(&self.0.stage)
    }
    async fn closure_reason(&self) -> AppResult<Option<ClosureReason>> {
        self.0
            .closure_reason
            .as_deref()
            .map(ClosureReason::from_stored)
            .transpose()
    }
    /// Set when the risk is CLOSED.
    async fn closed_at(&self) -> Option<Timestamp> {
        self.0.closed_at.map(Timestamp)
    }
    /// Minutes from creation to closing.
    async fn resolution_duration_minutes(&self) -> Option<i32> {
        self.0.closed_at.map(|closed| {
            i32::try_from((closed - self.0.created_at).num_minutes()).unwrap_or(i32::MAX)
        })
    }
    async fn severity(&self, ctx: &Context<'_>) -> AppResult<Option<Severity>> {
        match &self.0.severity_id {
            Some(id) => Ok(ctx
                .loaders()?
                .severities
                .load_one(id.clone())
                .await?
                .map(Severity)),
            None => Ok(None),
        }
    }
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.owner_id.as_ref()).await
    }
    /// 0-based level on the register's likelihood scale.
    async fn likelihood_level(&self) -> Option<i32> {
        self.0.likelihood_level
    }
    /// 0-based level on the register's impact scale.
    async fn impact_level(&self) -> Option<i32> {
        self.0.impact_level
    }
    async fn likelihood_rationale(&self) -> Option<&str> {
        self.0.likelihood_rationale.as_deref()
    }
    async fn impact_rationale(&self) -> Option<&str> {
        self.0.impact_rationale.as_deref()
    }
    async fn residual_likelihood_override(&self) -> Option<i32> {
        self.0.residual_likelihood_override
    }
    async fn residual_impact_override(&self) -> Option<i32> {
        self.0.residual_impact_override
    }
    async fn residual_override_reason(&self) -> Option<&str> {
        self.0.residual_override_reason.as_deref()
    }
    async fn residual_overridden_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.residual_overridden_by.as_ref()).await
    }
    async fn residual_overridden_at(&self) -> Option<Timestamp> {
        self.0.residual_overridden_at.map(Timestamp)
    }
    /// The highest residual band level the organization accepts for this risk.
    async fn tolerance_level(&self) -> Option<i32> {
        self.0.tolerance_level
    }
    async fn treatment(&self) -> AppResult<TreatmentStrategy> {
        TreatmentStrategy::from_stored(&self.0.treatment)
    }
    async fn treatment_description(&self) -> Option<&str> {
        self.0.treatment_description.as_deref()
    }
    async fn treatment_rationale(&self) -> Option<&str> {
        self.0.treatment_rationale.as_deref()
    }
    async fn mitigation_target_at(&self) -> Option<Date> {
        self.0.mitigation_target_at.map(Date)
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    async fn source_id(&self) -> Option<&str> {
        self.0.source_id.as_deref()
    }
    /// Null until both likelihoodLevel and impactLevel are set.
    async fn inherent(&self, ctx: &Context<'_>) -> AppResult<Option<RiskScore>> {
        self.score(ctx, Stored::Inherent).await
    }
    /// Inherent reduced by linked controls at their current health, unless overridden.
    async fn residual(&self, ctx: &Context<'_>) -> AppResult<Option<RiskScore>> {
        self.score(ctx, Stored::Residual).await
    }
    /// Inherent reduced by linked controls at full health, ignoring overrides.
    async fn target_residual(&self, ctx: &Context<'_>) -> AppResult<Option<RiskScore>> {
        self.score(ctx, Stored::Target).await
    }
    /// Whether the residual band is within the tolerance level.
    async fn within_tolerance(&self) -> Option<bool> {
        self.0.within_tolerance
    }
    /// The risk's changes, oldest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<RiskEventConnection> {
        events_page(ctx, None, Some(&self.0.id), after.as_deref(), first).await
    }
    /// The controls linked to this risk.
    async fn controls(&self, ctx: &Context<'_>) -> AppResult<Vec<ControlLink>> {
        let links = ctx.loaders()?.links.load_one(self.0.id.clone()).await?;
        Ok(links
            .unwrap_or_default()
            .into_iter()
            .map(|(link, control)| ControlLink { link, control })
            .collect())
    }
    async fn custom_fields(&self, ctx: &Context<'_>) -> AppResult<Vec<CustomFieldValue>> {
        let values = ctx.loaders()?.values.load_one(self.0.id.clone()).await?;
        Ok(values
            .unwrap_or_default()
            .into_iter()
            .map(CustomFieldValue)
            .collect())
    }
    /// Grows by one with every change; pass as expectedVersion to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.created_by.as_ref()).await
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    async fn updated_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.updated_by.as_ref()).await
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct RiskEdge {
    pub cursor: String,
    pub node: Risk,
}

/// A page of risks. `totalCount` is counted only when asked for.
pub struct RiskConnection {
    page: risk_query::Page,
    condition: sea_orm::Condition,
}

impl RiskConnection {
    /// Prefetches what the selection under each risk (`selection`) refers to.
    async fn prefetched(&self, ctx: &Context<'_>, selection: &Lookahead<'_>) -> AppResult<()> {
        let risks: Vec<&risk::Model> = self.page.risks.iter().map(|(_, r)| r).collect();
        ctx.loaders()?.prefetch(&risks, &Wants::of(selection)).await
    }
}

#[Object]
impl RiskConnection {
    async fn edges(&self, ctx: &Context<'_>) -> AppResult<Vec<RiskEdge>> {
        self.prefetched(ctx, &ctx.look_ahead().field("node"))
            .await?;
        Ok(self
            .page
            .risks
            .iter()
            .map(|(cursor, r)| RiskEdge {
                cursor: cursor.clone(),
                node: Risk(r.clone()),
            })
            .collect())
    }
    async fn nodes(&self, ctx: &Context<'_>) -> AppResult<Vec<Risk>> {
        self.prefetched(ctx, &ctx.look_ahead()).await?;
        Ok(self
            .page
            .risks
            .iter()
            .map(|(_, r)| Risk(r.clone()))
            .collect())
    }
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.page.has_next,
            has_previous_page: self.page.has_previous,
            start_cursor: self.page.risks.first().map(|(c, _)| c.clone()),
            end_cursor: self.page.risks.last().map(|(c, _)| c.clone()),
        }
    }
    /// Every risk that matches the filter, on all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i64> {
        let n = risk_query::count(&ctx.services()?.db, self.condition.clone()).await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

pub async fn risk_connection(
    ctx: &Context<'_>,
    filter: RiskFilter,
    search: Option<String>,
    order_by: Option<Vec<RiskOrder>>,
    args: risk_query::PageArgs,
) -> AppResult<RiskConnection> {
    let actor = ctx.actor(Role::Viewer)?;
    if let Some(search) = &search {
        validation::bounded("search", search, validation::SEARCH_MAX)?;
    }
    let condition = risk_query::condition(actor.org_id(), &filter, search.as_deref());
    let page = risk_query::page(
        actor.db,
        condition.clone(),
        order_by.as_deref().unwrap_or_default(),
        args,
        &ctx.services()?.limits,
    )
    .await?;
    Ok(RiskConnection { page, condition })
}

#[derive(Default)]
pub struct RiskQuery;

#[Object]
impl RiskQuery {
    /// The organization's changes, oldest first, of one register or risk
    /// when given.
    async fn risk_events(
        &self,
        ctx: &Context<'_>,
        register_id: Option<ID>,
        risk_id: Option<ID>,
        after: Option<String>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
    ) -> AppResult<RiskEventConnection> {
        let (register, risk) = (
            register_id.as_ref().map(|id| id.as_str()),
            risk_id.as_ref().map(|id| id.as_str()),
        );
        events_page(ctx, register, risk, after.as_deref(), first).await
    }

    async fn risk(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Viewer)?;
        match store::find::<risk::Entity>(actor.db, actor.org_id(), &id).await {
            Ok(r) => Ok(Some(Risk(r))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Risks across the organization's registers: filter, search (identifier,
    /// title, description), order by several keys, page either way.
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
        let args = risk_query::PageArgs {
            first,
            after,
            last,
            before,
        };
        risk_connection(ctx, filter.unwrap_or_default(), search, order_by, args).await
    }
}

#[derive(Default)]
pub struct RiskMutation;

#[Object]
impl RiskMutation {
    async fn create_risk(
        &self,
        ctx: &Context<'_>,
        input: CreateRiskInput,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Risk(store::risks::create(actor, input).await?)))
    }

    /// Changes only the fields given; null clears. With expectedVersion, a
    /// risk changed meanwhile gives CONFLICT and nothing is written.
    async fn update_risk(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: RiskPatch,
        expected_version: Option<i32>,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        let cause = (RiskEventKind::Updated, ChangeCause::RiskUpdated);
        let saved = store::risks::update(actor, &id, input, expected_version, cause).await?;
        Ok(Some(Risk(saved)))
    }

    /// Sets status ARCHIVED: the risk leaves lists and heatmaps unless asked for.
    async fn archive_risk(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Risk(store::risks::archive(actor, &id).await?)))
    }

    /// Deletes a risk for good; its history stays in the change feed.
    async fn delete_risk(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ID>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(ID(store::risks::delete(actor, &id).await?)))
    }
}
