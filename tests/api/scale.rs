//! Changes that move thousands of risks at once: one transaction each,
//! every risk re-scored and every event written, whatever the statement
//! limits of the database.

use crate::both;
use crate::bulk::Bulk;
use crate::fixtures::{self, Events};
use crate::helpers::TestApp;
use riskgraph::domain::enums::ScalesPreset;
use riskgraph::domain::scales::Scales;
use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::{Value, json};

both!(
    ten_thousand_linked_risks_move_with_their_control_and_their_scales,
    reads_do_not_wait_for_the_writer,
);

/// While a write transaction holds the writer (SQLite's only one), reads
/// still answer from their own connections.
async fn reads_do_not_wait_for_the_writer(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(
        &admin,
        &register,
        "t",
        json!({"likelihoodLevel": 1, "impactLevel": 1}),
    )
    .await;
    let busy = app.app.state.db.begin().await.expect("a write transaction");
    let reads = async {
        let page = admin.ok("{ risks { nodes { title } } }", json!({})).await;
        let heatmap = admin
            .ok(
                "query($r: ID!) { heatmap(registerId: $r) { total } }",
                json!({ "r": register }),
            )
            .await;
        (page, heatmap)
    };
    let (page, heatmap) = tokio::time::timeout(std::time::Duration::from_secs(5), reads)
        .await
        .expect("reads answer while the writer is busy");
    assert_eq!(page["risks"]["nodes"][0]["title"], "t");
    assert_eq!(heatmap["heatmap"]["total"], 1);
    busy.rollback().await.expect("rolls back");
}

const LINKED: usize = 10_000;

/// Counts per cell, inherent and residual.
async fn cells(admin: &crate::helpers::Client, register: &str) -> (Value, Value) {
    let data = admin
        .ok(
            "query($r: ID!) { i: heatmap(registerId: $r, basis: INHERENT) { total cells { count } }
                              r: heatmap(registerId: $r, basis: RESIDUAL) { total cells { count } } }",
            json!({ "r": register }),
        )
        .await;
    (data["i"].clone(), data["r"].clone())
}

async fn ten_thousand_linked_risks_move_with_their_control_and_their_scales(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let control = fixtures::control(&admin, json!({"name": "EDR", "effectiveness": 0.5})).await;
    let template = fixtures::risk(&admin, &register, "template", json!({})).await;
    let db = &app.app.state.db;
    let template = entity::risk::Entity::find_by_id(template["id"].as_str().unwrap_or_default())
        .one(db)
        .await
        .expect("reads")
        .expect("exists");
    let scales = Scales::preset(ScalesPreset::Default5x5);
    let bulk = Bulk {
        template: &template,
        scales: &scales,
        control: Some((&control, 0.5, 1)),
        field: None,
    };
    bulk.insert(db, LINKED).await;
    let (inherent, residual) = cells(&admin, &register).await;
    assert_eq!(inherent["total"], LINKED + 1);
    assert_ne!(inherent["cells"], residual["cells"], "the control reduces");

    // A failing control reduces nothing: residual is inherent again, for
    // every one of its risks, in one mutation.
    let updated = admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { health } }",
            json!({ "id": control }),
        )
        .await;
    assert_eq!(updated["updateControl"]["health"], "CRITICAL");
    let (inherent, residual) = cells(&admin, &register).await;
    assert_eq!(inherent["cells"], residual["cells"]);
    assert_eq!(
        fixtures::events(&app, Events::Caused("CONTROL_UPDATED"))
            .await
            .len(),
        LINKED
    );

    // A remap onto 3x3 moves every risk whose levels change: all but the
    // 1 in 25 at (0, 0).
    let three = json!({
        "likelihood": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "impact": [{"name": "L", "value": 1}, {"name": "M", "value": 2}, {"name": "H", "value": 3}],
        "bands": [{"name": "Low", "threshold": 0, "color": "#0f0"}, {"name": "Medium", "threshold": 3, "color": "#ff0"}, {"name": "High", "threshold": 6, "color": "#f00"}],
    });
    let remap = json!({"likelihood": [0, 0, 1, 2, 2], "impact": [0, 0, 1, 2, 2]});
    admin
        .ok(
            "mutation($id: ID!, $s: RiskScalesInput!, $m: ScalesRemapInput!) {
                updateRegister(id: $id, input: {scales: $s, scalesRemap: $m}) { version } }",
            json!({ "id": register, "s": three, "m": remap }),
        )
        .await;
    let moved = fixtures::events(&app, Events::Caused("SCALES_UPDATED")).await;
    assert_eq!(moved.len(), LINKED - LINKED / 25);
    let (inherent, _) = cells(&admin, &register).await;
    assert_eq!(inherent["cells"].as_array().map(Vec::len), Some(9));
    let counts: i64 = inherent["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["count"].as_i64())
        .sum();
    assert_eq!(counts, i64::try_from(LINKED).unwrap_or(0));
}
