//! The history of risks as the API shows it: events with field-level
//! changes, paged by cursor, and the residual changes subscribers receive.

use super::ContextExt;
use super::risks::{PageInfo, Risk};
use super::scores::{RiskScore, risk_score};
use super::viewer::{Member, member};
use crate::domain::date::Timestamp;
use crate::domain::enums::{ChangeCause, RiskEventKind};
use crate::domain::history::FieldChange as Change;
use crate::domain::scoring::Score;
use crate::error::AppResult;
use crate::feed::{Event, parse_cursor};
use crate::store::history::{self, Selection};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use serde_json::Value;

/// The risk an event is about, as it is now; None once deleted.
async fn risk_now(ctx: &Context<'_>, event: &Event) -> AppResult<Option<Risk>> {
    let risk = ctx.loaders()?.risks.load_one(event.risk_id.clone()).await?;
    Ok(risk.map(Risk))
}

pub struct RiskEvent(pub Event);

/// One change to a risk, as recorded in the transaction that made it.
#[Object]
impl RiskEvent {
    /// Monotonic position in the change feed; pass as `after` to resume.
    fn cursor(&self) -> String {
        self.0.seq.to_string()
    }
    /// What the change did.
    fn kind(&self) -> AppResult<RiskEventKind> {
        RiskEventKind::from_stored(&self.0.kind)
    }
    /// What caused it.
    fn cause(&self) -> AppResult<ChangeCause> {
        ChangeCause::from_stored(&self.0.cause)
    }
    /// The risk, even after it is deleted.
    fn risk_id(&self) -> ID {
        ID(self.0.risk_id.clone())
    }
    /// The risk's register.
    fn register_id(&self) -> ID {
        ID(self.0.register_id.clone())
    }
    /// Current state; null once deleted.
    async fn risk(&self, ctx: &Context<'_>) -> AppResult<Option<Risk>> {
        risk_now(ctx, &self.0).await
    }
    /// Who made the change.
    async fn actor(&self, ctx: &Context<'_>) -> AppResult<Option<Member>> {
        member(ctx, self.0.actor_id.as_ref()).await
    }
    /// When the change committed.
    fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
    /// Every field that changed, custom fields (`customFields.<name>`) and
    /// control links (`controls.<identifier>`) included.
    fn changes(&self) -> AppResult<Vec<FieldChange>> {
        let changes: Vec<Change> = serde_json::from_str(&self.0.changes)?;
        Ok(changes
            .into_iter()
            .map(|c| FieldChange {
                field: c.field,
                from: (!c.from.is_null()).then_some(Json(c.from)),
                to: (!c.to.is_null()).then_some(Json(c.to)),
            })
            .collect())
    }
}

/// A field's value before and after a change.
#[derive(SimpleObject)]
pub struct FieldChange {
    /// The API name of the field, e.g. `impactLevel`, `customFields.Unit` or `controls.C-12`.
    pub field: String,
    /// The value before, as JSON; null when it was not set.
    pub from: Option<Json<Value>>,
    /// The value after, as JSON; null when it is cleared.
    pub to: Option<Json<Value>>,
}

/// An event and its cursor.
#[derive(SimpleObject)]
pub struct RiskEventEdge {
    /// The event's position in the feed; pass as `after` to resume.
    pub cursor: String,
    /// The event.
    pub node: RiskEvent,
}

/// A page of events, oldest first.
#[derive(SimpleObject)]
pub struct RiskEventConnection {
    /// The events with their cursors.
    pub edges: Vec<RiskEventEdge>,
    /// The events, without cursors.
    pub nodes: Vec<RiskEvent>,
    /// Where the page sits.
    pub page_info: PageInfo,
}

/// A page of the caller's events, by register or risk.
pub async fn events_page(
    ctx: &Context<'_>,
    register_id: Option<&str>,
    risk_id: Option<&str>,
    after: Option<&str>,
    first: Option<i32>,
) -> AppResult<RiskEventConnection> {
    let actor = ctx.viewer()?;
    let first = super::page_size(ctx, first, 100)?;
    let after = after.map(|a| parse_cursor("after", a)).transpose()?;
    let selection = Selection {
        org_id: actor.org_id(),
        register_id,
        risk_id,
        after,
        first,
        settled: ctx.services()?.feed.head(),
    };
    let (rows, more) = history::page(actor.db, selection).await?;
    let events: Vec<Event> = rows.into_iter().map(std::sync::Arc::new).collect();
    Ok(RiskEventConnection {
        page_info: PageInfo {
            has_next_page: more,
            has_previous_page: after.is_some_and(|a| a > 0),
            start_cursor: events.first().map(|e| e.seq.to_string()),
            end_cursor: events.last().map(|e| e.seq.to_string()),
        },
        edges: events
            .iter()
            .map(|e| RiskEventEdge {
                cursor: e.seq.to_string(),
                node: RiskEvent(e.clone()),
            })
            .collect(),
        nodes: events.into_iter().map(RiskEvent).collect(),
    })
}

pub struct ResidualRiskChange(pub Event);

impl ResidualRiskChange {
    async fn score(&self, ctx: &Context<'_>, stored: Option<&str>) -> AppResult<Option<RiskScore>> {
        let Some(stored) = stored else {
            return Ok(None);
        };
        let score: Score = serde_json::from_str(stored)?;
        let register = ctx
            .loaders()?
            .registers
            .load_one(self.0.register_id.clone())
            .await?;
        let Some(register) = register else {
            return Ok(None);
        };
        Ok(Some(risk_score(&register.scales, score)))
    }
}

/// A move of a risk's residual score or levels.
#[Object]
impl ResidualRiskChange {
    /// Position in the change feed; pass as `after` to resume.
    fn cursor(&self) -> String {
        self.0.seq.to_string()
    }
    /// What caused the move.
    fn cause(&self) -> AppResult<ChangeCause> {
        ChangeCause::from_stored(&self.0.cause)
    }
    /// The risk that moved.
    fn risk_id(&self) -> ID {
        ID(self.0.risk_id.clone())
    }
    /// Its register.
    fn register_id(&self) -> ID {
        ID(self.0.register_id.clone())
    }
    /// Current state; null once deleted.
    async fn risk(&self, ctx: &Context<'_>) -> AppResult<Option<Risk>> {
        risk_now(ctx, &self.0).await
    }
    /// The residual score before the change; null when it had none.
    async fn previous(&self, ctx: &Context<'_>) -> AppResult<Option<RiskScore>> {
        self.score(ctx, self.0.residual_before.as_deref()).await
    }
    /// The residual score after the change; null when it has none.
    async fn current(&self, ctx: &Context<'_>) -> AppResult<Option<RiskScore>> {
        self.score(ctx, self.0.residual_after.as_deref()).await
    }
    /// When the change committed.
    fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
}
