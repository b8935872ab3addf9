//! Configuration: one `Config`, read from flags and their environment
//! variables by the CLI, or built in code by tests.

use clap::Args;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://riskgraph.db?mode=rwc";

/// Where the service keeps its data and how it checks tokens.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://FILE?mode=rwc (embedded) or postgres://...
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Args, Clone, Debug)]
pub struct AuthArgs {
    /// HS256 secret for bearer tokens. Without it or a public key, local mode.
    #[arg(long, env = "RISKGRAPH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// PEM file with an RS256 or ES256 public key, instead of a secret.
    #[arg(long, env = "RISKGRAPH_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Required `iss` claim; not checked when unset.
    #[arg(long, env = "RISKGRAPH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim; not checked when unset.
    #[arg(long, env = "RISKGRAPH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RISKGRAPH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Seed a demo organization when the database is empty.
    #[arg(long)]
    pub demo: bool,
    /// Serve `/metrics` on this address instead of beside the API.
    #[arg(long, env = "RISKGRAPH_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    #[command(flatten)]
    pub limits: Limits,
}

/// Request limits (DESIGN §7); every one configurable.
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Deepest selection a query may make, fields within fields.
    #[arg(long, env = "RISKGRAPH_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,
    /// Most fields a document may select, counted as written: a list's
    /// fields count once, not once an item (that is `max_list_items`).
    #[arg(long, env = "RISKGRAPH_MAX_COMPLEXITY", default_value_t = 5000)]
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    #[arg(long, env = "RISKGRAPH_MAX_ALIASES", default_value_t = 50)]
    pub max_aliases: usize,
    /// Most list items a document may ask for: each list counts its page
    /// times the lists around it (see `web::list_items`).
    #[arg(long, env = "RISKGRAPH_MAX_LIST_ITEMS", default_value_t = 500_000)]
    pub max_list_items: u64,
    /// Deepest nesting of brackets in a document, of selections through
    /// fragments, and of variables; checked before the parser runs.
    #[arg(long, env = "RISKGRAPH_MAX_NESTING", default_value_t = 64)]
    pub max_nesting: usize,
    /// Largest query text, in bytes.
    #[arg(long, env = "RISKGRAPH_MAX_QUERY_BYTES", default_value_t = 100 * 1024)]
    pub max_query_bytes: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "RISKGRAPH_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers), in bytes.
    #[arg(long, env = "RISKGRAPH_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
    /// Seconds a client has to send its request head.
    #[arg(
        long = "header-read-timeout",
        env = "RISKGRAPH_HEADER_READ_TIMEOUT",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,
    /// Most open connections (HTTP and WebSocket); more wait to be accepted.
    #[arg(long, env = "RISKGRAPH_MAX_CONNECTIONS", default_value_t = 16384)]
    pub max_connections: usize,
    /// Milliseconds to wait for a database connection before answering
    /// UNAVAILABLE (HTTP 503).
    #[arg(long, env = "RISKGRAPH_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,
    /// Most connections this instance opens to PostgreSQL; by default twice
    /// the machine's cores and two (see `Limits::db_pool_size`).
    #[arg(long, env = "RISKGRAPH_DB_POOL_SIZE")]
    pub db_pool_size: Option<u32>,
    /// Most operations in one batched request.
    #[arg(long, env = "RISKGRAPH_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Most rows one importRisks call takes.
    #[arg(long, env = "RISKGRAPH_MAX_IMPORT_ROWS", default_value_t = 5000)]
    pub max_import_rows: usize,
    /// Largest `first` or `last` a list takes.
    #[arg(long, env = "RISKGRAPH_MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: usize,
    /// Items a list returns when it is not given `first` or `last`.
    #[arg(long, env = "RISKGRAPH_DEFAULT_PAGE_SIZE", default_value_t = 50)]
    pub default_page_size: usize,
    /// Seconds a request may take before it is cut off.
    #[arg(
        long = "request-timeout",
        env = "RISKGRAPH_REQUEST_TIMEOUT",
        default_value_t = 30
    )]
    pub request_timeout_secs: u64,
    /// Milliseconds a WebSocket client has to send connection_init.
    #[arg(long, env = "RISKGRAPH_WS_INIT_TIMEOUT_MS", default_value_t = 3000)]
    pub ws_init_timeout_ms: u64,
    /// Seconds between keep-alive pings; a client silent for three is dropped.
    #[arg(
        long = "ws-keepalive",
        env = "RISKGRAPH_WS_KEEPALIVE",
        default_value_t = 15
    )]
    pub ws_keepalive_secs: u64,
    /// Operations one WebSocket may run at once; more are refused.
    #[arg(long, env = "RISKGRAPH_WS_MAX_OPERATIONS", default_value_t = 100)]
    pub ws_max_operations: usize,
    /// Events the feed holds for slow subscribers before they catch up from
    /// the table.
    #[arg(long, env = "RISKGRAPH_FEED_BUFFER", default_value_t = 4096)]
    pub feed_buffer: usize,
    /// Milliseconds between the feed's safety-net polls of the table.
    #[arg(long, env = "RISKGRAPH_FEED_POLL_MS", default_value_t = 2000)]
    pub feed_poll_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 5000,
            max_aliases: 50,
            max_list_items: 500_000,
            max_nesting: 64,
            max_query_bytes: 100 * 1024,
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 32 * 1024,
            header_read_timeout_secs: 10,
            max_connections: 16384,
            db_acquire_timeout_ms: 3000,
            db_pool_size: None,
            max_batch: 10,
            max_import_rows: 5000,
            max_page_size: 500,
            default_page_size: 50,
            request_timeout_secs: 30,
            ws_init_timeout_ms: 3000,
            ws_keepalive_secs: 15,
            ws_max_operations: 100,
            feed_buffer: 4096,
            feed_poll_ms: 2000,
        }
    }
}

