//! `GET /registers/{id}/heatmap.svg`: a register's heatmap as a standalone
//! image, for reports and wiki pages. It runs the public `heatmap` query as
//! the caller, so it shows exactly what the API would, and draws the answer.

use super::graphql_http::{Format, execute, fail, reply, signed_in};
use super::state::AppState;
use crate::error::AppError;
use async_graphql::Request;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write;

const QUERY: &str = "query($r: ID!, $b: ScoreBasis!) { heatmap(registerId: $r, basis: $b) {
    basis total unscored register { name scales { bands { name color } } }
    likelihood { level name } impact { level name }
    cells { likelihoodLevel impactLevel count band { name color } } } }";

#[derive(Deserialize)]
pub struct Params {
    basis: Option<String>,
    /// For `<img src>`, which cannot send a header.
    token: Option<String>,
}

pub async fn heatmap_svg(
    State(state): State<AppState>,
    Path(register): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let principal = match signed_in(&state, &headers, params.token.as_deref()).await {
        Ok(p) => p,
        Err(err) => return fail(Format::Json, StatusCode::UNAUTHORIZED, err),
    };
    let basis = match params
        .basis
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("residual") => "RESIDUAL",
        Some("inherent") => "INHERENT",
        Some(_) => {
            let err = AppError::bad_input("basis", "residual or inherent");
            return fail(Format::Json, StatusCode::BAD_REQUEST, err);
        }
    };
    let request = Request::new(QUERY).variables(async_graphql::Variables::from_json(
        json!({ "r": register, "b": basis }),
    ));
    let (answer, _) = execute(&state, &principal, request).await;
    if let Some(code) = answer.code() {
        let status = match code {
            // The API's own answer: 503 with Retry-After.
            "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        return reply(Format::Json, status, &answer);
    }
    let heatmap = match answer.data {
        Some(async_graphql::Value::Object(mut data)) => data.swap_remove("heatmap"),
        _ => None,
    };
    match heatmap.map(async_graphql::from_value::<Heatmap>) {
        Some(Ok(heatmap)) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            render(&heatmap),
        )
            .into_response(),
        Some(Err(err)) => internal(err),
        None => internal("the heatmap query answered no heatmap"),
    }
}

fn internal(cause: impl std::fmt::Debug) -> Response {
    let err = AppError::internal(cause);
    fail(Format::Json, StatusCode::INTERNAL_SERVER_ERROR, err)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heatmap {
    basis: String,
    total: i64,
    unscored: i64,
    register: RegisterPart,
    likelihood: Vec<Level>,
    impact: Vec<Level>,
    cells: Vec<Cell>,
}

#[derive(Deserialize)]
pub struct RegisterPart {
    name: String,
    scales: ScalesPart,
}

#[derive(Deserialize)]
pub struct ScalesPart {
    bands: Vec<Band>,
}

#[derive(Deserialize)]
pub struct Level {
    level: i64,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    likelihood_level: i64,
    impact_level: i64,
    count: i64,
    band: Band,
}

#[derive(Deserialize)]
pub struct Band {
    name: String,
    color: String,
}

/// Text and attribute values: names and colors are the users' own.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const CELL_W: i64 = 96;
const CELL_H: i64 = 56;
const LEFT: i64 = 176;
const TOP: i64 = 56;

/// Likelihood rows, the highest at the top as risk matrices are drawn;
/// impact columns, the highest at the right. Every count is written in its
/// cell, and every cell has a title naming its levels, count and band, so
/// the image does not speak in colour alone.
pub fn render(h: &Heatmap) -> String {
    let rows = h.likelihood.len() as i64;
    let columns = h.impact.len() as i64;
    let legend_top = TOP + rows * CELL_H + 64;
    let width = LEFT + columns * CELL_W + 24;
    let height = legend_top + 28 * (h.register.scales.bands.len() as i64).max(1) + 36;
    let basis = if h.basis == "INHERENT" {
        "inherent"
    } else {
        "residual"
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="13" role="img" aria-labelledby="title">
<title id="title">{name}: {basis} risk heatmap</title>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="28" font-size="18" font-weight="600">{name} — {basis} risk</text>
"##,
        name = xml(&h.register.name),
    );
    for level in &h.likelihood {
        let y = TOP + (rows - 1 - level.level) * CELL_H + CELL_H / 2 + 5;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{y}" text-anchor="end">{}</text>"##,
            LEFT - 10,
            xml(&level.name)
        );
    }
    for level in &h.impact {
        let x = LEFT + level.level * CELL_W + CELL_W / 2;
        let _ = writeln!(
            s,
            r##"<text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + rows * CELL_H + 20,
            xml(&level.name)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="16" y="{}" font-weight="600">Likelihood ↑</text>
<text x="{}" y="{}" text-anchor="middle" font-weight="600">Impact →</text>"##,
        TOP + 12,
        LEFT + columns * CELL_W / 2,
        TOP + rows * CELL_H + 42
    );
    let name_of = |levels: &[Level], n: i64| {
        levels
            .iter()
            .find(|l| l.level == n)
            .map_or(String::new(), |l| xml(&l.name))
    };
    for cell in &h.cells {
        let x = LEFT + cell.impact_level * CELL_W;
        let y = TOP + (rows - 1 - cell.likelihood_level) * CELL_H;
        let _ = writeln!(
            s,
            r##"<g class="cell" data-likelihood="{l}" data-impact="{i}" data-count="{count}"><title>Likelihood {ln}, impact {iname}: {count} risk(s), {band}</title><rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="{color}" stroke="#ffffff" stroke-width="2"/><text x="{tx}" y="{ty}" text-anchor="middle" font-size="18" font-weight="600" fill="#111111" stroke="#ffffff" stroke-width="3" paint-order="stroke">{count}</text></g>"##,
            l = cell.likelihood_level,
            i = cell.impact_level,
            count = cell.count,
            ln = name_of(&h.likelihood, cell.likelihood_level),
            iname = name_of(&h.impact, cell.impact_level),
            band = xml(&cell.band.name),
            color = xml(&cell.band.color),
            tx = x + CELL_W / 2,
            ty = y + CELL_H / 2 + 6,
        );
    }
    for (n, band) in h.register.scales.bands.iter().enumerate() {
        let y = legend_top + 28 * n as i64;
        let _ = writeln!(
            s,
            r##"<rect x="16" y="{y}" width="18" height="18" fill="{}"/><text x="42" y="{}">{}</text>"##,
            xml(&band.color),
            y + 14,
            xml(&band.name)
        );
    }
    let _ = write!(
        s,
        r##"<text x="16" y="{}" fill="#555555">{} risk(s) counted; {} without both levels are not placed.</text>
</svg>
"##,
        height - 14,
        h.total,
        h.unscored
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_their_text() {
        assert_eq!(
            xml(r#"a"/><script>&'"#),
            "a&quot;/&gt;&lt;script&gt;&amp;&apos;"
        );
    }
}
