//! Where a risk is written. It is kept in two tables, which the view
//! `risk_view` joins back into the one row every read sees (migration
//! `m20261203_000011_risk_scores`):
//! - `risk_scores`: what a re-score or a scales change rewrites (status,
//!   levels, scores, version, last change) and the indexes over it;
//! - `risks`: what people write about the risk, and its other indexes.
//!
//! Both carry the id, register and organization. A write sets, in each
//! table, only the columns it changes there: a re-score of thousands of
//! risks then writes the narrow table and its indexes alone.

use super::ROWS_PER_STATEMENT;
use crate::error::{AppError, AppResult};
use entity::risk::{self, Column as C};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, IdenStatic, Iterable, ModelTrait,
    TryGetableMany,
};

pub const SCORES: &str = "risk_scores";
const DETAILS: &str = "risks";

/// Whether `risk_scores` holds `column`.
fn in_scores(column: C) -> bool {
    use C::*;
    matches!(
        column,
        Id | RegisterId
            | OrgId
            | Status
            | LikelihoodLevel
            | ImpactLevel
            | ResidualLikelihoodOverride
            | ResidualImpactOverride
            | InherentScore
            | InherentBand
            | ResidualLikelihoodLevel
            | ResidualImpactLevel
            | ResidualLikelihoodValue
            | ResidualImpactValue
            | ResidualScore
            | ResidualBand
            | ResidualOverridden
            | TargetLikelihoodLevel
            | TargetImpactLevel
            | TargetLikelihoodValue
            | TargetImpactValue
            | TargetScore
            | TargetBand
            | WithinTolerance
            | Version
            | UpdatedAt
            | UpdatedBy
    )
}

/// Whether `risks` holds `column`.
fn in_details(column: C) -> bool {
    matches!(column, C::Id | C::RegisterId | C::OrgId) || !in_scores(column)
}

/// A table, and which columns of a risk it holds.
type Table = (&'static str, fn(C) -> bool);

const TABLES: [Table; 2] = [(DETAILS, in_details), (SCORES, in_scores)];

/// The view's name for the id of its `risks` half.
const DETAILS_ID: &str = "risks_id";

/// The id of the table that holds `column`, as the view names it: the id
/// that breaks ties of a sort by `column`. A planner cannot tell that the
/// view's two ids are one, so a tie broken by the other table's id is
/// sorted apart, and a cursor's range on (column, that id) is no range of
/// the (register, column, id) index: a page 50,000 risks deep into a
/// register by `createdAt` (an import's risks share theirs) took 80 ms on
/// PostgreSQL against 3 ms, and an export of 100,000 risks 13 s on SQLite.
pub fn id_beside(column: C) -> Expr {
    if in_scores(column) {
        Expr::col(C::Id)
    } else {
        Expr::col((risk::Entity, Alias::new(DETAILS_ID)))
    }
}

/// The risks with one of `ids`, named on both halves' ids (`risk_view`
/// gives the `risks` one as `risks_id`, migration 12), so that each table
/// is read by its key: named on one, PostgreSQL at its default
/// `random_page_cost` scans all of the other table (114 ms against 13 ms for
/// 1,000 of 100,000 risks).
pub fn with_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Condition {
    let ids: Vec<&str> = ids.into_iter().collect();
    Condition::all()
        .add(C::Id.is_in(ids.iter().copied()))
        .add(Expr::col((risk::Entity, Alias::new(DETAILS_ID))).is_in(ids))
}

/// Inserts new risks, a chunk of rows a statement in each table.
pub async fn insert(db: &impl ConnectionTrait, risks: &[risk::Model]) -> AppResult<()> {
    for chunk in risks.chunks(ROWS_PER_STATEMENT) {
        for (table, holds) in TABLES {
            let columns: Vec<C> = C::iter().filter(|c| holds(*c)).collect();
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(table))
                .columns(columns.iter().copied());
            for risk in chunk {
                insert
                    .values(columns.iter().map(|c| Expr::val(risk.get(*c))))
                    .map_err(AppError::internal)?;
            }
            db.execute(&insert).await?;
        }
    }
    Ok(())
}

