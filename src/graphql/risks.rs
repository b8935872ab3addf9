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
use crate::error::{AppError, AppResult};
use crate::store::{self, risk_query};
use async_graphql::{Context, ID, Lookahead, Object, SimpleObject};
use entity::risk;
use std::sync::Arc;

pub struct Risk(pub Arc<risk::Model>);

impl From<risk::Model> for Risk {
    fn from(risk: risk::Model) -> Self {
        Self(Arc::new(risk))
    }
}

impl Risk {
    async fn register_of(&self, ctx: &Context<'_>) -> AppResult<Register> {
        let found = ctx
            .loaders()?
            .registers
            .load_one(self.0.register_id.clone())
            .await?;
        found.ok_or_else(|| AppError::not_found("register"))
    }

    async fn score(&self, ctx: &Context<'_>, which: Stored) -> AppResult<Option<RiskScore>> {
        let register = self.register_of(ctx).await?;
        Ok(stored_score(&self.0, which, &register.scales).map(|s| risk_score(&register.scales, s)))
    }
}

/// A risk in a register, with its inherent and residual scores.
#[Object]
impl Risk {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Unique in its register: generated from the register prefix (RA-7) unless given.
    fn identifier(&self) -> &str {
        &self.0.identifier
    }
    /// The register the risk belongs to.
    async fn register(&self, ctx: &Context<'_>) -> AppResult<Register> {
        self.register_of(ctx).await
    }
    /// 1 to 128 characters.
    fn title(&self) -> &str {
        &self.0.title
    }
    /// Free text; null when none.
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Free-form grouping; null when none.
    fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// The department concerned; null when none.
    fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    /// Where the risk stands.
    fn status(&self) -> AppResult<RiskStatus> {
        RiskStatus::from_stored(&self.0.status)
    }
    /// How far it has come through review.
    fn stage(&self) -> AppResult<RiskStage> {
        RiskStage::from_stored(&self.0.stage)
    }
    /// Why it was closed; null unless CLOSED with a reason.
    fn closure_reason(&self) -> AppResult<Option<ClosureReason>> {
        self.0
            .closure_reason
            .as_deref()
            .map(ClosureReason::from_stored)
            .transpose()
    }
    /// Set when the risk is CLOSED.
    fn closed_at(&self) -> Option<Timestamp> {
        self.0.closed_at.map(Timestamp)
    }
    /// Minutes from creation to closing.
    fn resolution_duration_minutes(&self) -> Option<i32> {
        self.0.closed_at.map(|closed| {
            i32::try_from((closed - self.0.created_at).num_minutes()).unwrap_or(i32::MAX)
        })
    }
    /// The risk's severity; null when none is set.
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
    /// The member who owns the risk; null when none.
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.owner_id.as_ref()).await
    }
    /// 0-based level on the register's likelihood scale.
    fn likelihood_level(&self) -> Option<i32> {
        self.0.likelihood_level
    }
    /// 0-based level on the register's impact scale.
    fn impact_level(&self) -> Option<i32> {
        self.0.impact_level
    }
    /// Why this likelihood; null when none.
    fn likelihood_rationale(&self) -> Option<&str> {
        self.0.likelihood_rationale.as_deref()
    }
    /// Why this impact; null when none.
    fn impact_rationale(&self) -> Option<&str> {
        self.0.impact_rationale.as_deref()
    }
    /// A likelihood level that replaces the computed residual one; null when not overridden.
    fn residual_likelihood_override(&self) -> Option<i32> {
        self.0.residual_likelihood_override
    }
    /// An impact level that replaces the computed residual one; null when not overridden.
    fn residual_impact_override(&self) -> Option<i32> {
        self.0.residual_impact_override
    }
    /// Why the residual is overridden; kept when an override is cleared.
    fn residual_override_reason(&self) -> Option<&str> {
        self.0.residual_override_reason.as_deref()
    }
    /// Who last set or cleared an override; null when nobody has.
    async fn residual_overridden_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.residual_overridden_by.as_ref()).await
    }
    /// When an override was last set or cleared; null when never.
    fn residual_overridden_at(&self) -> Option<Timestamp> {
        self.0.residual_overridden_at.map(Timestamp)
    }
    /// The highest residual band level the organization accepts for this risk.
    fn tolerance_level(&self) -> Option<i32> {
        self.0.tolerance_level
    }
    /// How the organization responds to the risk.
    fn treatment(&self) -> AppResult<TreatmentStrategy> {
        TreatmentStrategy::from_stored(&self.0.treatment)
    }
    /// What the treatment does; null when none.
    fn treatment_description(&self) -> Option<&str> {
        self.0.treatment_description.as_deref()
    }
    /// Why this treatment; null when none.
    fn treatment_rationale(&self) -> Option<&str> {
        self.0.treatment_rationale.as_deref()
    }
    /// The date by which the risk should be within tolerance; null when none.
    fn mitigation_target_at(&self) -> Option<Date> {
        self.0.mitigation_target_at.map(Date)
    }
    /// Free text; null when none.
    fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// The system the risk comes from; null when none.
    fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// Its id in that system; null when none.
    fn source_id(&self) -> Option<&str> {
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
    fn within_tolerance(&self) -> Option<bool> {
        self.0.within_tolerance
    }
    /// The risk's changes, oldest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events, oldest first; 100 when not given, at most 500.")]
        first: Option<i32>,
        #[graphql(desc = "A cursor of an earlier event: return the events after it.")]
        after: Option<String>,
    ) -> AppResult<RiskEventConnection> {
        // Boxed: the largest future of all the fields, which every field of a
        // risk would otherwise carry (see `Primed::load_one`).
        Box::pin(events_page(
            ctx,
            None,
            Some(&self.0.id),
            after.as_deref(),
            first,
        ))
        .await
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
    /// Values of the register's custom fields that are set.
    async fn custom_fields(&self, ctx: &Context<'_>) -> AppResult<Vec<CustomFieldValue>> {
        let values = ctx.loaders()?.values.load_one(self.0.id.clone()).await?;
        Ok(values
            .unwrap_or_default()
            .into_iter()
            .map(CustomFieldValue)
            .collect())
    }
    /// Grows by one with every change; pass as expectedVersion to update safely.
    fn version(&self) -> i32 {
        self.0.version
    }
    /// When the risk was created.
    fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// Who created it; null when unknown.
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.created_by.as_ref()).await
    }
    /// When the risk last changed (scores moved by controls or scales included).
    fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    /// Who made the last change; null when unknown.
    async fn updated_by(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.updated_by.as_ref()).await
    }
}

