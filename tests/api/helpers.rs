//! Starts the real app on a random port, on SQLite or PostgreSQL, and talks
//! GraphQL over HTTP to it as a client would.

use riskgraph::app::App;
use riskgraph::auth::{Claims, mint};
use riskgraph::clock::Clock;
use riskgraph::config::Config;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-of-a-reasonable-length";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub app: App,
    pub url: String,
    pub http: reqwest::Client,
    pub clock: Clock,
    // Keeps the SQLite file alive for the test.
    _dir: tempfile::TempDir,
}

/// Declares a test that runs only on PostgreSQL (several instances on one
/// database).
#[macro_export]
macro_rules! postgres_only {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(url) = $crate::postgres::fresh_database(false).await {
                    super::$name(url).await;
                }
            }
        }
    )+};
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {$(
        $crate::both_with!($name, |_| {});
    )+};
}

/// Like `both!`, for one test whose app starts with its config adjusted.
#[macro_export]
macro_rules! both_with {
    ($name:ident, $adjust:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let backend = $crate::helpers::Backend::Sqlite;
                if let Some(app) = $crate::helpers::TestApp::start_with(backend, $adjust).await {
                    super::$name(app).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let backend = $crate::helpers::Backend::Postgres;
                if let Some(app) = $crate::helpers::TestApp::start_with(backend, $adjust).await {
                    super::$name(app).await;
                }
            }
        }
    };
}

impl TestApp {
    /// None when the backend is not available here (PostgreSQL not installed
    /// and not required).
    /// Like [`TestApp::start`], with the config adjusted first.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => {
                format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display())
            }
            Backend::Postgres => match crate::postgres::fresh_database(false).await {
                Some(url) => url,
                None => {
                    eprintln!("PostgreSQL not installed: skipped");
                    return None;
                }
            },
        };
        let mut config = Config::for_database(url, SECRET);
        adjust(&mut config);
        Some(Self::with_config(config, dir).await)
    }

    pub async fn with_config(config: Config, dir: tempfile::TempDir) -> Self {
        let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
            .expect("date")
            .to_utc();
        let clock = Clock::fixed(start);
        let app = App::spawn(config, clock.clone()).await.expect("app starts");
        Self {
            url: format!("http://{}/graphql", app.addr),
            app,
            http: http_client(),
            clock,
            _dir: dir,
        }
    }

    /// A client signed in as `sub` of `org` with `role`.
    pub fn client(&self, org: &str, sub: &str, role: &str) -> Client {
        let exp = Clock::default().now().timestamp() + 3600;
        let claims = Claims {
            sub: sub.into(),
            org: org.into(),
            role: role.into(),
            exp,
            name: Some(format!("{sub} of {org}")),
            email: None,
        };
        Client {
            http: self.http.clone(),
            url: self.url.clone(),
            token: Some(mint(SECRET, &claims)),
        }
    }

    pub fn admin(&self, org: &str) -> Client {
        self.client(org, "admin", "admin")
    }

    pub fn anonymous(&self) -> Client {
        Client {
            http: self.http.clone(),
            url: self.url.clone(),
            token: None,
        }
    }

    /// The WebSocket address of the GraphQL endpoint.
    pub fn ws_url(&self) -> String {
        self.url.replacen("http", "ws", 1)
    }

    /// SQL statements the app has sent so far.
    pub fn statements(&self) -> u64 {
        self.app.state.statements.get()
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

/// An error as a client reads it.
#[derive(Debug)]
pub struct GqlError {
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

impl Client {
    /// POSTs an operation; returns the HTTP status and the body.
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        // `key:<secret>` signs in with an API key instead of a token.
        match self.token.as_deref().map(|t| t.split_once("key:")) {
            Some(Some(("", secret))) => request = request.header("x-api-key", secret),
            Some(_) => request = request.bearer_auth(self.token.as_deref().unwrap_or("")),
            None => {}
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// The `data` of an operation that must succeed.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert!(
            body.get("errors").is_none() && status == 200,
            "expected success, got {status}: {body}"
        );
        body["data"].clone()
    }

    /// The first error of an operation that must fail.
    pub async fn err(&self, query: &str, variables: Value) -> GqlError {
        let (_, body) = self.post(query, variables).await;
        let error = &body["errors"][0];
        assert!(!error.is_null(), "expected an error, got {body}");
        GqlError {
            code: error["extensions"]["code"]
                .as_str()
                .unwrap_or("(none)")
                .to_owned(),
            field: error["extensions"]["field"].as_str().map(str::to_owned),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

impl GqlError {
    pub fn assert(&self, code: &str, field: Option<&str>) {
        assert_eq!(
            (self.code.as_str(), self.field.as_deref()),
            (code, field),
            "{}",
            self.message
        );
    }
}

/// The tests' HTTP client. Its patience is far beyond any request's own
/// timeout (30 s), so that a server that never answers fails its test
/// instead of hanging the suite.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("an HTTP client")
}

/// The one statement recorded since `record` that orders what it reads (a
/// page, or every cell's first risks); `what` names the request.
pub fn the_ordered_read(app: &TestApp, what: &str) -> Statement {
    let recorded = app.app.state.statements.take_recorded();
    let mut ordered: Vec<Statement> = recorded
        .into_iter()
        .filter(|s| s.sql.contains("ORDER BY"))
        .collect();
    assert_eq!(ordered.len(), 1, "{what}: {ordered:?}");
    ordered.remove(0)
}

/// How the database runs a recorded statement.
pub enum Run {
    /// SQLite's plan, a line a step.
    Planned(Vec<String>),
    /// PostgreSQL's plan, run, and the rows read by its first scan of a
    /// table, outer sides first (the one the order comes from), in all its
    /// loops, planned as a large register is: by
    /// index scans and nested loops, with no sort of whole rows (the
    /// test's few rows would be read whole).
    Ran { plan: String, read: u64 },
}

/// The first scan of a table in `node`'s plan, outer sides first.
fn scan(node: &Value) -> Option<&Value> {
    if node["Relation Name"].is_string() {
        return Some(node);
    }
    node["Plans"].as_array()?.iter().find_map(scan)
}

pub async fn run_of(app: &TestApp, statement: &Statement) -> Run {
    let db = &app.app.state.db;
    let explain = |prefix: &str| {
        Statement::from_sql_and_values(
            statement.db_backend,
            format!("{prefix} {}", statement.sql),
            statement.values.clone().map(|v| v.0).unwrap_or_default(),
        )
    };
    if db.get_database_backend() != DbBackend::Postgres {
        let rows = db
            .query_all_raw(explain("EXPLAIN QUERY PLAN"))
            .await
            .expect("plans");
        let plan = rows.iter().filter_map(|r| r.try_get_by_index(3).ok());
        return Run::Planned(plan.collect());
    }
    let tx = db.begin().await.expect("begins");
    for off in ["seqscan", "bitmapscan", "sort", "hashjoin", "mergejoin"] {
        let set = format!("SET LOCAL enable_{off} = off");
        tx.execute_unprepared(&set).await.expect("sets");
    }
    let row = tx
        .query_one_raw(explain("EXPLAIN (ANALYZE, FORMAT JSON)"))
        .await
        .expect("explains")
        .expect("a plan");
    let plan: Value = row.try_get_by_index(0).expect("JSON");
    let node = scan(&plan[0]["Plan"]).expect("a scan of a table");
    let n = |key: &str| node[key].as_u64().unwrap_or(0);
    let read = (n("Actual Rows") + n("Rows Removed by Filter")) * n("Actual Loops");
    Run::Ran {
        plan: plan.to_string(),
        read,
    }
}
