use crate::both;
use crate::fixtures::{self, Events, RISK_FIELDS};
use crate::helpers::TestApp;
use serde_json::{Value, json};

both!(
    a_risk_is_created_with_every_field,
    absent_fields_stay_and_null_clears_each_kind,
    an_inline_input_with_an_omitted_variable_leaves_the_field_alone,
    required_fields_cannot_be_cleared,
    risk_fields_are_validated,
    closing_a_risk_sets_closed_at_and_reopening_clears_it,
    overrides_set_the_residual_and_record_who,
    source_ids_are_unique_per_organization,
    expected_version_guards_against_lost_updates,
    every_risk_mutation_writes_its_event,
    archived_risks_leave_lists_unless_asked_for,
    a_failed_update_changes_nothing,
);

const UPDATE: &str = "mutation($id: ID!, $input: UpdateRiskInput!, $v: Int) { updateRisk(id: $id, input: $input, expectedVersion: $v) { FIELDS } }";

fn update() -> String {
    UPDATE.replace("FIELDS", RISK_FIELDS)
}

async fn a_risk_is_created_with_every_field(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let severity = fixtures::severity(&admin, "High").await;
    let me = fixtures::me(&admin).await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "Phishing",
        json!({
            "description": "Credential theft", "category": "Security", "notes": "n",
            "status": "PENDING", "stage": "EVALUATING", "severityId": severity, "ownerId": me,
            "likelihoodLevel": 3, "impactLevel": 4, "toleranceLevel": 2, "treatment": "MITIGATE",
            "mitigationTargetAt": "2026-06-30", "source": "jira", "sourceId": "SEC-1"
        }),
    )
    .await;
    assert_eq!(risk["identifier"], "RA-1");
    assert_eq!(risk["status"], "PENDING");
    assert_eq!(risk["stage"], "EVALUATING");
    assert_eq!(risk["severity"]["name"], "High");
    assert_eq!(risk["owner"]["id"], json!(me));
    assert_eq!(risk["mitigationTargetAt"], "2026-06-30");
    assert_eq!(risk["version"], 1);
    // 4 x 5 = 20: Critical, above the tolerance band High.
    assert_eq!(
        risk["inherent"],
        json!({"score": 20.0, "band": {"name": "Critical"}})
    );
    assert_eq!(risk["residual"]["score"], 20.0);
    assert_eq!(risk["targetResidual"]["score"], 20.0);
    assert_eq!(risk["withinTolerance"], false);
    let unscored =
        fixtures::risk(&admin, &register, "Unscored", json!({"likelihoodLevel": 1})).await;
    assert!(unscored["inherent"].is_null() && unscored["residual"].is_null());
    assert_eq!(unscored["treatment"], "NOT_SET");
    assert_eq!(unscored["status"], "OPEN");
}

async fn absent_fields_stay_and_null_clears_each_kind(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let severity = fixtures::severity(&admin, "High").await;
    let me = fixtures::me(&admin).await;
    let full = json!({
        "description": "d", "category": "c", "severityId": severity, "ownerId": me,
        "likelihoodLevel": 1, "impactLevel": 1, "mitigationTargetAt": "2026-06-30", "toleranceLevel": 1
    });
    // (field set to null, how the cleared field reads back)
    let cases: [(&str, &str); 8] = [
        ("description", "description"),
        ("category", "category"),
        ("severityId", "severity"),
        ("ownerId", "owner"),
        ("likelihoodLevel", "likelihoodLevel"),
        ("impactLevel", "impactLevel"),
        ("mitigationTargetAt", "mitigationTargetAt"),
        ("toleranceLevel", "toleranceLevel"),
    ];
    for (input_field, output_field) in cases {
        let risk = fixtures::risk(&admin, &register, input_field, full.clone()).await;
        // Absent: a change to another field leaves it alone.
        let kept = admin
            .ok(
                &update(),
                json!({ "id": risk["id"], "input": { "notes": "touched" } }),
            )
            .await["updateRisk"]
            .clone();
        assert_eq!(kept[output_field], risk[output_field], "{input_field} kept");
        assert!(!kept[output_field].is_null(), "{input_field} was set");
        // Null: cleared.
        let cleared = admin
            .ok(
                &update(),
                json!({ "id": risk["id"], "input": { input_field: null } }),
            )
            .await["updateRisk"]
            .clone();
        assert!(
            cleared[output_field].is_null(),
            "{input_field} cleared: {cleared}"
        );
        assert_eq!(cleared["notes"], "touched");
        assert_eq!(cleared["version"], 3);
    }
    // Clearing a level unscored the risk.
    let risk = fixtures::risk(&admin, &register, "scores", full).await;
    let cleared = admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "impactLevel": null } }),
        )
        .await["updateRisk"]
        .clone();
    assert!(
        cleared["inherent"].is_null()
            && cleared["residual"].is_null()
            && cleared["withinTolerance"].is_null()
    );
}

