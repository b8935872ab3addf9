use crate::fixtures;
use crate::fixtures::{control, link};
use crate::helpers::{Client, SECRET, TestApp};
use crate::ws_client::{Received, WsClient};
use crate::{both, both_with, postgres_only};
use riskgraph::auth::{Claims, mint};
use riskgraph::clock::Clock;
use riskgraph::config::Config;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

both!(
    a_mutation_reaches_a_subscriber,
    residual_changes_fire_for_control_health_not_for_titles,
    heatmap_changed_sends_the_map_then_the_moved_counts,
    heatmap_changed_follows_its_registers_scales,
    a_resumed_subscription_misses_nothing_and_repeats_nothing,
    subscriptions_see_only_their_organization,
    connecting_needs_a_valid_token,
    the_legacy_protocol_still_works,
    shutting_down_closes_sockets_with_going_away,
    history_lists_every_change_oldest_first,
);

const EVENTS: &str =
    "subscription($r: ID, $after: String) { riskEvents(registerId: $r, after: $after) {
    cursor kind cause riskId changes { field from to } risk { title } actor { name } } }";

/// The cursor of the newest event, for subscribing from now on.
pub async fn latest_cursor(client: &Client) -> String {
    let data = client
        .ok(
            "{ riskEvents(first: 500) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    data["riskEvents"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap_or("0")
        .to_owned()
}

pub fn token(org: &str, role: &str, exp: i64) -> String {
    let claims = Claims {
        sub: "sub".into(),
        org: org.into(),
        role: role.into(),
        exp,
        name: Some("ws".into()),
        email: None,
    };
    mint(SECRET, &claims)
}

pub fn hour_from_now() -> i64 {
    Clock::default().now().timestamp() + 3600
}

async fn a_mutation_reaches_a_subscriber(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe("1", EVENTS, json!({ "r": register, "after": "0" }))
        .await;
    let risk = fixtures::risk(&admin, &register, "Phishing", json!({})).await;
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {title: \"Spear phishing\"}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    let created = ws.next_data("1").await["riskEvents"].clone();
    assert_eq!(
        (created["kind"].as_str(), created["cause"].as_str()),
        (Some("CREATED"), Some("RISK_CREATED"))
    );
    assert_eq!(created["riskId"], risk["id"]);
    assert_eq!(created["actor"]["name"], "admin of acme");
    let updated = ws.next_data("1").await["riskEvents"].clone();
    assert_eq!(updated["kind"], "UPDATED");
    assert_eq!(
        updated["changes"],
        json!([{ "field": "title", "from": "Phishing", "to": "Spear phishing" }])
    );
    assert_eq!(updated["risk"]["title"], "Spear phishing");
    let (a, b) = (
        created["cursor"].as_str().unwrap_or(""),
        updated["cursor"].as_str().unwrap_or(""),
    );
    assert!(a.parse::<i64>().unwrap_or(0) < b.parse::<i64>().unwrap_or(0));
    ws.close().await;
}

async fn residual_changes_fire_for_control_health_not_for_titles(app: TestApp) {
    let admin = app.admin("acme");
    let (register, risk) = fixtures::scored_risk(&admin, (4, 4)).await;
    let c = control(&admin, json!({"name": "EDR", "effectiveness": 0.6})).await;
    link(&admin, &risk, &c, ", reduces: LIKELIHOOD").await;
    let from = latest_cursor(&admin).await;
    // Before subscribing: replayed from the table, where it must be left
    // out as it is live.
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {title: \"renamed\"}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe(
        "r",
        "subscription($r: ID, $after: String) { residualRiskChanged(registerId: $r, after: $after) {
            cursor cause riskId previous { score band { name } } current { score band { name } } risk { title } } }",
        json!({ "r": register, "after": from }),
    )
    .await;
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {notes: \"live\"}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { id } }",
            json!({ "id": c }),
        )
        .await;
    let change = ws.next_data("r").await["residualRiskChanged"].clone();
    assert_eq!(
        change["cause"], "CONTROL_UPDATED",
        "the title edit is not a residual change: {change}"
    );
    // 5 x 0.4 = 2, x 5 = 10 (High); with the control critical, 25 (Critical).
    assert_eq!(
        change["previous"],
        json!({ "score": 10.0, "band": { "name": "High" } })
    );
    assert_eq!(
        change["current"],
        json!({ "score": 25.0, "band": { "name": "Critical" } })
    );
    assert_eq!(change["risk"]["title"], "renamed");
    ws.close().await;
}

