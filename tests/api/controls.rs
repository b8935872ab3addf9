use crate::both;
use crate::fixtures::{self, Events, RISK_FIELDS, control, link};
use crate::helpers::{Client, TestApp};
use serde_json::{Value, json};

both!(
    controls_are_created_with_defaults_and_validated,
    control_updates_are_partial_and_versioned,
    links_follow_the_control_until_given_a_strength,
    a_health_change_moves_linked_risks_and_nothing_else,
    archiving_a_control_stops_its_reductions,
    links_and_unlinks_are_recorded,
    controls_of_other_organizations_do_not_exist,
    edits_of_a_linked_risk_keep_its_reductions,
);

pub async fn read(client: &Client, risk: &Value) -> Value {
    client
        .ok(&format!("query($id: ID!) {{ risk(id: $id) {{ {RISK_FIELDS} controls {{ strength reduces control {{ id }} }} }} }}"), json!({ "id": risk["id"] }))
        .await["risk"]
        .clone()
}

async fn controls_are_created_with_defaults_and_validated(app: TestApp) {
    let editor = app.client("acme", "erin", "editor");
    let data = editor
        .ok(
            r#"mutation { createControl(input: {name: "MFA", identifier: "C-1"}) { identifier name health effectiveness archived version risks { strength } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["createControl"],
        json!({"identifier": "C-1", "name": "MFA", "health": "HEALTHY", "effectiveness": 1.0, "archived": false, "version": 1, "risks": []})
    );
    let create = "mutation($i: CreateControlInput!) { createControl(input: $i) { id } }";
    for (input, code, field) in [
        (json!({"name": ""}), "BAD_USER_INPUT", "name"),
        (
            json!({"name": "x", "effectiveness": 1.5}),
            "BAD_USER_INPUT",
            "effectiveness",
        ),
        (
            json!({"name": "x", "effectiveness": -0.1}),
            "BAD_USER_INPUT",
            "effectiveness",
        ),
        (
            json!({"name": "x", "identifier": "C-1"}),
            "CONFLICT",
            "identifier",
        ),
    ] {
        editor
            .err(create, json!({ "i": input }))
            .await
            .assert(code, Some(field));
    }
    app.client("acme", "vic", "viewer")
        .err(create, json!({ "i": {"name": "x"} }))
        .await
        .assert("FORBIDDEN", None);
    let list = editor.ok("{ controls { name } }", json!({})).await;
    assert_eq!(list["controls"], json!([{ "name": "MFA" }]));
}

async fn control_updates_are_partial_and_versioned(app: TestApp) {
    let admin = app.admin("acme");
    let id = control(
        &admin,
        json!({"name": "Backups", "description": "nightly", "effectiveness": 0.6}),
    )
    .await;
    let update = "mutation($id: ID!, $i: UpdateControlInput!, $v: Int) { updateControl(id: $id, input: $i, expectedVersion: $v) { name description health effectiveness version } }";
    let data = admin
        .ok(
            update,
            json!({ "id": id, "i": {"health": "AT_RISK"}, "v": 1 }),
        )
        .await;
    assert_eq!(
        data["updateControl"],
        json!({"name": "Backups", "description": "nightly", "health": "AT_RISK", "effectiveness": 0.6, "version": 2})
    );
    admin
        .err(update, json!({ "id": id, "i": {"name": "x"}, "v": 1 }))
        .await
        .assert("CONFLICT", Some("expectedVersion"));
    admin
        .err(update, json!({ "id": id, "i": {"health": null} }))
        .await
        .assert("BAD_USER_INPUT", Some("health"));
    let cleared = admin
        .ok(update, json!({ "id": id, "i": {"description": null} }))
        .await;
    assert!(cleared["updateControl"]["description"].is_null());
}

