//! Checkpoints of SQLite's write-ahead log, off the writer.
//!
//! SQLite checkpoints inside the commit that grows the log past 1,000 pages,
//! on the connection that commits: with one writer, every write waits for
//! it. A control change of 10,000 risks spent 0.56 s of its 1.24 s in its
//! commit, and took 0.4 s less with the checkpoint gone from there. The
//! writer leaves them (`wal_autocheckpoint = 0`, see [`super::connect`]) to
//! a connection of their own, which copies the log into the database in the
//! background. A PASSIVE checkpoint waits for no reader and no writer; it
//! copies what no reader still needs, and a later one copies the rest.
//!
//! Only a serving app runs one (`App::spawn`). The short-lived connections
//! of `migrate` and the demo seed need none: SQLite checkpoints when the
//! last connection to a file closes.

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use std::time::Duration;
use tokio::sync::watch;

/// How often the log is copied: at a few hundred commits a second it stays
/// within a few thousand pages, about what SQLite itself lets it reach.
const EVERY: Duration = Duration::from_millis(200);

/// A connection for checkpoints when `url` is a SQLite file; nothing to do
/// on PostgreSQL or an in-memory SQLite, which keep no such log.
pub async fn connect(url: &str) -> Result<Option<DatabaseConnection>, DbErr> {
    if !super::is_sqlite_file(url) {
        return Ok(None);
    }
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .max_connections(1)
        .min_connections(1);
    Database::connect(options).await.map(Some)
}

/// Checkpoints every 200 ms (`EVERY`) until `stop`. A failure (a full
/// disk, say) leaves the log to grow and is tried again; it is logged when
/// it starts and when it ends, not at every turn.
pub async fn run(log: DatabaseConnection, mut stop: watch::Receiver<bool>) {
    let mut failing = false;
    while super::paced(EVERY, &mut stop).await {
        match log
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("checkpoints of the SQLite log work again");
            }
            Ok(_) => {}
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "checkpointing the SQLite log failed; retrying");
            }
            Err(_) => {}
        }
    }
}
