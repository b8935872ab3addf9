//! The dashboard and GraphiQL in headless Chromium, driven over WebDriver:
//! what a risk manager sees, and that it moves when a control fails.
//! Skipped when Chromium or chromedriver is missing, unless
//! `REQUIRE_BROWSER=1` (CI sets it).

use crate::helpers::{Backend, Client, TestApp};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use riskgraph::demo;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

fn installed(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.exists())
}

/// A headless Chromium that can reach only 127.0.0.1, and the driver
/// process that keeps it (killed on drop).
async fn browser() -> Option<(Browser, tokio::process::Child)> {
    let found = (
        installed(&["chromium", "chromium-browser", "google-chrome"]),
        installed(&["chromedriver"]),
    );
    let (Some(chromium), Some(driver)) = found else {
        assert!(
            std::env::var("REQUIRE_BROWSER").as_deref() != Ok("1"),
            "REQUIRE_BROWSER=1 but chromium or chromedriver is not installed"
        );
        eprintln!("Chromium or chromedriver not installed: skipped");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900",
                // No network beyond the server: a CDN would not load.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return Some((client, child));
        }
        // The driver is still starting: nothing to await but its port.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

/// The page's heatmap as (likelihood, impact, count), sorted.
const READ_CELLS: &str = "return [...document.querySelectorAll('#heatmap button')]
    .map(b => [Number(b.dataset.l), Number(b.dataset.i), Number(b.querySelector('.count').textContent)])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);";

/// Resolves once the page's heatmap shows `expected` (WebDriver's script
/// timeout bounds the wait): a MutationObserver, not a polling loop.
const AWAIT_CELLS: &str = "const [expected, done] = arguments;
    const read = () => JSON.stringify([...document.querySelectorAll('#heatmap button')]
      .map(b => [Number(b.dataset.l), Number(b.dataset.i), Number(b.querySelector('.count').textContent)])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]));
    if (read() === expected) return done(true);
    const watch = new MutationObserver(() => { if (read() === expected) { watch.disconnect(); done(true); } });
    watch.observe(document.body, { subtree: true, childList: true, characterData: true });";

/// Resolves with the text of the first element matching a selector whose
/// text contains a string, once there is one.
const AWAIT_TEXT: &str = "const [selector, wanted, done] = arguments;
    const find = () => [...document.querySelectorAll(selector)].find(e => e.textContent.includes(wanted));
    if (find()) return done(find().textContent);
    const watch = new MutationObserver(() => { if (find()) { watch.disconnect(); done(find().textContent); } });
    watch.observe(document.body, { subtree: true, childList: true, characterData: true });";

async fn api_cells(admin: &Client, register: &str) -> Vec<(i64, i64, i64)> {
    let data = admin
        .ok(
            "query($r: ID!) { heatmap(registerId: $r) { cells { likelihoodLevel impactLevel count } } }",
            json!({ "r": register }),
        )
        .await;
    let mut cells: Vec<(i64, i64, i64)> = data["heatmap"]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let n = |k: &str| c[k].as_i64().unwrap_or(-1);
            (n("likelihoodLevel"), n("impactLevel"), n("count"))
        })
        .collect();
    cells.sort_unstable();
    cells
}

async fn page_cells(browser: &Browser) -> Vec<(i64, i64, i64)> {
    let value = browser.execute(READ_CELLS, vec![]).await.expect("reads");
    serde_json::from_value::<Vec<(i64, i64, i64)>>(value).expect("cells")
}

async fn await_cells(browser: &Browser, expected: &[(i64, i64, i64)]) {
    let wanted = serde_json::to_string(expected).expect("json");
    if let Err(err) = browser
        .execute_async(AWAIT_CELLS, vec![json!(wanted)])
        .await
    {
        let shown = page_cells(browser).await;
        panic!("the page shows {shown:?}, not {expected:?}: {err}");
    }
}

