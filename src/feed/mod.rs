//! The change feed: one dispatcher per process tails `risk_events` by seq and
//! fans events out through a broadcast channel; subscribers resume from a
//! cursor and catch up from the table when they fall behind.
//!
//! Events go out in seq order with none skipped, though writers commit in
//! whatever order they finish: see `tail`. Each event wakes only the
//! subscribers that want it: see `routes`.

pub mod listen;
mod routes;
pub mod tail;

use crate::domain::history::Interest;
use crate::error::{AppError, AppResult};
use crate::store::{api_keys, events};
use entity::risk_event;
use futures_util::Stream;
use routes::Routes;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use std::time::Instant;
use tail::{Read, Seq, Tail};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{Mutex, Notify, broadcast, watch};

pub type Event = Arc<risk_event::Model>;

const BATCH: u64 = 500;

/// The process's feed: the dispatcher's state, the channel subscribers
/// read, and the signals that wake them.
pub struct Feed {
    db: DatabaseConnection,
    sender: broadcast::Sender<Event>,
    routes: Routes,
    wake: Notify,
    /// This process committed events since the table was last read: the
    /// other instances are told once it has been.
    committed: AtomicBool,
    /// The last seq broadcast: every seq up to it is either broadcast or
    /// will never exist.
    head: AtomicI64,
    poll: Duration,
    /// Only the dispatcher moves it.
    tail: Mutex<Tail>,
    /// Ids of API keys revoked here or on another instance.
    revocations: broadcast::Sender<String>,
    /// Moves on every change to the rows pages refer to (see
    /// `reference_changed`), in any organization; live heatmaps watch it
    /// for their register's.
    reference: watch::Sender<Generations>,
}

/// How many changes to reference rows this process has seen, and how many
/// it had seen at each organization's latest change and at the latest one
/// that may have been of any.
#[derive(Default)]
pub struct Generations {
    seen: u64,
    any: u64,
    by_org: HashMap<String, u64>,
}

impl Seq for risk_event::Model {
    fn seq(&self) -> i64 {
        self.seq
    }
}

impl Feed {
    /// Every seq up to this one is broadcast or will never exist.
    pub fn head(&self) -> i64 {
        self.head.load(Ordering::SeqCst)
    }

    /// How many seqs the table holds past what has been broadcast.
    pub async fn lag(&self) -> AppResult<i64> {
        Ok(latest_seq(&self.db).await? - self.head())
    }

    /// An API key was revoked: this process's sockets that use it end now,
    /// and the other instances are told.
    pub async fn revoked(&self, key_id: &str) -> AppResult<()> {
        self.heard_revoked(key_id.to_owned());
        api_keys::announce_revoked(&self.db, key_id).await
    }

    /// Another instance revoked an API key.
    pub fn heard_revoked(&self, key_id: String) {
        // No receivers is fine: no socket uses a key.
        let _ = self.revocations.send(key_id);
    }

    /// The ids of API keys revoked from now on.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    /// Members, registers, severities or custom field definitions of `org`
    /// (of any organization when None) changed: here once the change
    /// committed, or anywhere as PostgreSQL tells (the notification
    /// `store::REFERENCE_CHANNEL`). What was read of them before is stale
    /// from now on.
    pub fn reference_changed(&self, org: Option<&str>) {
        self.reference.send_modify(|generations| {
            generations.seen += 1;
            let seen = generations.seen;
            match org {
                Some(org) => {
                    generations.by_org.insert(org.to_owned(), seen);
                }
                None => generations.any = seen,
            }
        });
    }

    /// The generation of `org`'s reference rows: a copy read while it stays
    /// the same is current. A change in another organization leaves it.
    pub fn reference_generation(&self, org: &str) -> u64 {
        let generations = self.reference.borrow();
        let own = generations.by_org.get(org).copied().unwrap_or(0);
        own.max(generations.any)
    }

    /// Wakes on each such change from now on, in any organization: the
    /// woken compare their organization's `reference_generation`.
    pub fn reference_changes(&self) -> watch::Receiver<Generations> {
        self.reference.subscribe()
    }