impl Limits {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms.max(100))
    }

    /// Connections to PostgreSQL. More than the cores can keep busy only
    /// adds backends for them to switch between: on 2 cores, a page at 32
    /// clients ran 1,115-1,386 req/s with 6 and 1,065-1,182 with 16, and 16
    /// writers were no slower (docs/benchmarks.md, 2026-12-04).
    pub fn db_pool_size(&self) -> u32 {
        self.db_pool_size
            .unwrap_or_else(|| {
                u32::try_from(2 * cores() + 2)
                    .unwrap_or(u32::MAX)
                    .clamp(4, 32)
            })
            .max(1)
    }

    pub fn ws_init_timeout(&self) -> Duration {
        Duration::from_millis(self.ws_init_timeout_ms)
    }

    pub fn ws_keepalive(&self) -> Duration {
        Duration::from_secs(self.ws_keepalive_secs.max(1))
    }

    pub fn feed_poll(&self) -> Duration {
        Duration::from_millis(self.feed_poll_ms.max(10))
    }
}

/// The machine's cores, 2 where it cannot tell: what the pools are sized by.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How bearer tokens are verified, resolved from [`AuthArgs`].
#[derive(Clone, Debug)]
pub enum JwtKey {
    Secret(SecretString),
    PublicKeyPem(Vec<u8>),
}

/// Everything `app::build` needs.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    /// Where `/metrics` is served; beside the API when None.
    pub metrics_bind: Option<SocketAddr>,
    pub database_url: String,
    pub jwt_key: JwtKey,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// Seconds of clock skew a token's `exp` is allowed.
    pub jwt_leeway_secs: u64,
    pub limits: Limits,
}

impl Config {
    /// A config for `database_url` with an HS256 secret, listening on a free
    /// loopback port: what tests and tools start from.
    pub fn for_database(database_url: impl Into<String>, secret: &str) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_bind: None,
            database_url: database_url.into(),
            jwt_key: JwtKey::Secret(SecretString::from(secret.to_owned())),
            jwt_issuer: None,
            jwt_audience: None,
            jwt_leeway_secs: 30,
            limits: Limits::default(),
        }
    }
}

/// Whether a command may create the local-mode secret: the server may; a
/// command that mints tokens for it must find the server's, since tokens
/// signed with a fresh secret would be refused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LocalSecret {
    CreateIfMissing,
    MustExist,
}

impl AuthArgs {
    /// The configured key, or else the local-mode secret (true when local).
    pub fn key(&self, database_url: &str, local: LocalSecret) -> Result<(JwtKey, bool), String> {
        if let Some(secret) = &self.jwt_secret {
            return Ok((JwtKey::Secret(secret.clone()), false));
        }
        if let Some(path) = &self.jwt_public_key {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            return Ok((JwtKey::PublicKeyPem(pem), false));
        }
        let path = local_secret_path(database_url);
        if local == LocalSecret::MustExist && !path.exists() {
            let shown = std::path::absolute(&path).unwrap_or(path);
            return Err(format!(
                "no RISKGRAPH_JWT_SECRET or RISKGRAPH_JWT_PUBLIC_KEY is set, and there is no local-mode secret at {}: \
                 run this where `riskgraph serve` runs, with the same --database-url, or set the server's RISKGRAPH_JWT_SECRET",
                shown.display()
            ));
        }
        let secret = local_secret(&path)?;
        Ok((JwtKey::Secret(secret), true))
    }
}

/// Reads the local-mode secret, creating it (mode 0600) on first use.
fn local_secret(path: &Path) -> Result<SecretString, String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        return Ok(SecretString::from(secret.trim().to_owned()));
    }
    use rand::Rng;
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(SecretString::from(secret))
}

/// Local mode keeps its secret beside the SQLite file, or in the working
/// directory for any other database.
pub fn local_secret_path(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && *path != ":memory:");
    match file.and_then(|f| PathBuf::from(f).parent().map(PathBuf::from)) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("riskgraph.secret"),
        _ => PathBuf::from("riskgraph.secret"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_follows_the_cores_unless_it_is_set() {
        let default = Limits::default().db_pool_size();
        assert_eq!(default, (2 * cores() as u32 + 2).clamp(4, 32));
        let set = |n| Limits {
            db_pool_size: Some(n),
            ..Limits::default()
        };
        assert_eq!(set(3).db_pool_size(), 3);
        assert_eq!(set(0).db_pool_size(), 1, "a pool always has a connection");
    }

    #[test]
    fn local_secret_sits_beside_the_sqlite_file() {
        assert_eq!(
            local_secret_path("sqlite:///var/lib/rg/data.db?mode=rwc"),
            PathBuf::from("/var/lib/rg/riskgraph.secret")
        );
        assert_eq!(
            local_secret_path(DEFAULT_DATABASE_URL),
            PathBuf::from("riskgraph.secret")
        );
        assert_eq!(
            local_secret_path("postgres://localhost/rg"),
            PathBuf::from("riskgraph.secret")
        );
    }
}
