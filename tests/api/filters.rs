//! The filters import and reporting need: ids, spans of dates, overdue,
//! sources ignoring case, custom field values; and bounded lists.

use crate::both;
use crate::fixtures;
use crate::helpers::{Client, TestApp};
use serde_json::{Value, json};

both!(
    each_filter_selects_what_a_user_expects,
    custom_field_values_filter_and_are_searched,
    long_lists_are_refused,
);

/// The titles of the register's risks that match, sorted; the page's
/// `totalCount` counts the same risks.
async fn titles(
    client: &Client,
    register: &str,
    filter: Value,
    search: Option<&str>,
) -> Vec<String> {
    let mut filter = filter;
    filter["registerId"] = json!(register);
    let data = client
        .ok(
            "query($f: RiskFilter, $s: String) { risks(filter: $f, search: $s) { totalCount nodes { title } } }",
            json!({ "f": filter, "s": search }),
        )
        .await;
    let mut titles: Vec<String> = data["risks"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["title"].as_str().map(str::to_owned))
        .collect();
    titles.sort();
    assert_eq!(data["risks"]["totalCount"], titles.len(), "{filter}");
    titles
}

async fn each_filter_selects_what_a_user_expects(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    // The test clock starts on 2026-03-01.
    let high = fixtures::severity(&admin, "High Impact").await;
    let late = fixtures::risk(
        &admin,
        &register,
        "late",
        json!({ "mitigationTargetAt": "2026-02-01", "source": "Jira", "sourceId": "SEC-1", "severityId": high }),
    )
    .await;
    let done = fixtures::risk(
        &admin,
        &register,
        "done",
        json!({ "mitigationTargetAt": "2026-02-01" }),
    )
    .await;
    app.clock.advance(chrono::Duration::hours(2));
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {status: CLOSED, closureReason: MITIGATED}) { id } }",
            json!({ "id": done["id"] }),
        )
        .await;
    let planned = fixtures::risk(
        &admin,
        &register,
        "planned",
        json!({ "mitigationTargetAt": "2026-04-01" }),
    )
    .await;
    fixtures::risk(&admin, &register, "undated", json!({})).await;
    let other = app.admin("globex");
    let theirs_register = fixtures::register(&other, "GX").await;
    let theirs_high = fixtures::severity(&other, "High Impact").await;
    let theirs = fixtures::risk(
        &other,
        &theirs_register,
        "theirs",
        json!({ "severityId": theirs_high }),
    )
    .await;

    let cases = [
        (json!({ "overdue": true }), vec!["late"]),
        (
            json!({ "overdue": false }),
            vec!["done", "planned", "undated"],
        ),
        (json!({ "source": "jira" }), vec!["late"]),
        (json!({ "sourceId": "sec-1" }), vec!["late"]),
        // By reference, as 4me filters; another organization's severity of
        // the same reference is not this one's.
        (
            json!({ "severityReference": ["HIGH_IMPACT", "unknown"] }),
            vec!["late"],
        ),
        (json!({ "severityReference": [] }), vec![]),
        (
            json!({ "ids": [late["id"], planned["id"], theirs["id"]] }),
            vec!["late", "planned"],
        ),
        (
            json!({ "mitigationTargetAt": { "from": "2026-01-15", "to": "2026-02-01" } }),
            vec!["done", "late"],
        ),
        (
            json!({ "mitigationTargetAt": { "from": "2026-02-02" } }),
            vec!["planned"],
        ),
        (
            json!({ "closedAt": { "from": "2026-03-01T10:00:00Z" } }),
            vec!["done"],
        ),
        (
            json!({ "createdAt": { "to": "2026-03-01T09:00:00Z" } }),
            vec!["done", "late"],
        ),
        (
            json!({ "createdAt": { "from": "2026-03-01T10:00:00Z" } }),
            vec!["planned", "undated"],
        ),
        (
            json!({ "updatedAt": { "from": "2026-03-01T10:00:00Z", "to": "2026-03-01T12:00:00Z" } }),
            vec!["done", "planned", "undated"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            titles(&admin, &register, filter.clone(), None).await,
            expected,
            "{filter}"
        );
    }
    assert_eq!(
        titles(&admin, &register, json!({}), Some("sec-1")).await,
        ["late"]
    );
    // A filter of a heatmap narrows it the same way.
    let data = admin
        .ok(
            "query($r: ID!) { register(id: $r) { heatmap(filter: {overdue: true}) { total unscored } } }",
            json!({ "r": register }),
        )
        .await;
    assert_eq!(data["register"]["heatmap"]["unscored"], 1);
    let data = admin
        .ok(
            "query($r: ID!, $i: [ID!]) { register(id: $r) { heatmap(filter: {ids: $i}) { total } } }",
            json!({ "r": register, "i": [late["id"], theirs["id"]] }),
        )
        .await;
    assert_eq!(data["register"]["heatmap"]["total"], 1);
}