    /// Another instance committed something: look at the table now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This process committed something: look at the table now, and tell
    /// the other instances.
    pub fn committed(&self) {
        self.committed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The feed, its tail at the newest event once every seq below that is
    /// settled (see `tail`): a subscriber starting from `head` misses
    /// nothing still in flight.
    pub async fn open(
        db: DatabaseConnection,
        capacity: usize,
        poll: Duration,
        patience: Duration,
    ) -> AppResult<Arc<Self>> {
        let latest = latest_seq(&db).await?;
        // The snapshot that shows `latest` lists every transaction that may
        // still hold a seq below it.
        let (_, in_flight) = events::tail(&db, latest - 1, 1).await?;
        let since = Instant::now();
        while let Some(in_flight) = &in_flight
            && since.elapsed() < patience
            && !events::finished(&db, in_flight).await?
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (sender, _) = broadcast::channel(capacity.max(1));
        Ok(Arc::new(Self {
            db,
            sender,
            routes: Routes::default(),
            wake: Notify::new(),
            committed: AtomicBool::new(false),
            head: AtomicI64::new(latest),
            poll,
            tail: Mutex::new(Tail::new(latest, patience)),
            revocations: broadcast::channel(64).0,
            reference: watch::channel(Generations::default()).0,
        }))
    }

    /// Whether the tail's hole may be skipped now.
    async fn settled(&self, tail: &Tail) -> AppResult<bool> {
        match (&tail.hole, tail.pending()) {
            (None, _) => Ok(false),
            (Some(_), None) => Ok(true),
            (Some(_), Some(in_flight)) => events::finished(&self.db, in_flight).await,
        }
    }

    /// Reads the table until nothing more can be passed on now.
    async fn drain(&self, tail: &mut Tail) -> AppResult<()> {
        loop {
            let settled = self.settled(tail).await?;
            let (events, in_flight) = events::tail(&self.db, tail.last, BATCH).await?;
            let complete = (events.len() as u64) < BATCH;
            let passed = tail.advance(
                Read {
                    events,
                    in_flight,
                    complete,
                },
                settled,
            );
            let more = !complete && !passed.is_empty();
            metrics::counter!("riskgraph_feed_events_dispatched_total")
                .increment(passed.len() as u64);
            self.routes.pass(passed.into_iter().map(Arc::new), |event| {
                self.head.store(event.seq, Ordering::SeqCst);
                // No receivers is fine: nobody is listening yet.
                let _ = self.sender.send(event);
            });
            self.head.store(tail.last, Ordering::SeqCst);
            if !more {
                return Ok(());
            }
        }
    }

    /// Tails the table until `stop`: wakes when this process or another
    /// instance commits, and on a slow poll as a safety net for wake-ups
    /// lost with a dropped LISTEN connection.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tail = self.tail.lock().await;
        let postgres = self.db.get_database_backend() == DbBackend::Postgres;
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => return,
            }
            let committed = self.committed.swap(false, Ordering::SeqCst);
            let mut result = self.drain(&mut tail).await;
            if committed && postgres && result.is_ok() {
                result = events::announce(&self.db).await;
            }
            if let Err(err) = result {
                tracing::warn!(error = ?err, "change feed read failed; retrying");
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

/// Up to a batch of the scope's events after `seq`, oldest first, and none
/// past `head`: beyond it a seq may still be missing.
async fn after(
    db: &DatabaseConnection,
    seq: i64,
    head: i64,
    scope: &Scope,
) -> AppResult<Vec<risk_event::Model>> {
    let mut query = risk_event::Entity::find()
        .filter(risk_event::Column::Seq.gt(seq))
        .filter(risk_event::Column::Seq.lte(head))
        .filter(risk_event::Column::OrgId.eq(&scope.org_id));
    if let Some(register) = &scope.register_id {
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

/// Whom a subscription is for, and what it listens for.
#[derive(Clone)]
pub struct Scope {
    pub org_id: String,
    pub register_id: Option<String>,
    pub interest: Interest,
}

impl Scope {
    fn wants(&self, event: &risk_event::Model) -> bool {
        event.org_id == self.org_id
            && self
                .register_id
                .as_ref()
                .is_none_or(|r| *r == event.register_id)
            && self.interest.in_event(event)
    }
}

/// Every event of `scope` after `cursor` (or after this call), oldest
/// first, with no gap and no duplicate: the channel is joined before the
/// table is read, and anything at or below the last seq delivered is
/// dropped. A subscriber that fell behind the channel and lost an event of
/// its own to it is caught up from the table. It wakes only for its scope's
/// events (see `routes`).
///
/// The channel is joined now, not when the stream is first polled: what a
/// caller reads after this call (a heatmap's first state) is followed by
/// every change after it.
pub fn subscribe(
    feed: Arc<Feed>,
    scope: Scope,
    cursor: Option<i64>,
) -> impl Stream<Item = AppResult<Event>> {
    let mut receiver = feed.sender.subscribe();
    let mut signal = feed.routes.signal(scope);
    let mut last = cursor.unwrap_or_else(|| feed.head());
    async_stream::try_stream! {
        let mut replay = cursor.is_some();
        loop {
            if replay {
                let head = feed.head();
                // A cursor at the head needs no read: a dashboard that
                // reconnects with the latest cursor it had costs nothing.
                while last < head {
                    // Boxed: the read's state is large, and would otherwise
                    // sit in every idle subscription's stream.
                    let batch = Box::pin(after(&feed.db, last, head, signal.scope())).await?;
                    let full = batch.len() as u64 == BATCH;
                    for event in batch {
                        last = event.seq;
                        if signal.scope().wants(&event) {
                            yield Arc::new(event);
                        }
                    }
                    if !full {
                        break;
                    }
                }
                last = last.max(head);
                replay = false;
            }
            signal.mark_seen();
            // What the channel holds now, the others' events skipped.
            let mut lagged = false;
            loop {
                let next = match receiver.try_recv() {
                    Ok(event) => Some(event),
                    Err(TryRecvError::Lagged(_)) => {
                        lagged = true;
                        continue;
                    }
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Closed) => return,
                };
                if std::mem::take(&mut lagged) && signal.missed(last, next.as_ref().map(|e| e.seq)) {
                    replay = true;
                    break;
                }
                let Some(event) = next else { break };
                if event.seq <= last {
                    continue;
                }
                last = event.seq;
                if signal.scope().wants(&event) {
                    yield event;
                }
            }
            if !replay {
                signal.raised().await;
            }
        }
    }
}
