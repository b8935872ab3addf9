//! `GET /registers/{id}/risks.csv`: a register's risks as an RFC 4180 file,
//! streamed a batch at a time. It takes the `filter`, `search` and `orderBy`
//! arguments of the `risks` query (the first and last as JSON), and signs in
//! the way the API does, or with `?token=` for a plain download link.

use super::graphql_http::{Format, fail, signed_in};
use super::state::AppState;
use crate::domain::inputs::{RiskFilter, RiskOrder};
use crate::error::AppError;
use crate::store::risk_export::{self, Export};
use async_graphql::InputType;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    /// A `RiskFilter` as JSON.
    filter: Option<String>,
    search: Option<String>,
    /// A list of `RiskOrder` as JSON.
    order_by: Option<String>,
    /// For a download link, which cannot send a header.
    token: Option<String>,
}

/// A GraphQL input given as JSON text, coerced as the API would coerce it.
fn input<T: InputType>(field: &str, json: Option<&str>) -> Result<Option<T>, AppError> {
    let Some(json) = json else { return Ok(None) };
    let bad = |message: String| AppError::bad_input(field, message);
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|err| bad(format!("not JSON: {err}")))?;
    let value = async_graphql::Value::from_json(value).map_err(|err| bad(err.to_string()))?;
    T::parse(Some(value))
        .map(Some)
        .map_err(|err| bad(err.into_server_error(Default::default()).message))
}

fn refused(err: AppError) -> Response {
    let status = match err {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::BadUserInput { .. } | AppError::LimitExceeded(_) => StatusCode::BAD_REQUEST,
        AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    fail(Format::Json, status, err)
}

pub async fn risks_csv(
    State(state): State<AppState>,
    Path(register): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    match open(&state, &register, &params, &headers).await {
        Ok(export) => {
            let name = format!(
                "attachment; filename=\"{}-risks.csv\"",
                export.register.identifier_prefix
            );
            let mut response = Body::from_stream(csv_stream(state, export)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(name) = HeaderValue::from_str(&name) {
                headers.insert(header::CONTENT_DISPOSITION, name);
            }
            response
        }
        Err(err) => refused(err),
    }
}

async fn open(
    state: &AppState,
    register: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Export, AppError> {
    let principal = signed_in(state, headers, params.token.as_deref()).await?;
    let filter: RiskFilter = input("filter", params.filter.as_deref())?.unwrap_or_default();
    let order: Vec<RiskOrder> = input("orderBy", params.order_by.as_deref())?.unwrap_or_default();
    let search = params.search.as_deref();
    let today = state.clock.now().date_naive();
    risk_export::open(
        &state.reader,
        &principal.org_id,
        register,
        (filter, search, &order),
        today,
    )
    .await
}

fn encode(rows: &[Vec<String>]) -> std::io::Result<Bytes> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|err| std::io::Error::other(err.to_string()))
}

/// The header, then a chunk per batch. A failure part-way ends the body with
/// an error, so the client sees a broken download rather than a short file.
fn csv_stream(
    state: AppState,
    mut export: Export,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    async_stream::try_stream! {
        yield encode(&[export.header()])?;
        loop {
            let rows = export.rows(&state.reader).await.map_err(|err| {
                let err = match err {
                    AppError::Internal { id } => format!("internal error (id {id})"),
                    other => other.message(),
                };
                std::io::Error::other(err)
            })?;
            let Some(rows) = rows else { break };
            yield encode(&rows)?;
        }
    }
}