async fn an_inline_input_with_an_omitted_variable_leaves_the_field_alone(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "old", json!({"notes": "keep"})).await;
    let data = admin
        .ok(
            "mutation($id: ID!, $t: String, $n: String) { updateRisk(id: $id, input: {title: $t, notes: $n}) { title notes } }",
            json!({ "id": risk["id"], "t": "new" }),
        )
        .await;
    assert_eq!(data["updateRisk"], json!({"title": "new", "notes": "keep"}));
    let data = admin
        .ok(
            "mutation($id: ID!, $t: String, $n: String) { updateRisk(id: $id, input: {title: $t, notes: $n}) { title notes } }",
            json!({ "id": risk["id"], "n": null }),
        )
        .await;
    assert_eq!(data["updateRisk"], json!({"title": "new", "notes": null}));
}

async fn required_fields_cannot_be_cleared(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    for field in ["title", "status", "stage", "treatment", "identifier"] {
        admin
            .err(
                &update(),
                json!({ "id": risk["id"], "input": { field: null } }),
            )
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
}

async fn risk_fields_are_validated(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other = app.admin("globex");
    let foreign_severity = fixtures::severity(&other, "Theirs").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(129)}), "title"),
        (
            json!({"description": "x".repeat(64 * 1024 + 1)}),
            "description",
        ),
        (json!({"likelihoodLevel": 5}), "likelihoodLevel"),
        (json!({"impactLevel": -1}), "impactLevel"),
        (json!({"toleranceLevel": 4}), "toleranceLevel"),
        (
            json!({"residualImpactOverride": 9}),
            "residualImpactOverride",
        ),
        (json!({"closureReason": "MITIGATED"}), "closureReason"),
        (json!({"severityId": foreign_severity}), "severityId"),
        (json!({"ownerId": "mem_nobody"}), "ownerId"),
        (json!({"source": "s".repeat(31)}), "source"),
    ];
    for (input, field) in cases {
        admin
            .err(&update(), json!({ "id": risk["id"], "input": input }))
            .await
            .assert("BAD_USER_INPUT", Some(field));
    }
    // Parse-level input errors are BAD_USER_INPUT too.
    let bad_enum = admin
        .err(
            &update(),
            json!({ "id": risk["id"], "input": { "status": "SHUT" } }),
        )
        .await;
    assert_eq!(bad_enum.code, "BAD_USER_INPUT");
    let bad_date = admin
        .err(
            &update(),
            json!({ "id": risk["id"], "input": { "mitigationTargetAt": "30/06/2026" } }),
        )
        .await;
    assert_eq!(bad_date.code, "BAD_USER_INPUT");
}

async fn closing_a_risk_sets_closed_at_and_reopening_clears_it(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    app.clock.advance(chrono::Duration::minutes(90));
    let closed = admin
        .ok(&update(), json!({ "id": risk["id"], "input": { "status": "CLOSED", "closureReason": "ACCEPTED" } }))
        .await["updateRisk"]
        .clone();
    assert_eq!(closed["closedAt"], "2026-03-01T10:30:00+00:00");
    assert_eq!(closed["closureReason"], "ACCEPTED");
    assert_eq!(closed["resolutionDurationMinutes"], 90);
    let reopened = admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "status": "OPEN" } }),
        )
        .await["updateRisk"]
        .clone();
    assert!(reopened["closedAt"].is_null() && reopened["closureReason"].is_null());
    assert!(reopened["resolutionDurationMinutes"].is_null());
}

async fn overrides_set_the_residual_and_record_who(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let me = fixtures::me(&admin).await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "t",
        json!({"likelihoodLevel": 4, "impactLevel": 4, "toleranceLevel": 1}),
    )
    .await;
    let overridden = admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "residualLikelihoodOverride": 0, "residualOverrideReason": "manual control" } }),
        )
        .await["updateRisk"]
        .clone();
    assert_eq!(
        overridden["residual"],
        json!({"likelihoodLevel": 0, "impactLevel": 4, "score": 5.0, "band": {"name": "Medium"}, "overridden": true})
    );
    assert_eq!(overridden["inherent"]["score"], 25.0);
    assert_eq!(overridden["targetResidual"]["score"], 25.0);
    assert_eq!(overridden["withinTolerance"], true);
    assert_eq!(overridden["residualOverriddenBy"]["id"], json!(me));
    assert_eq!(
        overridden["residualOverriddenAt"],
        "2026-03-01T09:00:00+00:00"
    );
    // Clearing is recorded like setting, by whoever cleared it, and leaves
    // the reason, which the client did not send, as it was.
    app.clock.advance(chrono::Duration::minutes(5));
    let editor = app.client("acme", "bob", "editor");
    let bob = fixtures::me(&editor).await;
    let cleared = editor
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "residualLikelihoodOverride": null } }),
        )
        .await["updateRisk"]
        .clone();
    assert_eq!(cleared["residual"]["overridden"], false);
    assert_eq!(cleared["residual"]["score"], 25.0);
    assert_eq!(cleared["residualOverriddenBy"]["id"], json!(bob));
    assert_eq!(cleared["residualOverriddenAt"], "2026-03-01T09:05:00+00:00");
    assert_eq!(cleared["residualOverrideReason"], "manual control");
    let read = crate::controls::read(&admin, &risk).await;
    assert_eq!(read["residualOverrideReason"], "manual control");
}

