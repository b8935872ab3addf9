//! `Register.breakdown`: a register's risks grouped for charts.

use crate::both;
use crate::fixtures;
use crate::helpers::{Client, TestApp};
use serde_json::{Value, json};

both!(
    risks_are_grouped_by_each_key,
    the_filter_narrows_a_breakdown
);

const BREAKDOWN: &str = "query($r: ID!, $by: BreakdownKey!, $basis: ScoreBasis, $f: RiskFilter) {
    register(id: $r) { breakdown(by: $by, basis: $basis, filter: $f) {
        key label count averageScore maxScore } } }";

async fn groups(client: &Client, register: &str, by: &str, filter: Value) -> Value {
    let data = client
        .ok(BREAKDOWN, json!({ "r": register, "by": by, "f": filter }))
        .await;
    data["register"]["breakdown"].clone()
}

/// A register with three open risks and an archived one:
/// Security (3, 4) owned and severe, Security (1, 1), one unscored without a
/// category, and an archived Ops risk.
async fn seeded(client: &Client) -> (String, String, String) {
    let register = fixtures::register(client, "RA").await;
    let severity = fixtures::severity(client, "High").await;
    let me = fixtures::me(client).await;
    let severe = json!({ "category": "Security", "likelihoodLevel": 3, "impactLevel": 4,
        "ownerId": me, "severityId": severity, "treatment": "MITIGATE" });
    fixtures::risk(client, &register, "severe", severe).await;
    let low = json!({ "category": "Security", "likelihoodLevel": 1, "impactLevel": 1 });
    fixtures::risk(client, &register, "low", low).await;
    fixtures::risk(client, &register, "unscored", json!({})).await;
    let gone = fixtures::risk(client, &register, "gone", json!({ "category": "Ops" })).await;
    client
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
            json!({ "id": gone["id"] }),
        )
        .await;
    (register, me, severity)
}

async fn risks_are_grouped_by_each_key(app: TestApp) {
    let admin = app.admin("acme");
    let (register, me, severity) = seeded(&admin).await;
    assert_eq!(
        groups(&admin, &register, "CATEGORY", Value::Null).await,
        json!([
            { "key": "Security", "label": "Security", "count": 2, "averageScore": 12.0, "maxScore": 20.0 },
            { "key": null, "label": "Not set", "count": 1, "averageScore": null, "maxScore": null },
        ])
    );
    let owners = groups(&admin, &register, "OWNER", Value::Null).await;
    assert_eq!(owners[0]["key"], json!(null));
    assert_eq!(owners[0]["count"], 2);
    assert_eq!(
        owners[1],
        json!({ "key": me, "label": "admin of acme", "count": 1, "averageScore": 20.0, "maxScore": 20.0 })
    );
    let severities = groups(&admin, &register, "SEVERITY", Value::Null).await;
    assert_eq!(severities[1]["key"], json!(severity));
    assert_eq!(severities[1]["label"], "High");
    let statuses = groups(&admin, &register, "STATUS", Value::Null).await;
    assert_eq!(
        statuses,
        json!([{ "key": "OPEN", "label": "Open", "count": 3, "averageScore": 12.0, "maxScore": 20.0 }])
    );
    let treatments = groups(&admin, &register, "TREATMENT", Value::Null).await;
    let labels: Vec<&Value> = treatments
        .as_array()
        .expect("list")
        .iter()
        .map(|g| &g["label"])
        .collect();
    assert_eq!(labels, [&json!("Not set"), &json!("Mitigate")]);
    // Bands lowest first, the unscored apart: 4 is Low, 20 is Critical.
    let bands = groups(&admin, &register, "BAND", Value::Null).await;
    let bands: Vec<(Value, Value, Value)> = bands
        .as_array()
        .expect("list")
        .iter()
        .map(|g| (g["key"].clone(), g["label"].clone(), g["count"].clone()))
        .collect();
    assert_eq!(
        bands,
        [
            (json!(null), json!("Unscored"), json!(1)),
            (json!("0"), json!("Low"), json!(1)),
            (json!("3"), json!("Critical"), json!(1)),
        ]
    );
    for by in ["DEPARTMENT", "STAGE"] {
        let all = groups(&admin, &register, by, Value::Null).await;
        let total: i64 = all
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|g| g["count"].as_i64())
            .sum();
        assert_eq!(total, 3, "{by} counts every open risk once");
    }
}

async fn the_filter_narrows_a_breakdown(app: TestApp) {
    let admin = app.admin("acme");
    let (register, _, _) = seeded(&admin).await;
    let archived_too = groups(
        &admin,
        &register,
        "CATEGORY",
        json!({ "includeArchived": true }),
    )
    .await;
    let ops = archived_too
        .as_array()
        .expect("list")
        .iter()
        .find(|g| g["key"] == "Ops")
        .cloned();
    assert_eq!(
        ops,
        Some(
            json!({ "key": "Ops", "label": "Ops", "count": 1, "averageScore": null, "maxScore": null })
        )
    );
    let scored = groups(
        &admin,
        &register,
        "CATEGORY",
        json!({ "residualScoreMin": 10 }),
    )
    .await;
    assert_eq!(
        scored,
        json!([{ "key": "Security", "label": "Security", "count": 1, "averageScore": 20.0, "maxScore": 20.0 }])
    );
    // Another organization cannot see the register at all.
    let theirs = app
        .admin("globex")
        .ok(BREAKDOWN, json!({ "r": register, "by": "CATEGORY" }))
        .await;
    assert_eq!(theirs["register"], json!(null));
}
