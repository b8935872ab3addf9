use crate::both;
use crate::fixtures;
use crate::helpers::{SECRET, TestApp};
use riskgraph::auth::{Claims, mint};
use serde_json::json;

both!(
    requests_without_a_valid_token_are_unauthenticated,
    members_are_created_just_in_time_from_claims,
    roles_limit_what_members_may_write,
    other_organizations_do_not_exist_for_the_caller,
    a_token_seen_before_needs_no_database,
);

async fn a_token_seen_before_needs_no_database(app: TestApp) {
    let admin = app.admin("acme");
    let first = app.statements();
    admin.ok("{ __typename }", json!({})).await;
    assert!(
        app.statements() > first,
        "the first use signs the member in"
    );
    let before = app.statements();
    admin.ok("{ __typename }", json!({})).await;
    assert_eq!(app.statements(), before);
    // The same member with another role is another token: looked up, and
    // held to its own role.
    let viewer = app.client("acme", "admin", "viewer");
    viewer
        .err(
            "mutation { createRegister(input: {name: \"X\", identifierPrefix: \"X\"}) { id } }",
            json!({}),
        )
        .await
        .assert("FORBIDDEN", None);
}

async fn requests_without_a_valid_token_are_unauthenticated(app: TestApp) {
    let (status, body) = app.anonymous().post("{ viewer { role } }", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(body.get("data").is_none());

    let claims = |exp: i64, role: &str| Claims {
        sub: "a".into(),
        org: "acme".into(),
        role: role.into(),
        exp,
        name: None,
        email: None,
    };
    let far = 4_000_000_000;
    let mut client = app.anonymous();
    for token in [
        mint("wrong-secret", &claims(far, "admin")),
        mint(SECRET, &claims(1_000_000, "admin")),
        mint(SECRET, &claims(far, "superuser")),
        "not.a.jwt".to_owned(),
    ] {
        client.token = Some(token);
        let (status, body) = client.post("{ viewer { role } }", json!({})).await;
        assert_eq!(
            (status, &body["errors"][0]["extensions"]["code"]),
            (401, &json!("UNAUTHENTICATED")),
            "{body}"
        );
    }
}

async fn members_are_created_just_in_time_from_claims(app: TestApp) {
    let editor = app.client("acme", "erin", "editor");
    let data = editor
        .ok(
            "{ viewer { role member { name role } organization { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"],
        json!({"role": "EDITOR", "member": {"name": "erin of acme", "role": "EDITOR"}, "organization": {"name": "acme"}})
    );
    // A new token with another role refreshes the member.
    let promoted = app.client("acme", "erin", "admin");
    let data = promoted
        .ok("{ viewer { member { id role } } }", json!({}))
        .await;
    assert_eq!(data["viewer"]["member"]["role"], "ADMIN");
    let again = editor.ok("{ viewer { member { id } } }", json!({})).await;
    assert_eq!(
        again["viewer"]["member"]["id"],
        data["viewer"]["member"]["id"]
    );
}

