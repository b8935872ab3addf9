//! Load and latency harness for the DESIGN §9 targets: seeds 100,000 risks in
//! one register (with controls and custom field values), starts the real app
//! on a random port, drives it over HTTP and WebSocket, and prints a table.
//!
//!     cargo bench --bench load                  # SQLite, and PostgreSQL when installed
//!     RISKS=20000 cargo bench --bench load      # a smaller register
//!
//! Numbers are wall-clock on whatever machine runs it; they are reported, not
//! asserted (the tests assert statement counts instead).

#[path = "../tests/api/bulk.rs"]
mod bulk;
#[path = "../tests/api/postgres.rs"]
mod postgres;

use futures_util::{SinkExt, StreamExt};
use riskgraph::app::App;
use riskgraph::auth::{Claims, mint};
use riskgraph::clock::Clock;
use riskgraph::config::Config;
use riskgraph::domain::enums::ScalesPreset;
use riskgraph::domain::scales::Scales;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "bench-secret";

struct Bench {
    app: App,
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Bench {
    /// `tasks` clients at once, each sending `each` requests, the k-th of
    /// task t with `body(t, k)`; waits for every answer.
    async fn drive(&self, tasks: usize, each: usize, body: impl Fn(usize, usize) -> Value + Sync) {
        let client = |task: usize| {
            let body = &body;
            async move {
                for k in 0..each {
                    self.http
                        .post(&self.url)
                        .bearer_auth(&self.token)
                        .json(&body(task, k))
                        .send()
                        .await
                        .expect("sent")
                        .bytes()
                        .await
                        .expect("body");
                }
            }
        };
        futures_util::future::join_all((0..tasks).map(client)).await;
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// What the seeded risks refer to.
struct Refs {
    register: String,
    field: String,
    control: String,
    template: entity::risk::Model,
}

impl Bench {
    /// The id of what `mutation` (whose root field is `root`) created.
    async fn created(&self, mutation: &str, variables: Value, root: &str) -> String {
        let data = self.gql(mutation, variables).await;
        data[root]["id"].as_str().unwrap_or_default().to_owned()
    }

    /// A register, severity, custom field and control through the API, and a
    /// template risk that the seeded ones copy.
    async fn refs(&self) -> Refs {
        let register = self
            .created(
                r#"mutation { createRegister(input: {name: "Bench", identifierPrefix: "B"}) { id } }"#,
                json!({}),
                "createRegister",
            )
            .await;
        let severity = self
            .created(
                r#"mutation { createSeverity(input: {name: "High"}) { id } }"#,
                json!({}),
                "createSeverity",
            )
            .await;
        let field = self
            .created(
                r#"mutation($r: ID!) { createCustomField(input: {registerId: $r, name: "Unit", type: TEXT}) { id } }"#,
                json!({ "r": register }),
                "createCustomField",
            )
            .await;
        let control = self
            .created(
                r#"mutation { createControl(input: {name: "MFA", effectiveness: 0.5}) { id } }"#,
                json!({}),
                "createControl",
            )
            .await;
        let me =
            self.gql("{ viewer { member { id } } }", json!({})).await["viewer"]["member"]["id"]
                .clone();
        let template = self
            .created(
                "mutation($r: ID!, $s: ID!, $o: ID!) { createRisk(input: {registerId: $r, title: \"template\", severityId: $s, ownerId: $o}) { id } }",
                json!({ "r": register, "s": severity, "o": me }),
                "createRisk",
            )
            .await;
        let template = entity::risk::Entity::find_by_id(template)
            .one(&self.app.state.db)
            .await
            .expect("reads")
            .expect("exists");
        Refs {
            register,
            field,
            control,
            template,
        }
    }
}

/// Seeds `n` risks straight into the tables, a control linked to every
/// tenth. Returns the register id and a few risk ids.
async fn seed(bench: &Bench, n: usize) -> (String, Vec<String>) {
    let refs = bench.refs().await;
    let scales = Scales::preset(ScalesPreset::Default5x5);
    let bulk = bulk::Bulk {
        template: &refs.template,
        scales: &scales,
        control: Some((&refs.control, 0.5, 10)),
        field: Some(&refs.field),
    };
    let ids = bulk.insert(&bench.app.state.db, n).await;
    (refs.register, ids)
}

/// A table row: what was measured, the figure, the target.
type Row = (String, String, String);

/// Heatmap: sequential requests, client-measured.
async fn heatmap(bench: &Bench, register: &str, n: usize) -> Row {
    let heatmap = "query($r: ID!) { heatmap(registerId: $r) { total cells { count } } }";
    bench.gql(heatmap, json!({ "r": register })).await;
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        bench.gql(heatmap, json!({ "r": register })).await;
        times.push(t.elapsed());
    }
    times.sort();
    (
        format!("heatmap (residual), {n} risks"),
        format!(
            "p50 {} / p99 {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        ),
        "p50 < 10 ms".into(),
    )
}

/// A dashboard page: statements per request, then throughput at 4 in flight.
async fn page(bench: &Bench, register: &str) -> Row {
    let page = "query($r: ID!) { risks(first: 50, filter: {registerId: $r}, orderBy: [{field: RESIDUAL_SCORE, direction: DESC}]) { nodes {
        identifier owner { name } severity { name } controls { strength control { name } }
        customFields { field { name } text } residual { score band { name } } } } }";
    bench.gql(page, json!({ "r": register })).await;
    let before = bench.app.state.statements.get();
    bench.gql(page, json!({ "r": register })).await;
    let statements = bench.app.state.statements.get() - before;
    let total = 800;
    let t = Instant::now();
    bench
        .drive(
            4,
            total / 4,
            |_, _| json!({ "query": page, "variables": { "r": register } }),
        )
        .await;
    (
        "risks(first: 50) with owner, severity, controls, customFields, residual".into(),
        format!(
            "{statements} statements; {:.0} req/s",
            total as f64 / t.elapsed().as_secs_f64()
        ),
        "<= 8 statements; >= 2,000 req/s".into(),
    )
}

