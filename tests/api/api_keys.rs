//! Organization API keys for integrations: the whole lifecycle, over HTTP
//! and WebSocket.

use crate::both;
use crate::fixtures;
use crate::helpers::{Client, TestApp};
use crate::ws_client::{Received, WsClient};
use serde_json::{Value, json};

both!(
    a_key_works_until_it_is_revoked,
    a_viewer_key_reads_and_cannot_write,
    an_expired_key_is_refused,
    keys_stay_in_their_organization,
);

const CREATE: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
    secret apiKey { id name role prefix createdAt expiresAt lastUsedAt createdBy { id } } } }";

/// A key's client (its secret) and the answer that created it.
async fn key(admin: &Client, input: Value) -> (Client, Value) {
    let created = admin.ok(CREATE, json!({ "i": input })).await["createApiKey"].clone();
    let secret = created["secret"].as_str().expect("a secret").to_owned();
    let client = Client {
        http: admin.http.clone(),
        url: admin.url.clone(),
        token: Some(format!("key:{secret}")),
    };
    (client, created)
}

async fn a_key_works_until_it_is_revoked(app: TestApp) {
    let admin = app.admin("acme");
    let me = admin.ok("{ viewer { member { id } } }", json!({})).await;
    let (jira, created) = key(&admin, json!({ "name": "Jira sync", "role": "EDITOR" })).await;
    let secret = created["secret"].as_str().unwrap_or_default();
    let id = created["apiKey"]["id"].clone();
    assert!(
        secret.starts_with("rg_live_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(created["apiKey"]["prefix"], json!(&secret[..20]));
    assert_eq!(
        created["apiKey"]["createdBy"]["id"],
        me["viewer"]["member"]["id"]
    );
    assert_eq!(created["apiKey"]["lastUsedAt"], Value::Null);

    // Listed without its secret.
    let listed = admin
        .ok(
            "{ apiKeys { id name role prefix lastUsedAt revokedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["apiKeys"][0]["id"], id);
    assert!(!listed.to_string().contains(secret), "no secret in lists");

    // It acts as an editor, and history names it.
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&jira, &register, "From Jira", json!({})).await;
    let history = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { createdBy { name } history { nodes { actor { name } } } } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(history["risk"]["createdBy"]["name"], "Jira sync");
    assert_eq!(
        history["risk"]["history"]["nodes"][0]["actor"]["name"],
        "Jira sync"
    );
    let used = admin.ok("{ apiKeys { lastUsedAt } }", json!({})).await;
    assert_ne!(used["apiKeys"][0]["lastUsedAt"], Value::Null);

    // Over WebSocket too; revoking ends the subscription, then the socket.
    let mut ws = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "apiKey": secret } }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    // From a cursor: a subscription from now could start after the risk
    // below is created, and miss it.
    let from = crate::subscriptions::latest_cursor(&admin).await;
    ws.subscribe(
        "1",
        "subscription($r: ID!, $after: String) { riskEvents(registerId: $r, after: $after) { kind } }",
        json!({ "r": register, "after": from }),
    )
    .await;
    fixtures::risk(&admin, &register, "live", json!({})).await;
    assert_eq!(ws.next_data("1").await["riskEvents"]["kind"], "CREATED");
    let revoked = admin
        .ok(
            "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_ne!(revoked["revokeApiKey"]["revokedAt"], Value::Null);
    let ended = ws.message().await;
    assert_eq!(
        (ended["type"].as_str(), ended["id"].as_str()),
        (Some("error"), Some("1"))
    );
    assert_eq!(ended["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(matches!(ws.receive().await, Received::Closed(Some(4403))));

    let refused = jira.err("{ registers { id } }", json!({})).await;
    assert_eq!(refused.code, "UNAUTHENTICATED");
    let mut ws = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "apiKey": secret } }))
        .await;
    assert_eq!(ws.closed().await, Some(4403));
}

async fn a_viewer_key_reads_and_cannot_write(app: TestApp) {
    let admin = app.admin("acme");
    fixtures::register(&admin, "RA").await;
    let (scanner, _) = key(&admin, json!({ "name": "Scanner", "role": "VIEWER" })).await;
    let read = scanner.ok("{ registers { name } }", json!({})).await;
    assert_eq!(read["registers"][0]["name"], "Ops");
    let write = scanner
        .err(
            r#"mutation { createRegister(input: {name: "X", identifierPrefix: "X"}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(write.code, "FORBIDDEN");
    // Only admins manage keys, and a key cannot make keys unless it is one.
    let editor = app.client("acme", "ed", "editor");
    let code = editor.err("{ apiKeys { id } }", json!({})).await.code;
    assert_eq!(code, "FORBIDDEN");
    let input = json!({ "i": { "name": "more", "role": "ADMIN" } });
    assert_eq!(scanner.err(CREATE, input).await.code, "FORBIDDEN");
    let bad = admin
        .err(CREATE, json!({ "i": { "name": " ", "role": "VIEWER" } }))
        .await;
    assert_eq!(
        (bad.code.as_str(), bad.field.as_deref()),
        ("BAD_USER_INPUT", Some("input.name"))
    );
}

async fn an_expired_key_is_refused(app: TestApp) {
    let admin = app.admin("acme");
    let now = app.clock.now();
    let soon = (now + chrono::Duration::hours(1)).to_rfc3339();
    let (ci, _) = key(
        &admin,
        json!({ "name": "CI", "role": "VIEWER", "expiresAt": soon }),
    )
    .await;
    ci.ok("{ registers { id } }", json!({})).await;
    app.clock.advance(chrono::Duration::hours(2));
    let refused = ci.err("{ registers { id } }", json!({})).await;
    assert_eq!(refused.code, "UNAUTHENTICATED");
    assert!(refused.message.contains("expired"), "{}", refused.message);
    let past = (now - chrono::Duration::hours(1)).to_rfc3339();
    let bad = admin
        .err(
            CREATE,
            json!({ "i": { "name": "old", "role": "VIEWER", "expiresAt": past } }),
        )
        .await;
    assert_eq!(bad.field.as_deref(), Some("input.expiresAt"));
}

async fn keys_stay_in_their_organization(app: TestApp) {
    let acme = app.admin("acme");
    let globex = app.admin("globex");
    fixtures::register(&globex, "G").await;
    let (acme_key, created) = key(&acme, json!({ "name": "a", "role": "ADMIN" })).await;
    let id = created["apiKey"]["id"].clone();
    let seen = acme_key.ok("{ registers { id } }", json!({})).await;
    assert_eq!(
        seen["registers"],
        json!([]),
        "no register of another organization"
    );
    let theirs = globex.ok("{ apiKeys { id } }", json!({})).await;
    assert_eq!(theirs["apiKeys"], json!([]));
    let revoke = globex
        .err(
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(revoke.code, "NOT_FOUND");
    acme_key.ok("{ registers { id } }", json!({})).await;
}
