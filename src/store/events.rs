//! The outbox: every change to a risk appends its event here, in the
//! transaction of the change, so committed state and feed never disagree.

use super::{Binder, ROWS_PER_STATEMENT};
use crate::domain::enums::{ChangeCause, RiskEventKind};
use crate::domain::history::FieldChange;
use crate::domain::risk::heatmap_cells;
use crate::domain::scoring::Score;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{risk, risk_event};
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait};
use std::collections::BTreeMap;

pub struct NewEvent<'a> {
    pub risk: &'a risk::Model,
    /// The risk before the change; None for a creation.
    pub before: Option<&'a risk::Model>,
    pub kind: RiskEventKind,
    pub cause: ChangeCause,
    pub actor_id: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    pub residual_before: Option<Score>,
    pub residual_after: Option<Score>,
}

/// Any constant: the one lock every event-writing transaction takes.
const FEED_LOCK: i64 = 0x7269_736b_6772_6170;

/// Moves the heatmap cell counts by what the events did: each risk leaves
/// the cells it was in and enters those it is in now. One upsert per chunk,
/// in key order; taken under the feed lock, so writers never wait on each
/// other's cells in opposite orders.
async fn count_cells(db: &impl ConnectionTrait, events: &[NewEvent<'_>]) -> AppResult<()> {
    let mut deltas: BTreeMap<(&str, &str, (i32, i32)), i64> = BTreeMap::new();
    for e in events {
        for (risk, delta) in [
            (e.before, -1),
            ((e.kind != RiskEventKind::Deleted).then_some(e.risk), 1),
        ] {
            let Some(risk) = risk else { continue };
            for (basis, cell) in heatmap_cells(risk) {
                *deltas
                    .entry((risk.register_id.as_str(), basis.as_str(), cell))
                    .or_default() += delta;
            }
        }
    }
    deltas.retain(|_, delta| *delta != 0);
    let deltas: Vec<_> = deltas.into_iter().collect();
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut binder = Binder::new(db.get_database_backend());
        let rows: Vec<String> = chunk
            .iter()
            .map(|((register, basis, (l, i)), delta)| {
                let row = [
                    binder.bind(*register),
                    binder.bind(*basis),
                    binder.bind(*l),
                    binder.bind(*i),
                    binder.bind(*delta),
                ];
                format!("({})", row.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO risk_cell_counts (register_id, basis, likelihood, impact, count) \
             VALUES {} ON CONFLICT (register_id, basis, likelihood, impact) \
             DO UPDATE SET count = risk_cell_counts.count + excluded.count",
            rows.join(", ")
        );
        db.execute_raw(binder.statement(sql)).await?;
    }
    Ok(())
}

/// The PostgreSQL channel a commit with events notifies, so every
/// instance's feed reads them at once.
pub const CHANNEL: &str = "riskgraph_events";

/// Appends events in the caller's transaction. On PostgreSQL the transaction
/// first takes the feed lock, held until it commits, so seqs are handed out
/// in commit order and the dispatcher's tail never skips one still in
/// flight; and it NOTIFYs, which PostgreSQL delivers on commit to every
/// instance's dispatcher.
pub async fn append(db: &impl ConnectionTrait, events: Vec<NewEvent<'_>>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({FEED_LOCK})"))
            .await?;
    }
    count_cells(db, &events).await?;
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        rows.push(risk_event::ActiveModel {
            seq: NotSet,
            org_id: Set(e.risk.org_id.clone()),
            register_id: Set(e.risk.register_id.clone()),
            risk_id: Set(e.risk.id.clone()),
            kind: Set(e.kind.as_str().to_owned()),
            cause: Set(e.cause.as_str().to_owned()),
            actor_id: Set(e.actor_id.map(str::to_owned)),
            occurred_at: Set(e.at),
            changes: Set(serde_json::to_string(&e.changes)?),
            residual_before: Set(e
                .residual_before
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?),
            residual_after: Set(e
                .residual_after
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?),
        });
    }
    // A dozen values a row: chunks keep each statement under the bound
    // parameter limits of both databases.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        risk_event::Entity::insert_many(chunk).exec(db).await?;
    }
    if postgres {
        db.execute_unprepared(&format!("NOTIFY {}", CHANNEL))
            .await?;
    }
    Ok(())
}
