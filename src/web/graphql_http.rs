//! GraphQL over HTTP as the spec says, since real clients negotiate it:
//! POST and GET, `Accept` negotiation between
//! `application/graphql-response+json` (request errors are 4xx without
//! `data`) and `application/json` (always 200), 415 for a POST that is not
//! JSON, no mutations over GET, batches capped. Every error leaves with an
//! `extensions.code`.

use super::escapes::unescape_wide;
use super::int_inputs;
use super::limits::{
    alias_count, graphql_nesting, json_nesting, selection_nesting, too_deep, variables_nesting,
};
use super::list_items::{self, Shapes};
use super::serve::ConnectionSlot;
use super::state::{AppState, DOCUMENT_BYTES};
use super::text::{may_spell_nul, nul_in_document, nul_in_variables};
use crate::auth::{Principal, bearer};
use crate::config::Limits;
use crate::error::AppError;
use crate::graphql::loaders::Loaders;
use crate::store;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Variables};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The spec's own media type: request errors get 4xx.
    GraphqlResponse,
    /// The legacy type: every well-formed request gets 200.
    Json,
}

impl Format {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Format::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        })
    }
}

/// The response format the client accepts; None when it accepts neither.
/// A missing Accept means application/json, as the spec says.
pub fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Format::Json);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .collect();
    if types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(GRAPHQL_RESPONSE))
    {
        Some(Format::GraphqlResponse)
    } else if types.is_empty()
        || types.iter().any(|t| {
            t.is_empty()
                || t.eq_ignore_ascii_case(JSON)
                || *t == "*/*"
                || t.eq_ignore_ascii_case("application/*")
        })
    {
        Some(Format::Json)
    } else {
        None
    }
}

/// One operation's answer. `data` stays async-graphql's own value until the
/// body is written, so a page is serialized once, straight to bytes, rather
/// than first rebuilt as a `serde_json` tree.
#[derive(Serialize)]
pub struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<async_graphql::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

impl Answer {
    /// The code of the first error, which names the outcome.
    pub fn code(&self) -> Option<&str> {
        self.errors.first()?["extensions"]["code"].as_str()
    }

    fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e["extensions"]["code"] == code)
    }
}

/// A response of `body` as JSON with `status`. A 503 says the database is
/// gone, whatever the step that found out, and carries Retry-After.
pub fn reply(format: Format, status: StatusCode, body: &impl Serialize) -> Response {
    // Serializing our own values cannot fail: every map key is a string.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
    }
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, format.content_type());
    response
}

/// The answer of a request refused with `err`: its error, without `data`.
pub fn error_body(err: &AppError) -> Answer {
    let gql: async_graphql::Error = err.clone().into();
    let mut e = json!({ "message": gql.message });
    if let Some(ext) = gql.extensions {
        e["extensions"] = serde_json::to_value(ext).unwrap_or(Value::Null);
    }
    Answer {
        data: None,
        errors: vec![e],
    }
}

/// One error as a response: what every layer answers, not only the GraphQL
/// handler. The database being gone is 503, whatever the step that found
/// out.
pub fn fail(format: Format, status: StatusCode, err: AppError) -> Response {
    let status = if matches!(err, AppError::Unavailable) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status
    };
    reply(format, status, &error_body(&err))
}

/// JSON text nested deeper than the limit allows, counting `wrapping` levels
/// of request structure around the variables. Scanned before serde_json
/// parses it, whose own recursion limit would answer a syntax error instead.
fn json_too_deep(
    state: &AppState,
    format: Format,
    json: &[u8],
    wrapping: usize,
) -> Option<Response> {
    let max = state.config.limits.max_nesting;
    (json_nesting(json) > max + wrapping)
        .then(|| refused(format, StatusCode::BAD_REQUEST, too_deep(max)))
}

fn not_acceptable() -> Response {
    fail(
        Format::Json,
        StatusCode::NOT_ACCEPTABLE,
        AppError::bad_input(
            "accept",
            "accept application/graphql-response+json or application/json",
        ),
    )
}

fn bad_request(format: Format, field: &str, message: &str) -> Response {
    fail(
        format,
        StatusCode::BAD_REQUEST,
        AppError::bad_input(field, message),
    )
}