async fn source_ids_are_unique_per_organization(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(
        &admin,
        &register,
        "a",
        json!({"source": "jira", "sourceId": "1"}),
    )
    .await;
    admin
        .err(
            r#"mutation($r: ID!) { createRisk(input: {registerId: $r, title: "b", source: "jira", sourceId: "1"}) { id } }"#,
            json!({ "r": register }),
        )
        .await
        .assert("CONFLICT", Some("sourceId"));
    // Another organization may use the same key.
    let other = app.admin("globex");
    let theirs = fixtures::register(&other, "G").await;
    fixtures::risk(
        &other,
        &theirs,
        "a",
        json!({"source": "jira", "sourceId": "1"}),
    )
    .await;
}

async fn expected_version_guards_against_lost_updates(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "title": "v2" }, "v": 1 }),
        )
        .await;
    admin
        .err(
            &update(),
            json!({ "id": risk["id"], "input": { "title": "stale" }, "v": 1 }),
        )
        .await
        .assert("CONFLICT", Some("expectedVersion"));
    let now = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { title version } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(now["risk"], json!({"title": "v2", "version": 2}));
    // A patch that changes nothing keeps the version.
    let same = admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "title": "v2" } }),
        )
        .await;
    assert_eq!(same["updateRisk"]["version"], 2);
}

async fn every_risk_mutation_writes_its_event(app: TestApp) {
    let admin = app.admin("acme");
    let (_, risk) = fixtures::scored_risk(&admin, (1, 1)).await;
    admin
        .ok(
            &update(),
            json!({ "id": risk["id"], "input": { "title": "t2", "impactLevel": 4 } }),
        )
        .await;
    admin
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { status } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    admin
        .ok(
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": risk["id"] }),
        )
        .await;
    // Counted from the score table alone: the deleted risk's half is gone too.
    let left = admin
        .ok(
            "{ risks(filter: { includeArchived: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(left["risks"]["totalCount"], 0);
    let events = fixtures::events(&app, Events::Of(&risk["id"])).await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.cause.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("CREATED", "RISK_CREATED"),
            ("UPDATED", "RISK_UPDATED"),
            ("ARCHIVED", "RISK_ARCHIVED"),
            ("DELETED", "RISK_DELETED")
        ]
    );
    let changes: Value = serde_json::from_str(&events[1].changes).expect("json");
    assert_eq!(
        changes,
        json!([
            {"field": "title", "from": "t", "to": "t2"},
            {"field": "impactLevel", "from": 1, "to": 4}
        ])
    );
    let score = |s: &Option<String>| -> Value {
        s.as_deref()
            .map(|s| serde_json::from_str(s).expect("json"))
            .unwrap_or(Value::Null)["score"]
            .clone()
    };
    assert_eq!(
        (
            score(&events[1].residual_before),
            score(&events[1].residual_after)
        ),
        (json!(4.0), json!(10.0))
    );
    assert!(events[3].residual_after.is_none());
}

async fn archived_risks_leave_lists_unless_asked_for(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let kept = fixtures::risk(&admin, &register, "kept", json!({})).await;
    let archived = fixtures::risk(&admin, &register, "archived", json!({})).await;
    admin
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
            json!({ "id": archived["id"] }),
        )
        .await;
    let data = admin
        .ok(
            r#"{ plain: risks { nodes { title } }
                 all: risks(filter: {includeArchived: true}) { totalCount }
                 only: risks(filter: {status: [ARCHIVED]}) { nodes { title } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["plain"]["nodes"], json!([{ "title": kept["title"] }]));
    assert_eq!(data["all"]["totalCount"], 2);
    assert_eq!(data["only"]["nodes"], json!([{ "title": "archived" }]));
}

async fn a_failed_update_changes_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({"notes": "before"})).await;
    // The title is fine, the level is not: nothing of it may land.
    admin
        .err(
            &update(),
            json!({ "id": risk["id"], "input": { "notes": "after", "likelihoodLevel": 99 } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("likelihoodLevel"));
    let now = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { notes version } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(now["risk"], json!({"notes": "before", "version": 1}));
    assert_eq!(
        fixtures::events(&app, Events::Of(&risk["id"])).await.len(),
        1
    );
}