async fn roles_limit_what_members_may_write(app: TestApp) {
    let admin = app.admin("acme");
    let editor = app.client("acme", "erin", "editor");
    let viewer = app.client("acme", "vic", "viewer");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let severity = fixtures::severity(&admin, "High").await;

    let create_risk =
        "mutation($r: ID!) { createRisk(input: {registerId: $r, title: \"x\"}) { id } }";
    viewer
        .err(create_risk, json!({ "r": register }))
        .await
        .assert("FORBIDDEN", None);
    viewer
        .err(
            "mutation($id: ID!) { updateRisk(id: $id, input: {title: \"x\"}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await
        .assert("FORBIDDEN", None);
    // Viewers read.
    let read = viewer
        .ok(
            "query($id: ID!) { risk(id: $id) { title } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(read["risk"]["title"], "t");

    // Editors write risks, not registers, severities, fields or deletes.
    editor.ok(create_risk, json!({ "r": register })).await;
    editor
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    for (query, vars) in [
        (
            r#"mutation { createRegister(input: {name: "x", identifierPrefix: "X"}) { id } }"#,
            json!({}),
        ),
        (
            "mutation($id: ID!) { updateRegister(id: $id, input: {name: \"x\"}) { id } }",
            json!({ "id": register }),
        ),
        (
            r#"mutation { createSeverity(input: {name: "x"}) { id } }"#,
            json!({}),
        ),
        (
            "mutation($id: ID!) { deleteSeverity(id: $id) }",
            json!({ "id": severity }),
        ),
        (
            r#"mutation($r: ID!) { createCustomField(input: {registerId: $r, name: "x", type: TEXT}) { id } }"#,
            json!({ "r": register }),
        ),
        (
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": risk["id"] }),
        ),
    ] {
        editor.err(query, vars).await.assert("FORBIDDEN", None);
    }
}

async fn other_organizations_do_not_exist_for_the_caller(app: TestApp) {
    let acme = app.admin("acme");
    let globex = app.admin("globex");
    let register = fixtures::register(&acme, "RA").await;
    let risk = fixtures::risk(&acme, &register, "secret", json!({})).await;
    let severity = fixtures::severity(&acme, "High").await;
    let field = acme
        .ok(
            "mutation($r: ID!) { createCustomField(input: {registerId: $r, name: \"f\", type: TEXT}) { id } }",
            json!({ "r": register }),
        )
        .await["createCustomField"]["id"]
        .clone();
    let member = fixtures::me(&acme).await;

    let reads = globex
        .ok(
            r#"query($risk: ID!, $reg: ID!, $sev: ID!, $f: ID!, $m: ID!) {
                risk(id: $risk) { id } register(id: $reg) { id } severity(id: $sev) { id }
                a: node(id: $risk) { id } b: node(id: $reg) { id } c: node(id: $sev) { id }
                d: node(id: $f) { id } e: node(id: $m) { id }
                risks { totalCount } registers { id } severities { id } }"#,
            json!({ "risk": risk["id"], "reg": register, "sev": severity, "f": field, "m": member }),
        )
        .await;
    assert_eq!(
        reads,
        json!({
            "risk": null, "register": null, "severity": null,
            "a": null, "b": null, "c": null, "d": null, "e": null,
            "risks": { "totalCount": 0 }, "registers": [], "severities": []
        })
    );
    for (query, vars, field) in [
        (
            "mutation($id: ID!) { updateRisk(id: $id, input: {title: \"x\"}) { id } }",
            json!({ "id": risk["id"] }),
            None,
        ),
        (
            "mutation($id: ID!) { deleteRisk(id: $id) }",
            json!({ "id": risk["id"] }),
            None,
        ),
        (
            "mutation($id: ID!) { updateRegister(id: $id, input: {name: \"x\"}) { id } }",
            json!({ "id": register }),
            None,
        ),
        (
            "mutation($id: ID!) { archiveRegister(id: $id) { id } }",
            json!({ "id": register }),
            None,
        ),
        (
            "mutation($id: ID!) { updateSeverity(id: $id, input: {name: \"x\"}) { id } }",
            json!({ "id": severity }),
            None,
        ),
        (
            "mutation($id: ID!) { deleteSeverity(id: $id) }",
            json!({ "id": severity }),
            None,
        ),
        (
            "mutation($id: ID!) { updateCustomField(id: $id, input: {name: \"x\"}) { id } }",
            json!({ "id": field }),
            None,
        ),
    ] {
        globex.err(query, vars).await.assert("NOT_FOUND", field);
    }
    // References into another organization are input errors, never links.
    let theirs = fixtures::register(&globex, "G").await;
    globex
        .err(
            "mutation($r: ID!) { createRisk(input: {registerId: $r, title: \"x\"}) { id } }",
            json!({ "r": register }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("registerId"));
    globex
        .err(
            "mutation($r: ID!, $s: ID!) { createRisk(input: {registerId: $r, title: \"x\", severityId: $s}) { id } }",
            json!({ "r": theirs, "s": severity }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("severityId"));
    // Nothing of acme changed.
    let still = acme
        .ok(
            "query($id: ID!) { risk(id: $id) { title version } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(still["risk"], json!({"title": "secret", "version": 1}));
}
