//! What a hostile client or a failing network does to the service: deep and
//! random documents, concurrent writers, refusals from every layer, bad text,
//! and what a partial update must not lose.

use crate::fixtures::{self, Events};
use crate::helpers::{Client, SECRET, TestApp};
use crate::ws_client::WsClient;
use crate::{both, both_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

both!(
    deep_documents_are_refused_before_parsing,
    random_deep_and_wide_documents_always_get_an_answer,
    the_token_is_checked_before_the_document,
    sixteen_writers_on_one_risk_all_succeed,
    archiving_a_closed_risk_keeps_how_it_was_closed,
    a_mutation_answers_the_timestamps_later_reads_return,
    each_aliased_mutation_reports_its_own_result,
    refusals_from_every_layer_are_graphql_errors,
    nul_characters_are_refused_naming_their_field,
    wide_unicode_escapes_are_read_as_their_characters,
    searches_are_bounded,
    dates_are_full_iso_dates,
    coercion_errors_name_their_input_path,
    a_subscribe_without_payload_is_an_invalid_message,
    a_token_that_is_not_valid_yet_is_refused,
    a_remap_moves_every_level_even_onto_equal_scales,
);
both_with!(
    one_pooled_connection_serves_concurrent_requests_in_turn,
    |c| {
        c.limits.db_pool_size = Some(1);
    }
);
both_with!(the_request_timeout_answers_limit_exceeded, |c| {
    c.limits.request_timeout_secs = 1;
});
both_with!(clients_that_never_finish_their_headers_are_cut_off, |c| {
    c.limits.header_read_timeout_secs = 1;
});
both_with!(connections_past_the_cap_wait_for_a_place, |c| {
    c.limits.max_connections = 2;
});
both_with!(websocket_messages_are_bounded_as_request_bodies, |c| {
    c.limits.max_body_bytes = 4096;
});

/// GETs a query with its variables in the URL.
async fn get_query(client: &Client, query: &str, variables: &str) -> (u16, Value) {
    let response = client
        .http
        .get(&client.url)
        .query(&[("query", query), ("variables", variables)])
        .bearer_auth(client.token.as_deref().unwrap_or_default())
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[track_caller]
fn assert_code(body: &Value, code: &str) {
    assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
}

fn nested(open: &str, middle: &str, close: &str, depth: usize) -> String {
    format!("{}{middle}{}", open.repeat(depth), close.repeat(depth))
}

/// Documents past the nesting limit in every construct.
fn deep_documents() -> Vec<(&'static str, String)> {
    let list = nested("[", "\"x\"", "]", 2000);
    let object = nested("{a: ", "1", "}", 2000);
    let fragments: String = (0..1500)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1))
        .collect();
    vec![
        (
            "list",
            format!("{{ risks(filter: {{category: {list}}}) {{ totalCount }} }}"),
        ),
        (
            "object",
            format!("{{ risks(filter: {object}) {{ totalCount }} }}"),
        ),
        ("selection", nested("{ viewer ", "", "}", 2000)),
        (
            "list type",
            format!(
                "query($v: {}) {{ __typename }}",
                nested("[", "Int", "]", 2000)
            ),
        ),
        (
            "fragments",
            format!("{{ ...F0 }}\n{fragments}fragment F1500 on Query {{ __typename }}"),
        ),
        (
            "fragments, short enough to be kept once parsed",
            format!(
                "{{ ...F0 }}\n{}fragment F70 on Query {{ __typename }}",
                (0..70)
                    .map(|i| format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1))
                    .collect::<String>()
            ),
        ),
        (
            "just past the limit",
            format!(
                "{{ risks(filter: {{category: {}}}) {{ totalCount }} }}",
                nested("[", "\"x\"", "]", 64)
            ),
        ),
    ]
}

