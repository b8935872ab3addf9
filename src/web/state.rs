//! What every handler shares, built by `app` and handed to the router.

use crate::auth::Verifier;
use crate::clock::Clock;
use crate::config::Config;
use crate::feed::Feed;
use crate::graphql::RiskgraphSchema;
use crate::store::StatementCounter;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio::sync::watch;

/// The state of the HTTP and WebSocket handlers. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub verifier: Arc<Verifier>,
    pub schema: RiskgraphSchema,
    pub clock: Clock,
    pub statements: StatementCounter,
    pub feed: Arc<Feed>,
    /// Flips to true when the server shuts down: WebSockets close with 1001.
    pub shutdown: watch::Receiver<bool>,
}