async fn long_lists_are_refused(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let many = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();
    let query = "query($r: ID!, $c: [String!]) { risks(filter: {registerId: $r, category: $c}) { totalCount } }";
    let fine = admin
        .ok(query, json!({ "r": register, "c": many(500) }))
        .await;
    assert_eq!(fine["risks"]["totalCount"], 0);
    admin
        .err(query, json!({ "r": register, "c": many(501) }))
        .await
        .assert("LIMIT_EXCEEDED", None);
    // Far more values than a statement may bind: refused, not an INTERNAL.
    let ids: Vec<String> = (0..40_000).map(|i| format!("rsk_{i}")).collect();
    admin
        .err(
            "query($i: [ID!]) { risks(filter: {ids: $i}) { totalCount } }",
            json!({ "i": ids }),
        )
        .await
        .assert("LIMIT_EXCEEDED", None);
    admin
        .err(
            "query($r: ID!, $c: [String!]) { register(id: $r) { heatmap(filter: {category: $c}) { total } } }",
            json!({ "r": register, "c": many(501) }),
        )
        .await
        .assert("LIMIT_EXCEEDED", None);
}

async fn custom_field_values_filter_and_are_searched(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let unit =
        fixtures::custom_field(&admin, &register, json!({ "name": "Unit", "type": "TEXT" })).await;
    let loss = fixtures::custom_field(
        &admin,
        &register,
        json!({ "name": "Loss", "type": "NUMBER" }),
    )
    .await;
    let region = fixtures::custom_field(
        &admin,
        &register,
        json!({ "name": "Region", "type": "SINGLE_SELECT", "options": ["EMEA", "APAC"] }),
    )
    .await;
    for (title, text, number, selection) in [
        ("payments", "Payments platform", 900.0, "EMEA"),
        ("ledger", "Ledger", 50.0, "APAC"),
    ] {
        let values = json!([
            { "fieldId": unit, "text": text },
            { "fieldId": loss, "number": number },
            { "fieldId": region, "selection": selection },
        ]);
        fixtures::risk(&admin, &register, title, json!({ "customFields": values })).await;
    }
    fixtures::risk(&admin, &register, "bare", json!({})).await;
    let cases = [
        (
            json!([{ "fieldId": unit, "equals": "Ledger" }]),
            vec!["ledger"],
        ),
        (
            json!([{ "fieldId": unit, "contains": "PLATFORM" }]),
            vec!["payments"],
        ),
        (
            json!([{ "fieldId": region, "in": ["APAC", "LATAM"] }]),
            vec!["ledger"],
        ),
        (json!([{ "fieldId": loss, "min": 100 }]), vec!["payments"]),
        (json!([{ "fieldId": loss, "max": 100 }]), vec!["ledger"]),
        (
            json!([{ "fieldId": loss, "min": 10 }, { "fieldId": region, "equals": "EMEA" }]),
            vec!["payments"],
        ),
        (json!([{ "fieldId": unit, "equals": "EMEA" }]), vec![]),
    ];
    for (conditions, expected) in cases {
        let filter = json!({ "customFields": conditions });
        assert_eq!(
            titles(&admin, &register, filter.clone(), None).await,
            expected,
            "{filter}"
        );
    }
    assert_eq!(
        titles(&admin, &register, json!({}), Some("payments PLAT")).await,
        ["payments"]
    );
    let many: Vec<Value> = (0..21)
        .map(|_| json!({ "fieldId": unit, "equals": "x" }))
        .collect();
    admin
        .err(
            "query($f: RiskFilter) { risks(filter: $f) { totalCount } }",
            json!({ "f": { "customFields": many } }),
        )
        .await
        .assert("LIMIT_EXCEEDED", None);
}