async fn deep_documents_are_refused_before_parsing(app: TestApp) {
    let admin = app.admin("acme");
    for (what, document) in deep_documents() {
        // Twice: a refused document is not kept as a parsed one.
        for _ in 0..2 {
            let (status, body) = admin.post(&document, json!({})).await;
            assert_eq!(status, 400, "POST {what}: {body}");
            assert_code(&body, "LIMIT_EXCEEDED");
        }
        if document.len() < 6000 {
            let (status, body) = get_query(&admin, &document, "{}").await;
            assert_eq!(status, 400, "GET {what}: {body}");
            assert_code(&body, "LIMIT_EXCEEDED");
        }
    }
    // Variables nest too, in the body and in the URL.
    let deep = serde_json::from_str::<Value>(&nested("[", "1", "]", 100)).expect("json");
    let query = "query($v: [String]) { risks(filter: {category: $v}) { totalCount } }";
    let (status, body) = admin.post(query, json!({ "v": deep })).await;
    assert_eq!(status, 400, "{body}");
    assert_code(&body, "LIMIT_EXCEEDED");
    let (_, body) = get_query(
        &admin,
        query,
        &format!("{{\"v\": {}}}", nested("[", "1", "]", 3000)),
    )
    .await;
    assert_code(&body, "LIMIT_EXCEEDED");
    // A body nested past serde's own recursion limit is still LIMIT_EXCEEDED.
    let response = admin
        .http
        .post(&admin.url)
        .bearer_auth(admin.token.as_deref().unwrap_or_default())
        .header("content-type", "application/json")
        .body(format!(
            "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"v\": {}}}}}",
            nested("[", "1", "]", 5000)
        ))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("json");
    assert_code(&body, "LIMIT_EXCEEDED");
    // Over a WebSocket, each deep operation gets its error and the socket lives.
    let mut ws =
        WsClient::signed_in(&app.ws_url(), admin.token.as_deref().unwrap_or_default()).await;
    for (i, (what, document)) in deep_documents().into_iter().enumerate() {
        ws.subscribe(&i.to_string(), &document, json!({})).await;
        let reply = ws.message().await;
        assert_eq!(reply["type"], "error", "WS {what}: {reply}");
        assert_eq!(
            reply["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "WS {what}"
        );
    }
    ws.close().await;
    // Nesting within the limit is served as usual.
    let fine = format!(
        "{{ risks(filter: {{category: {}}}) {{ totalCount }} }}",
        nested("[", "\"x\"", "]", 20)
    );
    let (_, body) = admin.post(&fine, json!({})).await;
    assert_code(&body, "BAD_USER_INPUT");
    let data = admin.ok("{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

/// Random text shaped like GraphQL: brackets of every kind, strings with
/// escapes, block strings, comments, names, arguments; some deep, some wide.
fn random_document(rng: &mut StdRng) -> String {
    const PIECES: [&str; 24] = [
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "risks",
        "viewer",
        "__typename",
        "a:",
        "$v",
        ":",
        ",",
        "\"s\\\"{[\"",
        "\"\"\"block {[( \\\"\"\" \"\"\"",
        "# comment {[(\n",
        "...",
        "on Query",
        "fragment F on Query",
        "query",
        "mutation",
        "1",
        "{a: ",
        "\"\\u0000\"",
    ];
    let wide = rng.random_bool(0.3);
    let length = rng.random_range(1..if wide { 4000 } else { 600 });
    let mut out = String::new();
    if rng.random_bool(0.3) {
        // A deep run of one bracket.
        let bracket = ["{", "[", "(", "{a: "][rng.random_range(0..4)];
        out.push_str(&bracket.repeat(rng.random_range(50..3000)));
    }
    for _ in 0..length {
        out.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        out.push(' ');
    }
    out
}

async fn random_deep_and_wide_documents_always_get_an_answer(app: TestApp) {
    let admin = app.admin("acme");
    let cases: u64 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..cases {
        let document = random_document(&mut rng);
        let (status, body) = if case % 4 == 3 && document.len() < 6000 {
            get_query(&admin, &document, "{}").await
        } else {
            admin.post(&document, json!({ "v": ["x"] })).await
        };
        assert!(
            [200, 400, 405, 413].contains(&status),
            "case {case} (seed {seed}): {status} {body}"
        );
        if let Some(errors) = body["errors"].as_array() {
            assert!(
                errors.iter().all(|e| e["extensions"]["code"].is_string()),
                "case {case} (seed {seed}): {body}"
            );
        }
    }
    let data = admin.ok("{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

async fn the_token_is_checked_before_the_document(app: TestApp) {
    let deep = nested("[", "1", "]", 100_000);
    let (status, body) = app
        .anonymous()
        .post(&format!("{{ a(b: {deep}) }}"), json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_code(&body, "UNAUTHENTICATED");
}

const UPDATE_TITLE: &str =
    "mutation($id: ID!, $t: String!) { updateRisk(id: $id, input: {title: $t}) { version title } }";

/// `writers` concurrent title changes of one risk, none with
/// expectedVersion, through `clients` (round robin); each answered version.
pub async fn concurrent_title_changes(
    clients: &[Client],
    risk: &Value,
    writers: usize,
) -> Vec<i64> {
    let mut tasks = Vec::new();
    for n in 0..writers {
        let client = clients[n % clients.len()].clone();
        let id = risk["id"].clone();
        tasks.push(tokio::spawn(async move {
            let (status, body) = client
                .post(UPDATE_TITLE, json!({ "id": id, "t": format!("title {n}") }))
                .await;
            assert!(
                status == 200 && body.get("errors").is_none(),
                "writer {n}: {status} {body}"
            );
            body["data"]["updateRisk"]["version"]
                .as_i64()
                .expect("version")
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.expect("writer finished"));
    }
    versions.sort_unstable();
    versions
}

async fn sixteen_writers_on_one_risk_all_succeed(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    // Every writer signs in for the first time, concurrently, too.
    let clients: Vec<Client> = (0..16)
        .map(|n| app.client("acme", &format!("writer-{n}"), "editor"))
        .collect();
    let versions = concurrent_title_changes(&clients, &risk, 16).await;
    assert_eq!(
        versions,
        (2..=17).collect::<Vec<i64>>(),
        "consecutive versions"
    );
    let history = fixtures::events(&app, Events::Of(&risk["id"])).await;
    assert_eq!(history.len(), 17, "the creation and every update");
}

async fn archiving_a_closed_risk_keeps_how_it_was_closed(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    app.clock.advance(chrono::Duration::minutes(90));
    let closed = admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {status: CLOSED, closureReason: MITIGATED}) { closedAt closureReason resolutionDurationMinutes } }",
            json!({ "id": risk["id"] }),
        )
        .await["updateRisk"]
        .clone();
    assert_eq!(closed["resolutionDurationMinutes"], 90);
    let archived = admin
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { status closedAt closureReason resolutionDurationMinutes } }",
            json!({ "id": risk["id"] }),
        )
        .await["archiveRisk"]
        .clone();
    assert_eq!(archived["status"], "ARCHIVED");
    for field in ["closedAt", "closureReason", "resolutionDurationMinutes"] {
        assert_eq!(archived[field], closed[field], "{field}");
    }
    let read = crate::controls::read(&admin, &risk).await;
    assert_eq!(read["closureReason"], "MITIGATED");
}

async fn a_mutation_answers_the_timestamps_later_reads_return(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    // A clock with nanoseconds, which neither database stores.
    app.clock
        .advance(chrono::Duration::nanoseconds(641_937_937));
    let fields = "id updatedAt createdAt closedAt residualOverriddenAt";
    let created = admin
        .ok(
            &format!("mutation($r: ID!) {{ createRisk(input: {{registerId: $r, title: \"t\", status: CLOSED, residualImpactOverride: 1}}) {{ {fields} }} }}"),
            json!({ "r": register }),
        )
        .await["createRisk"]
        .clone();
    assert!(
        created["updatedAt"]
            .as_str()
            .is_some_and(|t| t.contains(".641937+") || t.contains(".641937Z")),
        "{created}"
    );
    let read = admin
        .ok(
            &format!("query($id: ID!) {{ risk(id: $id) {{ {fields} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await["risk"]
        .clone();
    assert_eq!(read, created);
}

async fn each_aliased_mutation_reports_its_own_result(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let (status, body) = admin
        .post(
            "mutation($id: ID!) { a: updateRisk(id: $id, input: {title: \"kept\"}) { title } b: updateRisk(id: $id, input: {title: \"\"}) { title } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["a"]["title"], "kept", "{body}");
    assert!(body["data"]["b"].is_null(), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["b"]));
    assert_code(&body, "BAD_USER_INPUT");
    let read = crate::controls::read(&admin, &risk).await;
    assert_eq!(read["title"], "kept");
}

async fn raw_request(request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    (status, headers, body)
}

async fn refusals_from_every_layer_are_graphql_errors(app: TestApp) {
    let admin = app.admin("acme");
    let token = admin.token.clone().unwrap_or_default();
    let http = &admin.http;
    let cases = [
        (
            "headers over the limit",
            http.post(&admin.url)
                .bearer_auth(&token)
                .header("x-padding", "y".repeat(40_000))
                .json(&json!({"query": "{ __typename }"})),
            431,
            "LIMIT_EXCEEDED",
        ),
        (
            "wrong method",
            http.put(&admin.url)
                .bearer_auth(&token)
                .json(&json!({"query": "{ __typename }"})),
            405,
            "BAD_USER_INPUT",
        ),
        (
            "wrong media type",
            http.post(&admin.url)
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("{ __typename }"),
            415,
            "BAD_USER_INPUT",
        ),
        (
            "unknown path",
            http.get(admin.url.replace("/graphql", "/nowhere")),
            404,
            "NOT_FOUND",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, headers, body) = raw_request(request).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_code(&body, code);
        assert!(
            headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json")),
            "{what}"
        );
        if status == 405 {
            assert!(headers.get("allow").is_some(), "405 says what is allowed");
        }
    }
    // Just over the limit, so that the part the server never reads fits the
    // socket buffers and the client gets to read the answer.
    let body = format!(
        "{{\"query\": \"{{ __typename }}\", \"pad\": \"{}\"}}",
        "x".repeat(1 << 20)
    );
    let request = http
        .post(&admin.url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body);
    let (status, _, body) = raw_request(request).await;
    assert_eq!(status, 413, "{body}");
    assert_code(&body, "LIMIT_EXCEEDED");
}

async fn the_request_timeout_answers_limit_exceeded(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    // A transaction of the app's own holds the register's row (on SQLite,
    // the one writer connection), so an update of it waits past the 1 s
    // timeout. (A zero timeout raced the request: a timer fires on the
    // runtime's next millisecond tick, and a fast answer could come first.)
    let holder = fixtures::hold_register(&app.app.state.db, &register).await;
    let (status, body) = admin
        .post(
            "mutation($id: ID!) { updateRegister(id: $id, input: {name: \"Renamed\"}) { id } }",
            json!({ "id": register }),
        )
        .await;
    assert_eq!(status, 408, "{body}");
    assert_code(&body, "LIMIT_EXCEEDED");
    holder.rollback().await.expect("rolls back");
}

async fn clients_that_never_finish_their_headers_are_cut_off(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(app.app.addr)
        .await
        .expect("connects");
    socket
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("writes");
    let mut buffer = Vec::new();
    // The server closes (with or without a 408) well before the test's patience.
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut buffer),
    )
    .await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");
}

async fn connections_past_the_cap_wait_for_a_place(app: TestApp) {
    let hold = [
        tokio::net::TcpStream::connect(app.app.addr)
            .await
            .expect("connects"),
        tokio::net::TcpStream::connect(app.app.addr)
            .await
            .expect("connects"),
    ];
    let health = app.url.replace("/graphql", "/healthz");
    let waiting = reqwest::Client::new()
        .get(&health)
        .timeout(std::time::Duration::from_millis(500))
        .send()
        .await;
    assert!(
        waiting.is_err(),
        "a third connection was served at a cap of 2"
    );
    drop(hold);
    let served = reqwest::Client::new()
        .get(&health)
        .send()
        .await
        .expect("served");
    assert_eq!(served.status().as_u16(), 200);
}

async fn nul_characters_are_refused_naming_their_field(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    admin
        .err(
            "mutation($input: CreateRiskInput!) { createRisk(input: $input) { id } }",
            json!({ "input": { "registerId": register, "title": "a\u{0}b" } }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("variables.input.title"));
    admin
        .err(
            &format!("mutation {{ createRisk(input: {{registerId: \"{register}\", title: \"a\\u0000b\"}}) {{ id }} }}"),
            json!({}),
        )
        .await
        .assert("BAD_USER_INPUT", Some("createRisk.input.title"));
    // Twice: a refused document is not kept as a parsed one.
    for _ in 0..2 {
        admin
            .err("{ risks(search: \"\\u0000\") { totalCount } }", json!({}))
            .await
            .assert("BAD_USER_INPUT", Some("risks.search"));
    }
    let count = admin.ok("{ risks { totalCount } }", json!({})).await;
    assert_eq!(count["risks"]["totalCount"], 0, "nothing was stored");
}

/// A document may spell a character past the BMP as `\u{1F600}` or as a
/// surrogate pair; both are that character, as in GraphQL.js. A block string
/// holds no escapes, and an escape of a NUL is still refused.
async fn wide_unicode_escapes_are_read_as_their_characters(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let create = format!(
        r#"mutation {{ createRisk(input: {{registerId: "{register}",
            title: "a\u{{1F600}}b\uD83D\uDE00c\u{{22}}", description: """\u{{1F600}}"""}})
            {{ id title description }} }}"#
    );
    let created = admin.ok(&create, json!({})).await["createRisk"].clone();
    assert_eq!(created["title"], "a\u{1F600}b\u{1F600}c\"", "{created}");
    assert_eq!(created["description"], "\\u{1F600}", "{created}");
    let read = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { title } }",
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(read["risk"]["title"], created["title"]);
    let found = admin
        .ok(
            r#"{ risks(search: "\u{1F600}b") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(found["risks"]["totalCount"], 1, "{found}");
    admin
        .err(
            &format!(
                r#"mutation {{ createRisk(input: {{registerId: "{register}", title: "a\u{{0}}"}}) {{ id }} }}"#
            ),
            json!({}),
        )
        .await
        .assert("BAD_USER_INPUT", Some("createRisk.input.title"));
    // A lone surrogate stands for no character: a parse error, located.
    let (status, body) = admin
        .post(r#"{ risks(search: "\uD83D") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["locations"].is_array(), "{body}");
}

async fn searches_are_bounded(app: TestApp) {
    let admin = app.admin("acme");
    admin
        .err(
            "query($s: String) { risks(search: $s) { totalCount } }",
            json!({ "s": "x".repeat(64 * 1024) }),
        )
        .await
        .assert("BAD_USER_INPUT", Some("search"));
}

async fn dates_are_full_iso_dates(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let create =
        "mutation($input: CreateRiskInput!) { createRisk(input: $input) { mitigationTargetAt } }";
    let err = admin
        .err(create, json!({ "input": { "registerId": register, "title": "t", "mitigationTargetAt": "2026-1-1" } }))
        .await;
    assert_eq!(err.code, "BAD_USER_INPUT", "{}", err.message);
    assert!(
        err.field
            .as_deref()
            .is_some_and(|f| f.ends_with("mitigationTargetAt")),
        "{err:?}"
    );
    let ok = admin
        .ok(create, json!({ "input": { "registerId": register, "title": "t", "mitigationTargetAt": "2026-01-01" } }))
        .await;
    assert_eq!(ok["createRisk"]["mitigationTargetAt"], "2026-01-01");
}

async fn coercion_errors_name_their_input_path(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let level = |name: &str, value: i64| json!({ "name": name, "value": value });
    let scales = json!({
        "likelihood": [level("L", 1), level("H", 2)],
        "impact": [level("L", 1), level("H", 2)],
        "bands": [{"name": "Low", "threshold": 0, "color": "#0f0"}, {"name": "High", "threshold": 2, "color": "#f00"}],
        "matrix": [[0, 1], [1, -1]]
    });
    let err = admin
        .err(
            "mutation($id: ID!, $s: RiskScalesInput!) { updateRegister(id: $id, input: {scales: $s}) { id } }",
            json!({ "id": register, "s": scales }),
        )
        .await;
    assert_eq!(err.code, "BAD_USER_INPUT", "{}", err.message);
    assert!(
        err.field.as_deref().is_some_and(|f| f.contains("matrix")),
        "{err:?}"
    );
    let err = admin
        .err(
            &format!("mutation {{ updateRegister(id: \"{register}\", input: {{scales: {{likelihood: [{{name: \"L\", value: \"high\"}}], impact: [], bands: []}}}}) {{ id }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(err.code, "BAD_USER_INPUT", "{}", err.message);
    assert!(
        err.field
            .as_deref()
            .is_some_and(|f| f.contains("likelihood")),
        "{err:?}"
    );
    for (query, variables) in [
        (
            r#"{ risks(filter: {updatedSince: "yesterday"}) { totalCount } }"#,
            json!({}),
        ),
        (
            "query($f: RiskFilter) { risks(filter: $f) { totalCount } }",
            json!({ "f": { "updatedSince": "2026-03-01 09:00" } }),
        ),
    ] {
        let err = admin.err(query, variables).await;
        assert_eq!(err.code, "BAD_USER_INPUT", "{}", err.message);
        assert!(
            err.field
                .as_deref()
                .is_some_and(|f| f.ends_with("updatedSince")),
            "{err:?}"
        );
    }
    let fine = admin
        .ok(
            r#"{ risks(filter: {updatedSince: "2026-03-01T09:00:00.5+01:00"}) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(fine["risks"]["totalCount"], 0);
}

async fn a_subscribe_without_payload_is_an_invalid_message(app: TestApp) {
    let admin = app.admin("acme");
    let mut ws =
        WsClient::signed_in(&app.ws_url(), admin.token.as_deref().unwrap_or_default()).await;
    ws.send(json!({ "type": "subscribe", "id": "1" })).await;
    assert_eq!(ws.closed().await, Some(4400));
}

/// A message may be as large as a request's body, and one larger closes the
/// socket with 1009 (RFC 6455: too big to process) before it is read whole.
async fn websocket_messages_are_bounded_as_request_bodies(app: TestApp) {
    let admin = app.admin("acme");
    let mut ws =
        WsClient::signed_in(&app.ws_url(), admin.token.as_deref().unwrap_or_default()).await;
    let padded = |bytes: usize| format!("{{ __typename }}{}", " ".repeat(bytes));
    ws.subscribe("1", &padded(3500), json!({})).await;
    assert_eq!(ws.next_data("1").await, json!({ "__typename": "Query" }));
    assert_eq!(ws.message().await["type"], "complete");
    ws.subscribe("2", &padded(5000), json!({})).await;
    assert_eq!(ws.closed().await, Some(1009));
}

async fn a_token_that_is_not_valid_yet_is_refused(app: TestApp) {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let now = riskgraph::clock::Clock::default().now().timestamp();
    let claims =
        json!({ "sub": "s", "org": "acme", "role": "admin", "exp": now + 7200, "nbf": now + 3600 });
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signs");
    let client = Client {
        token: Some(token),
        ..app.anonymous()
    };
    let (status, body) = client.post("{ __typename }", json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_code(&body, "UNAUTHENTICATED");
}

async fn a_remap_moves_every_level_even_onto_equal_scales(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(
        &admin,
        &register,
        "t",
        json!({"likelihoodLevel": 0, "impactLevel": 4, "residualLikelihoodOverride": 1}),
    )
    .await;
    let scales = admin
        .ok(
            "query($id: ID!) { register(id: $id) { scales { likelihood { name value } impact { name value } bands { name threshold color } } } }",
            json!({ "id": register }),
        )
        .await["register"]["scales"]
        .clone();
    admin
        .ok(
            "mutation($id: ID!, $s: RiskScalesInput!, $m: ScalesRemapInput) { updateRegister(id: $id, input: {scales: $s, scalesRemap: $m}) { id } }",
            json!({ "id": register, "s": scales, "m": { "likelihood": [4, 3, 2, 1, 0] } }),
        )
        .await;
    let read = crate::controls::read(&admin, &risk).await;
    assert_eq!(
        (
            read["likelihoodLevel"].clone(),
            read["impactLevel"].clone(),
            read["residualLikelihoodOverride"].clone()
        ),
        (json!(4), json!(4), json!(3))
    );
}

/// With one pooled connection, concurrent requests take turns for it. A
/// request that held a connection while it waited for another would wait
/// out the acquire timeout and be answered UNAVAILABLE: writes, a re-score,
/// pages with every nested loader, heatmaps with their cells' risks, all
/// at once, must all be answered.
async fn one_pooled_connection_serves_concurrent_requests_in_turn(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let control = fixtures::control(&admin, json!({ "name": "MFA" })).await;
    let mut risks = Vec::new();
    for n in 0..8 {
        let levels = json!({ "likelihoodLevel": n % 5, "impactLevel": n % 4 });
        let risk = fixtures::risk(&admin, &register, &format!("Risk {n}"), levels).await;
        fixtures::link(&admin, &risk, &control, "").await;
        risks.push(risk);
    }
    let read = "query($r: ID!) { risks(filter: {registerId: $r}) { nodes { title owner { name } severity { name } register { name } controls { control { name } } customFields { text } residual { score band { name } } } } heatmap(registerId: $r) { cells { count risks(first: 2) { title } } } }";
    let rescore = "mutation($id: ID!, $e: Float) { updateControl(id: $id, input: {effectiveness: $e}) { id } }";
    let mut requests = Vec::new();
    for (n, risk) in risks.iter().enumerate() {
        let title = json!({ "id": risk["id"], "t": format!("title {n}") });
        requests.push((UPDATE_TITLE, title));
        requests.push((read, json!({ "r": register })));
    }
    requests.push((rescore, json!({ "id": control, "e": 0.25 })));
    let answers = futures_util::future::join_all(
        requests
            .into_iter()
            .map(|(query, variables)| admin.post(query, variables)),
    )
    .await;
    for (status, body) in answers {
        assert!(
            status == 200 && body.get("errors").is_none(),
            "{status} {body}"
        );
    }
}
