//! Load and latency harness for the DESIGN §9 targets: seeds 100,000 risks in
//! one register (with controls and custom field values), starts the real app
//! on a random port, drives it over HTTP and WebSocket, and prints a table.
//!
//!     cargo bench --bench load                  # SQLite, and PostgreSQL when installed
//!     RISKS=20000 cargo bench --bench load      # a smaller register
//!     cargo bench --bench load -- --quick       # 2,000 risks: does it run (CI)
//!     cargo bench --bench load -- control remap # only the rows named
//!     cargo bench --bench load -- postgres page # ... on one database
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
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

/// The allocator of the `riskgraph` binary (see `src/main.rs`), so that the
/// server in this process runs as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "bench-secret";

struct Bench {
    app: App,
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Bench {
    /// `tasks` clients at once, each sending `each` requests, the k-th of
    /// task t with `body(t, k)`; waits for every answer and returns how many
    /// answers carried errors.
    async fn drive(
        &self,
        tasks: usize,
        each: usize,
        body: impl Fn(usize, usize) -> Value + Sync,
    ) -> usize {
        let signed_in = || self.http.post(&self.url).bearer_auth(&self.token);
        self.drive_with(signed_in, tasks, each, body).await
    }

    /// As `drive`, each request made by `request` (another server's).
    async fn drive_with(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder + Sync,
        tasks: usize,
        each: usize,
        body: impl Fn(usize, usize) -> Value + Sync,
    ) -> usize {
        let client = |task: usize| {
            let (request, body) = (&request, &body);
            async move {
                let mut failed = 0;
                for k in 0..each {
                    let answer = request()
                        .json(&body(task, k))
                        .send()
                        .await
                        .expect("sent")
                        .bytes()
                        .await
                        .expect("body");
                    failed += usize::from(answer.windows(9).any(|w| w == b"\"errors\":"));
                }
                failed
            }
        };
        futures_util::future::join_all((0..tasks).map(client))
            .await
            .into_iter()
            .sum()
    }

    /// The statements one request sends, recorded on a warm server.
    async fn statements_of(&self, query: &str, variables: Value) -> Vec<Statement> {
        self.gql(query, variables.clone()).await;
        self.recorded(query, variables).await
    }

    /// The statements the request sends now.
    async fn recorded(&self, query: &str, variables: Value) -> Vec<Statement> {
        self.app.state.statements.record();
        self.gql(query, variables).await;
        self.app.state.statements.take_recorded()
    }

    /// Requests a second when `tasks` clients at once each send the same
    /// statements `each` times straight through the driver: the floor of a
    /// request that sends them.
    async fn floor(&self, statements: &[Statement], tasks: usize, each: usize) -> f64 {
        let db = &self.app.state.db;
        let started = Instant::now();
        let client = |_| async move {
            for _ in 0..each {
                for statement in statements {
                    db.query_all_raw(statement.clone()).await.expect("replays");
                }
            }
        };
        futures_util::future::join_all((0..tasks).map(client)).await;
        (tasks * each) as f64 / started.elapsed().as_secs_f64()
    }

    /// The whole response body of one operation.
    async fn post(&self, query: &str, variables: Value) -> Value {
        self.http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
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

/// What the seed made: the register, the control linked to every tenth
/// risk, and a few risk ids.
struct Seeded {
    register: String,
    control: String,
    ids: Vec<String>,
}

/// Seeds `n` risks straight into the tables, a control linked to every
/// tenth.
async fn seed(bench: &Bench, n: usize) -> Seeded {
    let refs = bench.refs().await;
    let scales = Scales::preset(ScalesPreset::Default5x5);
    let bulk = bulk::Bulk {
        template: &refs.template,
        scales: &scales,
        control: Some((&refs.control, 0.5, 10)),
        field: Some(&refs.field),
    };
    let ids = bulk.insert(&bench.app.state.db, n).await;
    Seeded {
        register: refs.register,
        control: refs.control,
        ids,
    }
}

/// One mutation's wall time, or its error code after that time: a target
/// missed by a timeout is a row of the table, not the end of the run.
async fn timed(bench: &Bench, mutation: &str, variables: Value) -> String {
    let t = Instant::now();
    let body = bench.post(mutation, variables).await;
    let took = ms(t.elapsed());
    match body["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => format!("{code} after {took}"),
        None => took,
    }
}

/// The control linked to every tenth risk fails: every linked risk is
/// re-scored, with its event, in the one transaction of the mutation.
async fn control_fails(bench: &Bench, control: &str, n: usize) -> Row {
    let took = timed(
        bench,
        "mutation($id: ID!) { updateControl(id: $id, input: {health: CRITICAL}) { id } }",
        json!({ "id": control }),
    )
    .await;
    (
        format!(
            "updateControl(health: CRITICAL), linked to {} risks",
            n / 10
        ),
        took,
        "<= 1 s (10,000 links)".into(),
    )
}

/// New scales with a remap that moves every risk of the register.
async fn remap(bench: &Bench, register: &str, n: usize) -> Row {
    let scales = serde_json::to_value(Scales::preset(ScalesPreset::Default5x5)).expect("json");
    let reversed = json!({ "likelihood": [4, 3, 2, 1, 0], "impact": [4, 3, 2, 1, 0] });
    let took = timed(
        bench,
        "mutation($id: ID!, $s: RiskScalesInput!, $m: ScalesRemapInput!) {
            updateRegister(id: $id, input: {scales: $s, scalesRemap: $m}) { version } }",
        json!({ "id": register, "s": scales, "m": reversed }),
    )
    .await;
    (
        format!("updateRegister with a remap of all {n} risks"),
        took,
        "<= 10 s (100,000 risks)".into(),
    )
}

/// This process's resident memory of one kind, in KiB (Linux): `VmRSS` all
/// of it, `RssFile` the pages of mapped files (SQLite's readers map the
/// database: shared page cache, which the kernel drops as it needs), and
/// `RssAnon` the process's own.
fn resident_kib(kind: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(kind))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The CPU time this process has used (user and system), at the kernel's
/// 10 ms resolution.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // After the command name, from the state on: utime and stime
            // are the 12th and 13th.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
            Some(ticks(11)? + ticks(12)?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The whole register as CSV or XLSX, read as it streams and thrown away;
/// the server runs in this process, so the resident memory sampled
/// meanwhile is what the export costs.
async fn export(bench: &Bench, register: &str, n: usize, format: &str) -> Row {
    let url = bench
        .url
        .replace("/graphql", &format!("/registers/{register}/risks.{format}"));
    const KINDS: [&str; 2] = ["RssAnon:", "RssFile:"];
    let before = KINDS.map(resident_kib);
    let peaks = std::sync::Arc::new(before.map(std::sync::atomic::AtomicU64::new));
    let sampler = {
        let peaks = peaks.clone();
        tokio::spawn(async move {
            loop {
                for (peak, kind) in peaks.iter().zip(KINDS) {
                    peak.fetch_max(resident_kib(kind), std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t = Instant::now();
    let mut response = bench
        .http
        .get(&url)
        .bearer_auth(&bench.token)
        .send()
        .await
        .expect("sent");
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await.expect("streams") {
        bytes += chunk.len();
    }
    let took = t.elapsed();
    sampler.abort();
    let [own, mapped] = [0, 1].map(|k| {
        let peak = peaks[k].load(std::sync::atomic::Ordering::Relaxed);
        peak.saturating_sub(before[k]) as f64 / 1024.0
    });
    (
        format!("GET risks.{format}, {n} risks"),
        format!(
            "{:.0} rows/s ({:.1} MB in {}); own memory +{own:.1} MiB at most, mapped database file +{mapped:.1} MiB",
            n as f64 / took.as_secs_f64(),
            bytes as f64 / 1e6,
            ms(took),
        ),
        "memory flat in the register's size".into(),
    )
}

/// `n` new risks imported into a fresh register, as many calls of the
/// largest import allowed as it takes.
async fn import(bench: &Bench, n: usize) -> Row {
    let register = bench
        .created(
            r#"mutation { createRegister(input: {name: "Imported", identifierPrefix: "IM"}) { id } }"#,
            json!({}),
            "createRegister",
        )
        .await;
    let per_call = bench.app.state.config.limits.max_import_rows;
    let mutation = "mutation($r: ID!, $csv: String!) { importRisks(registerId: $r, csv: $csv) { created errors { row message } } }";
    let (mut created, mut busy) = (0, Duration::ZERO);
    let statements = bench.app.state.statements.get();
    for first in (0..n).step_by(per_call) {
        let mut csv = String::from(
            "title,category,status,likelihoodLevel,impactLevel,treatment,source,sourceId\n",
        );
        for k in first..(first + per_call).min(n) {
            csv.push_str(&format!(
                "Imported risk {k},Operations,OPEN,{},{},MITIGATE,Sheet,S-{k}\n",
                k % 5,
                (k / 5) % 5
            ));
        }
        let t = Instant::now();
        let data = bench
            .gql(mutation, json!({ "r": register, "csv": csv }))
            .await;
        busy += t.elapsed();
        created += data["importRisks"]["created"].as_u64().unwrap_or(0);
    }
    (
        format!("importRisks, {n} new risks, {per_call} a call"),
        format!(
            "{:.0} rows/s ({created} created in {}; {:.1} statements a row)",
            created as f64 / busy.as_secs_f64(),
            ms(busy),
            (bench.app.state.statements.get() - statements) as f64 / created.max(1) as f64
        ),
        "reported".into(),
    )
}

/// A note on a risk: an update that moves no score.
const NOTE: &str =
    "mutation($id: ID!, $n: String) { updateRisk(id: $id, input: {notes: $n}) { version } }";

/// A table row: what was measured, the figure, the target.
type Row = (String, String, String);

/// A heatmap's filter in the bench.
struct Filtered {
    what: &'static str,
    filter: Value,
    /// Whether it is counted, not read from kept counts.
    counted: bool,
    /// Other filters of its kind, the k-th for `combination(k)`: each is
    /// also timed once, after a change, where its own tally cannot answer.
    combination: Option<fn(usize) -> Value>,
}

/// The k-th combination of categories and treatments a dashboard tries.
fn facet_combination(k: usize) -> Value {
    let categories = &bulk::CATEGORIES;
    let treatments = ["NOT_SET", "MITIGATE", "ACCEPT", "TRANSFER", "AVOID"];
    json!({
        "category": [categories[k % categories.len()], categories[(k + 1 + k / 8) % categories.len()]],
        "treatment": treatments[..1 + k % 5],
    })
}

/// Heatmap: sequential requests, client-measured. Unfiltered, or by one
/// facet, it reads kept counts. A filter they cannot answer is counted,
/// then kept, and tallied once asked again after a change: so it is timed
/// as read again, as read after a change (a note on `risk`) each time, and
/// as counted anew (a filter never asked before, matching the same risks).
/// The floor is the statements of the last way it was read.
async fn heatmap(
    bench: &Bench,
    register: &str,
    n: usize,
    filter: Option<Filtered>,
    risk: &str,
) -> Row {
    let (what, target) = match &filter {
        None => ("unfiltered", "p50 <= 2 ms"),
        Some(filtered) => (filtered.what, "p50 <= 30 ms"),
    };
    let heatmap = "query($r: ID!, $f: RiskFilter) { heatmap(registerId: $r, filter: $f) { total cells { count } } }";
    let asked = |filter: &Option<Value>| json!({ "r": register, "f": filter });
    let counted = filter.as_ref().is_some_and(|f| f.counted);
    let combination = filter.as_ref().and_then(|f| f.combination);
    let filter = filter.map(|filtered| filtered.filter);
    let timed = |variables: Value| async move {
        let t = Instant::now();
        bench.gql(heatmap, variables).await;
        t.elapsed()
    };
    timed(asked(&filter)).await;
    let mut again = Vec::new();
    for _ in 0..200 {
        again.push(timed(asked(&filter)).await);
    }
    let mut figures = format!("p50 {} / p99 {}", p50(&mut again), p99(&again));
    let mut variables = asked(&filter);
    if let Some(filter) = filter.as_ref().filter(|_| counted) {
        let mut changed = Vec::new();
        for k in 0..50 {
            bench
                .gql(NOTE, json!({ "id": risk, "n": format!("heatmap {k}") }))
                .await;
            changed.push(timed(asked(&Some(filter.clone()))).await);
        }
        // Each a question of its own: every risk was updated since then.
        let anew = |k: usize| {
            let mut filter = filter.clone();
            filter["updatedSince"] = json!(format!("2000-01-01T00:00:{k:02}Z"));
            asked(&Some(filter))
        };
        let mut counted = Vec::new();
        for k in 0..20 {
            counted.push(timed(anew(k)).await);
        }
        figures = format!(
            "read again: {figures}; after a change each time: p50 {} / p99 {}; \
             counted anew: p50 {} / p99 {}",
            p50(&mut changed),
            p99(&changed),
            p50(&mut counted),
            p99(&counted)
        );
        if let Some(combination) = combination {
            let mut others = Vec::new();
            for k in 0..20 {
                bench
                    .gql(NOTE, json!({ "id": risk, "n": format!("combination {k}") }))
                    .await;
                others.push(timed(asked(&Some(combination(k)))).await);
            }
            figures = format!(
                "{figures}; another combination after a change each time: p50 {} / p99 {}",
                p50(&mut others),
                p99(&others)
            );
        }
        variables = anew(20);
    }
    let statements = bench.recorded(heatmap, variables).await;
    let mut floor = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        for statement in &statements {
            bench
                .app
                .state
                .db
                .query_all_raw(statement.clone())
                .await
                .expect("replays");
        }
        floor.push(t.elapsed());
    }
    (
        format!("heatmap (residual, {what}), {n} risks"),
        format!(
            "{figures}; its {} statements alone: p50 {}",
            statements.len(),
            p50(&mut floor),
        ),
        target.into(),
    )
}

/// The heatmap with every cell's first three risks, as a heatmap that
/// names the worst risks of each cell asks it: 50 times, one at a time.
async fn cells_first_risks(bench: &Bench, register: &str, n: usize) -> Row {
    let query = "query($r: ID!) { heatmap(registerId: $r) { cells { count risks(first: 3) { identifier } } } }";
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        bench.gql(query, json!({ "r": register })).await;
        times.push(t.elapsed());
    }
    (
        format!("heatmap (residual) with each cell's first 3 risks, {n} risks"),
        format!("p50 {} / p99 {}", p50(&mut times), p99(&times)),
        "reported".into(),
    )
}

/// The median of `times`, sorted by this.
fn p50(times: &mut [Duration]) -> String {
    times.sort();
    ms(percentile(times, 0.5))
}

/// The 99th percentile of `times`, sorted already.
fn p99(times: &[Duration]) -> String {
    ms(percentile(times, 0.99))
}

/// A dashboard's page of a register: 50 risks by residual score, each with
/// its owner, severity, controls, custom fields and residual band, and where
/// the next page starts.
const PAGE: &str = "query($r: ID!, $after: String, $o: [RiskOrder!] = [{field: RESIDUAL_SCORE, direction: DESC}]) { risks(first: 50, after: $after, filter: {registerId: $r}, orderBy: $o) { nodes {
    identifier owner { name } severity { name } controls { strength control { name } }
    customFields { field { name } text } residual { score band { name } } } pageInfo { endCursor } } }";

/// A dashboard page: statements per request, then throughput at 4 in flight.
async fn page(bench: &Bench, register: &str) -> Row {
    // The floor is all the SQL a page needs: as a request sends it when
    // nothing is kept, the first after a change to registers, severities or
    // field definitions. The others send fewer (`Reference`).
    let warm = bench.statements_of(PAGE, json!({ "r": register })).await;
    bench.app.state.feed.reference_changed(None);
    let statements = bench.recorded(PAGE, json!({ "r": register })).await;
    let total = 800;
    let t = Instant::now();
    bench
        .drive(
            4,
            total / 4,
            |_, _| json!({ "query": PAGE, "variables": { "r": register } }),
        )
        .await;
    let rate = total as f64 / t.elapsed().as_secs_f64();
    let floor = bench.floor(&statements, 4, total / 4).await;
    (
        "risks(first: 50) with owner, severity, controls, customFields, residual; 4 clients".into(),
        format!(
            "{} statements ({} when nothing is kept); {rate:.0} req/s; those {} alone {floor:.0}/s ({:.2}x)",
            warm.len(),
            statements.len(),
            statements.len(),
            rate / floor
        ),
        ">= 0.8x its statements alone".into(),
    )
}

/// `PAGE` past the first 30 % of the register in `order` (null: the order a
/// page takes without one, by creation), against the first page at the
/// same concurrency. Scores tie by the thousand, and the bench's risks
/// share their creation instant as an import's do, so the cursor's range
/// has to start the index scan at the cursor's row, not at the first risk
/// with the cursor's key.
async fn deep_page(bench: &Bench, register: &str, n: usize, (by, order): (&str, Value)) -> Row {
    let depth = n * 3 / 10 / 50 * 50;
    let mut after = Value::Null;
    for _ in 0..depth / 50 {
        let page = bench
            .gql(PAGE, json!({ "r": register, "after": after, "o": order }))
            .await;
        after = page["risks"]["pageInfo"]["endCursor"].clone();
    }
    let total = 400;
    let order = &order;
    let rate = |after: Value| async move {
        let t = Instant::now();
        let variables = json!({ "r": register, "after": after, "o": order });
        let failed = bench
            .drive(
                4,
                total / 4,
                |_, _| json!({ "query": PAGE, "variables": variables }),
            )
            .await;
        assert_eq!(failed, 0, "the page answers without errors");
        total as f64 / t.elapsed().as_secs_f64()
    };
    let first = rate(Value::Null).await;
    let deep = rate(after).await;
    (
        format!("page of 50 by {by}, {depth} risks deep, 4 clients"),
        format!(
            "{deep:.0} req/s; the first page {first:.0} req/s ({:.2}x)",
            deep / first
        ),
        "as fast as the first page".into(),
    )
}

/// `PAGE` as PostGraphile v4 asks it of the same tables, which it reads as
/// they are: the scores' table (where the residual score is) ordered by
/// that score, each row's risk with its owner (a relation declared in
/// `benches/postgraphile/postgraphile.tags.json5`), severity, control links
/// and custom values. The band is the stored band's number: its name is in
/// the register's bands, which PostGraphile cannot read without a function.
/// Ties go by id, descending as riskgraph's do, so that both read the same
/// index backward; PostgreSQL then puts the one risk without a score first,
/// where riskgraph puts it last.
const POSTGRAPHILE_PAGE: &str = "query($r: String!) { allRiskScores(first: 50, condition: {registerId: $r}, orderBy: [RESIDUAL_SCORE_DESC, PRIMARY_KEY_DESC]) { nodes {
    residualScore residualBand riskById { identifier memberByOwnerId { name } severityBySeverityId { name }
    riskControlsByRiskId { nodes { strength controlByControlId { name } } }
    customFieldValuesByRiskId { nodes { customFieldDefinitionByFieldId { name } textValue } } } } } }";

/// The page against PostGraphile v4 on the same database: PostGraphile's
/// CLI, as `npm ci --prefix benches/postgraphile` installs it, with its
/// defaults and no query log. Both servers take turns, with as many clients
/// each, so that the machine's speed moves them alike.
async fn postgraphile(bench: &Bench, database_url: &str, register: &str) -> Row {
    let what = "page of 50 against PostGraphile v4 on the same data".to_owned();
    let target = ">= 3x PostGraphile".to_owned();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/postgraphile");
    let cli = dir.join("node_modules/postgraphile/cli.js");
    if !cli.exists() {
        let missing = "not measured: npm ci --prefix benches/postgraphile".to_owned();
        return (what, missing, target);
    }
    let port = postgres::free_port().to_string();
    let server = tokio::process::Command::new("node")
        .arg(&cli)
        .args(["-c", database_url, "--host", "127.0.0.1", "--port", &port])
        .args(["--disable-query-log", "--disable-graphiql"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(_server) = server else {
        return (what, "not measured: node does not run".into(), target);
    };
    let url = format!("http://127.0.0.1:{port}/graphql");
    let body = json!({ "query": POSTGRAPHILE_PAGE, "variables": { "r": register } });
    let theirs = || bench.http.post(&url);
    // Up once it answers the page in full.
    let mut answered = Value::Null;
    for _ in 0..300 {
        if let Ok(answer) = theirs().json(&body).send().await {
            answered = answer.json().await.unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A reference that cannot run is a row that says so, not a failed run.
    let nodes = &answered["data"]["allRiskScores"]["nodes"];
    if nodes.as_array().map(Vec::len) != Some(50) {
        let said: String = answered.to_string().chars().take(200).collect();
        return (
            what,
            format!("not measured: PostGraphile answered {said}"),
            target,
        );
    }
    let ours = json!({ "query": PAGE, "variables": { "r": register } });
    let mut figures = Vec::new();
    // 4 clients as the page's own row; 32 as issue 9 measured, where
    // PostGraphile, which waits on the database more than it computes,
    // overlaps more of its waits.
    for (clients, each) in [(4, 50), (32, 10)] {
        let rounds = 4;
        let (mut ours_took, mut theirs_took) = (Duration::ZERO, Duration::ZERO);
        let mut failed = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            failed += bench.drive(clients, each, |_, _| ours.clone()).await;
            ours_took += t.elapsed();
            let t = Instant::now();
            failed += bench
                .drive_with(theirs, clients, each, |_, _| body.clone())
                .await;
            theirs_took += t.elapsed();
        }
        assert_eq!(failed, 0, "every page answered without errors");
        let requests = (rounds * clients * each) as f64;
        let (ours, theirs) = (
            requests / ours_took.as_secs_f64(),
            requests / theirs_took.as_secs_f64(),
        );
        figures.push(format!(
            "{clients} clients: riskgraph {ours:.0} req/s, PostGraphile {theirs:.0} req/s ({:.1}x)",
            ours / theirs
        ));
    }
    (what, figures.join("; "), target)
}

/// Updates with their events, 8 in flight on distinct risks.
async fn updates(bench: &Bench, ids: &[String]) -> Row {
    let updates = 2000;
    let t = Instant::now();
    let failed = bench
        .drive(16, updates / 16, |task, k| {
            json!({
                "query": NOTE,
                "variables": { "id": ids[task], "n": format!("note {k}") }
            })
        })
        .await;
    (
        "updateRisk with its event, 16 writers on distinct risks".into(),
        format!(
            "{:.0} /s; {failed} errors",
            updates as f64 / t.elapsed().as_secs_f64()
        ),
        ">= 1,000/s, no errors".into(),
    )
}

/// `{ __typename }` with a token, against the same without one and against
/// `/healthz` (no GraphQL, no token), at the same concurrency.
///
/// The server refuses a request without a token before any GraphQL work, so
/// "the same without a token" is this request without its sign-in: the
/// sign-in (`authenticate`, the token's check and its cached principal) is
/// timed on its own in this process, and its share of the CPU time a
/// request takes at the measured rate is what leaving it out would save.
async fn typename(bench: &Bench) -> Row {
    let total = 4000;
    let t = Instant::now();
    bench
        .drive(4, total / 4, |_, _| json!({ "query": "{ __typename }" }))
        .await;
    let rate = total as f64 / t.elapsed().as_secs_f64();
    let health = bench.url.replace("/graphql", "/healthz");
    let t = Instant::now();
    let client = |_| async {
        for _ in 0..total / 4 {
            bench
                .http
                .get(&health)
                .send()
                .await
                .expect("sent")
                .bytes()
                .await
                .expect("body");
        }
    };
    futures_util::future::join_all((0..4).map(client)).await;
    let floor = total as f64 / t.elapsed().as_secs_f64();
    let signs = 20_000;
    let t = Instant::now();
    for _ in 0..signs {
        riskgraph::web::graphql_http::authenticate(&bench.app.state, Some(&bench.token))
            .await
            .expect("signs in");
    }
    let sign_in = t.elapsed().as_secs_f64() / f64::from(signs);
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let without = cores / (cores / rate - sign_in);
    (
        "{ __typename } with a token; 4 clients".into(),
        format!(
            "{rate:.0} req/s; without its sign-in ({:.1} µs) {without:.0} req/s ({:.2}x); \
             GET /healthz {floor:.0} req/s ({:.2}x)",
            sign_in * 1e6,
            rate / without,
            rate / floor
        ),
        "within 20 % of no token".into(),
    )
}

/// One subscriber on the register: sends the time of every push to `pushed`.
/// With a `key`, its variables differ from every other subscriber's (by one
/// the operation does not use), so the server runs it on its own.
async fn subscriber(
    url: String,
    token: String,
    register: String,
    after: Option<String>,
    key: Option<usize>,
    pushed: tokio::sync::mpsc::UnboundedSender<SystemTime>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // tungstenite's 128 KiB read buffer, zeroed for every read, had the
    // clients spend a third of the cores on memset.
    let config =
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
    // Thousands of connects at once overflow the server's listen queue, and
    // the kernel resets some: those try again, as a dashboard would.
    let mut tries = 0;
    let mut socket = loop {
        match tokio_tungstenite::connect_async_with_config(request.clone(), Some(config), true)
            .await
        {
            Ok((socket, _)) => break socket,
            Err(err) if tries == 50 => panic!("connects: {err}"),
            Err(_) => tries += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
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
            "query": "subscription($r: ID, $after: String) { residualRiskChanged(registerId: $r, after: $after) { cursor } }",
            "variables": { "r": register, "after": after, "key": key } } })))
        .await
        .expect("subscribe");
    let _ = ready.send(());
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        if text.contains("\"next\"") {
            let _ = pushed.send(SystemTime::now());
        } else if text.contains("\"ping\"") {
            // The server drops a client that answers nothing.
            let _ = socket.send(send(json!({ "type": "pong" }))).await;
        }
    }
}

