//! Database access: connections, transactions and the queries of each
//! feature. Every function takes the caller's organization and never reads or
//! writes outside it.

pub mod api_keys;
pub mod checkpoints;
pub mod controls;
pub mod custom_fields;
pub mod events;
pub mod heatmaps;
pub mod history;
pub mod members;
pub mod positional;
pub mod registers;
pub mod rescore;
pub mod risk_export;
pub mod risk_import;
pub mod risk_query;
pub mod risk_tables;
pub mod risks;
pub mod severities;
pub mod statistics;

use crate::auth::Principal;
use crate::config::Limits;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Select, Statement,
};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Who reads or changes data, through which connection, at what time: what
/// every store function that acts for a caller takes.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub db: &'a DatabaseConnection,
    pub principal: &'a Principal,
    pub now: DateTime<Utc>,
}

impl Actor<'_> {
    pub fn org_id(&self) -> &str {
        &self.principal.org_id
    }
}

/// The PostgreSQL channel on which a trigger tells every instance that
/// members, registers, severities or custom field definitions changed (migration
/// `m20261203_000009_reference_notify`).
pub const REFERENCE_CHANNEL: &str = "riskgraph_reference";

/// Rows per statement when a change touches many risks: below the bound
/// parameters one statement may carry (32,766 on SQLite, 65,535 on
/// PostgreSQL) at the 28 values a row takes at most (a new risk's half in
/// `risks`).
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Values one statement binds at most: below SQLite's 32,766 (PostgreSQL
/// takes 65,535).
pub const VALUES_PER_STATEMENT: usize = 32_000;

/// Ends `statement` (which ends with its order) with its limit written into
/// the SQL rather than bound. PostgreSQL plans a prepared statement for its
/// values five times, then keeps one generic plan if that costs no more.
/// Bound, a limit reads to the generic planner as a tenth of the rows, so a
/// plan that walks an index for a few rows never looks cheap enough to
/// keep: a page sorted the whole register in its generic plan (160-229 ms)
/// and was planned afresh on every call instead (0.6 ms of the 1.1 it took),
/// and every cell's first risks of a heatmap took 13 ms to plan against 0.9
/// to run.
pub fn write_limit(statement: &mut Statement, limit: u64) {
    statement.sql.push_str(&format!(" LIMIT {limit}"));
}

/// Values one lookup by a list of keys binds at most.
pub const LOOKUP_CHUNK: usize = 500;

/// The values of a hand-written statement, with each one's placeholder in
/// the backend's syntax.
pub struct Binder {
    backend: DbBackend,
    values: Vec<sea_orm::Value>,
}