/// Reads `{query, operationName, variables, extensions}` into a request,
/// checking each member's type.
pub fn params(value: Value) -> Result<Request, (&'static str, &'static str)> {
    let Value::Object(mut map) = value else {
        return Err(("body", "a GraphQL request is a JSON object"));
    };
    let mut request = match map.remove("query") {
        Some(Value::String(q)) => Request::new(q),
        _ => return Err(("query", "query must be a string")),
    };
    match map.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err(("operationName", "operationName must be a string")),
    }
    match map.remove("variables") {
        None | Some(Value::Null) => {}
        Some(vars @ Value::Object(_)) => request = request.variables(Variables::from_json(vars)),
        Some(_) => return Err(("variables", "variables must be an object")),
    }
    match map.remove("extensions") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(("extensions", "extensions must be an object")),
    }
    Ok(request)
}

/// The principal of a bearer token: verified, then found or created.
pub async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Principal, AppError> {
    let token =
        token.ok_or_else(|| AppError::Unauthenticated("sign in with a bearer token".into()))?;
    let claims = state.verifier.verify(token)?;
    if let Some(principal) = state.principals.get(token) {
        return Ok(principal);
    }
    let (principal, rewritten) =
        store::members::principal_for(&state.db, &claims, state.clock.now()).await?;
    if rewritten {
        state.feed.reference_changed(Some(&principal.org_id));
    }
    state.principals.insert(token.to_owned(), principal.clone());
    Ok(principal)
}

/// The bearer token of the Authorization header.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
}

/// The principal of an API key's secret: looked up on every request, not
/// cached, so a revoked key is refused at once on every instance.
pub async fn authenticate_key(state: &AppState, secret: &str) -> Result<Principal, AppError> {
    store::api_keys::principal_for((&state.reader, &state.db), secret, state.clock.now()).await
}

/// The caller of a request: an integration's `X-API-Key`, else the bearer
/// token of the Authorization header, else `token` (from a URL, for what
/// cannot send headers).
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Principal, AppError> {
    if let Some(secret) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return authenticate_key(state, secret).await;
    }
    authenticate(state, bearer_of(headers).or(token)).await
}

/// Gives every error a code. Ours carry one already; what async-graphql
/// reports itself (parse, validation, variable coercion) is the client's
/// input, naming the input path it found wrong, except for the depth and
/// complexity limits.
fn with_codes(errors: &mut [Value]) {
    for error in errors {
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        let ext = error
            .as_object_mut()
            .map(|e| e.entry("extensions").or_insert_with(|| json!({})));
        if let Some(Value::Object(ext)) = ext
            && !ext.contains_key("code")
        {
            let limit = ["nested too deep", "too complex", "recursion limit"];
            if limit.iter().any(|l| message.contains(l)) {
                ext.insert("code".into(), json!("LIMIT_EXCEEDED"));
            } else {
                ext.insert("code".into(), json!("BAD_USER_INPUT"));
                if let Some(field) = input_path(&message) {
                    ext.insert("field".into(), json!(field));
                }
            }
        }
    }
}

/// The input path of a coercion error, which async-graphql writes as
/// `Invalid value for argument "input.scales.matrix.0.1", expected …`.
fn input_path(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    rest.split('"').next().filter(|path| !path.is_empty())
}

/// A checked request with the caller's principal and loaders.
pub fn with_context(request: Request, principal: &Principal, loaders: Loaders) -> Request {
    request.data(principal.clone()).data(loaders)
}

/// A response's answer, every error with a code, and whether it failed
/// before execution (a request error, which has no `data`).
pub fn shape(response: async_graphql::Response) -> (Answer, bool) {
    let is_request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut errors: Vec<Value> = response
        .errors
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    with_codes(&mut errors);
    let data = (!is_request_error).then_some(response.data);
    (Answer { data, errors }, is_request_error)
}

/// Runs one operation as `principal`: its answer, and whether it failed
/// before execution.
pub async fn execute(state: &AppState, principal: &Principal, request: Request) -> (Answer, bool) {
    let loaders = Loaders::new(&state.reader, &principal.org_id, &state.reference);
    shape(
        state
            .schema
            .execute(with_context(request, principal, loaders))
            .await,
    )
}

