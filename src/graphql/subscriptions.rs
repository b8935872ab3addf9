//! Subscriptions: the change feed as the API streams it. Each resumes from
//! `after` with nothing missed and nothing twice.
//!
//! `web::multiplex` runs identical subscriptions once for all their
//! subscribers; what it needs to know of an execution, the resolvers tell it
//! through `Progress`, and a subscriber that falls behind continues alone
//! from where it was through `Resume`.

use super::ContextExt;
use super::heatmaps::{Heatmap, heatmap};
use super::history::{ResidualRiskChange, RiskEvent};
use super::loaders::kept_register;
use super::registers::Register;
use crate::domain::enums::ScoreBasis;
use crate::domain::history::Interest;
use crate::error::{AppError, AppResult};
use crate::feed::{self, Event, Scope, parse_cursor};
use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// Heatmaps are recomputed at most this often per subscription.
const HEATMAP_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct SubscriptionRoot;

/// Where an execution stands, for `web::multiplex`, which hands its results
/// to every subscriber of the same operation: a newcomer may take them from
/// now on only if the execution is live (no replay of the past in flight),
/// and, for a snapshot such as a heatmap, starts with the latest.
#[derive(Default)]
pub struct Progress {
    /// The seq of the last event read, 0 before the first.
    seq: AtomicI64,
    live: AtomicBool,
    snapshot: AtomicBool,
}

impl Progress {
    /// The seq of the last event read, if any.
    pub fn seq(&self) -> Option<i64> {
        Some(self.seq.load(Ordering::SeqCst)).filter(|&seq| seq > 0)
    }

    /// Every result from now on is what a subscriber starting now would
    /// get.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Each result is a whole state, so the latest one starts a newcomer.
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.load(Ordering::SeqCst)
    }
}

/// Start after this seq, whatever the operation's `after` says: a
/// subscriber that fell behind its shared execution continues alone from
/// the last event it got.
pub struct Resume(pub i64);

/// The register, when one is named, must be the caller's. Callers box its
/// future: a resolver's state lives as long as its stream, and a database
/// read's is large.
async fn scope(
    ctx: &Context<'_>,
    register_id: Option<&ID>,
    interest: Interest,
) -> AppResult<(Scope, Option<Register>)> {
    let principal = ctx.principal()?;
    let register = match register_id {
        Some(id) => Some(current(ctx, id.as_str()).await?),
        None => None,
    };
    Ok((
        Scope {
            org_id: principal.org_id.clone(),
            register_id: register.as_ref().map(|r| r.model.id.clone()),
            interest,
        },
        register,
    ))
}

/// The caller's register as it is now. Not through the request's loaders:
/// a subscription that waits for events then holds none.
async fn current(ctx: &Context<'_>, id: &str) -> AppResult<Register> {
    let (principal, services) = (ctx.principal()?, ctx.services()?);
    kept_register(&services.reader, &principal.org_id, &services.reference, id)
        .await?
        .ok_or_else(|| AppError::not_found("register"))
}

/// What woke a live heatmap.
enum Woke {
    /// A risk changed in a way that can move the map.
    Risk(AppResult<()>),
    /// Members, registers, severities or field definitions changed, here or
    /// on another instance: perhaps the map's register.
    Reference,
    Ended,
}

/// The caller's events of `interest` from the feed; the stream owns what it
/// needs.
async fn events(
    ctx: &Context<'_>,
    register_id: Option<&ID>,
    after: Option<&str>,
    interest: Interest,
) -> AppResult<impl Stream<Item = AppResult<Event>> + Send + use<>> {
    let mut cursor = after.map(|a| parse_cursor("after", a)).transpose()?;
    if let Some(Resume(seq)) = ctx.data_opt::<Resume>() {
        cursor = Some(*seq);
    }
    let (scope, _) = Box::pin(scope(ctx, register_id, interest)).await?;
    let progress = ctx.data_opt::<Arc<Progress>>().cloned();
    if let Some(progress) = &progress {
        progress.live.store(cursor.is_none(), Ordering::SeqCst);
    }
    let events = feed::subscribe(ctx.services()?.feed.clone(), scope, cursor);
    Ok(events.inspect(move |event| {
        if let (Some(progress), Ok(event)) = (&progress, event) {
            progress.seq.store(event.seq, Ordering::SeqCst);
        }
    }))
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
        let stream = events(ctx, register_id.as_ref(), after.as_deref(), Interest::Every).await?;
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
        let stream = events(
            ctx,
            register_id.as_ref(),
            after.as_deref(),
            Interest::Residual,
        )
        .await?;
        Ok(stream.map(|e| e.map(ResidualRiskChange)))
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
        let (scope, register) = Box::pin(scope(ctx, Some(&register_id), Interest::Heatmap)).await?;
        let mut register = register.ok_or_else(|| AppError::not_found("register"))?;
        let feed = ctx.services()?.feed.clone();
        let org = ctx.principal()?.org_id.clone();
        // Watched from before the first map is drawn: a change of scales
        // after it redraws the map.
        let mut reference = feed.reference_changes();
        let mut generation = feed.reference_generation(&org);
        if let Some(progress) = ctx.data_opt::<Arc<Progress>>() {
            progress.snapshot.store(true, Ordering::SeqCst);
            progress.live.store(true, Ordering::SeqCst);
        }
        Ok(async_stream::try_stream! {
            let changes = feed::subscribe(feed.clone(), scope, None);
            futures_util::pin_mut!(changes);
            yield heatmap(ctx, register.clone(), basis, None).await?;
            let mut sent = tokio::time::Instant::now();
            loop {
                let woke = tokio::select! {
                    event = changes.next() => event.map_or(Woke::Ended, |event| {
                        Woke::Risk(event.map(|_| ()))
                    }),
                    changed = reference.changed() => match changed {
                        Ok(()) => Woke::Reference,
                        Err(_) => Woke::Ended,
                    },
                };
                let redraw = match woke {
                    Woke::Ended => break,
                    Woke::Risk(event) => {
                        event?;
                        true
                    }
                    // Its scales, bands or name: drawn on the register as
                    // it is now. Another organization's change is not read.
                    Woke::Reference => {
                        let now = feed.reference_generation(&org);
                        let ours = now != generation;
                        generation = now;
                        ours && Box::pin(current(ctx, &register.model.id)).await?.model
                            != register.model
                    }
                };
                if !redraw {
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
                reference.mark_unchanged();
                generation = feed.reference_generation(&org);
                register = Box::pin(current(ctx, &register.model.id)).await?;
                yield heatmap(ctx, register.clone(), basis, None).await?;
                sent = tokio::time::Instant::now();
            }
        })
    }
}
