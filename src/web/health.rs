//! Liveness and readiness.

use super::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::time::Duration;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers within a second: a load balancer asking must not
/// wait for the pool's own timeouts.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(1), state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("database did not answer within a second");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
