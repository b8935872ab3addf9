//! `bulkUpdateRisks`: one patch, many risks, one transaction.

use crate::both;
use crate::fixtures::{self, Events};
use crate::helpers::{Client, TestApp};
use serde_json::{Value, json};

both!(
    every_risk_changes_with_its_event,
    one_stale_version_changes_nothing,
    a_bad_risk_anywhere_changes_nothing,
    the_request_itself_is_checked_first,
);

const BULK: &str = "mutation($ids: [ID!]!, $input: UpdateRiskInput!, $v: [Int!]) {
    bulkUpdateRisks(ids: $ids, input: $input, expectedVersions: $v) {
        id title category likelihoodLevel version owner { id } residual { score } } }";

/// Three risks in one register, scored (1, 1), (2, 2) and (3, 3).
async fn three(client: &Client) -> Vec<Value> {
    let register = fixtures::register(client, "RA").await;
    let mut risks = Vec::new();
    for level in 1..=3 {
        let levels = json!({ "likelihoodLevel": level, "impactLevel": level, "category": "Old" });
        risks.push(fixtures::risk(client, &register, &format!("r{level}"), levels).await);
    }
    risks
}

fn ids(risks: &[Value]) -> Vec<Value> {
    risks.iter().map(|r| r["id"].clone()).collect()
}

/// What a user would compare before and after: every risk as read back.
async fn read(client: &Client, risks: &[Value]) -> Vec<Value> {
    let mut read = Vec::new();
    for risk in risks {
        let data = client
            .ok(
                "query($id: ID!) { risk(id: $id) { title category likelihoodLevel version owner { id } } }",
                json!({ "id": risk["id"] }),
            )
            .await;
        read.push(data["risk"].clone());
    }
    read
}

async fn every_risk_changes_with_its_event(app: TestApp) {
    let admin = app.admin("acme");
    let risks = three(&admin).await;
    let me = fixtures::me(&admin).await;
    // Answered in the order asked, not the order written.
    let asked = vec![
        risks[2]["id"].clone(),
        risks[0]["id"].clone(),
        risks[1]["id"].clone(),
    ];
    let data = admin
        .ok(
            BULK,
            json!({ "ids": asked, "input": { "category": "Ops", "ownerId": me, "likelihoodLevel": 4 } }),
        )
        .await;
    let answered = data["bulkUpdateRisks"].as_array().expect("list");
    let answered_ids: Vec<Value> = answered.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(answered_ids, asked);
    for (risk, level) in answered.iter().zip([3, 1, 2]) {
        assert_eq!(risk["title"], format!("r{level}"), "untouched fields stay");
        assert_eq!(risk["category"], "Ops");
        assert_eq!(risk["owner"]["id"], json!(me));
        assert_eq!(risk["likelihoodLevel"], 4);
        assert_eq!(risk["version"], 2);
        // Level n of the default scales has value n + 1.
        assert_eq!(risk["residual"]["score"], f64::from(5 * (level + 1)));
    }
    // What the mutation answered is what a later read returns.
    let reread = read(&admin, &risks).await;
    for (before, after) in answered.iter().zip([2, 0, 1]) {
        assert_eq!(before["version"], reread[after]["version"]);
        assert_eq!(before["category"], reread[after]["category"]);
    }
    for risk in &risks {
        let events = fixtures::events(&app, Events::Of(&risk["id"])).await;
        let kinds: Vec<&str> = events.iter().map(|e| e.cause.as_str()).collect();
        assert_eq!(kinds, ["RISK_CREATED", "RISK_UPDATED"]);
        let changes: Value = serde_json::from_str(&events[1].changes).expect("json");
        let fields: Vec<&str> = changes
            .as_array()
            .expect("changes")
            .iter()
            .filter_map(|c| c["field"].as_str())
            .collect();
        assert_eq!(fields, ["category", "ownerId", "likelihoodLevel"]);
    }
}

async fn one_stale_version_changes_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let risks = three(&admin).await;
    admin
        .ok(
            BULK,
            json!({ "ids": [risks[2]["id"]], "input": { "title": "moved on" } }),
        )
        .await;
    let before = read(&admin, &risks).await;
    let err = admin
        .err(
            BULK,
            json!({ "ids": ids(&risks), "input": { "category": "New" }, "v": [1, 1, 1] }),
        )
        .await;
    err.assert("CONFLICT", Some("expectedVersion"));
    assert!(
        err.message.contains(risks[2]["id"].as_str().expect("id")),
        "names the stale risk: {}",
        err.message
    );
    assert_eq!(read(&admin, &risks).await, before, "nothing changed");
    let events = fixtures::events(&app, Events::Of(&risks[0]["id"])).await;
    assert_eq!(events.len(), 1, "no event for a risk that was not changed");
    let data = admin
        .ok(
            BULK,
            json!({ "ids": ids(&risks), "input": { "category": "New" }, "v": [1, 1, 2] }),
        )
        .await;
    let versions: Vec<&Value> = data["bulkUpdateRisks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| &r["version"])
        .collect();
    assert_eq!(versions, [&json!(2), &json!(2), &json!(3)]);
}

async fn a_bad_risk_anywhere_changes_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let risks = three(&admin).await;
    let other = app.admin("globex");
    let register = fixtures::register(&other, "GX").await;
    let foreign = fixtures::risk(&other, &register, "theirs", json!({})).await;
    let before = read(&admin, &risks).await;
    let unknown = admin
        .err(
            BULK,
            json!({ "ids": [risks[0]["id"], "risk_01J00000000000000000000000"], "input": { "category": "X" } }),
        )
        .await;
    let theirs = admin
        .err(
            BULK,
            json!({ "ids": [risks[0]["id"], foreign["id"]], "input": { "category": "X" } }),
        )
        .await;
    assert_eq!(unknown.code, "NOT_FOUND");
    assert_eq!(
        theirs.code, unknown.code,
        "another organization's risk reads as unknown"
    );
    // A value no risk may take is refused on the field, for all of them.
    admin
        .err(
            BULK,
            json!({ "ids": ids(&risks), "input": { "likelihoodLevel": 9 } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("likelihoodLevel"));
    admin
        .err(
            BULK,
            json!({ "ids": ids(&risks), "input": { "title": null } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("title"));
    assert_eq!(read(&admin, &risks).await, before, "nothing changed");
    let data = other
        .ok(
            "query($id: ID!) { risk(id: $id) { category version } }",
            json!({ "id": foreign["id"] }),
        )
        .await;
    assert_eq!(data["risk"], json!({ "category": null, "version": 1 }));
}

async fn the_request_itself_is_checked_first(app: TestApp) {
    let admin = app.admin("acme");
    let risks = three(&admin).await;
    let first = &risks[0]["id"];
    admin
        .err(
            BULK,
            json!({ "ids": [first, first], "input": { "category": "X" } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("ids"));
    admin
        .err(
            BULK,
            json!({ "ids": ids(&risks), "input": { "category": "X" }, "v": [1, 1] }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("expectedVersions"));
    let many: Vec<String> = (0..501).map(|i| format!("risk_{i}")).collect();
    admin
        .err(BULK, json!({ "ids": many, "input": { "category": "X" } }))
        .await
        .assert("LIMIT_EXCEEDED", None);
    app.client("acme", "viewer", "viewer")
        .err(
            BULK,
            json!({ "ids": ids(&risks), "input": { "category": "X" } }),
        )
        .await
        .assert("FORBIDDEN", None);
    let none = admin
        .ok(BULK, json!({ "ids": [], "input": { "category": "X" } }))
        .await;
    assert_eq!(none["bulkUpdateRisks"], json!([]));
}