async fn await_text(browser: &Browser, selector: &str, wanted: &str) -> String {
    match browser
        .execute_async(AWAIT_TEXT, vec![json!(selector), json!(wanted)])
        .await
    {
        Ok(Value::String(text)) => text,
        other => panic!("no {selector} with {wanted:?}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_demo_heatmap_live_and_graphiql_works_offline() {
    let Some((browser, _driver)) = browser().await else {
        return;
    };
    let Some(app) = TestApp::start_with(Backend::Sqlite, |_| {}).await else {
        return;
    };
    demo::seed(&app.app.state.db, app.clock.now())
        .await
        .expect("demo data");
    let admin = app.client(demo::ORG, demo::ADMIN, "admin");
    let token = admin.token.clone().unwrap_or_default();
    let register = admin.ok("{ registers { id } }", json!({})).await["registers"][0]["id"]
        .as_str()
        .expect("the demo register")
        .to_owned();
    let base = app.url.trim_end_matches("/graphql").to_owned();

    // The heatmap, with the API's counts, live.
    browser
        .goto(&format!("{base}/#token={token}"))
        .await
        .expect("opens the dashboard");
    let before = api_cells(&admin, &register).await;
    assert_eq!(before.len(), 25);
    await_cells(&browser, &before).await;
    await_text(&browser, "#connection", "Live").await;

    // Controls fail; the page follows without a reload.
    let controls = admin.ok("{ controls { id } }", json!({})).await;
    for control in controls["controls"].as_array().expect("controls") {
        admin
            .ok(
                "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { id } }",
                json!({ "id": control["id"] }),
            )
            .await;
    }
    let after = api_cells(&admin, &register).await;
    assert_ne!(before, after, "failing controls move risks");
    await_cells(&browser, &after).await;
    let moved = browser
        .execute(
            "return document.querySelectorAll('#heatmap button.changed').length",
            vec![],
        )
        .await
        .expect("reads");
    assert!(moved.as_i64().unwrap_or(0) > 0, "changed cells are marked");

    // A cell lists its risks: the API's, highest first.
    let (l, i, count) = after
        .iter()
        .copied()
        .filter(|c| c.2 > 0)
        .max_by_key(|c| c.2)
        .expect("a cell with risks");
    browser
        .find(Locator::Css(&format!(
            "#heatmap button[data-l=\"{l}\"][data-i=\"{i}\"]"
        )))
        .await
        .expect("the cell")
        .click()
        .await
        .expect("clicks");
    let listed = admin
        .ok(
            "query($r: ID!, $l: Int!, $i: Int!) { risks(filter: {registerId: $r, residualLikelihoodLevel: [$l], residualImpactLevel: [$i], status: [OPEN, PENDING, MATERIALIZED]}, first: 100) { nodes { identifier } } }",
            json!({ "r": register, "l": l, "i": i }),
        )
        .await;
    let first = listed["risks"]["nodes"][0]["identifier"]
        .as_str()
        .expect("a risk")
        .to_owned();
    await_text(&browser, "#cell-risks td", &first).await;
    let rows = browser
        .execute(
            "return document.querySelectorAll('#cell-risks tr').length",
            vec![],
        )
        .await
        .expect("reads");
    assert_eq!(rows.as_i64(), Some(count.min(100)));
    // The README's picture: `DASHBOARD_SCREENSHOT=docs/dashboard.png`.
    let shot = browser.screenshot().await.expect("a screenshot");
    if let Ok(path) = std::env::var("DASHBOARD_SCREENSHOT") {
        std::fs::write(path, &shot).expect("writes the screenshot");
    }

    // GraphiQL, from the binary alone, runs a query.
    browser
        .goto(&format!("{base}/graphiql#token={token}"))
        .await
        .expect("opens GraphiQL");
    await_text(&browser, ".graphiql-execute-button", "").await;
    browser
        .execute(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ registers { name } }')",
            vec![],
        )
        .await
        .expect("types the query");
    browser
        .find(Locator::Css(".graphiql-execute-button"))
        .await
        .expect("the run button")
        .click()
        .await
        .expect("runs");
    await_text(&browser, ".graphiql-response", "Enterprise risks").await;
    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .expect("reads");
    for url in loaded.as_array().expect("urls") {
        let url = url.as_str().unwrap_or("");
        assert!(
            url.starts_with(&base) || url.starts_with(&app.ws_url()),
            "loaded {url}"
        );
    }
    browser.close().await.expect("closes");
}