/// Writes the columns in which `after` differs from `before`, only if the
/// risk still has `before`'s version: a conflict otherwise, with nothing
/// written.
pub async fn update(
    db: &impl ConnectionTrait,
    before: &risk::Model,
    after: &risk::Model,
) -> AppResult<()> {
    let changed: Vec<C> = C::iter()
        .filter(|c| matches!(c, C::Version) || before.get(*c) != after.get(*c))
        .collect();
    // The version is in `risk_scores`, so its statement goes first and
    // always: it is the check.
    for (table, holds) in TABLES.into_iter().rev() {
        let set: Vec<C> = changed.iter().copied().filter(|c| holds(*c)).collect();
        if set.is_empty() {
            continue;
        }
        let mut update = Query::update();
        update
            .table(Alias::new(table))
            .values(set.iter().map(|c| (*c, Expr::val(after.get(*c)))))
            .and_where(Expr::col(C::Id).eq(before.id.as_str()));
        if table == SCORES {
            update.and_where(Expr::col(C::Version).eq(before.version));
        }
        let result = db.execute(&update).await?;
        if result.rows_affected() == 0 {
            return Err(AppError::conflict(
                None,
                "the risk changed meanwhile; try again",
            ));
        }
    }
    Ok(())
}

/// Deletes a risk: its `risk_scores` half goes with it, by the foreign key
/// that also takes a deleted register's risks.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> AppResult<()> {
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(DETAILS))
        .and_where(Expr::col(C::Id).eq(id));
    db.execute(&delete).await?;
    Ok(())
}

/// The rows of an aggregate over risks, or of a few of their columns
/// (`query` reads `risk_view`), read
/// from `risk_scores` alone when the statement names no column kept only in
/// `risks` (nor the view's id of that half, which [`with_ids`] names).
/// Joined, a count of a register's 100,000 risks reads every row of both
/// tables: 116-191 ms on PostgreSQL, against 12-23 ms for one.
pub async fn aggregate<T: TryGetableMany>(
    db: &impl ConnectionTrait,
    mut query: SelectStatement,
) -> AppResult<Vec<T>> {
    let backend = db.get_database_backend();
    let mut statement = backend.build(&query);
    // Every column is written quoted, qualified or not.
    let names_details = C::iter()
        .filter(|c| !in_scores(*c))
        .map(|c| c.as_str())
        .chain([DETAILS_ID])
        .any(|name| statement.sql.contains(&format!("\"{name}\"")));
    if !names_details {
        query.from_clear().from_as(Alias::new(SCORES), risk::Entity);
        statement = backend.build(&query);
    }
    let rows = db.query_all_raw(statement).await?;
    Ok(rows
        .iter()
        .map(T::try_get_many_by_index)
        .collect::<Result<_, _>>()
        .map_err(DbErr::from)?)
}

/// New risks from one write that make the planner's statistics worth
/// refreshing at once.
const MANY: usize = 1_000;

/// Refreshes the planner's statistics of both tables after a write of
/// `added` new risks, when they are many. PostgreSQL's autovacuum waits
/// until a tenth of a table has changed; until then a new register's
/// thousands of risks are planned as a handful, and the view's join may then
/// look up each risk of the register by scanning the whole register (a remap
/// right after an import of 10,000 risks took 21 s instead of under one).
/// SQLite keeps none unless told to; [`super::statistics`] says why that
/// matters and how its other connections learn of them. The write has
/// committed: a failure here is logged, not the caller's.
pub async fn after_bulk_insert(db: &impl ConnectionTrait, added: usize) {
    if added < MANY {
        return;
    }
    // One table a statement: the form both databases take.
    for table in [DETAILS, SCORES] {
        if let Err(error) = db.execute_unprepared(&format!("ANALYZE {table}")).await {
            tracing::warn!(%error, "refreshing the statistics of risks failed");
        }
    }
    super::statistics::refreshed();
}