/// Where a page sits in its connection.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow the end cursor.
    pub has_next_page: bool,
    /// Items come before the start cursor.
    pub has_previous_page: bool,
    /// The first item's cursor; null on an empty page.
    pub start_cursor: Option<String>,
    /// The last item's cursor; null on an empty page.
    pub end_cursor: Option<String>,
}

/// A risk and its cursor.
#[derive(SimpleObject)]
pub struct RiskEdge {
    /// Pass as `after` or `before` to page from this risk; opaque.
    pub cursor: String,
    /// The risk.
    pub node: Risk,
}

pub struct RiskConnection {
    page: risk_query::Page,
    condition: sea_orm::Condition,
}

impl RiskConnection {
    /// Prefetches what the selection under each risk (`selection`) refers to.
    async fn prefetched(&self, ctx: &Context<'_>, selection: &Lookahead<'_>) -> AppResult<()> {
        let risks: Vec<&risk::Model> = self.page.risks.iter().map(|r| r.as_ref()).collect();
        ctx.loaders()?.prefetch(&risks, &Wants::of(selection)).await
    }
}

/// A page of risks. `totalCount` is counted only when asked for.
#[Object]
impl RiskConnection {
    /// The risks with their cursors.
    async fn edges(&self, ctx: &Context<'_>) -> AppResult<Vec<RiskEdge>> {
        self.prefetched(ctx, &ctx.look_ahead().field("node"))
            .await?;
        Ok(self
            .page
            .risks
            .iter()
            .map(|r| RiskEdge {
                cursor: self.page.cursor(r),
                node: Risk(Arc::clone(r)),
            })
            .collect())
    }
    /// The risks, without cursors.
    async fn nodes(&self, ctx: &Context<'_>) -> AppResult<Vec<Risk>> {
        self.prefetched(ctx, &ctx.look_ahead()).await?;
        Ok(self
            .page
            .risks
            .iter()
            .map(|r| Risk(Arc::clone(r)))
            .collect())
    }
    /// Where the page sits.
    fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.page.has_next,
            has_previous_page: self.page.has_previous,
            start_cursor: self.page.risks.first().map(|r| self.page.cursor(r)),
            end_cursor: self.page.risks.last().map(|r| self.page.cursor(r)),
        }
    }
    /// Every risk that matches the filter, on all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i64> {
        let n = risk_query::count(&ctx.services()?.reader, self.condition.clone()).await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// The columns of `risks` that each field of `Risk` reads, besides the ids
