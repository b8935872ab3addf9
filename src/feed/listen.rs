//! PostgreSQL LISTEN: wakes this process's dispatcher when a transaction on
//! any instance commits events (that instance's feed NOTIFYs, see
//! `store::events::announce`), hears of API keys revoked elsewhere, and of
//! changes to the rows pages refer to (a trigger's, whoever wrote them).

use super::Feed;
use crate::clock::Clock;
use crate::store::events::CHANNEL;
use crate::store::{self, api_keys};
use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// How far instances' clocks may differ: a key revoked elsewhere is stamped
/// by that instance's clock.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Listens on one connection until it fails. `since`: when the last
/// connection that listened was opened (or the process started), so that
/// what was said after it may have stopped hearing is caught up.
async fn listen(
    (feed, clock): (&Feed, &Clock),
    url: &str,
    since: &mut DateTime<Utc>,
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<(), String> {
    let opened = clock.now();
    let lost = |err: sea_orm::sqlx::Error| err.to_string();
    let mut listener = PgListener::connect(url).await.map_err(lost)?;
    listener
        .listen_all([CHANNEL, api_keys::CHANNEL, store::REFERENCE_CHANNEL])
        .await
        .map_err(lost)?;
    // Anything committed while we were not listening.
    feed.wake();
    feed.reference_changed(None);
    let revoked = api_keys::revoked_since(&feed.db, *since - CLOCK_SKEW)
        .await
        .map_err(|err| format!("reading the keys revoked meanwhile: {err:?}"))?;
    revoked.into_iter().for_each(|id| feed.heard_revoked(id));
    *since = opened;
    if let Some(ready) = ready.take() {
        // Nobody waiting any more is fine.
        let _ = ready.send(());
    }
    loop {
        // `recv` would reconnect by itself, and what was said meanwhile
        // would be lost unseen: a new connection catches it up instead.
        let Some(notification) = listener.try_recv().await.map_err(lost)? else {
            return Err("the connection was lost".into());
        };
        match notification.channel() {
            api_keys::CHANNEL => feed.heard_revoked(notification.payload().to_owned()),
            // The organization whose rows changed; none when a table was
            // truncated, or its id was too long to send.
            store::REFERENCE_CHANNEL => match notification.payload() {
                "" => feed.reference_changed(None),
                org => feed.reference_changed(Some(org)),
            },
            _ => feed.wake(),
        }
    }
}

/// Listens until `stop`, reconnecting after errors; the dispatcher's poll
/// covers the events missed meanwhile, and each new connection the
/// revocations (sockets signed in with a key end) and the changes to
/// reference rows (all read anew). `ready` hears once the first connection
/// listens.
pub async fn run(
    (feed, clock): (Arc<Feed>, Clock),
    url: String,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut since = clock.now();
    loop {
        tokio::select! {
            result = listen((&feed, &clock), &url, &mut since, &mut ready) => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
                }
            }
            _ = stop.changed() => return,
        }
        if !store::paced(Duration::from_secs(1), &mut stop).await {
            return;
        }
    }
}