/// Checks what can be checked before executing: size and nesting (before
/// the parser runs, since it recurses once per level), strings, aliases,
/// required variables, and (for GET) that the operation is a query. Returns
/// the operation's type when the document names one. The parsed document
/// goes into the request, so execution does not parse it again.
pub fn precheck(
    state: &AppState,
    request: &mut Request,
    get: bool,
) -> Result<Option<OperationType>, (StatusCode, AppError)> {
    let limits = &state.config.limits;
    if request.query.len() > limits.max_query_bytes {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LimitExceeded(format!(
                "the query is longer than {} bytes",
                limits.max_query_bytes
            )),
        ));
    }
    if graphql_nesting(&request.query) > limits.max_nesting
        || variables_nesting(&request.variables) > limits.max_nesting
    {
        return Err((StatusCode::BAD_REQUEST, too_deep(limits.max_nesting)));
    }
    if let Some(field) = nul_in_variables(&request.variables) {
        return Err((StatusCode::BAD_REQUEST, nul_refused(field)));
    }
    let document = match state.documents.get(request.query.as_str()) {
        Some(document) => document,
        None => {
            // A document that does not parse is reported by execution, with
            // locations.
            let written_out = unescape_wide(&request.query);
            let text = written_out.as_deref().unwrap_or(&request.query);
            let Some(document) = parsed(text, limits.max_nesting)? else {
                return Ok(None);
            };
            let document = Arc::new(document);
            if request.query.len() <= DOCUMENT_BYTES {
                state
                    .documents
                    .insert(request.query.clone(), Arc::clone(&document));
            }
            document
        }
    };
    let checked = check_document(&state.shapes, &document, request, limits, get);
    request.set_parsed_query(Arc::unwrap_or_clone(document));
    checked
}

/// `query` parsed, if it parses, and checked for what depends on the
/// document alone: its nesting and NUL characters.
fn parsed(
    query: &str,
    max_nesting: usize,
) -> Result<Option<ExecutableDocument>, (StatusCode, AppError)> {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return Ok(None);
    };
    if selection_nesting(&document, max_nesting).is_err() {
        return Err((StatusCode::BAD_REQUEST, too_deep(max_nesting)));
    }
    if may_spell_nul(query)
        && let Some(field) = nul_in_document(&document)
    {
        return Err((StatusCode::BAD_REQUEST, nul_refused(field)));
    }
    Ok(Some(document))
}

fn nul_refused(field: String) -> AppError {
    AppError::bad_input(field, "text must not contain a NUL character")
}

fn check_document(
    shapes: &Shapes,
    document: &ExecutableDocument,
    request: &Request,
    limits: &Limits,
    get: bool,
) -> Result<Option<OperationType>, (StatusCode, AppError)> {
    let max_aliases = limits.max_aliases;
    if alias_count(document) > max_aliases {
        return Err((
            StatusCode::BAD_REQUEST,
            AppError::LimitExceeded(format!("at most {max_aliases} aliases")),
        ));
    }
    let operation = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => document.operations.iter().next().map(|(_, op)| op),
    };
    let Some(operation) = operation else {
        return Ok(None);
    };
    if get && operation.node.ty != OperationType::Query {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            AppError::bad_input("query", "only queries may be sent with GET; use POST"),
        ));
    }
    let asked = list_items::asked(
        shapes,
        document,
        &operation.node,
        &request.variables,
        limits,
    );
    if let Some(path) = asked.int_out_of_range {
        return Err((
            StatusCode::BAD_REQUEST,
            AppError::bad_input(path, int_inputs::INT_RANGE),
        ));
    }
    if asked.items > limits.max_list_items {
        return Err((
            StatusCode::BAD_REQUEST,
            AppError::LimitExceeded(format!(
                "the document may ask for {} list items, and at most {} are served: a list counts its page times the lists around it",
                asked.items, limits.max_list_items
            )),
        ));
    }
    // async-graphql runs an operation whose required variable was not sent
    // as if it were null; the spec makes that a request error.
    for definition in &operation.node.variable_definitions {
        let d = &definition.node;
        let name = d.name.node.as_str();
        let value = request.variables.get(name);
        if !d.var_type.node.nullable
            && d.default_value.is_none()
            && value.is_none_or(|v| *v == async_graphql::Value::Null)
        {
            return Err((
                StatusCode::BAD_REQUEST,
                AppError::bad_input(
                    format!("variables.{name}"),
                    format!(
                        "variable ${name} of type {} was not provided",
                        d.var_type.node
                    ),
                ),
            ));
        }
    }
    Ok(Some(operation.node.ty))
}

/// Seconds a client should wait before retrying when the database is down.
const RETRY_AFTER: &str = "5";