/// A viewer's live heatmap (`fields` of it) of a new register with one risk
/// at levels (0, 0): the admin, the register, the risk and the socket.
async fn live_heatmap(app: &TestApp, fields: &str) -> (Client, String, Value, WsClient) {
    let admin = app.admin("acme");
    let (register, risk) = fixtures::scored_risk(&admin, (0, 0)).await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    let query =
        format!("subscription($r: ID!) {{ heatmapChanged(registerId: $r) {{ {fields} }} }}");
    ws.subscribe("h", &query, json!({ "r": register })).await;
    (admin, register, risk, ws)
}

async fn heatmap_changed_sends_the_map_then_the_moved_counts(app: TestApp) {
    let (admin, register, risk, mut ws) = live_heatmap(&app, "total cells { count }").await;
    let counts = |data: &Value| -> Vec<i64> {
        data["heatmapChanged"]["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .filter_map(|c| c["count"].as_i64())
            .collect()
    };
    let first = ws.next_data("h").await;
    assert_eq!((counts(&first)[0], counts(&first)[24]), (1, 0));
    // A burst: the subscriber may see it coalesced, but the last state comes.
    for (l, i) in [(2, 2), (3, 3), (4, 4)] {
        admin
            .ok(
                "mutation($id: ID!, $l: Int, $i: Int) { updateRisk(id: $id, input: {likelihoodLevel: $l, impactLevel: $i}) { id } }",
                json!({ "id": risk["id"], "l": l, "i": i }),
            )
            .await;
    }
    fixtures::risk(
        &admin,
        &register,
        "second",
        json!({"likelihoodLevel": 0, "impactLevel": 0}),
    )
    .await;
    loop {
        let now = counts(&ws.next_data("h").await);
        if now[24] == 1 && now[0] == 1 {
            assert_eq!(now.iter().sum::<i64>(), 2);
            break;
        }
    }
    ws.close().await;
}

/// A live heatmap is drawn on its register's scales as they are: a level
/// added is a row of the next map, pushed when the scales change, and a
/// risk moved onto it is counted in its cell.
async fn heatmap_changed_follows_its_registers_scales(app: TestApp) {
    let fields = "likelihood { name } unscored cells { likelihoodLevel count }";
    let (admin, register, risk, mut ws) = live_heatmap(&app, fields).await;
    let rows = |data: &Value| {
        data["heatmapChanged"]["likelihood"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(rows(&ws.next_data("h").await), Some(5));

    let mut scales = admin
        .ok(
            "query($id: ID!) { register(id: $id) { scales { likelihood { name value } impact { name value } bands { name threshold color } } } }",
            json!({ "id": register }),
        )
        .await["register"]["scales"]
        .clone();
    let top = scales["likelihood"][4]["value"].as_f64().unwrap_or(5.0);
    if let Some(levels) = scales["likelihood"].as_array_mut() {
        levels.push(json!({ "name": "Certain", "value": top + 1.0 }));
    }
    admin
        .ok(
            "mutation($id: ID!, $s: RiskScalesInput!) { updateRegister(id: $id, input: {scales: $s}) { id } }",
            json!({ "id": register, "s": scales }),
        )
        .await;
    assert_eq!(rows(&ws.next_data("h").await), Some(6));

    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {likelihoodLevel: 5}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    let moved = ws.next_data("h").await;
    let top_row: i64 = moved["heatmapChanged"]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["likelihoodLevel"] == 5)
        .filter_map(|c| c["count"].as_i64())
        .sum();
    assert_eq!(
        (top_row, &moved["heatmapChanged"]["unscored"]),
        (1, &json!(0)),
        "{moved}"
    );
    ws.close().await;
}

async fn collect(ws: &mut WsClient, id: &str, n: usize) -> Vec<String> {
    let mut cursors = Vec::new();
    while cursors.len() < n {
        let data = ws.next_data(id).await;
        cursors.push(
            data["riskEvents"]["cursor"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    cursors
}

async fn a_resumed_subscription_misses_nothing_and_repeats_nothing(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let (editor, risk_id) = (admin.clone(), risk["id"].clone());
    let edit = move |n: i32| {
        let admin = editor.clone();
        let id = risk_id.clone();
        async move {
            admin
                .ok("mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { id } }", json!({ "id": id, "n": format!("edit {n}") }))
                .await;
        }
    };
    for n in 0..3 {
        edit(n).await;
    }
    let url = app.ws_url();
    let viewer = token("acme", "viewer", hour_from_now());
    let mut ws = WsClient::signed_in(&url, &viewer).await;
    ws.subscribe("1", EVENTS, json!({ "r": register, "after": "0" }))
        .await;
    let mut seen = collect(&mut ws, "1", 4).await;
    ws.close().await;

    // Changes while disconnected, and more while the replay runs.
    for n in 3..8 {
        edit(n).await;
    }
    let writer = tokio::spawn({
        let edit = edit.clone();
        async move {
            for n in 8..28 {
                edit(n).await;
            }
        }
    });
    let mut ws = WsClient::signed_in(&url, &viewer).await;
    let last = seen.last().cloned().unwrap_or_default();
    ws.subscribe("2", EVENTS, json!({ "r": register, "after": last }))
        .await;
    seen.extend(collect(&mut ws, "2", 25).await);
    writer.await.expect("writer");
    ws.close().await;

    let numbers: Vec<i64> = seen.iter().map(|c| c.parse().unwrap_or(-1)).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate: {numbers:?}"
    );
    let all = admin
        .ok(
            "query($r: ID) { riskEvents(registerId: $r, first: 500) { nodes { cursor } } }",
            json!({ "r": register }),
        )
        .await;
    let expected: Vec<String> = all["riskEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["cursor"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(seen, expected, "every event exactly once");
}

async fn a_burst_reaches_a_slow_subscriber_completely(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let mut risks = Vec::new();
    for n in 0..4 {
        risks.push(
            fixtures::risk(&admin, &register, &format!("r{n}"), json!({})).await["id"].clone(),
        );
    }
    let from = latest_cursor(&admin).await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe(
        "b",
        "subscription($after: String) { riskEvents(after: $after) { cursor } }",
        json!({ "after": from }),
    )
    .await;
    // The subscriber reads nothing until every write is done.
    edit_all(&admin, &risks, "burst", 250).await;
    let mut cursors = HashSet::new();
    let mut previous = from.parse::<i64>().unwrap_or(0);
    while cursors.len() < 1000 {
        let data = ws.next_data("b").await;
        let cursor = data["riskEvents"]["cursor"]
            .as_str()
            .unwrap_or("")
            .parse::<i64>()
            .unwrap_or(-1);
        assert!(cursor > previous, "in order");
        previous = cursor;
        cursors.insert(cursor);
    }
    assert_eq!(cursors.len(), 1000);
    ws.close().await;
}

/// `n` edits of each risk's notes, all at once, each to a note new to it.
async fn edit_all(admin: &Client, risks: &[Value], round: &str, n: usize) {
    let writers: Vec<_> = risks
        .iter()
        .map(|id| {
            let (admin, id, round) = (admin.clone(), id.clone(), round.to_owned());
            tokio::spawn(async move {
                for k in 0..n {
                    admin
                        .ok("mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { id } }", json!({ "id": id, "n": format!("{round} {k}") }))
                        .await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
}

/// A subscriber of one register sleeps through the other registers' events
/// (they do not wake it); when the channel has dropped some of them, it
/// still gets each of its own once, in order, whether the channel dropped
/// them too (then they come from the table) or not.
async fn a_register_subscriber_gets_its_own_events_through_others_bursts(app: TestApp) {
    let admin = app.admin("acme");
    let (mine, theirs) = (
        fixtures::register(&admin, "MINE").await,
        fixtures::register(&admin, "THEIRS").await,
    );
    let own = fixtures::risk(&admin, &mine, "own", json!({})).await["id"].clone();
    let mut others = Vec::new();
    for n in 0..2 {
        others
            .push(fixtures::risk(&admin, &theirs, &format!("o{n}"), json!({})).await["id"].clone());
    }
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe(
        "mine",
        "subscription($r: ID, $after: String) { riskEvents(registerId: $r, after: $after) { cursor riskId } }",
        json!({ "r": mine, "after": latest_cursor(&admin).await }),
    )
    .await;
    // Far more of the others' events than the channel holds, then one own.
    edit_all(&admin, &others, "quiet", 20).await;
    edit_all(&admin, std::slice::from_ref(&own), "woken", 1).await;
    // Own and others' events together, passed on in batches that overflow
    // the channel.
    let mut all = others.clone();
    all.push(own.clone());
    edit_all(&admin, &all, "mixed", 40).await;
    let mut previous = 0;
    for _ in 0..41 {
        let data = ws.next_data("mine").await;
        assert_eq!(data["riskEvents"]["riskId"], own, "only its register's");
        let cursor: i64 = data["riskEvents"]["cursor"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(-1);
        assert!(cursor > previous, "in order, once each");
        previous = cursor;
    }
    // Nothing more: the next is the next own change.
    edit_all(&admin, &others, "last", 1).await;
    edit_all(&admin, std::slice::from_ref(&own), "last", 1).await;
    let data = ws.next_data("mine").await;
    assert!(
        data["riskEvents"]["cursor"]
            .as_str()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c > previous + 1),
        "{data}"
    );
    ws.close().await;
}

async fn subscriptions_see_only_their_organization(app: TestApp) {
    let acme = app.admin("acme");
    let globex = app.admin("globex");
    let theirs = fixtures::register(&globex, "G").await;
    let mine = fixtures::register(&acme, "A").await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe("x", EVENTS, json!({ "r": theirs })).await;
    let refused = ws.message().await;
    assert_eq!(refused["type"], "next");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );
    assert_eq!(ws.message().await["type"], "complete");
    // Everything of the organization, nothing of another.
    ws.subscribe(
        "all",
        "subscription { riskEvents(after: \"0\") { riskId } }",
        json!({}),
    )
    .await;
    fixtures::risk(&globex, &theirs, "secret", json!({})).await;
    let own = fixtures::risk(&acme, &mine, "own", json!({})).await;
    let data = ws.next_data("all").await;
    assert_eq!(data["riskEvents"]["riskId"], own["id"]);
    ws.close().await;
}

async fn connecting_needs_a_valid_token(app: TestApp) {
    for payload in [
        json!({}),
        json!({ "Authorization": "Bearer x.y.z" }),
        json!({ "token": mint("other-secret", &Claims {
        sub: "a".into(), org: "acme".into(), role: "admin".into(), exp: hour_from_now(), name: None, email: None,
    }) }),
    ] {
        let mut ws = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.closed().await, Some(4403), "{payload}");
    }
    // {"token": ...} works as well as the Authorization form.
    let mut ws = WsClient::connect(&app.ws_url(), "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "token": token("acme", "viewer", hour_from_now()) } })).await;
    assert_eq!(ws.message().await["type"], "connection_ack");
}

async fn an_expired_token_ends_its_subscriptions(app: TestApp) {
    let soon = Clock::default().now().timestamp() + 2;
    let mut ws = WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", soon)).await;
    ws.subscribe("e", "subscription { riskEvents { cursor } }", json!({}))
        .await;
    let ended = ws.message().await;
    assert_eq!(
        (ended["type"].as_str(), ended["id"].as_str()),
        (Some("error"), Some("e")),
        "{ended}"
    );
    assert_eq!(ended["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(ws.closed().await, Some(4403));
}

async fn the_legacy_protocol_still_works(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let mut ws = WsClient::connect(&app.ws_url(), "graphql-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", token("acme", "viewer", hour_from_now())) } }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.send(json!({ "type": "start", "id": "7", "payload": { "query": EVENTS, "variables": { "r": register, "after": "0" } } }))
        .await;
    fixtures::risk(&admin, &register, "legacy", json!({})).await;
    let data = ws.message().await;
    assert_eq!(
        (data["type"].as_str(), data["id"].as_str()),
        (Some("data"), Some("7")),
        "{data}"
    );
    assert_eq!(
        data["payload"]["data"]["riskEvents"]["risk"]["title"],
        "legacy"
    );
    ws.send(json!({ "type": "stop", "id": "7" })).await;
    ws.send(json!({ "type": "connection_terminate" })).await;
    assert!(matches!(ws.receive().await, Received::Closed(_)));
}

async fn shutting_down_closes_sockets_with_going_away(app: TestApp) {
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    ws.subscribe("s", "subscription { riskEvents { cursor } }", json!({}))
        .await;
    let TestApp { app, .. } = app;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(ws.closed().await, Some(1001));
    stopping.await.expect("stops");
}

async fn history_lists_every_change_oldest_first(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({"likelihoodLevel": 1})).await;
    let field = admin
        .ok("mutation($r: ID!) { createCustomField(input: {registerId: $r, name: \"Unit\", type: TEXT}) { id } }", json!({ "r": register }))
        .await["createCustomField"]["id"]
        .clone();
    admin
        .ok(
            "mutation($id: ID!, $f: ID!) { updateRisk(id: $id, input: {likelihoodLevel: 3, customFields: [{fieldId: $f, text: \"Ops\"}]}) { id } }",
            json!({ "id": risk["id"], "f": field }),
        )
        .await;
    admin
        .ok(
            "mutation($id: ID!) { archiveRisk(id: $id) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    let page = |first: i64, after: Value| {
        let admin = admin.clone();
        let id = risk["id"].clone();
        async move {
            admin
                .ok(
                    "query($id: ID!, $first: Int, $after: String) { risk(id: $id) { history(first: $first, after: $after) {
                        pageInfo { hasNextPage endCursor } nodes { kind cause actor { name } occurredAt changes { field from to } } } } }",
                    json!({ "id": id, "first": first, "after": after }),
                )
                .await["risk"]["history"]
                .clone()
        }
    };
    let first = page(2, Value::Null).await;
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let kinds: Vec<&str> = first["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["CREATED", "UPDATED"]);
    assert_eq!(
        first["nodes"][1]["changes"],
        json!([
            { "field": "likelihoodLevel", "from": 1, "to": 3 },
            { "field": "customFields.Unit", "from": null, "to": "Ops" }
        ])
    );
    assert_eq!(first["nodes"][0]["occurredAt"], "2026-03-01T09:00:00+00:00");
    let rest = page(2, first["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["nodes"][0]["cause"], "RISK_ARCHIVED");
    // Another organization sees none of it.
    let theirs = app
        .admin("globex")
        .ok("{ riskEvents { nodes { cursor } } }", json!({}))
        .await;
    assert_eq!(theirs["riskEvents"]["nodes"], json!([]));
}

// A tiny feed buffer, so that the subscriber must fall behind the channel.
both_with!(a_burst_reaches_a_slow_subscriber_completely, |c| c
    .limits
    .feed_buffer =
    8);
// A feed buffer of one: any two events passed on together overflow it.
both_with!(
    a_register_subscriber_gets_its_own_events_through_others_bursts,
    |c| c.limits.feed_buffer = 1
);
// No leeway, so that a token can expire within the test.
both_with!(an_expired_token_ends_its_subscriptions, |c| c
    .jwt_leeway_secs =
    0);
postgres_only!(
    two_instances_deliver_each_others_changes,
    a_key_revoked_on_one_instance_is_refused_on_another,
    a_key_revoked_while_an_instance_is_deaf_is_caught_up,
    events_wait_for_the_transactions_still_writing_before_them,
    events_wait_for_a_writer_that_took_its_id_later,
);

/// A `riskgraph serve` process of its own.
pub struct Instance {
    pub child: tokio::process::Child,
    pub url: String,
}

pub async fn spawn_instance(database_url: &str) -> Instance {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskgraph"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url)
        .env("RISKGRAPH_JWT_SECRET", SECRET)
        // Only LISTEN/NOTIFY can deliver in time: the poll is an hour.
        .env("RISKGRAPH_FEED_POLL_MS", "3600000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("riskgraph starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .expect("reads")
            .expect("a listening line");
        if let Some(rest) = line.strip_prefix("riskgraph listening on ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    Instance { child, url }
}

async fn two_instances_deliver_each_others_changes(database_url: String) {
    let a = spawn_instance(&database_url).await;
    let b = spawn_instance(&database_url).await;
    let writer = Client {
        http: crate::helpers::http_client(),
        url: a.url.clone(),
        token: Some(token("acme", "admin", hour_from_now())),
    };
    let register = fixtures::register(&writer, "RA").await;
    let mut ws = WsClient::signed_in(
        &b.url.replacen("http", "ws", 1),
        &token("acme", "viewer", hour_from_now()),
    )
    .await;
    // From the start: the first change may be replayed from the table; the
    // second, made after the first arrived, can only come live.
    ws.subscribe("1", EVENTS, json!({ "r": register, "after": "0" }))
        .await;
    let first = fixtures::risk(&writer, &register, "one", json!({})).await;
    let got = ws.next_data("1").await;
    assert_eq!(got["riskEvents"]["riskId"], first["id"]);
    let second = fixtures::risk(&writer, &register, "two", json!({})).await;
    let got = ws.next_data("1").await;
    assert_eq!(got["riskEvents"]["riskId"], second["id"]);
    ws.close().await;
    drop((a.child, b.child));
}

/// Writers do not wait for each other, so a later seq can commit first. The
/// feed holds it back until the transaction that holds the earlier seq ends,
/// then sends both in order, or only the later one after a rollback.
async fn events_wait_for_the_transactions_still_writing_before_them(database_url: String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = TestApp::with_config(Config::for_database(database_url, SECRET), dir).await;
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let edit = |n: usize| {
        admin.ok(
            "mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { id } }",
            json!({ "id": risk["id"], "n": format!("edit {n}") }),
        )
    };
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    let from = latest_cursor(&admin).await;
    ws.subscribe("1", EVENTS, json!({ "r": register, "after": from }))
        .await;
    let mut last: i64 = from.parse().expect("a cursor");
    for commit in [true, false] {
        // A writer that has taken the next seq and not yet committed.
        let slow = app.app.state.db.begin().await.expect("begins");
        slow.execute_unprepared(COPY_LAST_EVENT)
            .await
            .expect("inserts");
        edit(1).await;
        assert!(
            ws.quiet_for(Duration::from_millis(300)).await,
            "the later event waits for the earlier writer"
        );
        // A page ends before the hole as well, so its cursor skips nothing.
        let page = admin
            .ok(
                "query($r: ID) { riskEvents(registerId: $r, first: 500) { pageInfo { endCursor } } }",
                json!({ "r": register }),
            )
            .await;
        assert_eq!(
            page["riskEvents"]["pageInfo"]["endCursor"],
            json!(last.to_string())
        );
        if commit {
            slow.commit().await.expect("commits");
        } else {
            slow.rollback().await.expect("rolls back");
        }
        edit(2).await;
        let expected: Vec<i64> = if commit {
            vec![last + 1, last + 2, last + 3]
        } else {
            vec![last + 2, last + 3]
        };
        let got: Vec<i64> = collect(&mut ws, "1", expected.len())
            .await
            .iter()
            .map(|c| c.parse().expect("a cursor"))
            .collect();
        assert_eq!(got, expected, "commit: {commit}");
        last += 3;
    }
    ws.close().await;
}

/// A writer's transaction gets its id at its first write and its seq at its
/// event, so a writer still running can hold a lower seq under a higher id
/// than one that has committed: an id above every one the database has seen
/// finish, which no snapshot lists as running.
async fn events_wait_for_a_writer_that_took_its_id_later(database_url: String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = TestApp::with_config(Config::for_database(database_url, SECRET), dir).await;
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    fixtures::risk(&admin, &register, "t", json!({})).await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    let from = latest_cursor(&admin).await;
    ws.subscribe("1", EVENTS, json!({ "r": register, "after": from }))
        .await;
    let last: i64 = from.parse().expect("a cursor");
    let state = &app.app.state;
    let earlier = state.db.begin().await.expect("begins");
    earlier
        .execute_unprepared("SELECT pg_current_xact_id()")
        .await
        .expect("takes an id");
    let later = state.db.begin().await.expect("begins");
    later
        .execute_unprepared(COPY_LAST_EVENT)
        .await
        .expect("inserts");
    earlier
        .execute_unprepared(COPY_LAST_EVENT)
        .await
        .expect("inserts");
    earlier.commit().await.expect("commits");
    // However often the feed looks, the later seq waits for the writer of
    // the earlier one.
    for _ in 0..3 {
        state.feed.wake();
        assert!(
            ws.quiet_for(Duration::from_millis(200)).await,
            "an event went out before the one under it"
        );
    }
    later.commit().await.expect("commits");
    state.feed.wake();
    let got = collect(&mut ws, "1", 2).await;
    assert_eq!(got, [(last + 1).to_string(), (last + 2).to_string()]);
    ws.close().await;
}

/// Inserts a copy of the newest event: a writer's event, without the rest
/// of its write.
const COPY_LAST_EVENT: &str = "INSERT INTO risk_events (org_id, register_id, risk_id, kind, \
     cause, actor_id, occurred_at, changes, residual_before, residual_after) \
     SELECT org_id, register_id, risk_id, kind, cause, actor_id, occurred_at, changes, \
     residual_before, residual_after FROM risk_events ORDER BY seq DESC LIMIT 1";

/// Two instances; on the second, a socket signed in with a key created on
/// the first, subscribed. Returns the instances, the first's admin, the
/// socket and the key's id.
async fn a_socket_with_a_key(
    database_url: &str,
) -> ((Instance, Instance), Client, WsClient, Value) {
    let a = spawn_instance(database_url).await;
    let b = spawn_instance(database_url).await;
    let admin = Client {
        http: crate::helpers::http_client(),
        url: a.url.clone(),
        token: Some(token("acme", "admin", hour_from_now())),
    };
    let created = admin
        .ok(
            "mutation { createApiKey(input: {name: \"sync\", role: VIEWER}) { secret apiKey { id } } }",
            json!({}),
        )
        .await;
    let secret = created["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_default();
    let mut ws = WsClient::connect(&b.url.replacen("http", "ws", 1), "graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "apiKey": secret } }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe("1", EVENTS, json!({ "after": null })).await;
    let id = created["createApiKey"]["apiKey"]["id"].clone();
    ((a, b), admin, ws, id)
}

/// Revokes the key through `admin`; the socket must end, refused.
async fn revoked_ends(admin: &Client, mut ws: WsClient, id: Value) {
    admin
        .ok(
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    let ended = ws.message().await;
    assert_eq!(ended["type"], "error", "{ended}");
    assert_eq!(ws.closed().await, Some(4403));
}

async fn a_key_revoked_on_one_instance_is_refused_on_another(database_url: String) {
    let (instances, admin, ws, id) = a_socket_with_a_key(&database_url).await;
    revoked_ends(&admin, ws, id).await;
    drop(instances);
}

/// A key revoked while an instance is not listening (its LISTEN connection
/// was cut) still ends that instance's sockets: the new connection reads
/// what was revoked since the old one opened.
async fn a_key_revoked_while_an_instance_is_deaf_is_caught_up(database_url: String) {
    let (instances, admin, ws, id) = a_socket_with_a_key(&database_url).await;
    // Cuts every instance's LISTEN connection; each waits a second before
    // it listens again, and the revocation is announced meanwhile.
    let db = sea_orm::Database::connect(&database_url)
        .await
        .expect("connects");
    let cut = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE '%LISTEN%' \
             AND pid <> pg_backend_pid()",
        ))
        .await
        .expect("cuts");
    assert_eq!(cut.len(), 2, "one listener an instance");
    revoked_ends(&admin, ws, id).await;
    drop(instances);
}

// Two operations a socket, so that the third is one too many.
both_with!(a_socket_runs_a_bounded_number_of_operations, |c| c
    .limits
    .ws_max_operations =
    2);

/// A socket that opens operation after operation is refused past the limit,
/// with an error for that operation alone; the others run on, and a place
/// freed by `complete` can be taken again.
async fn a_socket_runs_a_bounded_number_of_operations(app: TestApp) {
    let admin = app.admin("acme");
    let (register, _) = fixtures::scored_risk(&admin, (0, 0)).await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), &token("acme", "viewer", hour_from_now())).await;
    let heatmap = "subscription($r: ID!) { heatmapChanged(registerId: $r) { total } }";
    for id in ["1", "2"] {
        ws.subscribe(id, heatmap, json!({ "r": register })).await;
        assert_eq!(ws.next_data(id).await["heatmapChanged"]["total"], 1);
    }
    ws.subscribe("3", heatmap, json!({ "r": register })).await;
    let refused = ws.message().await;
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("error"), Some("3")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    ws.subscribe("4", heatmap, json!({ "r": register })).await;
    assert_eq!(ws.next_data("4").await["heatmapChanged"]["total"], 1);
    fixtures::risk(&admin, &register, "second", json!({})).await;
    let mut moved = Vec::new();
    for _ in 0..2 {
        let m = ws.message().await;
        assert_eq!(m["payload"]["data"]["heatmapChanged"]["total"], 2, "{m}");
        moved.push(m["id"].as_str().unwrap_or("").to_owned());
    }
    moved.sort();
    assert_eq!(
        moved,
        ["2", "4"],
        "both running operations, not the completed one"
    );
    ws.close().await;
}