/// every risk carries (see `risk_query::read_for`); None for a field not
/// listed, which makes its page read whole rows. A page reads only what
/// its fields need, so a field that reads a column must list it here:
/// `a_page_answers_each_field_as_whole_rows_do` holds every field to it.
fn columns_read(field: &str) -> Option<&'static [risk::Column]> {
    use risk::Column as C;
    Some(match field {
        "__typename" | "id" | "register" | "history" | "controls" | "customFields" => &[],
        "identifier" => &[C::Identifier],
        "title" => &[C::Title],
        "description" => &[C::Description],
        "category" => &[C::Category],
        "department" => &[C::Department],
        "status" => &[C::Status],
        "stage" => &[C::Stage],
        "closureReason" => &[C::ClosureReason],
        "closedAt" => &[C::ClosedAt],
        "resolutionDurationMinutes" => &[C::ClosedAt, C::CreatedAt],
        "severity" => &[C::SeverityId],
        "owner" => &[C::OwnerId],
        "likelihoodLevel" => &[C::LikelihoodLevel],
        "impactLevel" => &[C::ImpactLevel],
        "likelihoodRationale" => &[C::LikelihoodRationale],
        "impactRationale" => &[C::ImpactRationale],
        "residualLikelihoodOverride" => &[C::ResidualLikelihoodOverride],
        "residualImpactOverride" => &[C::ResidualImpactOverride],
        "residualOverrideReason" => &[C::ResidualOverrideReason],
        "residualOverriddenBy" => &[C::ResidualOverriddenBy],
        "residualOverriddenAt" => &[C::ResidualOverriddenAt],
        "toleranceLevel" => &[C::ToleranceLevel],
        "treatment" => &[C::Treatment],
        "treatmentDescription" => &[C::TreatmentDescription],
        "treatmentRationale" => &[C::TreatmentRationale],
        "mitigationTargetAt" => &[C::MitigationTargetAt],
        "notes" => &[C::Notes],
        "source" => &[C::Source],
        "sourceId" => &[C::SourceId],
        "inherent" => &[
            C::LikelihoodLevel,
            C::ImpactLevel,
            C::InherentScore,
            C::InherentBand,
        ],
        "residual" => &[
            C::ResidualLikelihoodLevel,
            C::ResidualImpactLevel,
            C::ResidualLikelihoodValue,
            C::ResidualImpactValue,
            C::ResidualScore,
            C::ResidualBand,
            C::ResidualOverridden,
        ],
        "targetResidual" => &[
            C::TargetLikelihoodLevel,
            C::TargetImpactLevel,
            C::TargetLikelihoodValue,
            C::TargetImpactValue,
            C::TargetScore,
            C::TargetBand,
        ],
        "withinTolerance" => &[C::WithinTolerance],
        "version" => &[C::Version],
        "createdAt" => &[C::CreatedAt],
        "createdBy" => &[C::CreatedBy],
        "updatedAt" => &[C::UpdatedAt],
        "updatedBy" => &[C::UpdatedBy],
        _ => return None,
    })
}

/// The columns the risks under a connection's selection read (its `nodes`
/// and `edges { node }`); None when some field needs whole rows.
fn columns_asked(connection: &Lookahead<'_>) -> Option<Vec<risk::Column>> {
    let risks = [
        connection.field("nodes"),
        connection.field("edges").field("node"),
    ];
    let mut asked = Vec::new();
    for selection in risks.iter().flat_map(Lookahead::selection_fields) {
        for field in selection.selection_set() {
            asked.extend_from_slice(columns_read(field.name())?);
        }
    }
    Some(asked)
}

