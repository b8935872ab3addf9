//! The pages riskgraph serves itself: the dashboard at `/` and GraphiQL at
//! `/graphiql`, with everything they load compiled into the binary, so they
//! work without a network and without a build step. The pages use only the
//! public GraphQL API; the GraphiQL bundle is pinned in
//! `assets/vendor/package-lock.json`.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../../assets/dashboard.html"))
}

pub async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../../assets/graphiql.html"))
}

/// A file under `/assets/`, by name.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match name.as_str() {
        "session.js" => (include_bytes!("../../assets/session.js"), JS),
        "dashboard.js" => (include_bytes!("../../assets/dashboard.js"), JS),
        "dashboard.css" => (include_bytes!("../../assets/dashboard.css"), CSS),
        "graphiql-page.js" => (include_bytes!("../../assets/graphiql-page.js"), JS),
        "graphiql.min.js" => (
            include_bytes!("../../assets/vendor/dist/graphiql.min.js"),
            JS,
        ),
        "graphiql.min.css" => (
            include_bytes!("../../assets/vendor/dist/graphiql.min.css"),
            CSS,
        ),
        "react.production.min.js" => (
            include_bytes!("../../assets/vendor/dist/react.production.min.js"),
            JS,
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../../assets/vendor/dist/react-dom.production.min.js"),
            JS,
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Names do not change with versions: revalidate after a while.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