/// What the child process of the subscriber rows runs: the subscribers,
/// "ready" on stdout once all have subscribed, then the time of each push
/// (microseconds since the epoch) a line each, and an exit when stdin
/// closes.
async fn clients(spec: Subscribers) {
    use tokio::io::AsyncReadExt;
    let (pushed, mut times) = tokio::sync::mpsc::unbounded_channel();
    let mut ready = Vec::new();
    for k in 0..spec.n {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        ready.push(ready_rx);
        tokio::spawn(subscriber(
            spec.url.clone(),
            spec.token.clone(),
            spec.register.clone(),
            spec.after.clone(),
            spec.distinct.then_some(k),
            pushed.clone(),
            ready_tx,
        ));
    }
    for r in ready {
        let _ = r.await;
    }
    println!("ready");
    tokio::spawn(async move {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout());
        while let Some(at) = times.recv().await {
            let _ = writeln!(out, "{}", micros(at));
            if times.is_empty() {
                let _ = out.flush();
            }
        }
    });
    let _ = tokio::io::stdin().read_to_end(&mut Vec::new()).await;
}

fn micros(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

/// Subscribers of a row: `n` on the register, all with the same operation
/// and variables, or each with its own (`distinct`).
#[derive(Clone, Serialize, Deserialize)]
struct Subscribers {
    url: String,
    token: String,
    register: String,
    n: usize,
    distinct: bool,
    /// Where they start: a subscription "from now" starts when the server
    /// first runs it, which a client cannot see, so a change committed just
    /// after subscribing could come before it.
    after: Option<String>,
}

impl Subscribers {
    fn kind(&self) -> &'static str {
        if self.distinct {
            "distinct"
        } else {
            "identical"
        }
    }
}

