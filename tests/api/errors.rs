use crate::both;
use crate::fixtures;
use crate::helpers::TestApp;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both!(
    a_broken_database_leaks_nothing,
    request_errors_are_4xx_without_data_for_graphql_response_json,
    legacy_json_clients_get_200,
    get_serves_queries_but_not_mutations,
    non_json_posts_are_refused,
    limits_are_enforced,
    lists_within_lists_are_refused_before_they_run,
    ints_past_32_bits_are_refused_by_their_path,
    batches_run_each_operation,
);

async fn raw(
    app: &TestApp,
    accept: &str,
    content_type: &str,
    body: String,
) -> (u16, Option<String>, Value) {
    let client = app.admin("acme");
    let response = client
        .http
        .post(&client.url)
        .bearer_auth(client.token.as_deref().unwrap_or_default())
        .header("accept", accept)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn a_broken_database_leaks_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(&admin, &register, "t", json!({})).await;
    app.app
        .state
        .db
        .execute_unprepared("DROP VIEW risk_view")
        .await
        .expect("breaks the database");
    let (_, body) = admin.post("{ risks { nodes { title } } }", json!({})).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL", "{body}");
    assert!(error["extensions"]["errorId"].is_string());
    let text = format!("{} {}", error["message"], error["extensions"]).to_lowercase();
    for leak in [
        "select",
        "title",
        "column",
        "sqlx",
        "sqlite",
        "postgres",
        "src/",
        "risk_view",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {body}");
    }
}

