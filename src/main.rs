//! The `riskgraph` command: serve, migrate, mint a token, print the schema.

use clap::{Parser, Subcommand};
use riskgraph::app::{self, App};
use riskgraph::auth::{Claims, mint};
use riskgraph::clock::Clock;
use riskgraph::config::{AuthArgs, Config, DatabaseArgs, JwtKey, ServeArgs, local_secret_path};
use riskgraph::{demo, graphql};
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "riskgraph",
    version,
    about = "A GraphQL service for risk registers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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

/// The configured key, or the local-mode secret when none is configured.
fn jwt_key(auth: &AuthArgs, database_url: &str) -> Result<(JwtKey, bool), String> {
    if let Some(secret) = &auth.jwt_secret {
        return Ok((JwtKey::Secret(secret.clone()), false));
    }
    if let Some(path) = &auth.jwt_public_key {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok((JwtKey::PublicKeyPem(pem), false));
    }
    let secret = local_secret(&local_secret_path(database_url))?;
    Ok((JwtKey::Secret(secret), true))
}

fn token_for(key: &JwtKey, claims: &Claims) -> Result<String, String> {
    match key {
        JwtKey::Secret(secret) => Ok(mint(secret.expose_secret(), claims)),
        JwtKey::PublicKeyPem(_) => {
            Err("tokens for a public key are issued by its identity provider".into())
        }
    }
}

fn claims(
    org: &str,
    sub: &str,
    role: &str,
    ttl: Duration,
    name: Option<String>,
    email: Option<String>,
) -> Claims {
    let exp = Clock::default().now()
        + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    Claims {
        sub: sub.to_owned(),
        org: org.to_owned(),
        role: role.to_owned(),
        exp: exp.timestamp(),
        name,
        email,
    }
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

async fn serve(args: ServeArgs) -> Result<(), String> {
    let (jwt_key, local) = jwt_key(&args.auth, &args.database.database_url)?;
    if local && !args.bind.ip().is_loopback() {
        return Err(format!(
            "no RISKGRAPH_JWT_SECRET or RISKGRAPH_JWT_PUBLIC_KEY is set: local mode listens on loopback only, not {}",
            args.bind
        ));
    }
    let config = Config {
        bind: args.bind,
        database_url: args.database.database_url,
        jwt_key: jwt_key.clone(),
        jwt_issuer: args.auth.jwt_issuer,
        jwt_audience: args.auth.jwt_audience,
        jwt_leeway_secs: 30,
        limits: args.limits,
    };
    let app = App::spawn(config, Clock::default())
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("http://{}", app.addr);
    if args.demo {
        match demo::seed(&app.state)
            .await
            .map_err(|e| format!("demo data: {}", e.message()))?
        {
            Some(org) => {
                let token = token_for(
                    &jwt_key,
                    &claims(
                        &org,
                        demo::ADMIN,
                        "admin",
                        Duration::from_secs(30 * 86400),
                        Some("Demo admin".into()),
                        None,
                    ),
                )?;
                println!("demo organization {org:?} seeded; admin token (30 days):\n{token}");
            }
            None => println!("the database already holds data; demo data not seeded"),
        }
    } else if local {
        let token = token_for(
            &jwt_key,
            &claims(
                "local",
                "admin",
                "admin",
                Duration::from_secs(86400),
                Some("Local admin".into()),
                None,
            ),
        )?;
        println!("local mode; admin token (24 hours):\n{token}");
    }
    println!("riskgraph listening on {url}/graphql (GraphiQL: {url}/graphiql)");
    app.serve_until(shutdown_signal()).await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            let key = JwtKey::Secret(SecretString::from(String::new()));
            let config = Config {
                jwt_key: key,
                ..Config::for_database(args.database_url, "")
            };
            app::state(
                config,
                Clock::default(),
                tokio::sync::watch::channel(false).1,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }
        Command::Token(args) => {
            jwt_key(&args.auth, &args.database.database_url).and_then(|(key, _)| {
                let claims = claims(
                    &args.org, &args.sub, &args.role, args.ttl, args.name, args.email,
                );
                token_for(&key, &claims).map(|token| println!("{token}"))
            })
        }
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