async fn links_follow_the_control_until_given_a_strength(app: TestApp) {
    let admin = app.admin("acme");
    // Likelihood 5, impact 4: inherent 20.
    let (_, risk) = fixtures::scored_risk(&admin, (4, 3)).await;
    let c = control(&admin, json!({"name": "EDR", "effectiveness": 0.5})).await;
    let linked = link(&admin, &risk, &c, ", reduces: LIKELIHOOD").await;
    assert_eq!(
        (&linked["reduces"], &linked["strength"]),
        (&json!("LIKELIHOOD"), &json!(0.5))
    );
    // 5 x 0.5 = 2.5 -> level 1; 2.5 x 4 = 10.
    assert_eq!(linked["risk"]["residual"]["score"], 10.0);
    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {effectiveness: 0.8}) { id } }",
            json!({ "id": c }),
        )
        .await;
    let after = read(&admin, &risk).await;
    assert_eq!(after["controls"][0]["strength"], 0.8);
    // 5 x 0.2 = 1 -> level 0; 1 x 4 = 4.
    assert_eq!(after["residual"]["score"], 4.0);
    assert_eq!(after["targetResidual"]["score"], 4.0);
    assert_eq!(after["inherent"]["score"], 20.0);
    // Linking again updates the link; its own strength stops following.
    let relinked = link(&admin, &risk, &c, ", reduces: BOTH, strength: 0.25").await;
    assert_eq!(
        (&relinked["reduces"], &relinked["strength"]),
        (&json!("BOTH"), &json!(0.25))
    );
    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {effectiveness: 0.1}) { id } }",
            json!({ "id": c }),
        )
        .await;
    let after = read(&admin, &risk).await;
    assert_eq!(after["controls"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["controls"][0]["strength"], 0.25);
    // 5 x 0.75 = 3.75 -> level 2; 4 x 0.75 = 3.
    assert_eq!(after["residual"]["score"], 11.25);
    admin
        .err(
            "mutation($r: ID!, $c: ID!) { linkControl(riskId: $r, controlId: $c, strength: 2) { strength } }",
            json!({ "r": risk["id"], "c": c }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("strength"));
}

async fn a_health_change_moves_linked_risks_and_nothing_else(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let levels = json!({"likelihoodLevel": 4, "impactLevel": 4});
    let a = fixtures::risk(&admin, &register, "a", levels.clone()).await;
    let b = fixtures::risk(&admin, &register, "b", levels.clone()).await;
    let other = fixtures::risk(&admin, &register, "other", levels).await;
    let c = control(&admin, json!({"name": "Firewall", "effectiveness": 0.6})).await;
    link(&admin, &a, &c, ", reduces: LIKELIHOOD").await;
    link(&admin, &b, &c, ", reduces: IMPACT").await;
    let before = (
        read(&admin, &a).await,
        read(&admin, &b).await,
        read(&admin, &other).await,
    );
    // 5 x 0.4 = 2 on one side: 10.
    assert_eq!(
        (
            &before.0["residual"]["score"],
            &before.1["residual"]["score"]
        ),
        (&json!(10.0), &json!(10.0))
    );

    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { id } }",
            json!({ "id": c }),
        )
        .await;
    let after = (
        read(&admin, &a).await,
        read(&admin, &b).await,
        read(&admin, &other).await,
    );
    assert_eq!(after.0["residual"]["score"], 25.0);
    assert_eq!(after.1["residual"]["score"], 25.0);
    // The target ignores health.
    assert_eq!(after.0["targetResidual"]["score"], 10.0);
    assert_eq!(after.2, before.2, "an unlinked risk is untouched");

    let events = fixtures::events(&app, Events::Caused("CONTROL_UPDATED")).await;
    let mut moved: Vec<&str> = events.iter().map(|e| e.risk_id.as_str()).collect();
    moved.sort_unstable();
    let mut expected = vec![
        a["id"].as_str().unwrap_or(""),
        b["id"].as_str().unwrap_or(""),
    ];
    expected.sort_unstable();
    assert_eq!(moved, expected);
    let score = |s: &Option<String>| -> Value {
        serde_json::from_str::<Value>(s.as_deref().unwrap_or("null")).expect("json")["score"]
            .clone()
    };
    assert_eq!(
        (
            score(&events[0].residual_before),
            score(&events[0].residual_after)
        ),
        (json!(10.0), json!(25.0))
    );
    let changes: Value = serde_json::from_str(&events[0].changes).expect("json");
    assert_eq!(changes[0]["to"], "CRITICAL");
}

