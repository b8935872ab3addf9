//! Identical subscriptions share one execution: every subscriber still gets
//! exactly what it would get alone, under its own id.

use crate::fixtures;
use crate::helpers::{Client, TestApp};
use crate::operations::{sample, scrape_at};
use crate::subscriptions::{hour_from_now, latest_cursor, spawn_instance, token};
use crate::ws_client::{Received, WsClient};
use crate::{both, both_with};
use serde_json::{Value, json};

both!(
    identical_subscriptions_each_get_every_result,
    a_replay_is_not_shared_once_it_has_started,
    a_late_heatmap_subscriber_starts_from_the_current_map,
    a_subscriber_that_stops_reading_misses_nothing,
);
both_with!(a_client_that_reads_nothing_is_let_go, |c| {
    c.limits.ws_keepalive_secs = 1;
});

/// What an event says of itself: the same whichever execution resolved it
/// (`risk` is the risk as it is when resolved).
const EVENTS: &str = "subscription($r: ID, $after: String) {
    riskEvents(registerId: $r, after: $after) { cursor kind changes { field to } } }";

const HEATMAP: &str =
    "subscription($r: ID!) { heatmapChanged(registerId: $r) { total cells { count } } }";

fn ws_token(app: &TestApp, sub: &str) -> String {
    app.client("acme", sub, "viewer").token.unwrap_or_default()
}

async fn rename(admin: &Client, risk: &Value, title: &str) {
    admin
        .ok(
            "mutation($id: ID!, $t: String) { updateRisk(id: $id, input: {title: $t}) { id } }",
            json!({ "id": risk["id"], "t": title }),
        )
        .await;
}

/// Two members, one subscription each, the same operation: both get each
/// change, under their own ids.
async fn identical_subscriptions_each_get_every_result(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "Phishing", json!({})).await;
    let from = latest_cursor(&admin).await;
    let variables = json!({ "r": register, "after": from });
    let mut alice = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "alice")).await;
    let mut bob = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "bob")).await;
    alice.subscribe("mine", EVENTS, variables.clone()).await;
    bob.subscribe("1", EVENTS, variables.clone()).await;
    bob.subscribe("2", EVENTS, variables).await;
    let titles = ["Spear phishing", "Whaling", "Vishing"];
    for title in titles {
        rename(&admin, &risk, title).await;
    }
    let mut a = Vec::new();
    for _ in titles {
        a.push(alice.next_data("mine").await);
    }
    let mut b = Vec::new();
    for _ in 0..2 * titles.len() {
        // Bob's two subscriptions interleave; each keeps its order.
        let m = bob.message().await;
        assert_eq!(m["type"], "next", "{m}");
        b.push((
            m["id"].as_str().unwrap_or("").to_owned(),
            m["payload"]["data"].clone(),
        ));
    }
    for id in ["1", "2"] {
        let got: Vec<&Value> = b.iter().filter(|(i, _)| i == id).map(|(_, d)| d).collect();
        assert_eq!(got, a.iter().collect::<Vec<_>>(), "subscription {id}");
    }
    let to: Vec<&Value> = a
        .iter()
        .map(|d| &d["riskEvents"]["changes"][0]["to"])
        .collect();
    assert_eq!(to, titles.map(Value::from).iter().collect::<Vec<_>>());
    alice.close().await;
    bob.close().await;
}

/// A subscription that replays from a cursor, once it has sent something,
/// is no longer what a newcomer with the same cursor would get: the
/// newcomer gets its own replay.
async fn a_replay_is_not_shared_once_it_has_started(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "Phishing", json!({})).await;
    rename(&admin, &risk, "Spear phishing").await;
    let variables = json!({ "r": register, "after": "0" });
    let mut first = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "alice")).await;
    first.subscribe("a", EVENTS, variables.clone()).await;
    let replayed = [first.next_data("a").await, first.next_data("a").await];
    let mut late = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "bob")).await;
    late.subscribe("b", EVENTS, variables).await;
    assert_eq!(
        late.next_data("b").await,
        replayed[0],
        "the replay from the start"
    );
    assert_eq!(late.next_data("b").await, replayed[1]);
    rename(&admin, &risk, "Whaling").await;
    let live = first.next_data("a").await;
    assert_eq!(late.next_data("b").await, live, "then live, as the first");
    first.close().await;
    late.close().await;
}

