//! Every refusal speaks GraphQL. The layers in front of the handlers (body
//! limit, request timeout, routing, the WebSocket upgrade) answer with bare
//! status codes; clients read `errors[].extensions.code`, so this layer gives
//! each such answer a GraphQL error body, keeping its status and headers.
//! It also refuses request heads over the configured size.

use super::graphql_http::{Format, fail, negotiate};
use super::state::AppState;
use crate::error::AppError;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// The size of a request head as the client sent it, near enough.
fn head_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + 12;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers
}

pub async fn refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    let format = negotiate(request.headers()).unwrap_or(Format::Json);
    if head_bytes(&request) > limits.max_header_bytes {
        let err = AppError::LimitExceeded(format!(
            "the request head is larger than {} bytes",
            limits.max_header_bytes
        ));
        return fail(format, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, err);
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let err = match status {
        StatusCode::REQUEST_TIMEOUT => AppError::LimitExceeded(format!(
            "the request took longer than {} s",
            limits.request_timeout_secs
        )),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::LimitExceeded(format!(
            "the body is larger than {} bytes",
            limits.max_body_bytes
        )),
        StatusCode::NOT_FOUND => AppError::not_found("endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => AppError::bad_input(
            "method",
            match response.headers().get(header::ALLOW).map(|v| v.to_str()) {
                Some(Ok(allow)) => format!("the method is not allowed here; use {allow}"),
                _ => "the method is not allowed here".to_owned(),
            },
        ),
        StatusCode::SERVICE_UNAVAILABLE => AppError::Unavailable,
        s if s.is_client_error() => AppError::bad_input(
            "request",
            s.canonical_reason().unwrap_or("the request was refused"),
        ),
        s => AppError::internal(format!("{s} from a layer")),
    };
    let mut answer = fail(format, status, err);
    // Keep what the original answer told the client (Allow, for one).
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    answer
}