/// The subscribers, in a child process (this bench binary again): the
/// server's memory and file descriptors are then its own. Returns once the
/// server runs all of them, with the child's lines after "ready".
async fn spawn_clients(bench: &Bench, spec: &Subscribers) -> (Child, Lines) {
    let base = subscriptions(bench).await;
    let spec = Subscribers {
        after: Some(bench.app.state.feed.head().to_string()),
        ..spec.clone()
    };
    let clients = start_clients(&spec).await;
    active_subscriptions(bench, base + spec.n as f64).await;
    clients
}

type Child = tokio::process::Child;
type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// The child process of `spec`'s subscribers, once all have sent their
/// subscribe; its lines after "ready" are the times of its pushes.
async fn start_clients(spec: &Subscribers) -> (Child, Lines) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CLIENTS, json!(spec).to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawns the clients");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let _ = lines.next_line().await;
    (child, lines)
}

/// Ends the child's subscribers, and waits until the server has let go of
/// them.
async fn end_clients(bench: &Bench, child: Child, n: usize) {
    let base = subscriptions(bench).await - n as f64;
    stop_clients(child).await;
    active_subscriptions(bench, base).await;
}

/// Closes the child's stdin, which ends its subscribers, and waits for it.
async fn stop_clients(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait().await;
}

