//! PostgreSQL LISTEN: wakes this process's dispatcher when a transaction on
//! any instance commits events (that instance's feed NOTIFYs, see
//! `store::events::announce`), hears of API keys revoked elsewhere, and of
//! changes to the rows pages refer to (a trigger's, whoever wrote them).

use super::Feed;
use crate::store::events::CHANNEL;
use crate::store::{self, api_keys};
use sea_orm::sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

async fn listen(feed: &Feed, url: &str) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener
        .listen_all([CHANNEL, api_keys::CHANNEL, store::REFERENCE_CHANNEL])
        .await?;
    // Anything committed while we were not listening.
    feed.wake();
    feed.reference_changed(None);
    loop {
        let notification = listener.recv().await?;
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
/// covers what is missed meanwhile.
pub async fn run(feed: Arc<Feed>, url: String, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            result = listen(&feed, &url) => {
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
