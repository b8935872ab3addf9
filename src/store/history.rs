//! Reading the history: risk_events pages, oldest first.

use crate::error::AppResult;
use entity::risk_event;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// Which events to read.
pub struct Selection<'a> {
    pub org_id: &'a str,
    pub register_id: Option<&'a str>,
    pub risk_id: Option<&'a str>,
    pub after: Option<i64>,
    pub first: u64,
    /// The change feed's head: no seq up to it is still in flight.
    pub settled: i64,
}

/// The last seq of the unbroken run after `settled`: past a hole, a seq may
/// still be in flight, and a cursor beyond it would skip that event once it
/// commits. Only PostgreSQL commits out of seq order.
async fn visible_through(db: &impl ConnectionTrait, settled: i64) -> AppResult<Option<i64>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let seqs: Vec<i64> = risk_event::Entity::find()
        .select_only()
        .column(risk_event::Column::Seq)
        .filter(risk_event::Column::Seq.gt(settled))
        .order_by_asc(risk_event::Column::Seq)
        .limit(1000)
        .into_tuple()
        .all(db)
        .await?;
    let run = seqs
        .iter()
        .zip(settled + 1..)
        .take_while(|(seq, expected)| **seq == *expected)
        .count();
    Ok(Some(settled + run as i64))
}

/// Up to `first` events after the cursor, and whether more follow.
pub async fn page(
    db: &impl ConnectionTrait,
    s: Selection<'_>,
) -> AppResult<(Vec<risk_event::Model>, bool)> {
    let mut query = risk_event::Entity::find().filter(risk_event::Column::OrgId.eq(s.org_id));
    if let Some(register) = s.register_id {
        query = query.filter(risk_event::Column::RegisterId.eq(register));
    }
    if let Some(risk) = s.risk_id {
        query = query.filter(risk_event::Column::RiskId.eq(risk));
    }
    if let Some(after) = s.after {
        query = query.filter(risk_event::Column::Seq.gt(after));
    }
    // One risk's events need no bound: each writer holds the risk's row
    // while it takes seqs, so they commit in seq order.
    if s.risk_id.is_none()
        && let Some(through) = visible_through(db, s.settled).await?
    {
        query = query.filter(risk_event::Column::Seq.lte(through));
    }
    let mut rows = query
        .order_by_asc(risk_event::Column::Seq)
        .limit(s.first + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > s.first;
    rows.truncate(usize::try_from(s.first).unwrap_or(usize::MAX));
    Ok((rows, more))
}