/// The value of an unlabelled gauge on `/metrics`.
async fn gauge(bench: &Bench, name: &str) -> f64 {
    let text = bench
        .http
        .get(bench.url.replace("/graphql", "/metrics"))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The subscriptions the server runs: each counts once its first poll has
/// reached the feed. (The gauge is the process's: an earlier row's or
/// database's sockets may still be counted.)
async fn subscriptions(bench: &Bench) -> f64 {
    gauge(bench, "riskgraph_subscriptions_active").await
}

/// Waits until the server runs `n` subscriptions.
async fn active_subscriptions(bench: &Bench, n: f64) {
    while subscriptions(bench).await != n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server's memory per idle subscriber: this process's resident memory
/// is the server's alone. Memory that earlier rows freed is reused and not
/// counted: the figure means most run alone, one database at a time
/// (`-- sqlite idle`).
async fn idle(bench: &Bench, spec: &Subscribers) -> Row {
    let before = resident_kib("VmRSS:");
    let (child, _) = spawn_clients(bench, spec).await;
    let after = resident_kib("VmRSS:");
    end_clients(bench, child, spec.n).await;
    (
        format!(
            "idle subscribers ({}, {}, clients in another process)",
            spec.n,
            spec.kind()
        ),
        format!(
            "{:.1} KiB each",
            after.saturating_sub(before) as f64 / spec.n as f64
        ),
        "<= 16 KiB".into(),
    )
}

/// Push latency: many subscribers, one mutation at a time; then the same
/// number of sockets on a bare server (`bare_pushes`), the floor of any
/// push on this machine.
async fn pushes(bench: &Bench, spec: &Subscribers, ids: &[String]) -> Option<Row> {
    let subscribers = spec.n;
    let (child, mut lines) = spawn_clients(bench, spec).await;
    let mut latencies = Vec::new();
    let cpu = cpu_time();
    // Risks of their own for each row: setting a level a risk already has
    // moves nothing, and is pushed to no one.
    let skip = if spec.distinct { 10 } else { 0 };
    for (k, id) in ids.iter().skip(skip).take(PUSHES).enumerate() {
        let sent = SystemTime::now();
        bench
            .gql(
                "mutation($id: ID!, $l: Int) { updateRisk(id: $id, input: {likelihoodLevel: $l}) { version } }",
                json!({ "id": id, "l": (k % 4) + 1 }),
            )
            .await;
        arrivals(&mut lines, subscribers, sent, &mut latencies).await;
    }
    let cpu = cpu_time() - cpu;
    end_clients(bench, child, subscribers).await;
    let (mut floor, bare_cpu) = bare_pushes(spec).await;
    latencies.sort();
    floor.sort();
    let (measured, bare) = (
        spread(&latencies, subscribers)?,
        spread(&floor, subscribers)?,
    );
    let ratio = percentile(&latencies, 0.99).as_secs_f64() / percentile(&floor, 0.99).as_secs_f64();
    Some((
        format!(
            "mutation -> residualRiskChanged, {subscribers} {} subscribers",
            spec.kind()
        ),
        format!(
            "{measured}, {} of CPU a push; a bare server's {bare}, {} ({ratio:.2}x its p99)",
            ms(cpu / PUSHES as u32),
            ms(bare_cpu / PUSHES as u32),
        ),
        "p99 < 100 ms (10,000 subscribers)".into(),
    ))
}

/// What subscribers cost the writes they do not want: the server's CPU
/// time an update takes with `spec`'s `residualRiskChanged` subscribers on
/// `spec.register`, for a risk of another register and for a note on one of
/// theirs (which moves no residual score), against the same updates with no
/// subscriber at all. An event should wake only those who want it.
async fn bystanders(bench: &Bench, spec: &Subscribers, theirs: &str) -> Row {
    let register = bench
        .created(
            "mutation { createRegister(input: {name: \"Elsewhere\", identifierPrefix: \"ELS\"}) { id } }",
            json!({}),
            "createRegister",
        )
        .await;
    let elsewhere = bench
        .created(
            "mutation($r: ID!) { createRisk(input: {registerId: $r, title: \"elsewhere\"}) { id } }",
            json!({ "r": register }),
            "createRisk",
        )
        .await;
    let notes = |risk: String, round: &'static str| async move {
        let cpu = cpu_time();
        for k in 0..BYSTANDER_UPDATES {
            bench
                .gql(NOTE, json!({ "id": risk, "n": format!("{round} {k}") }))
                .await;
        }
        (cpu_time() - cpu) / BYSTANDER_UPDATES as u32
    };
    let alone = notes(elsewhere.clone(), "alone").await;
    let (child, _) = spawn_clients(bench, spec).await;
    let other_register = notes(elsewhere, "watched").await;
    let their_notes = notes(theirs.to_owned(), "watched").await;
    end_clients(bench, child, spec.n).await;
    (
        format!(
            "updateRisk nobody listening wants, {} {} subscribers",
            spec.n,
            spec.kind()
        ),
        format!(
            "{} of CPU an update of another register, {} a note on one of theirs; {} with no subscriber",
            ms(other_register),
            ms(their_notes),
            ms(alone)
        ),
        "no more than with none".into(),
    )
}

/// Updates a `bystanders` row times, each way.
const BYSTANDER_UPDATES: usize = 200;

/// Pushes a row times.
const PUSHES: usize = 10;

/// Reads the arrival time of a push at each of `subscribers`, sent at
/// `sent`, into `latencies`; stops early if the clients fall silent.
async fn arrivals(
    lines: &mut Lines,
    subscribers: usize,
    sent: SystemTime,
    latencies: &mut Vec<Duration>,
) {
    let sent = micros(sent);
    for _ in 0..subscribers {
        match tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                let at: u128 = line.parse().unwrap_or(sent);
                let took = u64::try_from(at.saturating_sub(sent)).unwrap_or(u64::MAX);
                latencies.push(Duration::from_micros(took));
            }
            _ => break,
        }
    }
}

