//! The `riskgraph` command: serve, migrate, mint a token, print the schema.

use clap::{Parser, Subcommand};
use riskgraph::app::{self, App};
use riskgraph::auth::{Claims, token_for};
use riskgraph::clock::Clock;
use riskgraph::config::{AuthArgs, Config, DatabaseArgs, JwtKey, Limits, LocalSecret, ServeArgs};
use riskgraph::demo::{self, Demo};
use riskgraph::graphql;
use riskgraph::store::StatementCounter;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// mimalloc, not the system allocator: measured in the load bench, an idle
/// subscriber's socket cost 16-17 KiB of resident memory instead of 27
/// (8,000 sockets: glibc's arenas keep what connection setup freed), and a
/// page of 50 risks ran 15-20 % faster (a tenth of its time had been in
/// malloc and free). It replaces `malloc` for SQLite too (Cargo feature
/// `override`): a SQLite page 10-18 % faster again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "riskgraph",
    version,
    about = "A GraphQL service for risk registers"
)]
struct Cli {
    /// Log lines as text or JSON (one object a line); text on a terminal,
    /// JSON otherwise.
    #[arg(long, global = true, env = "RISKGRAPH_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr, at `RUST_LOG` (info by default). A request's lines carry
/// its span: the request id, method and path.
fn init_logs(format: Option<LogFormat>) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    }) {
        // Colour codes only for a person at a terminal, not for a file.
        LogFormat::Text => logs.with_ansi(terminal).init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP and WebSocket.
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Print a signed token for the configured HS256 secret.
    Token(TokenArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(clap::Args)]
struct TokenArgs {
    /// The organization (`org` claim).
    #[arg(long)]
    org: String,
    /// The member (`sub` claim).
    #[arg(long)]
    sub: String,
    /// viewer, editor or admin.
    #[arg(long, default_value = "viewer")]
    role: String,
    /// How long the token lives, e.g. 1h, 30m, 7d.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    auth: AuthArgs,
}

/// Prints a line of `serve`'s output. A server keeps serving when whoever
/// started it stops reading its stdout (`| head -3`), so a failed write is
/// ignored, where `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// An admin token printed at start, for the demo or local organization.
fn admin_token(
    key: &JwtKey,
    (org, sub, name): (&str, &str, &str),
    days: u64,
) -> Result<String, String> {
    let claims = Claims::new(
        (org, sub, "admin"),
        Clock::default().now(),
        Duration::from_secs(days * 86400),
        Some(name.to_owned()),
        None,
    );
    token_for(key, &claims)
}

/// Seeds the demo organization before the port answers, and returns a
/// fresh admin token for it (also when it was seeded by an earlier run).
async fn demo_token(args: &ServeArgs, key: &JwtKey) -> Result<Option<String>, String> {
    let statements = StatementCounter::default();
    let db = app::migrate(&args.database.database_url, &args.limits, &statements)
        .await
        .map_err(|e| e.to_string())?;
    let seeded = demo::seed(&db, Clock::default().now())
        .await
        .map_err(|e| format!("demo data: {}", e.message()))?;
    let _ = db.close().await;
    let org = demo::ORG;
    match seeded {
        Demo::Seeded => say!("demo organization {org:?} seeded"),
        Demo::AlreadySeeded => say!("demo organization {org:?} found, as seeded before"),
        Demo::OtherData => {
            say!("the database holds other organizations: demo data not seeded");
            return Ok(None);
        }
    }
    let token = admin_token(key, (org, demo::ADMIN, "Demo admin"), 30)?;
    say!("demo admin token (30 days):\n{token}");
    Ok(Some(token))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let (jwt_key, local) = args
        .auth
        .key(&args.database.database_url, LocalSecret::CreateIfMissing)?;
    if local && !args.bind.ip().is_loopback() {
        return Err(format!(
            "no RISKGRAPH_JWT_SECRET or RISKGRAPH_JWT_PUBLIC_KEY is set: local mode listens on loopback only, not {}",
            args.bind
        ));
    }
    let token = if args.demo {
        demo_token(&args, &jwt_key).await?
    } else if local {
        let token = admin_token(&jwt_key, ("local", "admin", "Local admin"), 1)?;
        say!("local mode; admin token (24 hours):\n{token}");
        Some(token)
    } else {
        None
    };
    let config = Config {
        bind: args.bind,
        metrics_bind: args.metrics_bind,
        database_url: args.database.database_url,
        jwt_key,
        jwt_issuer: args.auth.jwt_issuer,
        jwt_audience: args.auth.jwt_audience,
        jwt_leeway_secs: 30,
        limits: args.limits,
    };
    let app = App::spawn(config, Clock::default())
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("http://{}", app.addr);
    // The fragment never reaches the server or its logs; the pages keep the
    // token in the tab.
    let signed_in = token.map_or(String::new(), |t| format!("#token={t}"));
    say!(
        "riskgraph listening on {url}/graphql\n  dashboard: {url}/{signed_in}\n  GraphiQL:  {url}/graphiql{signed_in}"
    );
    if let Some(metrics) = app.metrics_addr {
        say!("  metrics:   http://{metrics}/metrics");
    }
    app.serve_until(shutdown_signal()).await;
    Ok(())
}

fn token(args: TokenArgs) -> Result<(), String> {
    let (key, _) = args
        .auth
        .key(&args.database.database_url, LocalSecret::MustExist)?;
    let claims = Claims::new(
        (&args.org, &args.sub, &args.role),
        Clock::default().now(),
        args.ttl,
        args.name,
        args.email,
    );
    println!("{}", token_for(&key, &claims)?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            let statements = StatementCounter::default();
            app::migrate(&args.database_url, &Limits::default(), &statements)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
        Command::Token(args) => token(args),
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("riskgraph: {message}");
            ExitCode::FAILURE
        }
    }
}
