//! SQLite's planner statistics: gathered as tables grow, and seen by every
//! connection.
//!
//! SQLite keeps statistics only when `ANALYZE` runs. Without them a heatmap
//! filtered by a category (one risk in eight of 100,000) read every risk of
//! its register: 317 ms against 30 ms. A register that grows one risk at a
//! time never meets [`super::risk_tables::after_bulk_insert`], so a task
//! asks SQLite which tables have outgrown their statistics (`PRAGMA
//! optimize`) when the service starts and every [`EVERY`] after.
//!
//! A connection loads the statistics when it opens and never again: other
//! connections keep planning with the old ones (the test
//! `a_register_grown_one_risk_at_a_time_is_planned_with_statistics` sees a
//! reader keep its plan without the step below). So the
//! time of the last refresh is kept, and a pooled SQLite connection opened
//! before it retires at its next checkout (see [`super::connect`]); the
//! pool opens a fresh one in its place. The time is the process's, not one
//! database's: a refresh of another database in the same process (tests run
//! many) costs a reconnect, nothing else.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often SQLite is asked whether a table needs statistics. Asking
/// estimates each table's size from its b-tree without reading its rows; it
/// analyzes a table only when that has changed tenfold since its last
/// analysis, so a growing register is analyzed at 10, 100, 1,000… risks.
const EVERY: Duration = Duration::from_secs(60);

/// When statistics last changed in this process.
static REFRESHED: Mutex<Option<Instant>> = Mutex::new(None);

/// Records that statistics changed now.
pub(super) fn refreshed() {
    if let Ok(mut at) = REFRESHED.lock() {
        *at = Some(Instant::now());
    }
}

/// Whether a connection opened `age` ago predates the last refresh.
pub(super) fn outdated(age: Duration) -> bool {
    let refreshed = REFRESHED.lock().ok().and_then(|at| *at);
    refreshed.is_some_and(|at| opened_before(age, at.elapsed()))
}

fn opened_before(age: Duration, since_refresh: Duration) -> bool {
    age > since_refresh
}

/// Analyzes the tables SQLite finds worth it, and records the refresh if
/// there were any. `PRAGMA optimize`'s flag 0x01 names the statements
/// instead of running them, which is how this learns whether anything
/// changes; 0x10000 looks at every table, not only those this connection
/// has queried. They run in one transaction of the writer, which samples
/// each index ([`SAMPLE`]).
async fn refresh(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let tx = db.begin().await?;
    let analyses: Vec<String> = tx
        .query_all_raw(Statement::from_string(
            tx.get_database_backend(),
            "PRAGMA optimize(0x10003)",
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    if analyses.is_empty() {
        return Ok(0);
    }
    for analysis in &analyses {
        tx.execute_unprepared(analysis).await?;
    }
    tx.commit().await?;
    refreshed();
    Ok(analyses.len())
}

/// Rows of each index an analysis reads (the writer's `analysis_limit`):
/// the limit SQLite's `optimize` applies by default
/// (`SQLITE_DEFAULT_OPTIMIZE_LIMIT`), under 100 ms on a 100 MB database by
/// SQLite's account, so an analysis holds the writer briefly.
pub(super) const SAMPLE: &str = "2000";

/// Refreshes at start and every [`EVERY`] until `stop`. A failure is logged
/// and tried again at the next turn.
pub async fn run(db: DatabaseConnection, mut stop: watch::Receiver<bool>) {
    loop {
        match refresh(&db).await {
            Ok(0) => {}
            Ok(tables) => tracing::debug!(tables, "SQLite statistics refreshed"),
            Err(error) => tracing::warn!(%error, "refreshing SQLite statistics failed"),
        }
        if !super::paced(EVERY, &mut stop).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_opened_before_the_refresh_is_outdated() {
        let second = Duration::from_secs(1);
        assert!(opened_before(2 * second, second));
        assert!(!opened_before(second / 2, second));
    }
}