/// p50 and p99 of `sorted`, and how many of the row's pushes arrived.
fn spread(sorted: &[Duration], subscribers: usize) -> Option<String> {
    (!sorted.is_empty()).then(|| {
        format!(
            "p50 {} / p99 {} ({} of {} pushes)",
            ms(percentile(sorted, 0.5)),
            ms(percentile(sorted, 0.99)),
            sorted.len(),
            subscribers * PUSHES
        )
    })
}

/// The floor of a push to `spec.n` sockets: the same clients on a bare
/// WebSocket server with no GraphQL and no database, whose every socket has
/// one task that a push wakes once to write one prepared frame (see
/// `bare_socket`). What the server adds is then the ratio of the two.
async fn bare_pushes(spec: &Subscribers) -> (Vec<Duration>, Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let (frames, _) = tokio::sync::broadcast::channel(PUSHES);
    let subscribed = tokio::sync::watch::Sender::new(0usize);
    let accepting = {
        let (frames, subscribed) = (frames.clone(), subscribed.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // As the server's sockets (`web::serve`): a frame goes out
                // when written, not after the last one's acknowledgement.
                let _ = stream.set_nodelay(true);
                tokio::spawn(bare_socket(stream, frames.subscribe(), subscribed.clone()));
            }
        })
    };
    let spec = Subscribers {
        url: format!("ws://{addr}/graphql"),
        ..spec.clone()
    };
    let (child, mut lines) = start_clients(&spec).await;
    let mut all = subscribed.subscribe();
    let _ = all.wait_for(|n| *n == spec.n).await;
    let mut latencies = Vec::new();
    let cpu = cpu_time();
    for seq in 0..PUSHES {
        let frame = json!({ "id": "1", "type": "next", "payload": { "data": {
            "residualRiskChanged": { "cursor": (1_000_000 + seq).to_string() } } } });
        let sent = SystemTime::now();
        let _ = frames.send(frame.to_string().into());
        arrivals(&mut lines, spec.n, sent, &mut latencies).await;
    }
    let cpu = cpu_time() - cpu;
    accepting.abort();
    stop_clients(child).await;
    (latencies, cpu)
}

