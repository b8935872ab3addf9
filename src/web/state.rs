//! What every handler shares, built by `app` and handed to the router.

use crate::auth::{Principal, Verifier};
use crate::clock::Clock;
use crate::config::Config;
use crate::feed::Feed;
use crate::graphql::RiskgraphSchema;
use crate::graphql::reference::Reference;
use crate::store::StatementCounter;
use crate::web::list_items::Shapes;
use crate::web::multiplex::Multiplexer;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio::sync::watch;

/// The state of the HTTP and WebSocket handlers. Cheap to clone.
/// Behind one pointer: every socket and subscriber holds a clone for its
/// whole life, and thousands are idle at once (200 bytes each inline).
pub type AppState = Arc<Shared>;

pub struct Shared {
    /// Writes, and reads that must see them in their transaction.
    pub db: DatabaseConnection,
    /// Reads (see `store::connect_readers`).
    pub reader: DatabaseConnection,
    pub config: Arc<Config>,
    pub verifier: Arc<Verifier>,
    pub schema: RiskgraphSchema,
    /// The schema's types as the check of a document before it runs reads
    /// them: what each field returns, pages and takes.
    pub shapes: Shapes,
    pub clock: Clock,
    pub statements: StatementCounter,
    pub feed: Arc<Feed>,
    /// Flips to true when the server shuts down: WebSockets close with 1001.
    pub shutdown: watch::Receiver<bool>,
    /// The principals of tokens seen before, so that a request does not
    /// wait on the database to learn who sent it.
    pub principals: Arc<Principals>,
    /// Documents parsed before, by their text.
    pub documents: Arc<Documents>,
    /// Members, registers, severities and custom field definitions, kept
    /// across requests.
    pub reference: Arc<Reference>,
    /// Subscriptions running, shared by identical ones.
    pub multiplex: Arc<Multiplexer>,
}

/// Principals by token. A token's claims decide its principal, and the
/// member its first use creates keeps its id, so an entry is true for as long
/// as the token verifies (which every request still checks first).
pub type Principals = quick_cache::sync::Cache<String, Principal>;

/// Tokens remembered at once; older ones are looked up again when used.
pub const PRINCIPALS_HELD: usize = 10_000;

/// Parsed GraphQL documents by their text, kept once they pass the checks
/// that read only the document (nesting, NUL characters). Dashboards send
/// the same few queries again and again, and parsing the page's query took
/// 3.8 % of the server's CPU at 430 pages a second (perf, PostgreSQL page of
/// 50); a copy of the parsed tree costs a fraction of that.
pub type Documents =
    quick_cache::sync::Cache<String, Arc<async_graphql::parser::types::ExecutableDocument>>;

/// Documents kept at once, each at most [`DOCUMENT_BYTES`] long: a few
/// MiB at most, however many different queries clients send.
pub const DOCUMENTS_HELD: usize = 1_000;

/// The longest query text whose parsed document is kept.
pub const DOCUMENT_BYTES: usize = 4_096;