impl Binder {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder.
    pub fn bind(&mut self, value: impl Into<sea_orm::Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    pub fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// Statements sent to the database for requests since start (the feed's
/// background reads are not counted): the N+1 guard of the tests and the
/// `riskgraph_db_statements_total` metric. While recording, it also
/// keeps the statements, which the load bench sends again straight through
/// the driver as the floor a request is measured against.
#[derive(Clone, Default)]
pub struct StatementCounter {
    count: Arc<AtomicU64>,
    recording: Arc<AtomicBool>,
    recorded: Arc<Mutex<Vec<Statement>>>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Starts keeping the statements sent from now on.
    pub fn record(&self) {
        self.take_recorded();
        self.recording.store(true, Ordering::Relaxed);
    }

    /// Stops recording; the statements kept, in the order they were sent.
    pub fn take_recorded(&self) -> Vec<Statement> {
        self.recording.store(false, Ordering::Relaxed);
        self.recorded
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default()
    }

    fn count(&self, statement: &Statement) {
        self.count.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("riskgraph_db_statements_total").increment(1);
        if self.recording.load(Ordering::Relaxed)
            && let Ok(mut kept) = self.recorded.lock()
        {
            kept.push(statement.clone());
        }
    }
}

/// The LIKE pattern of a search for `text` anywhere, lower-cased and with
/// LIKE's own characters escaped; None for blank text, which finds all.
pub fn contains_pattern(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// Whether `column`, lower-cased, matches a [`contains_pattern`].
pub fn lower_like(column: impl IntoColumnRef, pattern: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

/// SQLite reads pages through a memory map of this much of the file rather
/// than a `pread` and a copy each: a re-score of thousands of risks spent a
/// fifth of its time in those calls. The map is shared page cache, not
/// memory of this process's own.
const MMAP_BYTES: &str = "1073741824";

/// The writer's page cache, in KiB (negative, as SQLite counts it): 64 MiB
/// instead of the default 2 MiB, so the pages a large change rewrites stay
/// in memory until its commit.
const WRITER_CACHE: &str = "-65536";

/// Connects. On PostgreSQL a request that cannot get a connection within
/// the acquire timeout fails as UNAVAILABLE instead of hanging while the
/// server is down. SQLite is a local file that is never down: its one
/// connection is only ever busy, so requests queue for it up to the request
/// timeout.
pub async fn connect(
    url: &str,
    limits: &Limits,
    counter: &StatementCounter,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.acquire_timeout(limits.request_timeout().max(Duration::from_secs(1)));
        // One connection: SQLite serializes writers anyway, and a single
        // connection never meets SQLITE_BUSY when a read transaction upgrades
        // to a write. It lives as long as the service: an in-memory
        // database lives only as long as its connection, and sqlx would
        // otherwise replace it after 30 minutes.
        options
            .max_connections(1)
            .min_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("cache_size", WRITER_CACHE)
                    // Checkpoints run beside it (`checkpoints`), not in its commits.
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("mmap_size", MMAP_BYTES)
                    .pragma("analysis_limit", statistics::SAMPLE)
            });
    } else {
        options
            .acquire_timeout(limits.db_acquire_timeout())
            .connect_timeout(limits.db_acquire_timeout())
            .max_connections(limits.db_pool_size())
            .min_connections(1);
    }
    let mut db = Database::connect(options).await?;
    let counter = counter.clone();
    db.set_metric_callback(move |info| counter.count(info.statement));
    Ok(db)
}

/// Connections for reads. On a SQLite file, a pool of read-only connections
/// beside the one writer: in WAL mode readers see the last commit and never
/// wait for the writer or each other. Anywhere else (PostgreSQL, an
/// in-memory SQLite that only one connection can see) the writer's pool.
pub async fn connect_readers(
    url: &str,
    writer: &DatabaseConnection,
    limits: &Limits,
    counter: &StatementCounter,
) -> Result<DatabaseConnection, DbErr> {
    if !is_sqlite_file(url) {
        return Ok(writer.clone());
    }
    let readers = crate::config::cores().clamp(2, 8);
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .acquire_timeout(limits.request_timeout().max(Duration::from_secs(1)))
        .max_connections(u32::try_from(readers).unwrap_or(2))
        .min_connections(1)
        .map_sqlx_sqlite_opts(|o| {
            o.read_only(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("mmap_size", MMAP_BYTES)
        })
        .map_sqlx_sqlite_before_acquire(retire_outdated);
    let mut db = Database::connect(options).await?;
    let counter = counter.clone();
    db.set_metric_callback(move |info| counter.count(info.statement));
    Ok(db)
}

/// Keeps a pooled reader only if it has the planner's current statistics
/// (see [`statistics`]); the writer is the connection that gathers them.
fn retire_outdated(
    _: &mut sea_orm::sqlx::SqliteConnection,
    meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    Box::pin(std::future::ready(Ok(!statistics::outdated(meta.age))))
}

/// Waits `period`, or until `stop` changes: false then. The pace of the
/// background tasks that run until the service stops.
pub async fn paced(period: Duration, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(period) => true,
        _ = stop.changed() => false,
    }
}

/// Whether `url` names a SQLite file, which other connections can open
/// beside the writer (an in-memory database only one connection can see).
fn is_sqlite_file(url: &str) -> bool {
    url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=memory")
}

/// Connections of a pool in use and idle.
pub fn pool_use(db: &DatabaseConnection) -> (u32, u32) {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    let idle = u32::try_from(idle).unwrap_or(size);
    (size.saturating_sub(idle), idle)
}

/// A handle on the same pool that leaves the statement count alone: for the
/// feed's background reads, which run whenever events commit and belong to
/// no request, so a request's count is its own.
pub fn uncounted(db: &DatabaseConnection) -> DatabaseConnection {
    let mut db = db.clone();
    db.set_metric_callback(|_| {});
    db
}

/// Tables whose rows belong to one organization and have a string `id`.
pub trait OrgScoped: EntityTrait {
    fn id_column() -> Self::Column;
    fn org_column() -> Self::Column;
    fn id_of(model: &Self::Model) -> &str;
    /// How a missing row is named in NOT_FOUND.
    const NAME: &'static str;
}

macro_rules! org_scoped {
    ($($module:ident => $name:literal),+ $(,)?) => {
        $(impl OrgScoped for entity::$module::Entity {
            fn id_column() -> Self::Column {
                entity::$module::Column::Id
            }
            fn org_column() -> Self::Column {
                entity::$module::Column::OrgId
            }
            fn id_of(model: &Self::Model) -> &str {
                &model.id
            }
            const NAME: &'static str = $name;
        })+
    };
}

org_scoped! {
    api_key => "API key",
    member => "member",
    register => "register",
    severity => "severity",
    custom_field_definition => "custom field",
    risk => "risk",
    control => "control",
}

fn select<E: OrgScoped>(org_id: &str, id: &str) -> Select<E> {
    E::find()
        .filter(E::id_column().eq(id))
        .filter(E::org_column().eq(org_id))
}

async fn one<E: OrgScoped>(select: Select<E>, db: &impl ConnectionTrait) -> AppResult<E::Model> {
    select
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(E::NAME))
}