/// A socket of the bare server: acknowledges `connection_init`, counts its
/// `subscribe`, and writes every frame sent on `frames`.
async fn bare_socket(
    stream: tokio::net::TcpStream,
    mut frames: tokio::sync::broadcast::Receiver<tokio_tungstenite::tungstenite::Utf8Bytes>,
    subscribed: tokio::sync::watch::Sender<usize>,
) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    #[expect(clippy::result_large_err, reason = "tungstenite's callback returns it")]
    let protocol = |_: &Request, mut response: Response| {
        response.headers_mut().insert(
            "sec-websocket-protocol",
            tokio_tungstenite::tungstenite::http::HeaderValue::from_static("graphql-transport-ws"),
        );
        Ok(response)
    };
    // Buffers as the server's sockets have them (`web::ws`).
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0);
    let Ok(mut socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, protocol, Some(config)).await
    else {
        return;
    };
    loop {
        tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) if text.contains("connection_init") => {
                    let ack = json!({ "type": "connection_ack" }).to_string();
                    if socket.send(Message::Text(ack.into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(text))) if text.contains("\"subscribe\"") => {
                    subscribed.send_modify(|n| *n += 1);
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Text(frame)).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}

const BACKENDS: &[&str] = &["sqlite", "postgres"];
const ROWS: &[&str] = &[
    "typename",
    "heatmap",
    "page",
    "deep",
    "postgraphile",
    "export",
    "updates",
    "idle",
    "idle_distinct",
    "pushes",
    "pushes_distinct",
    "bystanders",
    "control",
    "remap",
    "import",
];

