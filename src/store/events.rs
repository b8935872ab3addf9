//! The outbox: every change to a risk appends its event here, in the
//! transaction of the change, so committed state and feed never disagree.

use crate::domain::enums::{ChangeCause, RiskEventKind};
use crate::domain::history::FieldChange;
use crate::domain::scoring::Score;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{risk, risk_event};
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait};

pub struct NewEvent<'a> {
    pub risk: &'a risk::Model,
    pub kind: RiskEventKind,
    pub cause: ChangeCause,
    pub actor_id: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    pub residual_before: Option<Score>,
    pub residual_after: Option<Score>,
}

const EVENTS_PER_STATEMENT: usize = 2000;

/// Any constant: the one lock every event-writing transaction takes.
const FEED_LOCK: i64 = 0x7269_736b_6772_6170;

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
        let chunk: Vec<_> = rows.by_ref().take(EVENTS_PER_STATEMENT).collect();
        risk_event::Entity::insert_many(chunk).exec(db).await?;
    }
    if postgres {
        db.execute_unprepared(&format!("NOTIFY {}", CHANNEL))
            .await?;
    }
    Ok(())
}