/// The organization's members as `(id, email, subject)`, the two names a
/// spreadsheet knows them by; callers narrow it further.
pub fn member_names(org_id: &str) -> Select<entity::member::Entity> {
    use entity::member::{Column, Entity};
    Entity::find()
        .select_only()
        .columns([Column::Id, Column::Email, Column::Subject])
        .filter(Column::OrgId.eq(org_id))
}

/// The row with `id` in the caller's organization, or NOT_FOUND: another
/// organization's rows do not exist for the caller.
pub async fn find<E: OrgScoped>(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> AppResult<E::Model> {
    one(select::<E>(org_id, id), db).await
}

/// Like [`find`], with None for a row the caller does not have.
pub async fn find_optional<E: OrgScoped>(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> AppResult<Option<E::Model>> {
    Ok(select::<E>(org_id, id).one(db).await?)
}

/// Like [`find`], and locks the row until the transaction ends, so that
/// concurrent writers of one row take turns instead of failing: a write
/// without `expectedVersion` is never refused for a race. (SQLite has one
/// connection, which serializes transactions already.)
pub async fn find_for_update<E: OrgScoped>(
    tx: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> AppResult<E::Model> {
    one(select::<E>(org_id, id).lock_exclusive(), tx).await
}

/// CONFLICT on `field` when a row other than `except` matches `taken`: the
/// check behind every name, identifier and key that must be unique.
pub async fn ensure_free<E: OrgScoped>(
    db: &impl ConnectionTrait,
    taken: Select<E>,
    except: Option<&str>,
    (field, message): (&str, String),
) -> AppResult<()>
where
    E::Model: Sync,
{
    let taken = match except {
        Some(id) => taken.filter(E::id_column().ne(id)),
        None => taken,
    };
    if taken.count(db).await? > 0 {
        return Err(AppError::conflict(Some(field), message));
    }
    Ok(())
}

/// Like [`find`], but a missing row is an input error on `field`.
pub async fn find_input<E: OrgScoped>(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    field: &str,
) -> AppResult<E::Model> {
    find::<E>(db, org_id, id)
        .await
        .map_err(|err| err.missing_is_input(field))
}