/// Set in the child process of the subscriber rows: its `Subscribers`.
const CLIENTS: &str = "LOAD_CLIENTS";

/// The rows a run measures: all, or those named on the command line.
struct Only(Vec<String>);

impl Only {
    fn from_args() -> Self {
        Only(
            std::env::args()
                .skip(1)
                .filter(|a| !a.starts_with("--"))
                .collect(),
        )
    }

    fn named(&self, among: &[&str]) -> Vec<&String> {
        self.0
            .iter()
            .filter(|a| among.contains(&a.as_str()))
            .collect()
    }

    /// Whether `row` (or a database, `sqlite` or `postgres`) is measured:
    /// all are when none of its kind is named.
    fn wants(&self, what: &str) -> bool {
        let kind: &[&str] = if BACKENDS.contains(&what) {
            BACKENDS
        } else {
            ROWS
        };
        let named = self.named(kind);
        named.is_empty() || named.iter().any(|a| *a == what)
    }
}

async fn run(
    backend: &str,
    database_url: String,
    n: usize,
    subscribers: usize,
    only: &Only,
) -> Vec<Row> {
    let mut config = Config::for_database(database_url.clone(), SECRET);
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
        // Idle connections are let go before the server's header read
        // timeout closes them: one reused just as the server closes it fails
        // the request, as it did while thousands of subscribers connected.
        http: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .expect("client"),
        token: mint(SECRET, &claims),
    };
    let started = Instant::now();
    let Seeded {
        register,
        control,
        ids,
    } = seed(&bench, n).await;
    let mut rows = vec![(
        format!("seed {n} risks"),
        ms(started.elapsed()),
        String::new(),
    )];
    if bench.app.state.db.get_database_backend() == DbBackend::Postgres {
        // What autovacuum would do after a bulk load, before a dashboard
        // reads it.
        bench
            .app
            .state
            .db
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyzes");
    }
    if only.wants("typename") {
        rows.push(typename(&bench).await);
    }
    if only.wants("heatmap") {
        rows.push(heatmap(&bench, &register, n, None, &ids[0]).await);
        rows.push(cells_first_risks(&bench, &register, n).await);
        // One facet: its kept counts. Several: one tally of every risk's
        // cell and facets. The rest are counted, then tallied: on a column
        // of `risk_scores`, which the count reads alone, and on columns of
        // `risks`, which it joins.
        let filters = [
            Filtered {
                what: "filtered by a score column",
                filter: json!({ "withinTolerance": false }),
                counted: true,
                combination: None,
            },
            Filtered {
                what: "filtered by category, 1 in 8",
                filter: json!({ "category": ["Security"] }),
                counted: false,
                combination: None,
            },
            Filtered {
                what: "filtered by treatment, all matching",
                filter: json!({ "treatment": ["NOT_SET"] }),
                counted: false,
                combination: None,
            },
            Filtered {
                what: "filtered by category and treatment, 1 in 8",
                filter: json!({ "category": ["Security"], "treatment": ["NOT_SET"] }),
                counted: true,
                combination: Some(facet_combination),
            },
            Filtered {
                what: "filtered by createdAt, all matching",
                filter: json!({ "createdAt": { "from": "2000-01-01T00:00:00Z" } }),
                counted: true,
                combination: None,
            },
        ];
        for filter in filters {
            rows.push(heatmap(&bench, &register, n, Some(filter), &ids[0]).await);
        }
    }
    if only.wants("page") {
        rows.push(page(&bench, &register).await);
    }
    if only.wants("deep") {
        let residual = json!([{ "field": "RESIDUAL_SCORE", "direction": "DESC" }]);
        for order in [
            ("residual score", residual),
            ("creation, as without orderBy", Value::Null),
        ] {
            rows.push(deep_page(&bench, &register, n, order).await);
        }
    }
    if only.wants("postgraphile")
        && bench.app.state.db.get_database_backend() == DbBackend::Postgres
    {
        rows.push(postgraphile(&bench, &database_url, &register).await);
    }
    if only.wants("export") {
        rows.push(export(&bench, &register, n, "csv").await);
        rows.push(export(&bench, &register, n, "xlsx").await);
    }
    if only.wants("updates") {
        rows.push(updates(&bench, &ids).await);
    }
    for distinct in [false, true] {
        let spec = Subscribers {
            url: bench.url.replacen("http", "ws", 1),
            token: bench.token.clone(),
            register: register.clone(),
            n: subscribers,
            distinct,
            after: None,
        };
        let suffix = if distinct { "_distinct" } else { "" };
        if only.wants(&format!("idle{suffix}")) {
            rows.push(idle(&bench, &spec).await);
        }
        if only.wants(&format!("pushes{suffix}")) {
            rows.extend(pushes(&bench, &spec, &ids).await);
        }
        if distinct && only.wants("bystanders") {
            rows.push(bystanders(&bench, &spec, &ids[0]).await);
        }
    }
    if only.wants("control") {
        rows.push(control_fails(&bench, &control, n).await);
    }
    if only.wants("remap") {
        rows.push(remap(&bench, &register, n).await);
    }
    if only.wants("import") {
        rows.push(import(&bench, n).await);
    }
    rows.into_iter()
        .map(|(what, got, target)| (format!("{backend}: {what}"), got, target))
        .collect()
}

#[tokio::main]
async fn main() {
    if let Ok(spec) = std::env::var(CLIENTS) {
        return clients(serde_json::from_str(&spec).expect("spec")).await;
    }
    // `--quick`: every row on a small register, to prove in CI that the
    // harness runs; its figures mean little.
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = std::env::var("RISKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let subscribers: usize = std::env::var("SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20 } else { 1_000 });
    let only = Only::from_args();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    if only.wants("sqlite") {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        rows.extend(run("SQLite", url, n, subscribers, &only).await);
    }
    if only.wants("postgres")
        && let Some(url) = postgres::fresh_database(true).await
    {
        rows.extend(run("PostgreSQL", url, n, subscribers, &only).await);
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    println!("\n| {:width$} | measured | target |", "what");
    println!("| {} | --- | --- |", "-".repeat(width));
    for (what, got, target) in rows {
        println!("| {what:width$} | {got} | {target} |");
    }
}
