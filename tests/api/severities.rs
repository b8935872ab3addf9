use crate::both;
use crate::fixtures;
use crate::helpers::TestApp;
use serde_json::json;

both!(
    severities_derive_their_reference,
    severity_names_are_validated,
    severities_filter_and_sort,
    a_disabled_severity_cannot_be_set_on_a_risk,
    a_severity_in_use_cannot_be_deleted,
);

async fn severities_derive_their_reference(app: TestApp) {
    let admin = app.admin("acme");
    let data = admin
        .ok(
            r#"mutation { createSeverity(input: {name: "Top Priority", description: "d", source: "4me", sourceId: "42"}) {
                name reference description disabled source sourceId } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["createSeverity"],
        json!({"name": "Top Priority", "reference": "top_priority", "description": "d", "disabled": false, "source": "4me", "sourceId": "42"})
    );
    admin
        .err(
            r#"mutation { createSeverity(input: {name: "top priority"}) { id } }"#,
            json!({}),
        )
        .await
        .assert("CONFLICT", Some("name"));
    let id = fixtures::severity(&admin, "Low").await;
    let renamed = admin
        .ok(
            r#"mutation($id: ID!) { updateSeverity(id: $id, input: {name: "Very Low"}) { reference description } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        renamed["updateSeverity"],
        json!({"reference": "very_low", "description": null})
    );
}

async fn severity_names_are_validated(app: TestApp) {
    let admin = app.admin("acme");
    let create = "mutation($i: CreateSeverityInput!) { createSeverity(input: $i) { id } }";
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(129)}), "name"),
        (
            json!({"name": "ok", "description": "d".repeat(256)}),
            "description",
        ),
        (
            json!({"name": "ok", "information": "i".repeat(64 * 1024 + 1)}),
            "information",
        ),
        (json!({"name": "ok", "source": "s".repeat(31)}), "source"),
        (
            json!({"name": "ok", "sourceId": "s".repeat(129)}),
            "sourceId",
        ),
    ];
    for (input, field) in cases {
        admin
            .err(create, json!({ "i": input }))
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
    let id = fixtures::severity(&admin, "Kept").await;
    admin
        .err(
            "mutation($id: ID!) { updateSeverity(id: $id, input: {name: null}) { id } }",
            json!({ "id": id }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("name"));
}

async fn severities_filter_and_sort(app: TestApp) {
    let admin = app.admin("acme");
    for (name, position, disabled, source) in [
        ("Critical", 3, false, Some("jira")),
        ("High", 2, false, None),
        ("Medium", 1, true, Some("jira")),
        ("Low", 1, false, None),
    ] {
        admin
            .ok(
                "mutation($i: CreateSeverityInput!) { createSeverity(input: $i) { id } }",
                json!({ "i": { "name": name, "position": position, "disabled": disabled, "source": source } }),
            )
            .await;
    }
    let names = |data: &serde_json::Value, key: &str| -> Vec<String> {
        data[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let data = admin
        .ok(
            r#"{ all: severities { name }
                 enabled: severities(filter: {disabled: false}) { name }
                 named: severities(filter: {name: "IGH"}) { name }
                 sourced: severities(filter: {source: "jira"}) { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(names(&data, "all"), ["Low", "Medium", "High", "Critical"]);
    assert_eq!(names(&data, "enabled"), ["Low", "High", "Critical"]);
    assert_eq!(names(&data, "named"), ["High"]);
    assert_eq!(names(&data, "sourced"), ["Medium", "Critical"]);
}

async fn a_disabled_severity_cannot_be_set_on_a_risk(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let severity = fixtures::severity(&admin, "Retired").await;
    admin
        .ok(
            "mutation($id: ID!) { updateSeverity(id: $id, input: {disabled: true}) { disabled } }",
            json!({ "id": severity }),
        )
        .await;
    admin
        .err(
            "mutation($r: ID!, $s: ID!) { createRisk(input: {registerId: $r, title: \"t\", severityId: $s}) { id } }",
            json!({ "r": register, "s": severity }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("severityId"));
}

async fn a_severity_in_use_cannot_be_deleted(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let used = fixtures::severity(&admin, "Used").await;
    let unused = fixtures::severity(&admin, "Unused").await;
    fixtures::risk(&admin, &register, "t", json!({ "severityId": used })).await;
    admin
        .err(
            "mutation($id: ID!) { deleteSeverity(id: $id) }",
            json!({ "id": used }),
        )
        .await
        .assert("CONFLICT", None);
    let deleted = admin
        .ok(
            "mutation($id: ID!) { deleteSeverity(id: $id) }",
            json!({ "id": unused }),
        )
        .await;
    assert_eq!(deleted["deleteSeverity"], json!(unused));
    let left = admin.ok("{ severities { name } }", json!({})).await;
    assert_eq!(left["severities"], json!([{ "name": "Used" }]));
}