/// A heatmap subscriber starts from the map as it is, even when an identical
/// subscription has sent older maps before it came.
async fn a_late_heatmap_subscriber_starts_from_the_current_map(app: TestApp) {
    let admin = app.admin("acme");
    let (register, risk) = fixtures::scored_risk(&admin, (0, 0)).await;
    let variables = json!({ "r": register });
    let counts = |data: &Value| -> (i64, i64) {
        let cells = &data["heatmapChanged"]["cells"];
        (
            cells[0]["count"].as_i64().unwrap_or(-1),
            cells[24]["count"].as_i64().unwrap_or(-1),
        )
    };
    let mut first = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "alice")).await;
    first.subscribe("h", HEATMAP, variables.clone()).await;
    assert_eq!(counts(&first.next_data("h").await), (1, 0));
    admin
        .ok(
            "mutation($id: ID!) { updateRisk(id: $id, input: {likelihoodLevel: 4, impactLevel: 4}) { id } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    assert_eq!(counts(&first.next_data("h").await), (0, 1));
    let mut late = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "bob")).await;
    late.subscribe("h", HEATMAP, variables).await;
    assert_eq!(
        counts(&late.next_data("h").await),
        (0, 1),
        "the map as it is"
    );
    fixtures::risk(
        &admin,
        &register,
        "second",
        json!({"likelihoodLevel": 0, "impactLevel": 0}),
    )
    .await;
    assert_eq!(counts(&first.next_data("h").await), (1, 1));
    assert_eq!(counts(&late.next_data("h").await), (1, 1));
    first.close().await;
    late.close().await;
}

/// Events that carry their risk's description, 60 KB: a socket's buffers
/// hold about a hundred of them.
const LARGE_EVENTS: &str =
    "subscription($after: String) { riskEvents(after: $after) { cursor risk { description } } }";

/// A risk of a new register whose events are large under `LARGE_EVENTS`,
/// and the cursor its events come after.
async fn risk_of_large_events(admin: &Client) -> (Value, String) {
    let register = fixtures::register(admin, "RA").await;
    let description = "x".repeat(60 * 1024);
    let risk = fixtures::risk(admin, &register, "t", json!({ "description": description })).await;
    (risk, latest_cursor(admin).await)
}

/// Sets the risk's notes: an event.
async fn note(admin: &Client, id: &Value, notes: String) {
    admin
        .ok(
            "mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { id } }",
            json!({ "id": id, "n": notes }),
        )
        .await;
}