async fn request_errors_are_4xx_without_data_for_graphql_response_json(app: TestApp) {
    let accept = "application/graphql-response+json";
    for query in [
        "{ risks {",
        "{ noSuchField }",
        "query($n: Int!) { risks(first: $n) { totalCount } }",
    ] {
        let (status, ct, body) = raw(
            &app,
            accept,
            "application/json",
            json!({ "query": query }).to_string(),
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(ct.is_some_and(|c| c.starts_with(accept)));
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    let (status, _, body) = raw(&app, accept, "application/json", "{not json".into()).await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (400, &json!("BAD_USER_INPUT"))
    );
    // A field error during execution is not a request error: 200 with data.
    let (status, _, body) = raw(
        &app,
        accept,
        "application/json",
        json!({ "query": "{ risks(first: 9999) { totalCount } }" }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.get("data").is_some());
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
}

async fn legacy_json_clients_get_200(app: TestApp) {
    let (status, ct, body) = raw(
        &app,
        "application/json",
        "application/json",
        json!({ "query": "{ nope }" }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (status, _, _) = raw(
        &app,
        "text/html",
        "application/json",
        json!({ "query": "{ viewer { role } }" }).to_string(),
    )
    .await;
    assert_eq!(status, 406);
}

async fn get_serves_queries_but_not_mutations(app: TestApp) {
    let admin = app.admin("acme");
    let get = |query: &str| {
        admin
            .http
            .get(&admin.url)
            .query(&[("query", query)])
            .bearer_auth(admin.token.as_deref().unwrap_or_default())
            .header("accept", "application/graphql-response+json")
            .send()
    };
    let ok = get("{ viewer { role } }").await.expect("sent");
    assert_eq!(ok.status().as_u16(), 200);
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN");
    let refused = get("mutation { createSeverity(input: {name: \"x\"}) { id } }")
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 405);
    assert_eq!(
        refused.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let none = admin.ok("{ severities { id } }", json!({})).await;
    assert_eq!(none["severities"], json!([]));
}

async fn non_json_posts_are_refused(app: TestApp) {
    let body = json!({ "query": "{ viewer { role } }" }).to_string();
    let (status, _, _) = raw(&app, "application/json", "text/plain", body.clone()).await;
    assert_eq!(status, 415);
    let (status, _, body) = raw(
        &app,
        "application/json",
        "application/json; charset=utf-8",
        body,
    )
    .await;
    assert_eq!(
        (status, &body["data"]["viewer"]["role"]),
        (200, &json!("ADMIN"))
    );
}

async fn limits_are_enforced(app: TestApp) {
    let admin = app.admin("acme");
    let deep = format!(
        "{{ registers {{ {}id{} }} }}",
        "risks { nodes { register { ".repeat(5),
        " } } }".repeat(5)
    );
    admin
        .err(&deep, json!({}))
        .await
        .assert("LIMIT_EXCEEDED", None);
    let aliases: String = (0..51)
        .map(|i| format!("a{i}: viewer {{ role }} "))
        .collect();
    admin
        .err(&format!("{{ {aliases} }}"), json!({}))
        .await
        .assert("LIMIT_EXCEEDED", None);
    let long = format!("{{ viewer {{ role }} }} #{}", "x".repeat(100 * 1024));
    admin
        .err(&long, json!({}))
        .await
        .assert("LIMIT_EXCEEDED", None);
    let (status, _, _) = raw(
        &app,
        "application/json",
        "application/json",
        format!("{{\"query\": \"{}\"}}", " ".repeat(1024 * 1024)),
    )
    .await;
    assert_eq!(status, 413);
}

/// Three pages of 500 nested through their register would be 125 million
/// risks, and a control's risks lead back to their controls: a dozen fields
/// GraphQL's Int is 32 bits. A larger whole number, in the document or in
/// a variable, at the top of an argument or inside an input object, is
/// refused before anything runs (400), naming where it was, as any other
/// input of the wrong type is.
async fn ints_past_32_bits_are_refused_by_their_path(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "Phishing", json!({})).await;
    let update = "mutation($id: ID!, $input: UpdateRiskInput!) {
        updateRisk(id: $id, input: $input) { likelihoodLevel } }";
    let levels = json!({ "id": risk["id"], "input": { "likelihoodLevel": 10_000_000_000_i64 } });
    let before = app.statements();
    for (query, variables, field) in [
        (
            "{ risks(first: 10000000000) { totalCount } }",
            json!({}),
            "first",
        ),
        (
            "query($n: Int) { risks(last: $n) { totalCount } }",
            json!({ "n": -3_000_000_000_i64 }),
            "last",
        ),
        (update, levels, "input.likelihoodLevel"),
        (
            "mutation($id: ID!) { updateRisk(id: $id, input: {impactLevel: 2147483648}) { id } }",
            json!({ "id": risk["id"] }),
            "input.impactLevel",
        ),
        (
            "mutation($id: ID!, $m: [Int!]) { updateRegister(id: $id, input: {scalesRemap: {likelihood: $m}}) { id } }",
            json!({ "id": register, "m": [0, 1, 2, 4_294_967_300_i64] }),
            "input.scalesRemap.likelihood.3",
        ),
    ] {
        let (status, body) = admin.post(query, variables).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.get("data").is_none(), "{body}");
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{body}");
    }
    assert_eq!(app.statements(), before, "refused before any statement");
    // The largest Int is an Int: the page refuses it itself, for its size.
    let page = admin
        .err("{ risks(first: 2147483647) { totalCount } }", json!({}))
        .await;
    page.assert("LIMIT_EXCEEDED", None);
    assert!(page.message.contains("at most 500"), "{}", page.message);
    let unchanged = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { likelihoodLevel version } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(unchanged["risk"]["version"], risk["version"], "{unchanged}");
}

/// deep, within the depth and complexity limits. Refused before a statement
/// is sent; the same shapes with small pages, and a full page of each
/// register's risks with their links and custom fields, are served.
async fn lists_within_lists_are_refused_before_they_run(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "Phishing", json!({})).await;
    let control = fixtures::control(&admin, json!({ "name": "MFA" })).await;
    fixtures::link(&admin, &risk, &control, "").await;
    let nested = "query($n: Int) { risks(first: $n) { nodes { register { risks(first: $n) {
        nodes { register { risks(first: $n) { nodes { id } } } } } } } } }";
    let links =
        "{ controls { risks { risk { controls { control { risks { risk { id } } } } } } } }";
    let before = app.statements();
    let refused = admin.err(nested, json!({ "n": 500 })).await;
    refused.assert("LIMIT_EXCEEDED", None);
    assert!(
        refused.message.contains("list items"),
        "{}",
        refused.message
    );
    admin
        .err(links, json!({}))
        .await
        .assert("LIMIT_EXCEEDED", None);
    assert_eq!(app.statements(), before, "refused before any statement");

    let small = admin.ok(nested, json!({ "n": 2 })).await;
    let inner = &small["risks"]["nodes"][0]["register"]["risks"]["nodes"][0];
    assert_eq!(
        inner["register"]["risks"]["nodes"][0]["id"], risk["id"],
        "{small}"
    );
    let page = admin
        .ok(
            "{ registers { risks(first: 500) { nodes { id controls { control { name } strength }
                customFields { text } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["registers"][0]["risks"]["nodes"][0]["controls"][0]["control"]["name"],
        "MFA"
    );
}

async fn batches_run_each_operation(app: TestApp) {
    let one = json!({ "query": "{ viewer { role } }" });
    let (status, _, body) = raw(
        &app,
        "application/json",
        "application/json",
        json!([one, one]).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[1]["data"]["viewer"]["role"], "ADMIN");
    let (status, _, body) = raw(
        &app,
        "application/json",
        "application/json",
        Value::Array(vec![one; 11]).to_string(),
    )
    .await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (400, &json!("LIMIT_EXCEEDED"))
    );
}

both!(a_missing_required_variable_is_a_request_error);

async fn a_missing_required_variable_is_a_request_error(app: TestApp) {
    let query =
        json!({ "query": "query($n: Int!) { risks(first: $n) { totalCount } }" }).to_string();
    let (status, _, body) = raw(
        &app,
        "application/graphql-response+json",
        "application/json",
        query.clone(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["field"], "variables.n");
    let (status, _, body) = raw(&app, "application/json", "application/json", query).await;
    assert_eq!(
        (status, &body["errors"][0]["extensions"]["code"]),
        (200, &json!("BAD_USER_INPUT"))
    );
}
