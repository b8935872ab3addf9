//! Reading the history: risk_events pages, oldest first.

use crate::error::AppResult;
use entity::risk_event;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Which events to read.
pub struct Selection<'a> {
    pub org_id: &'a str,
    pub register_id: Option<&'a str>,
    pub risk_id: Option<&'a str>,
    pub after: Option<i64>,
    pub first: u64,
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
    let mut rows = query
        .order_by_asc(risk_event::Column::Seq)
        .limit(s.first + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > s.first;
    rows.truncate(usize::try_from(s.first).unwrap_or(usize::MAX));
    Ok((rows, more))
}
