//! Subscriptions: the change feed as the API streams it. Each resumes from
//! `after` with nothing missed and nothing twice.

use super::ContextExt;
use super::heatmaps::{Heatmap, heatmap};
use super::history::{ResidualRiskChange, RiskEvent};
use super::registers::Register;
use crate::domain::enums::{RiskEventKind, ScoreBasis};
use crate::error::{AppError, AppResult};
use crate::feed::{self, Event, Scope, parse_cursor};
use crate::store;
use async_graphql::{Context, ID, Result, Subscription};
use entity::register;
use futures_util::{Stream, StreamExt};
use std::time::Duration;

/// Heatmaps are recomputed at most this often per subscription.
const HEATMAP_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct SubscriptionRoot;

/// The register, when one is named, must be the caller's. Callers box its
/// future: a resolver's state lives as long as its stream, and a database
/// read's is large.
async fn scope(
    ctx: &Context<'_>,
    register_id: Option<&ID>,
) -> AppResult<(Scope, Option<Register>)> {
    let principal = ctx.principal()?;
    // Read directly, not through the loaders: a subscription that waits
    // for events then holds none.
    let register = match register_id {
        Some(id) => {
            let model = store::find::<register::Entity>(
                &ctx.services()?.reader,
                &principal.org_id,
                id.as_str(),
            )
            .await?;
            Some(Register::new(model)?)
        }
        None => None,
    };
    Ok((
        Scope {
            org_id: principal.org_id.clone(),
            register_id: register.as_ref().map(|r| r.model.id.clone()),
        },
        register,
    ))
}

/// The caller's events from the feed; the stream owns what it needs.
async fn events(
    ctx: &Context<'_>,
    register_id: Option<&ID>,
    after: Option<&str>,
) -> AppResult<impl Stream<Item = AppResult<Event>> + Send + use<>> {
    let cursor = after.map(|a| parse_cursor("after", a)).transpose()?;
    let (scope, _) = Box::pin(scope(ctx, register_id)).await?;
    Ok(feed::subscribe(ctx.services()?.feed.clone(), scope, cursor))
}

/// Whether an event can change a heatmap: a risk came, went, moved cell or
/// changed status.
fn touches_heatmap(event: &Event) -> bool {
    event.kind != RiskEventKind::Updated.as_str()
        || ResidualRiskChange::moved(event)
        || ["\"status\"", "\"likelihoodLevel\"", "\"impactLevel\""]
            .iter()
            .any(|field| event.changes.contains(field))
}

/// Live changes over WebSocket (graphql-transport-ws), pushed as they commit.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every change to a risk, oldest first; with `after`, replays what was missed, then goes live with no gap and no duplicate.
    async fn risk_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this register's events; all of the organization's when null.")]
        register_id: Option<ID>,
        #[graphql(desc = "A cursor of an event already seen: replay what followed it first.")]
        after: Option<String>,
    ) -> Result<impl Stream<Item = AppResult<RiskEvent>>> {
        let stream = events(ctx, register_id.as_ref(), after.as_deref()).await?;
        Ok(stream.map(|e| e.map(RiskEvent)))
    }

    /// Only changes that move a risk's residual score or levels, whatever caused them.
    async fn residual_risk_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this register's risks; all of the organization's when null.")]
        register_id: Option<ID>,
        #[graphql(desc = "A cursor of a change already seen: replay what followed it first.")]
        after: Option<String>,
    ) -> Result<impl Stream<Item = AppResult<ResidualRiskChange>>> {
        let stream = events(ctx, register_id.as_ref(), after.as_deref()).await?;
        Ok(stream.filter_map(|e| async move {
            match e {
                Ok(e) if ResidualRiskChange::moved(&e) => Some(Ok(ResidualRiskChange(e))),
                Ok(_) => None,
                Err(err) => Some(Err(err)),
            }
        }))
    }

    /// The current heatmap at once, then again after each change to it (bursts coalesced).
    async fn heatmap_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The register.")] register_id: ID,
        #[graphql(
            default_with = "ScoreBasis::Residual",
            desc = "Place risks by inherent or residual levels."
        )]
        basis: ScoreBasis,
    ) -> Result<impl Stream<Item = AppResult<Heatmap>>> {
        let (scope, register) = Box::pin(scope(ctx, Some(&register_id))).await?;
        let register = register.ok_or_else(|| AppError::not_found("register"))?;
        let feed = ctx.services()?.feed.clone();
        Ok(async_stream::try_stream! {
            let changes = feed::subscribe(feed, scope, None);
            futures_util::pin_mut!(changes);
            yield heatmap(ctx, register.clone(), basis, None).await?;
            let mut sent = tokio::time::Instant::now();
            while let Some(event) = changes.next().await {
                if !touches_heatmap(&event?) {
                    continue;
                }
                // Coalesce a burst: wait out the interval, taking in what
                // arrives meanwhile, then send the state as it is now.
                let until = sent + HEATMAP_INTERVAL;
                let mut failed = None;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => break,
                        more = changes.next() => match more {
                            Some(Err(err)) => {
                                failed = Some(err);
                                break;
                            }
                            Some(Ok(_)) => {}
                            None => break,
                        },
                    }
                }
                if let Some(err) = failed {
                    Err(err)?;
                }
                yield heatmap(ctx, register.clone(), basis, None).await?;
                sent = tokio::time::Instant::now();
            }
        })
    }
}
