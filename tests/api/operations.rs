//! What an operator sees: log lines by request, and Prometheus metrics.

use crate::both;
use crate::fixtures;
use crate::helpers::{SECRET, TestApp};
use crate::subscriptions::{hour_from_now, latest_cursor, token};
use crate::ws_client::WsClient;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_log_lines_carry_its_id_and_never_its_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("ops.db").display());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_riskgraph"))
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .env("DATABASE_URL", &database)
        .env("RISKGRAPH_JWT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("riskgraph starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines.next_line().await.expect("reads").expect("a line");
        if let Some(rest) = line.strip_prefix("riskgraph listening on ") {
            break rest.to_owned();
        }
    };
    let admin = token("acme", "admin", hour_from_now());
    let http = crate::helpers::http_client();
    let answer = http
        .post(&url)
        .header("x-request-id", "audit-4711")
        .bearer_auth(&admin)
        .json(&json!({ "query": "{ registers { id } }" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.headers()["x-request-id"], "audit-4711", "echoed");
    let minted = http
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answers");
    let made_up = minted.headers()["x-request-id"]
        .to_str()
        .expect("an id")
        .to_owned();
    let base = url.trim_end_matches("/graphql");
    http.get(format!("{base}/registers/reg_x/heatmap.svg?token={admin}"))
        .send()
        .await
        .expect("answers");
    child.kill().await.expect("stops");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .await
        .expect("reads");
    let records: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect();
    for id in ["audit-4711", made_up.as_str()] {
        let of_request: Vec<&Value> = records
            .iter()
            .filter(|r| r["span"]["request_id"] == id)
            .collect();
        assert!(
            of_request.iter().any(|r| r["fields"]["status"] == 200),
            "an access line for {id}: {logs}"
        );
    }
    assert!(!logs.contains(&admin), "no token in the logs");
}

both!(metrics_count_what_the_service_did);

/// The value of a sample (a histogram's count), summed over the samples of
/// `metric` whose labels include `labels`.
pub fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            _ => 0.0,
        })
        .sum()
}

async fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    scrape_at(&app.http, &app.url).await
}

/// The metrics of the server whose GraphQL endpoint is `url`.
pub async fn scrape_at(http: &reqwest::Client, url: &str) -> prometheus_parse::Scrape {
    let base = url.trim_end_matches("/graphql");
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text")
}

/// Counters are per process and tests run side by side, so each check is
/// on how far a counter moved at least.
async fn metrics_count_what_the_service_did(app: TestApp) {
    let admin = app.admin("acme");
    let before = scrape(&app).await;
    let (register, risk) = fixtures::scored_risk(&admin, (4, 4)).await;
    let c = fixtures::control(&admin, json!({"name": "EDR", "effectiveness": 0.5})).await;
    fixtures::link(&admin, &risk, &c, "").await;
    admin
        .err("{ risks(first: -1) { totalCount } }", json!({}))
        .await;
    // From a cursor: a subscription from now could start after the change
    // below commits, and miss it.
    let from = latest_cursor(&admin).await;
    let mut ws = WsClient::signed_in(&app.ws_url(), admin.token.as_deref().unwrap_or("")).await;
    ws.subscribe(
        "1",
        "subscription($r: ID!, $after: String) { residualRiskChanged(registerId: $r, after: $after) { cause } }",
        json!({ "r": register, "after": from }),
    )
    .await;
    admin
        .ok(
            "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { id } }",
            json!({ "id": c }),
        )
        .await;
    // Scraped once the event has arrived: the subscription is surely running
    // then.
    ws.next_data("1").await;
    let after = scrape(&app).await;
    let moved = |metric: &str, labels: &[(&str, &str)]| {
        sample(&after, metric, labels) - sample(&before, metric, labels)
    };
    let ok = [("operation", "mutation"), ("outcome", "OK")];
    // Register, risk, control, link, control health.
    let mutations = moved("riskgraph_requests_total", &ok);
    assert!(mutations >= 5.0, "mutations: {mutations}");
    let refused = [("operation", "query"), ("outcome", "BAD_USER_INPUT")];
    assert!(
        moved("riskgraph_requests_total", &refused) >= 1.0,
        "by outcome"
    );
    let timed = [("operation", "mutation")];
    assert!(
        moved("riskgraph_request_duration_seconds", &timed) >= 5.0,
        "latencies"
    );
    assert!(sample(&after, "riskgraph_websockets_open", &[]) >= 1.0);
    assert!(sample(&after, "riskgraph_subscriptions_active", &[]) >= 1.0);
    assert!(
        moved("riskgraph_rescored_risks_total", &[]) >= 1.0,
        "the re-score"
    );
    assert!(moved("riskgraph_feed_events_dispatched_total", &[]) >= 1.0);
    assert!(moved("riskgraph_db_statements_total", &[]) > 0.0);
    for state in ["in_use", "idle"] {
        let pool = [("pool", "writer"), ("state", state)];
        assert!(
            after
                .samples
                .iter()
                .any(|s| s.metric == "riskgraph_db_connections"
                    && pool.iter().all(|(k, v)| s.labels.get(k) == Some(*v))),
            "pool {state}"
        );
    }
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "riskgraph_feed_lag_events")
    );
    ws.close().await;
}

/// `--metrics-bind`: the scrape answers on its own address, not beside the
/// API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_an_address_of_their_own() {
    let apart = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let Some(app) = TestApp::start_with(crate::helpers::Backend::Sqlite, |c| {
        c.metrics_bind = Some(apart);
    })
    .await
    else {
        return;
    };
    let own = app.app.metrics_addr.expect("a metrics address");
    let base = app.url.trim_end_matches("/graphql");
    let beside = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(beside.status(), 404);
    let scrape = app
        .http
        .get(format!("http://{own}/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.expect("text");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    assert!(text.contains("riskgraph_db_connections"), "{text}");
}

/// On a SQLite file, commits go to its write-ahead log, and the writer
/// leaves the copy into the file to a checkpointer beside it: a change
/// reaches the file itself while the service runs, with no commit of
/// SQLite's own size threshold (1,000 pages) to set it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_files_log_is_copied_into_it_while_the_service_runs() {
    let Some(app) = TestApp::start_with(crate::helpers::Backend::Sqlite, |_| {}).await else {
        return;
    };
    let register = fixtures::register(&app.admin("acme"), "CKP").await;
    let url = &app.app.state.config.database_url;
    let file = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("a path");
    // `immutable`: the file alone, as if it had no log beside it. Opened
    // afresh each turn, since SQLite caches an immutable file's pages.
    let in_file = || async {
        let db = Database::connect(format!("sqlite://{file}?mode=ro&immutable=1"))
            .await
            .expect("opens the file");
        let row = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT id FROM registers WHERE id = ?",
            [register.clone().into()],
        );
        // Until the migrations are copied too, the file has no tables.
        db.query_one_raw(row)
            .await
            .is_ok_and(|found| found.is_some())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !in_file().await {
        assert!(
            Instant::now() < deadline,
            "the register never reached the database file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