/// Updates with their events, 8 in flight on distinct risks.
async fn updates(bench: &Bench, ids: &[String]) -> Row {
    let updates = 2000;
    let t = Instant::now();
    bench
        .drive(8, updates / 8, |task, k| {
            json!({
                "query": "mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { version } }",
                "variables": { "id": ids[task], "n": format!("note {k}") }
            })
        })
        .await;
    (
        "updateRisk with its event".into(),
        format!("{:.0} /s", updates as f64 / t.elapsed().as_secs_f64()),
        ">= 1,000/s on PostgreSQL".into(),
    )
}

/// One subscriber on the register: sends the time of every push to `pushed`.
async fn subscriber(
    url: String,
    token: String,
    register: String,
    pushed: tokio::sync::mpsc::UnboundedSender<Instant>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connects");
    let send = |v: Value| Message::Text(v.to_string().into());
    socket
        .send(send(
            json!({ "type": "connection_init", "payload": { "token": token } }),
        ))
        .await
        .expect("init");
    socket.next().await;
    socket
        .send(send(json!({ "type": "subscribe", "id": "1", "payload": {
            "query": "subscription($r: ID) { residualRiskChanged(registerId: $r) { cursor } }",
            "variables": { "r": register } } })))
        .await
        .expect("subscribe");
    let _ = ready.send(());
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && text.contains("\"next\"")
        {
            let _ = pushed.send(Instant::now());
        }
    }
}

/// Push latency: many subscribers, one mutation at a time.
async fn pushes(bench: &Bench, register: &str, ids: &[String], subscribers: usize) -> Option<Row> {
    let ws_url = bench.url.replacen("http", "ws", 1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut ready = Vec::new();
    for _ in 0..subscribers {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        ready.push(ready_rx);
        tokio::spawn(subscriber(
            ws_url.clone(),
            bench.token.clone(),
            register.to_owned(),
            tx.clone(),
            ready_tx,
        ));
    }
    for r in ready {
        let _ = r.await;
    }
    // Let the last subscriptions reach the feed before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    for (k, id) in ids.iter().take(10).enumerate() {
        let sent = Instant::now();
        bench
            .gql(
                "mutation($id: ID!, $l: Int) { updateRisk(id: $id, input: {likelihoodLevel: $l}) { version } }",
                json!({ "id": id, "l": (k % 4) + 1 }),
            )
            .await;
        for _ in 0..subscribers {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(at)) => latencies.push(at - sent),
                _ => break,
            }
        }
    }
    latencies.sort();
    (!latencies.is_empty()).then(|| {
        (
            format!("mutation -> residualRiskChanged, {subscribers} subscribers"),
            format!(
                "p50 {} / p99 {} ({} of {} pushes)",
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                latencies.len(),
                subscribers * 10
            ),
            "p99 < 100 ms (10,000 subscribers)".into(),
        )
    })
}

async fn run(backend: &str, database_url: String, n: usize, subscribers: usize) -> Vec<Row> {
    let mut config = Config::for_database(database_url, SECRET);
    config.limits.feed_buffer = 65_536;
    let app = App::spawn(config, Clock::default()).await.expect("starts");
    let claims = Claims::new(
        ("bench", "bench", "admin"),
        Clock::default().now(),
        Duration::from_secs(86_400),
        Some("Bench".into()),
        None,
    );
    let bench = Bench {
        url: format!("http://{}/graphql", app.addr),
        app,
        http: reqwest::Client::new(),
        token: mint(SECRET, &claims),
    };
    let started = Instant::now();
    let (register, ids) = seed(&bench, n).await;
    let mut rows = vec![(
        format!("seed {n} risks"),
        ms(started.elapsed()),
        String::new(),
    )];
    rows.push(heatmap(&bench, &register, n).await);
    rows.push(page(&bench, &register).await);
    rows.push(updates(&bench, &ids).await);
    rows.extend(pushes(&bench, &register, &ids, subscribers).await);
    rows.into_iter()
        .map(|(what, got, target)| (format!("{backend}: {what}"), got, target))
        .collect()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("RISKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let subscribers: usize = std::env::var("SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = run(
        "SQLite",
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
        n,
        subscribers,
    )
    .await;
    if let Some(url) = postgres::fresh_database().await {
        rows.extend(run("PostgreSQL", url, n, subscribers).await);
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    println!("\n| {:width$} | measured | target |", "what");
    println!("| {} | --- | --- |", "-".repeat(width));
    for (what, got, target) in rows {
        println!("| {what:width$} | {got} | {target} |");
    }
}