fn refused(format: Format, status: StatusCode, err: AppError) -> Response {
    // Legacy JSON clients get 200 for any well-formed request.
    let status = if format == Format::Json && status == StatusCode::BAD_REQUEST {
        StatusCode::OK
    } else {
        status
    };
    super::metrics::refused(&err);
    let mut response = fail(format, status, err);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

async fn run(
    state: &AppState,
    principal: &Principal,
    format: Format,
    mut batch: Vec<Request>,
    is_batch: bool,
    get: bool,
) -> Response {
    let mut kinds = Vec::with_capacity(batch.len());
    for request in &mut batch {
        match precheck(state, request, get) {
            Ok(ty) => kinds.push(ty),
            Err((status, err)) => return refused(format, status, err),
        }
    }
    let mutates = kinds.contains(&Some(OperationType::Mutation));
    let mut bodies = Vec::with_capacity(batch.len());
    let mut request_error = false;
    let mut database_gone = false;
    for (request, kind) in batch.into_iter().zip(kinds) {
        let started = Instant::now();
        let (answer, is_request_error) = execute(state, principal, request).await;
        super::metrics::operation(operation_name(kind), answer.code(), Some(started.elapsed()));
        request_error |= is_request_error;
        database_gone |= answer.has_code("UNAVAILABLE");
        bodies.push(answer);
    }
    if mutates {
        // Committed: let this instance's feed look now, not at its next poll,
        // and tell the other instances.
        state.feed.committed();
    }
    let status = if database_gone {
        StatusCode::SERVICE_UNAVAILABLE
    } else if format == Format::GraphqlResponse && request_error && !is_batch {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match bodies.as_slice() {
        [answer] if !is_batch => reply(format, status, answer),
        all => reply(format, status, &all),
    }
}

/// The operation label of a request's metrics.
pub fn operation_name(kind: Option<OperationType>) -> &'static str {
    match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The caller, checked before any GraphQL work is done for them.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
) -> Result<Principal, Response> {
    signed_in(state, headers, None).await.map_err(|err| {
        super::metrics::refused(&err);
        fail(format, StatusCode::UNAUTHORIZED, err)
    })
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !content_type.is_some_and(|t| t.eq_ignore_ascii_case(JSON)) {
        return fail(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::bad_input("content-type", "send the request as application/json"),
        );
    }
    let principal = match caller(&state, &headers, format).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    // A batch, the request object and the variables object wrap the
    // variables.
    if let Some(refusal) = json_too_deep(&state, format, &body, 3) {
        return refusal;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return bad_request(format, "body", "the body is not valid JSON"),
    };
    let (items, is_batch) = match value {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    if is_batch && (items.is_empty() || items.len() > state.config.limits.max_batch) {
        return fail(
            format,
            StatusCode::BAD_REQUEST,
            AppError::LimitExceeded(format!(
                "a batch holds 1 to {} operations",
                state.config.limits.max_batch
            )),
        );
    }
    let mut batch = Vec::with_capacity(items.len());
    for item in items {
        match params(item) {
            Ok(p) => batch.push(p),
            Err((field, message)) => return bad_request(format, field, message),
        }
    }
    run(&state, &principal, format, batch, is_batch, false).await
}

/// GET: a WebSocket upgrade, or a query in the URL.
pub async fn get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &state)
            .await
        {
            Ok(ws) => {
                let slot = parts.extensions.remove::<ConnectionSlot>();
                super::ws::upgrade(state, ws, slot)
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    query_in_url(&state, &parts.headers, parts.uri.query()).await
}

async fn query_in_url(state: &AppState, headers: &HeaderMap, query: Option<&str>) -> Response {
    let Some(format) = negotiate(headers) else {
        return not_acceptable();
    };
    let principal = match caller(state, headers, format).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let mut map = Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => {
                if let Some(refusal) = json_too_deep(state, format, value.as_bytes(), 1) {
                    return refusal;
                }
                match serde_json::from_str::<Value>(&value) {
                    Ok(v) => v,
                    Err(_) => {
                        return bad_request(format, "variables", "variables must be a JSON object");
                    }
                }
            }
            _ => Value::String(value),
        };
        map.insert(key, value);
    }
    match params(Value::Object(map)) {
        Ok(p) => run(state, &principal, format, vec![p], false, true).await,
        Err((field, message)) => bad_request(format, field, message),
    }
}
