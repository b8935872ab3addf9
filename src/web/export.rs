//! `GET /registers/{id}/risks.csv` and `.xlsx`: a register's risks as a
//! spreadsheet, read a batch at a time. Both take the `filter`, `search` and
//! `orderBy` arguments of the `risks` query (the first and last as JSON), and
//! sign in the way the API does, or with `?token=` for a download link.
//!
//! The CSV streams as it is read. The workbook is written by
//! rust_xlsxwriter in its constant-memory mode (rows go to a temporary file)
//! on a blocking thread, and streams out when the last row is in.

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
use rust_xlsxwriter::{Workbook, XlsxError};
use serde::Deserialize;
use std::io::Write;
use tokio::sync::mpsc;

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

/// The spreadsheet formats a register exports to.
#[derive(Clone, Copy)]
pub enum Sheet {
    Csv,
    Xlsx,
}

impl Sheet {
    fn extension(self) -> &'static str {
        match self {
            Sheet::Csv => "csv",
            Sheet::Xlsx => "xlsx",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Sheet::Csv => "text/csv; charset=utf-8; header=present",
            Sheet::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// `GET /registers/{id}/risks.csv` or `.xlsx`: the download, named after
/// the register's prefix, or a GraphQL error.
pub async fn risks(
    sheet: Sheet,
    State(state): State<AppState>,
    Path(register): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let export = match open(&state, &register, &params, &headers).await {
        Ok(export) => export,
        Err(err) => return refused(err),
    };
    let name = format!(
        "attachment; filename=\"{}-risks.{}\"",
        export.register.identifier_prefix,
        sheet.extension()
    );
    let body = match sheet {
        Sheet::Csv => Body::from_stream(csv_stream(state, export)),
        Sheet::Xlsx => Body::from_stream(xlsx_stream(state, export)),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(sheet.media_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(name) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, name);
    }
    response
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

/// What a reader of the body sees of an error part-way: a generic message,
/// the cause in the log.
fn broken(err: AppError) -> std::io::Error {
    std::io::Error::other(match err {
        AppError::Internal { id } => format!("internal error (id {id})"),
        other => other.message(),
    })
}

/// Bytes the workbook writer hands to the response, from its thread.
struct Sink(mpsc::Sender<std::io::Result<Bytes>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Excel refuses longer text in a cell.
const XLSX_CELL_CHARS: usize = 32_767;

/// Writes the workbook from the rows received, then sends it out.
fn workbook(
    (header, numeric): (Vec<String>, Vec<bool>),
    mut rows: mpsc::Receiver<Result<Vec<Vec<String>>, AppError>>,
    out: mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name("Risks")?.set_freeze_panes(1, 0)?;
    for (col, name) in (0..).zip(&header) {
        sheet.write_string(0, col, name)?;
    }
    let mut row: u32 = 1;
    while let Some(batch) = rows.blocking_recv() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => {
                let _ = out.blocking_send(Err(broken(err)));
                return Ok(());
            }
        };
        for cells in batch {
            for ((col, cell), number) in (0..).zip(&cells).zip(&numeric) {
                match cell.parse::<f64>() {
                    Ok(n) if *number => sheet.write_number(row, col, n)?,
                    _ if cell.is_empty() => sheet,
                    _ => {
                        let end = cell
                            .char_indices()
                            .nth(XLSX_CELL_CHARS)
                            .map_or(cell.len(), |(at, _)| at);
                        sheet.write_string(row, col, &cell[..end])?
                    }
                };
            }
            row += 1;
        }
    }
    let sink = std::io::BufWriter::with_capacity(64 * 1024, Sink(out));
    book.save_to_writer(sink)
}

/// Batches are read here and written on a blocking thread; the body is what
/// that thread sends.
fn xlsx_stream(
    state: AppState,
    mut export: Export,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let (rows_in, rows_out) = mpsc::channel(2);
    let (bytes_in, mut bytes_out) = mpsc::channel(8);
    let columns = (export.header(), export.numeric());
    let failed = bytes_in.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(err) = workbook(columns, rows_out, bytes_in) {
            let _ = failed.blocking_send(Err(broken(AppError::internal(err))));
        }
    });
    tokio::spawn(async move {
        loop {
            let batch = export.rows(&state.reader).await.transpose();
            let Some(batch) = batch else { break };
            let stop = batch.is_err();
            if rows_in.send(batch).await.is_err() || stop {
                break;
            }
        }
    });
    async_stream::stream! {
        while let Some(chunk) = bytes_out.recv().await {
            yield chunk;
        }
    }
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
            let rows = export.rows(&state.reader).await.map_err(broken)?;
            let Some(rows) = rows else { break };
            yield encode(&rows)?;
        }
    }
}
