//! Builds the service from a `Config`: connects and migrates the database,
//! assembles the router and binds its own listener, so `main` and the tests
//! start the very same app.

use crate::auth::Verifier;
use crate::clock::Clock;
use crate::config::{Config, Limits};
use crate::feed::{Feed, listen};
use crate::graphql::reference::Reference;
use crate::graphql::{self, Services};
use crate::store::{self, StatementCounter};
use crate::web::export::{self, Sheet};
use crate::web::list_items::Shapes;
use crate::web::state::{AppState, DOCUMENTS_HELD, Documents, PRINCIPALS_HELD, Principals, Shared};
use crate::web::{graphql_http, health, heatmap_svg, metrics, pages, refusals, serve};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("authentication: {0}")]
    Auth(String),
    #[error("change feed: {0}")]
    Feed(String),
}

/// Connects to the database and applies pending migrations.
pub async fn migrate(
    database_url: &str,
    limits: &Limits,
    statements: &StatementCounter,
) -> Result<DatabaseConnection, StartError> {
    let db = store::connect(database_url, limits, statements).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// How long a starting instance waits to listen to PostgreSQL before it
/// serves anyway (`feed::listen`).
const LISTEN_PATIENCE: Duration = Duration::from_secs(10);

/// Connects, migrates, and returns the state the router serves; `shutdown`
/// tells long-lived connections when to close.
pub async fn state(
    config: Config,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
) -> Result<AppState, StartError> {
    metrics::install();
    let statements = StatementCounter::default();
    let db = migrate(&config.database_url, &config.limits, &statements).await?;
    let reader =
        store::connect_readers(&config.database_url, &db, &config.limits, &statements).await?;
    let verifier = Verifier::new(
        &config.jwt_key,
        config.jwt_issuer.as_deref(),
        config.jwt_audience.as_deref(),
        config.jwt_leeway_secs,
    )
    .map_err(StartError::Auth)?;
    let feed = Feed::open(
        store::uncounted(&db),
        config.limits.feed_buffer,
        config.limits.feed_poll(),
        // No transaction that writes events outlives its request.
        config.limits.request_timeout() + Duration::from_secs(10),
    )
    .await
    .map_err(|err| StartError::Feed(format!("{err:?}")))?;
    let reference = Arc::new(Reference::new(feed.clone()));
    let services = Services {
        db: db.clone(),
        reader: reader.clone(),
        clock: clock.clone(),
        feed: feed.clone(),
        limits: Arc::new(config.limits.clone()),
        reference: reference.clone(),
        answers: Arc::default(),
    };
    let schema = graphql::schema(&config.limits, services);
    Ok(Arc::new(Shared {
        shapes: Shapes::of(&schema.sdl()),
        schema,
        reference,
        feed,
        db,
        reader,
        config: Arc::new(config),
        verifier: Arc::new(verifier),
        clock,
        statements,
        shutdown,
        principals: Arc::new(Principals::new(PRINCIPALS_HELD)),
        documents: Arc::new(Documents::new(DOCUMENTS_HELD)),
        multiplex: Arc::default(),
    }))
}

pub fn router(state: AppState) -> Router {
    let limits = &state.config.limits;
    let request_id = HeaderName::from_static("x-request-id");
    let mut routes = Router::new();
    if state.config.metrics_bind.is_none() {
        routes = routes.route("/metrics", get(metrics::scrape));
    }
    routes
        .route("/graphql", get(graphql_http::get).post(graphql_http::post))
        .route("/", get(pages::dashboard))
        .route("/graphiql", get(pages::graphiql))
        .route("/assets/{name}", get(pages::asset))
        .route("/registers/{id}/heatmap.svg", get(heatmap_svg::heatmap_svg))
        .route(
            "/registers/{id}/risks.csv",
            get(|s, p, q, h| export::risks(Sheet::Csv, s, p, q, h)),
        )
        .route(
            "/registers/{id}/risks.xlsx",
            get(|s, p, q, h| export::risks(Sheet::Xlsx, s, p, q, h)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout(),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refusals::refusals,
        ))
        .layer(CompressionLayer::new())
        .layer(CorsLayer::permissive())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(serve::request_span)
                // One access line a request, at the default level.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// `/metrics` alone on an address of its own, for a scraper on a network
/// the API is not served to.
async fn serve_metrics(
    bind: SocketAddr,
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> Result<SocketAddr, StartError> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics::scrape))
        .with_state(state);
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %err, "the metrics listener failed");
        }
    });
    Ok(addr)
}

/// A running service.
pub struct App {
    pub addr: SocketAddr,
    /// Where `/metrics` answers when it has an address of its own.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl App {
    /// Starts serving on `config.bind` (port 0 picks a free port).
    pub async fn spawn(config: Config, clock: Clock) -> Result<Self, StartError> {
        let bind = config.bind;
        let (stop, stopped) = watch::channel(false);
        let state = state(config, clock, stopped.clone()).await?;
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(state.feed.clone().run(stopped.clone()));
        if let Some(log) = store::checkpoints::connect(&state.config.database_url).await? {
            tokio::spawn(store::checkpoints::run(log, stopped.clone()));
        }
        if state.config.database_url.starts_with("sqlite:") {
            let db = store::uncounted(&state.db);
            tokio::spawn(store::statistics::run(db, stopped.clone()));
        }
        if state.config.database_url.starts_with("postgres") {
            let url = state.config.database_url.clone();
            let (ready, listening) = tokio::sync::oneshot::channel();
            let feed = (state.feed.clone(), state.clock.clone());
            tokio::spawn(listen::run(feed, url, stopped.clone(), ready));
            // Served before it listens, a socket signed in with a key that
            // another instance revokes meanwhile would run on until the
            // listener catches up.
            if tokio::time::timeout(LISTEN_PATIENCE, listening)
                .await
                .is_err()
            {
                tracing::warn!("not listening to PostgreSQL yet; serving anyway");
            }
        }
        let metrics_addr = match state.config.metrics_bind {
            Some(bind) => Some(serve_metrics(bind, state.clone(), stopped.clone()).await?),
            None => None,
        };
        let app = router(state.clone());
        let limits = state.config.limits.clone();
        let server = tokio::spawn(async move {
            serve::serve(listener, app, &limits, stopped).await;
        });
        Ok(Self {
            addr,
            metrics_addr,
            state,
            stop,
            server,
        })
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }

    /// Serves until `signal`, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}
