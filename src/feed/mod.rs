//! The change feed: one dispatcher per process tails `risk_events` by seq and
//! fans events out through a broadcast channel; subscribers resume from a
//! cursor and catch up from the table when they fall behind.
//!
//! Seq order is commit order: on PostgreSQL every transaction that appends
//! events takes one advisory lock first (see `store::events`), so the tail
//! never passes a seq whose transaction is still in flight.

pub mod listen;

use crate::error::{AppError, AppResult};
use entity::risk_event;
use futures_util::Stream;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

pub type Event = Arc<risk_event::Model>;

const BATCH: u64 = 500;

/// The process's feed: the dispatcher's state and the channel subscribers
/// read.
pub struct Feed {
    db: DatabaseConnection,
    sender: broadcast::Sender<Event>,
    wake: Notify,
    /// The last seq broadcast.
    head: AtomicI64,
    poll: Duration,
}

impl Feed {
    pub fn new(db: DatabaseConnection, capacity: usize, poll: Duration) -> Arc<Self> {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Arc::new(Self {
            db,
            sender,
            wake: Notify::new(),
            head: AtomicI64::new(0),
            poll,
        })
    }

    /// Something was committed: look at the table now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tails the table until `stop`: wakes on notify, and on a slow poll as
    /// a safety net for wake-ups lost to another instance or a dropped
    /// LISTEN connection.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut last: i64 = latest_seq(&self.db).await.unwrap_or_default();
        self.head.store(last, Ordering::SeqCst);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => return,
            }
            loop {
                let batch = match after(&self.db, last, None, None).await {
                    Ok(batch) => batch,
                    Err(_) => break,
                };
                let full = batch.len() as u64 == BATCH;
                for event in batch {
                    last = event.seq;
                    self.head.store(last, Ordering::SeqCst);
                    // No receivers is fine: nobody is listening yet.
                    let _ = self.sender.send(Arc::new(event));
                }
                if !full {
                    break;
                }
            }
        }
    }
}

async fn latest_seq(db: &DatabaseConnection) -> AppResult<i64> {
    let seq: Option<Option<i64>> = risk_event::Entity::find()
        .select_only()
        .column_as(risk_event::Column::Seq.max(), "seq")
        .into_tuple()
        .one(db)
        .await?;
    Ok(seq.flatten().unwrap_or(0))
}

/// Up to a batch of events after `seq`, oldest first, of one organization
/// (and register) when given.
async fn after(
    db: &DatabaseConnection,
    seq: i64,
    org_id: Option<&str>,
    register_id: Option<&str>,
) -> AppResult<Vec<risk_event::Model>> {
    let mut query = risk_event::Entity::find().filter(risk_event::Column::Seq.gt(seq));
    if let Some(org) = org_id {
        query = query.filter(risk_event::Column::OrgId.eq(org));
    }
    if let Some(register) = register_id {
        query = query.filter(risk_event::Column::RegisterId.eq(register));
    }
    Ok(query
        .order_by_asc(risk_event::Column::Seq)
        .limit(BATCH)
        .all(db)
        .await?)
}

/// A cursor as the API gives it: the seq, as a string.
pub fn parse_cursor(field: &str, cursor: &str) -> AppResult<i64> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| AppError::bad_input(field, "not a change feed cursor"))
}

/// Whom a subscription is for.
#[derive(Clone)]
pub struct Scope {
    pub org_id: String,
    pub register_id: Option<String>,
}

impl Scope {
    fn wants(&self, event: &risk_event::Model) -> bool {
        event.org_id == self.org_id
            && self
                .register_id
                .as_ref()
                .is_none_or(|r| *r == event.register_id)
    }
}

/// Every event of `scope` after `cursor` (or from now), oldest first, with
/// no gap and no duplicate: the channel is joined before the table is read,
/// and anything at or below the last seq delivered is dropped. A subscriber
/// that falls behind the channel is caught up from the table.
pub fn subscribe(
    feed: Arc<Feed>,
    scope: Scope,
    cursor: Option<i64>,
) -> impl Stream<Item = AppResult<Event>> {
    async_stream::try_stream! {
        let mut receiver = feed.sender.subscribe();
        let mut last = match cursor {
            Some(seq) => seq,
            None => feed.head.load(Ordering::SeqCst),
        };
        let mut replay = cursor.is_some();
        loop {
            if replay {
                loop {
                    let batch = after(&feed.db, last, Some(&scope.org_id), scope.register_id.as_deref()).await?;
                    let full = batch.len() as u64 == BATCH;
                    for event in batch {
                        last = event.seq;
                        yield Arc::new(event);
                    }
                    if !full {
                        break;
                    }
                }
                replay = false;
            }
            match receiver.recv().await {
                Ok(event) => {
                    if event.seq <= last {
                        continue;
                    }
                    last = event.seq;
                    if scope.wants(&event) {
                        yield event;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => replay = true,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}