pub async fn risk_connection(
    ctx: &Context<'_>,
    filter: RiskFilter,
    search: Option<String>,
    order_by: Option<Vec<RiskOrder>>,
    args: risk_query::PageArgs,
) -> AppResult<RiskConnection> {
    let actor = ctx.viewer()?;
    let condition = risk_query::condition(
        actor.org_id(),
        actor.now.date_naive(),
        &filter,
        search.as_deref(),
    )?;
    let selection = ctx.look_ahead();
    let asked = columns_asked(&selection);
    let shown = ["nodes", "edges", "pageInfo"]
        .iter()
        .any(|field| selection.field(field).exists());
    let page = risk_query::page(
        actor.db,
        condition.clone(),
        (asked.as_deref(), shown),
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
        #[graphql(desc = "Only this register's events.")] register_id: Option<ID>,
        #[graphql(desc = "Only this risk's events.")] risk_id: Option<ID>,
        #[graphql(desc = "A cursor of an earlier event: return the events after it.")]
        after: Option<String>,
        #[graphql(
            default_with = "Some(100)",
            desc = "How many events; 100 when not given, at most 500."
        )]
        first: Option<i32>,
    ) -> AppResult<RiskEventConnection> {
        let (register, risk) = (
            register_id.as_ref().map(|id| id.as_str()),
            risk_id.as_ref().map(|id| id.as_str()),
        );
        events_page(ctx, register, risk, after.as_deref(), first).await
    }

    /// A risk by ID; null when it does not exist for the caller.
    async fn risk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk's global ID.")] id: ID,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.viewer()?;
        let found = store::find_optional::<risk::Entity>(actor.db, actor.org_id(), &id).await?;
        Ok(found.map(Risk::from))
    }

    /// Risks across the organization's registers: filter, search (identifier,
    /// title, description), order by several keys, page either way.
    #[expect(clippy::too_many_arguments, reason = "the Relay connection arguments")]
    async fn risks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which risks; all the caller's non-archived risks when null.")]
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
    /// Creates a risk, scored on its register's scales. Editors and admins.
    async fn create_risk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new risk.")] input: CreateRiskInput,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Risk::from(store::risks::create(actor, input).await?)))
    }

    /// Changes only the fields given; null clears. With expectedVersion, a
    /// risk changed meanwhile gives CONFLICT and nothing is written.
    async fn update_risk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk to change.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: RiskPatch,
        #[graphql(desc = "Refuse with CONFLICT unless the risk is at this version.")]
        expected_version: Option<i32>,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        let cause = (RiskEventKind::Updated, ChangeCause::RiskUpdated);
        let saved = store::risks::update(actor, &id, input, expected_version, cause).await?;
        Ok(Some(Risk::from(saved)))
    }

    /// Changes the same fields of many risks, by the rules of updateRisk, in
    /// one transaction: every risk changes (each with its event) or none
    /// does. At most 500 risks. Answers the risks in the order of `ids`.
    async fn bulk_update_risks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risks to change; at most 500, each once.")] ids: Vec<ID>,
        #[graphql(desc = "The fields to change, the same for every risk.")] input: RiskPatch,
        #[graphql(
            desc = "Refuse with CONFLICT, changing nothing, unless each risk is at the version given for it, in the order of `ids`."
        )]
        expected_versions: Option<Vec<i32>>,
    ) -> AppResult<Vec<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        let ids: Vec<String> = ids.into_iter().map(|id| id.0).collect();
        let saved =
            store::risks::bulk_update(actor, &ids, input, expected_versions.as_deref()).await?;
        Ok(saved.into_iter().map(Risk::from).collect())
    }

    /// Sets status ARCHIVED: the risk leaves lists and heatmaps unless asked for.
    async fn archive_risk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk to archive.")] id: ID,
    ) -> AppResult<Option<Risk>> {
        let actor = ctx.actor(Role::Editor)?;
        Ok(Some(Risk::from(store::risks::archive(actor, &id).await?)))
    }

    /// Deletes a risk for good; its history stays in the change feed.
    async fn delete_risk(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The risk to delete.")] id: ID,
    ) -> AppResult<Option<ID>> {
        let actor = ctx.actor(Role::Admin)?;
        Ok(Some(ID(store::risks::delete(actor, &id).await?)))
    }
}