/// A subscriber whose socket backs up falls behind the execution it shares
/// with a fast one: it continues alone from its last event, and both get
/// every event once, in order.
async fn a_subscriber_that_stops_reading_misses_nothing(app: TestApp) {
    const EDITS: usize = 400;
    let admin = app.admin("acme");
    // The slow one falls behind the shared execution at about the 300th
    // event here; with 2 KB frames, 400 events fit in the buffers.
    let (risk, from) = risk_of_large_events(&admin).await;
    let query = LARGE_EVENTS;
    let variables = json!({ "after": from });
    let mut fast = WsClient::signed_in(&app.ws_url(), &ws_token(&app, "alice")).await;
    let mut slow = WsClient::signed_in_narrow(&app.ws_url(), &ws_token(&app, "bob")).await;
    fast.subscribe("f", query, variables.clone()).await;
    slow.subscribe("s", query, variables).await;
    let reader = tokio::spawn(async move {
        let mut cursors = Vec::new();
        for _ in 0..EDITS {
            cursors.push(fast.next_data("f").await["riskEvents"]["cursor"].clone());
        }
        fast.close().await;
        cursors
    });
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (admin, id) = (admin.clone(), risk["id"].clone());
            tokio::spawn(async move {
                for n in 0..EDITS / 4 {
                    note(&admin, &id, format!("{w}.{n}")).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let fast_cursors = reader.await.expect("reader");
    let mut slow_cursors = Vec::new();
    for _ in 0..EDITS {
        slow_cursors.push(slow.next_data("s").await["riskEvents"]["cursor"].clone());
    }
    slow.close().await;
    let numbers: Vec<i64> = slow_cursors
        .iter()
        .map(|c| c.as_str().and_then(|c| c.parse().ok()).unwrap_or(-1))
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    assert_eq!(slow_cursors, fast_cursors, "the same events");
}

/// A client that stops reading while its subscription has frames to send
/// holds the socket's writer. It is dropped as one that answers nothing is,
/// three keep-alive intervals on, instead of holding its buffers and tasks
/// for as long as it keeps the connection open: once it reads again, what
/// the buffers held comes, then the end, not the rest of the events.
async fn a_client_that_reads_nothing_is_let_go(app: TestApp) {
    const EDITS: usize = 200;
    let admin = app.admin("acme");
    let (risk, from) = risk_of_large_events(&admin).await;
    let mut stuck = WsClient::signed_in_narrow(&app.ws_url(), &ws_token(&app, "bob")).await;
    stuck
        .subscribe("s", LARGE_EVENTS, json!({ "after": from }))
        .await;
    for n in 0..EDITS {
        note(&admin, &risk["id"], n.to_string()).await;
        // It still talks, so it is not silent: only what it does not read
        // can tell it is gone.
        if n % 10 == 0 {
            stuck.try_send(json!({ "type": "ping" })).await;
        }
    }
    // Time is what is tested: it is let go three intervals of a second
    // after its buffers fill, and the server resets the socket with these
    // pings unread. Twelve seconds leave room for a slow machine.
    let mut let_go = false;
    for _ in 0..48 {
        if !stuck.try_send(json!({ "type": "ping" })).await {
            let_go = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(let_go, "still connected after twelve intervals");
    let mut frames = 0;
    loop {
        match stuck.receive().await {
            Received::Message(message) if message["type"] == "pong" => {}
            Received::Message(message) => {
                assert_eq!(message["type"], "next", "{message}");
                frames += 1;
            }
            Received::Closed(_) => break,
        }
    }
    assert!(frames < EDITS, "cut off after {frames} of {EDITS}");
}

/// Counted in a process of its own, where nothing else runs: three
/// identical heatmap subscriptions and a fourth on another basis are two
/// executions, and each change is resolved and serialized once per
/// execution, however many sockets get it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_result_is_serialized_once_for_all_its_subscribers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("mx.db").display());
    let instance = spawn_instance(&database).await;
    let admin = Client {
        http: crate::helpers::http_client(),
        url: instance.url.clone(),
        token: Some(token("acme", "admin", hour_from_now())),
    };
    let (register, _) = fixtures::scored_risk(&admin, (0, 0)).await;
    let ws_url = instance.url.replacen("http", "ws", 1);
    let viewer = token("acme", "viewer", hour_from_now());
    let mut sockets = Vec::new();
    for basis in ["RESIDUAL", "RESIDUAL", "RESIDUAL", "INHERENT"] {
        let mut ws = WsClient::signed_in(&ws_url, &viewer).await;
        ws.subscribe(
            "h",
            "subscription($r: ID!, $b: ScoreBasis) { heatmapChanged(registerId: $r, basis: $b) { total } }",
            json!({ "r": register, "b": basis }),
        )
        .await;
        assert_eq!(ws.next_data("h").await["heatmapChanged"]["total"], 1);
        sockets.push(ws);
    }
    fixtures::risk(
        &admin,
        &register,
        "second",
        json!({"likelihoodLevel": 1, "impactLevel": 1}),
    )
    .await;
    for ws in &mut sockets {
        assert_eq!(ws.next_data("h").await["heatmapChanged"]["total"], 2);
    }
    let metrics = scrape_at(&admin.http, &instance.url).await;
    let value = |name: &str| sample(&metrics, name, &[]);
    assert_eq!(value("riskgraph_subscriptions_active"), 4.0);
    assert_eq!(value("riskgraph_subscription_executions"), 2.0);
    // Two first maps and two changed ones, for eight frames.
    assert_eq!(value("riskgraph_subscription_results_total"), 4.0);
    for ws in sockets {
        ws.close().await;
    }
}
