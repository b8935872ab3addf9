//! What an operator sees: log lines, by request.

use crate::helpers::SECRET;
use crate::subscriptions::{hour_from_now, token};
use serde_json::{Value, json};
use std::process::Stdio;
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
    let http = reqwest::Client::new();
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
