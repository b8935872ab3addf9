//! SQLite's planner statistics for a register that grows one risk at a
//! time, which no bulk write ever analyzes.

use crate::fixtures;
use crate::helpers::{Backend, TestApp};
use riskgraph::app::App;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_grown_one_risk_at_a_time_gets_statistics() {
    let Some(app) = TestApp::start_with(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for n in 0..12 {
        fixtures::risk(&admin, &register, &format!("Risk {n}"), json!({})).await;
    }
    let config = (*app.app.state.config).clone();
    let url = config.database_url.clone();
    app.app.stop().await;
    // Started again, the service finds `risks` grown past its statistics
    // (taken when it was empty) and analyzes it.
    let again = App::spawn(config, app.clock.clone()).await.expect("starts");
    let file = Database::connect(&url).await.expect("connects");
    // Each index's row begins with the rows it counted.
    let stat = "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = 'risks'";
    let deadline = Instant::now() + Duration::from_secs(10);
    let analyzed = |rows: &Option<i64>| *rows == Some(12);
    let rows = loop {
        let row = file
            .query_one_raw(Statement::from_string(file.get_database_backend(), stat))
            .await
            .expect("reads the statistics");
        let rows: Option<i64> = row.and_then(|r| r.try_get_by_index(0).ok());
        if analyzed(&rows) || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(analyzed(&rows), "no statistics of 12 risks: {rows:?}");
    again.stop().await;
}
