//! SQLite's planner statistics for a register that grows one risk at a
//! time, which no bulk write ever analyzes.

use crate::fixtures;
use crate::helpers::{Backend, TestApp};
use riskgraph::app::App;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;
use std::time::{Duration, Instant};

/// The index SQLite picks to find risks by `category` and `department`,
/// planned on one of `db`'s connections.
async fn index_picked(db: &DatabaseConnection, register: &str) -> String {
    let plan = format!(
        "EXPLAIN QUERY PLAN SELECT id FROM risks \
         WHERE register_id = '{register}' AND category = 'c1' AND department = 'D'"
    );
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), plan))
        .await
        .expect("plans");
    rows.iter()
        .filter_map(|r| r.try_get_by_index::<String>(3).ok())
        .collect()
}

/// Forty risks, each of its own category and all of one department: with
/// statistics, a search for a category and a department takes the
/// category's index; without, SQLite cannot tell the two apart and takes
/// the department's. Started again, the service finds `risks` grown past
/// its statistics (taken when it was empty) and analyzes it, and its
/// readers, opened before that, plan with the new statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_grown_one_risk_at_a_time_is_planned_with_statistics() {
    let Some(app) = TestApp::start_with(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    for n in 0..40 {
        let input = json!({ "category": format!("c{n}"), "department": "D" });
        fixtures::risk(&admin, &register, &format!("Risk {n}"), input).await;
    }
    let before = index_picked(&app.app.state.reader, &register).await;
    assert!(before.contains("risks_register_department"), "{before}");
    let config = (*app.app.state.config).clone();
    app.app.stop().await;
    let again = App::spawn(config, app.clock.clone()).await.expect("starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let plan = index_picked(&again.state.reader, &register).await;
        if plan.contains("risks_register_category") || Instant::now() > deadline {
            break plan;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(after.contains("risks_register_category"), "{after}");
    again.stop().await;
}
