//! `GET /metrics`: Prometheus text. The `metrics` macros record across the
//! code (requests here, sockets in `ws`, dispatch in `feed`, re-scores in
//! `store::rescore`); metrics-exporter-prometheus renders them. Pool use and
//! feed lag are read when scraped.

use super::state::AppState;
use crate::error::AppError;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const REQUESTS: &str = "riskgraph_requests_total";
pub const REQUEST_SECONDS: &str = "riskgraph_request_duration_seconds";
pub const WEBSOCKETS: &str = "riskgraph_websockets_open";
pub const SUBSCRIPTIONS: &str = "riskgraph_subscriptions_active";
/// Executions running for subscribers: identical subscriptions share one.
pub const EXECUTIONS: &str = "riskgraph_subscription_executions";
/// Subscription results resolved and serialized: one per execution, however
/// many subscribers it goes to.
pub const RESULTS: &str = "riskgraph_subscription_results_total";
pub const DB_CONNECTIONS: &str = "riskgraph_db_connections";
pub const FEED_LAG: &str = "riskgraph_feed_lag_events";

/// The process's recorder, installed by the first app that starts: the
/// `metrics` facade has one per process.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        builder
            .install_recorder()
            // Another recorder came first (a host process): render ours empty.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle())
    })
}

/// One GraphQL operation: its type (`query`, `mutation`, `subscription`, or
/// `unknown` when refused before that is known) and outcome, the code of its
/// first error or `OK`; with how long it took to answer, except for
/// subscriptions, whose first answer waits for events.
pub fn operation(kind: &'static str, code: Option<&str>, took: Option<Duration>) {
    let outcome = code.unwrap_or("OK").to_owned();
    metrics::counter!(REQUESTS, "operation" => kind, "outcome" => outcome).increment(1);
    if let Some(took) = took {
        metrics::histogram!(REQUEST_SECONDS, "operation" => kind).record(took.as_secs_f64());
    }
}

/// A subscription's result, resolved and serialized once for however many
/// subscribers it goes to.
pub fn subscription_result() {
    metrics::counter!(RESULTS).increment(1);
}

/// A request refused before any operation ran (no token, too deep, ...).
pub fn refused(err: &AppError) {
    metrics::counter!(REQUESTS, "operation" => "unknown", "outcome" => err.code()).increment(1);
}

/// A gauge that counts its guards: up when made, down when dropped, however
/// the task holding it ends.
pub struct Held(&'static str);

impl Held {
    pub fn new(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1.0);
        Self(gauge)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

pub async fn scrape(State(state): State<AppState>) -> Response {
    for (pool, db) in [("writer", &state.db), ("reader", &state.reader)] {
        let (in_use, idle) = crate::store::pool_use(db);
        metrics::gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "in_use").set(in_use as f64);
        metrics::gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "idle").set(idle as f64);
    }
    if let Ok(lag) = state.feed.lag().await {
        metrics::gauge!(FEED_LAG).set(lag as f64);
    }
    let handle = install();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
