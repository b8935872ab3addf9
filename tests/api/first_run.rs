//! The first ten minutes, as a new user lives them: the `riskgraph` binary
//! run in a folder of its own, as the README says.

use crate::helpers::Client;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_riskgraph");

/// `riskgraph` run in `dir` with no secret configured: local mode.
fn riskgraph(dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("RISKGRAPH_JWT_SECRET")
        .env_remove("RISKGRAPH_JWT_PUBLIC_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    command
}

/// What `serve --demo` printed up to its listening line, its URL, and the
/// process (stderr piped, for the logs).
async fn serve_demo(dir: &Path) -> (Vec<String>, String, tokio::process::Child) {
    let mut child = riskgraph(dir)
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("riskgraph starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    loop {
        let line = lines
            .next_line()
            .await
            .expect("reads")
            .expect("a listening line");
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("riskgraph listening on ") {
            let url = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            // The dashboard and GraphiQL links follow.
            for _ in 0..2 {
                if let Ok(Some(line)) = lines.next_line().await {
                    printed.push(line);
                }
            }
            return (printed, url, child);
        }
    }
}

fn token_in(printed: &[String]) -> String {
    let at = printed
        .iter()
        .position(|l| l.starts_with("demo admin token"))
        .unwrap_or_else(|| panic!("a demo token in {printed:?}"));
    printed[at + 1].clone()
}

async fn open_risks(url: &str, token: &str) -> serde_json::Value {
    let client = Client {
        http: crate::helpers::http_client(),
        url: url.to_owned(),
        token: Some(token.to_owned()),
    };
    client
        .ok("{ registers { name heatmap { total } } }", json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_there_when_the_port_answers_and_a_second_run_signs_in_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (printed, url, mut first) = serve_demo(dir.path()).await;
    let token = token_in(&printed);
    let links = printed.join("\n");
    assert!(
        links.contains(&format!("#token={token}")),
        "a link that signs in: {links}"
    );
    // No wait: seeding is done before the port answers.
    let registers = open_risks(&url, &token).await;
    assert_eq!(
        registers["registers"][0]["name"], "Enterprise risks",
        "{registers}"
    );
    let open = registers["registers"][0]["heatmap"]["total"]
        .as_i64()
        .unwrap_or(0);
    assert!((40..60).contains(&open), "the open demo risks: {open}");
    first.kill().await.expect("stops");
    let mut logs = String::new();
    first
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .await
        .expect("reads the logs");
    assert!(logs.contains("INFO"), "logs were written: {logs}");
    assert!(!logs.contains('\u{1b}'), "no colour codes in a log file");

    let (printed, url, _second) = serve_demo(dir.path()).await;
    let again = token_in(&printed);
    assert!(printed.join("\n").contains("found"), "{printed:?}");
    assert_eq!(open_risks(&url, &again).await, registers, "the same demo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_refused_to_mint_without_the_servers_secret() {
    let served = tempfile::tempdir().expect("temp dir");
    let (_, url, _server) = serve_demo(served.path()).await;
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let args = [
        "token",
        "--org",
        "demo",
        "--sub",
        "demo-admin",
        "--role",
        "admin",
    ];
    let out = riskgraph(elsewhere.path())
        .args(args)
        .output()
        .await
        .expect("runs");
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("no local-mode secret"), "{message}");
    assert!(
        !elsewhere.path().join("riskgraph.secret").exists(),
        "no second secret"
    );
    // Beside the server, it mints tokens the server accepts.
    let out = riskgraph(served.path())
        .args(args)
        .output()
        .await
        .expect("runs");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let registers = open_risks(&url, &token).await;
    assert_eq!(registers["registers"][0]["name"], "Enterprise risks");
}

/// The flags README names on riskgraph's own command lines, in its tables
/// and in its prose: every one exists. Lines that run another program
/// (cargo, npm, node, ...) are left out, except what `cargo run` passes on.
#[tokio::test]
async fn every_flag_the_readme_names_exists() {
    let mut help = String::new();
    for command in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["token", "--help"],
        vec!["schema", "--help"],
    ] {
        let out = tokio::process::Command::new(BIN)
            .args(&command)
            .output()
            .await
            .expect("runs");
        help.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let others = [
        "cargo ",
        "npm ",
        "node ",
        "perf ",
        "git ",
        "psql",
        "pgbench",
        "FUZZ_",
        // curl's, on the continuation lines of a command.
        "--data-urlencode",
    ];
    let mut missing = Vec::new();
    for line in readme.lines() {
        let ours = match line.split_once("cargo run") {
            Some((_, rest)) => rest.split_once(" -- ").map_or("", |(_, tail)| tail),
            None if others.iter().any(|o| line.contains(o)) => "",
            None => line,
        };
        for word in ours.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let Some(name) = word.strip_prefix("--") else {
                continue;
            };
            if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            let exists = help
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|w| w == word);
            if !exists {
                missing.push(word.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README names flags that riskgraph does not have: {missing:?}"
    );
}