async fn archiving_a_control_stops_its_reductions(app: TestApp) {
    let admin = app.admin("acme");
    let (_, risk) = fixtures::scored_risk(&admin, (4, 4)).await;
    let c = control(&admin, json!({"name": "Gone", "effectiveness": 0.6})).await;
    link(&admin, &risk, &c, "").await;
    assert_eq!(read(&admin, &risk).await["residual"]["score"], 4.0);
    admin
        .ok(
            "mutation($id: ID!) { archiveControl(id: $id) { archived } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(read(&admin, &risk).await["residual"]["score"], 25.0);
    let lists = admin
        .ok(
            "{ controls { id } all: controls(includeArchived: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            lists["controls"].as_array().map(Vec::len),
            lists["all"].as_array().map(Vec::len)
        ),
        (Some(0), Some(1))
    );
    admin
        .err(
            "mutation($r: ID!, $c: ID!) { linkControl(riskId: $r, controlId: $c) { strength } }",
            json!({ "r": risk["id"], "c": c }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("controlId"));
}

async fn links_and_unlinks_are_recorded(app: TestApp) {
    let admin = app.admin("acme");
    let (_, risk) = fixtures::scored_risk(&admin, (4, 4)).await;
    let c = control(
        &admin,
        json!({"name": "MFA", "identifier": "C-9", "effectiveness": 0.6}),
    )
    .await;
    link(&admin, &risk, &c, ", reduces: LIKELIHOOD").await;
    let by_control = admin
        .ok(
            "query($id: ID!) { control(id: $id) { risks { risk { id } strength } } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(
        by_control["control"]["risks"],
        json!([{ "risk": { "id": risk["id"] }, "strength": 0.6 }])
    );
    let unlink = "mutation($r: ID!, $c: ID!) { unlinkControl(riskId: $r, controlId: $c) }";
    let vars = json!({ "r": risk["id"], "c": c });
    assert_eq!(admin.ok(unlink, vars.clone()).await["unlinkControl"], true);
    assert_eq!(admin.ok(unlink, vars).await["unlinkControl"], false);
    let after = read(&admin, &risk).await;
    assert_eq!(
        (
            after["controls"].clone(),
            after["residual"]["score"].clone()
        ),
        (json!([]), json!(25.0))
    );
    let events = fixtures::events(&app, Events::Of(&risk["id"])).await;
    let causes: Vec<&str> = events.iter().map(|e| e.cause.as_str()).collect();
    assert_eq!(
        causes,
        ["RISK_CREATED", "CONTROL_LINKED", "CONTROL_UNLINKED"]
    );
    let linked: Value = serde_json::from_str(&events[1].changes).expect("json");
    assert_eq!(
        linked,
        json!([{ "field": "controls.C-9", "from": null, "to": { "reduces": "LIKELIHOOD", "strength": null } }])
    );
}

async fn controls_of_other_organizations_do_not_exist(app: TestApp) {
    let acme = app.admin("acme");
    let globex = app.admin("globex");
    let c = control(&acme, json!({"name": "Theirs"})).await;
    let register = fixtures::register(&globex, "G").await;
    let risk = fixtures::risk(&globex, &register, "mine", json!({})).await;
    let reads = globex
        .ok(
            "query($id: ID!) { control(id: $id) { id } node(id: $id) { id } controls { id } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(
        reads,
        json!({ "control": null, "node": null, "controls": [] })
    );
    globex
        .err(
            "mutation($id: ID!) { updateControl(id: $id, input: {name: \"x\"}) { id } }",
            json!({ "id": c }),
        )
        .await
        .assert("NOT_FOUND", None);
    globex
        .err(
            "mutation($r: ID!, $c: ID!) { linkControl(riskId: $r, controlId: $c) { strength } }",
            json!({ "r": risk["id"], "c": c }),
        )
        .await
        .assert("NOT_FOUND", None);
}

/// An edit that leaves the levels alone keeps the stored scores; one that
/// moves a level re-scores with the links in force, like a new risk linked
/// to the same control.
async fn edits_of_a_linked_risk_keep_its_reductions(app: TestApp) {
    let admin = app.admin("acme");
    let (register, risk) = fixtures::scored_risk(&admin, (4, 4)).await;
    let c = control(&admin, json!({"name": "EDR", "effectiveness": 0.5})).await;
    let linked = link(&admin, &risk, &c, "").await["risk"]["residual"]["score"].clone();
    let update = "mutation($id: ID!, $i: UpdateRiskInput!) { updateRisk(id: $id, input: $i) { residual { score } inherent { score } } }";
    let noted = admin
        .ok(
            update,
            json!({ "id": risk["id"], "i": {"notes": "checked"} }),
        )
        .await;
    assert_eq!(noted["updateRisk"]["residual"]["score"], linked);
    assert_eq!(read(&admin, &risk).await["residual"]["score"], linked);
    let moved = admin
        .ok(
            update,
            json!({ "id": risk["id"], "i": {"likelihoodLevel": 2} }),
        )
        .await;
    let twin = fixtures::risk(
        &admin,
        &register,
        "twin",
        json!({"likelihoodLevel": 2, "impactLevel": 4}),
    )
    .await;
    let expected = link(&admin, &twin, &c, "").await["risk"]["residual"]["score"].clone();
    assert_eq!(moved["updateRisk"]["residual"]["score"], expected);
    assert_ne!(
        moved["updateRisk"]["residual"]["score"], moved["updateRisk"]["inherent"]["score"],
        "still reduced by the control"
    );
}
