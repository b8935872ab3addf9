//! PostgreSQL going away under writes and a subscriber. A proxy between the
//! app and the database stands in for the server: "down" resets every open
//! connection and every new one, as a stopped server or a cut network does,
//! without stopping the cluster the other tests share. And the SQLite file
//! locked by another process.

use crate::fixtures;
use crate::hardening::concurrent_title_changes;
use crate::helpers::{Client, TestApp};
use crate::postgres_only;
use crate::subscriptions::{hour_from_now, spawn_instance, token};
use crate::ws_client::WsClient;
use riskgraph::config::Config;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

postgres_only!(
    an_outage_fails_fast_and_loses_no_acknowledged_write,
    sixteen_writers_on_two_instances_all_succeed,
);

mod a_sqlite_file_locked_by_another_process_is_unavailable {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let backend = crate::helpers::Backend::Sqlite;
        if let Some(app) = crate::helpers::TestApp::start_with(backend, |_| {}).await {
            super::a_sqlite_file_locked_by_another_process_is_unavailable(app).await;
        }
    }
}

/// Another process (a second server on the same file, a `sqlite3` shell)
/// writing: the app's write is refused as retryable, and goes through once
/// the lock is gone.
async fn a_sqlite_file_locked_by_another_process_is_unavailable(app: TestApp) {
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let other = sea_orm::Database::connect(&app.app.state.config.database_url)
        .await
        .expect("connects");
    let holder = fixtures::hold_register(&other, &register).await;
    let rename =
        "mutation($id: ID!) { updateRegister(id: $id, input: {name: \"Renamed\"}) { name } }";
    let (_, body) = admin.post(rename, json!({ "id": register })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{body}"
    );
    holder.rollback().await.expect("rolls back");
    let renamed = admin.ok(rename, json!({ "id": register })).await;
    assert_eq!(renamed["updateRegister"]["name"], "Renamed");
}

struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (up, _) = watch::channel(true);
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*state.borrow() {
                    continue; // dropped: reset
                }
                let mut down = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn set(&self, up: bool) {
        // send_replace: with every connection gone there is no receiver,
        // and send would leave the value as it was.
        self.up.send_replace(up);
    }
}

/// `postgres://user@host:port/db` as (`postgres://user@`, host:port, `db`).
fn parts(url: &str) -> (&str, SocketAddr, &str) {
    let (scheme_user, rest) = url.split_once('@').expect("user@host");
    let (host, database) = rest.split_once('/').expect("host/db");
    (scheme_user, host.parse().expect("ip:port"), database)
}

const UPDATE: &str =
    "mutation($id: ID!, $t: String!) { updateRisk(id: $id, input: {title: $t}) { version } }";

async fn an_outage_fails_fast_and_loses_no_acknowledged_write(database_url: String) {
    let (scheme_user, server, database) = parts(&database_url);
    let proxy = Proxy::start(server).await;
    let url = format!("{scheme_user}@{}/{database}", proxy.addr);
    let mut config = Config::for_database(url, crate::helpers::SECRET);
    config.limits.db_acquire_timeout_ms = 1000;
    let app = TestApp::with_config(config, tempfile::tempdir().expect("dir")).await;
    let admin = app.admin("acme");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let mut ws =
        WsClient::signed_in(&app.ws_url(), admin.token.as_deref().unwrap_or_default()).await;
    // From the start of the feed: a subscription from now could start after
    // the first write.
    ws.subscribe(
        "1",
        "subscription($r: ID) { riskEvents(registerId: $r, after: \"0\") { cursor changes { to } } }",
        json!({ "r": register }),
    )
    .await;

    let mut acknowledged = Vec::new();
    let write = |n: usize| {
        let admin = admin.clone();
        let id = risk["id"].clone();
        async move {
            admin
                .post(UPDATE, json!({ "id": id, "t": format!("w{n}") }))
                .await
        }
    };
    for n in 0..5 {
        let (status, body) = write(n).await;
        assert_eq!(status, 200, "{body}");
        acknowledged.push(format!("w{n}"));
    }

    proxy.set(false);
    for n in 5..8 {
        let started = Instant::now();
        let (status, body) = write(n).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
        if status == 200 && body.get("errors").is_none() {
            acknowledged.push(format!("w{n}"));
            continue;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
            "{body}"
        );
    }
    let response = admin
        .http
        .post(&admin.url)
        .bearer_auth(admin.token.as_deref().unwrap_or_default())
        .json(&json!({ "query": "{ registers { id } }" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let started = Instant::now();
    let ready = admin
        .http
        .get(app.url.replace("/graphql", "/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "readyz took {:?}",
        started.elapsed()
    );

    proxy.set(true);
    // Recovery needs nothing: the pool reconnects on its own.
    let mut recovered = false;
    for _ in 0..50 {
        if admin.post("{ registers { id } }", json!({})).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service came back with the database");
    for n in 8..12 {
        let (status, body) = write(n).await;
        assert_eq!(status, 200, "{body}");
        acknowledged.push(format!("w{n}"));
    }

    // Every acknowledged write is stored, and reached the subscriber exactly
    // once, in order.
    let mut seen = Vec::new();
    let mut cursors = HashSet::new();
    while seen.last() != acknowledged.last() {
        let data = ws.next_data("1").await;
        let event = &data["riskEvents"];
        assert!(
            cursors.insert(event["cursor"].clone()),
            "a duplicate: {event}"
        );
        if let Some(title) = event["changes"][0]["to"].as_str() {
            seen.push(title.to_owned());
        }
    }
    let delivered: Vec<&String> = seen.iter().filter(|t| t.starts_with('w')).collect();
    let expected: Vec<&String> = acknowledged.iter().collect();
    assert_eq!(delivered, expected);
    let stored = crate::controls::read(&admin, &risk).await;
    assert_eq!(stored["title"], Value::from(acknowledged.last().cloned()));
    ws.close().await;
}

async fn sixteen_writers_on_two_instances_all_succeed(database_url: String) {
    let a = spawn_instance(&database_url).await;
    let b = spawn_instance(&database_url).await;
    let client = |url: &str, role: &str| Client {
        http: crate::helpers::http_client(),
        url: url.to_owned(),
        token: Some(token("acme", role, hour_from_now())),
    };
    let clients = [client(&a.url, "editor"), client(&b.url, "editor")];
    let admin = client(&a.url, "admin");
    let register = fixtures::register(&admin, "RA").await;
    let risk = fixtures::risk(&admin, &register, "t", json!({})).await;
    let versions = concurrent_title_changes(&clients, &risk, 16).await;
    assert_eq!(versions, (2..=17).collect::<Vec<i64>>());
    let history = admin
        .ok(
            "query($id: ID!) { risk(id: $id) { history(first: 100) { nodes { kind } } } }",
            json!({ "id": risk["id"] }),
        )
        .await;
    let nodes = history["risk"]["history"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(nodes, 17, "{history}");
    drop((a, b));
}
