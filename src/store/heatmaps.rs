//! Heatmaps and register summaries, counted by SQL aggregation over the
//! stored score columns: never by loading risks.

use crate::domain::enums::ScoreBasis;
use crate::error::AppResult;
use entity::risk;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, QueryTrait,
};
use std::collections::HashMap;

/// The level columns a basis reads.
pub fn level_columns(basis: ScoreBasis) -> (risk::Column, risk::Column) {
    match basis {
        ScoreBasis::Inherent => (risk::Column::LikelihoodLevel, risk::Column::ImpactLevel),
        ScoreBasis::Residual => (
            risk::Column::ResidualLikelihoodLevel,
            risk::Column::ResidualImpactLevel,
        ),
    }
}

fn score_column(basis: ScoreBasis) -> risk::Column {
    match basis {
        ScoreBasis::Inherent => risk::Column::InherentScore,
        ScoreBasis::Residual => risk::Column::ResidualScore,
    }
}

/// Counts per (likelihood, impact) cell; a risk without both levels lands in
/// a group with a null level. One statement.
pub async fn cell_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
) -> AppResult<Vec<(Option<i32>, Option<i32>, i64)>> {
    let (l, i) = level_columns(basis);
    Ok(risk::Entity::find()
        .select_only()
        .column(l)
        .column(i)
        // COUNT(*), not COUNT(id): no column to read, so an index suffices.
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition)
        .group_by(l)
        .group_by(i)
        .into_tuple()
        .all(db)
        .await?)
}

/// Up to `first` risks of each cell, highest score first: one statement with
/// a window function, for every cell of the heatmap at once.
pub async fn cell_risks(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
    first: u64,
) -> AppResult<HashMap<(i32, i32), Vec<risk::Model>>> {
    let (l, i) = level_columns(basis);
    let backend = db.get_database_backend();
    let name = |c: risk::Column| {
        use sea_orm::Iden;
        c.to_string()
    };
    let rank = format!(
        "ROW_NUMBER() OVER (PARTITION BY \"{l}\", \"{i}\" ORDER BY \"{score}\" DESC, \"id\")",
        l = name(l),
        i = name(i),
        score = name(score_column(basis)),
    );
    let ranked = risk::Entity::find()
        .filter(condition)
        .filter(l.is_not_null())
        .filter(i.is_not_null())
        .expr_as(Expr::cust(rank), "cell_rank")
        .into_query();
    let outer = Query::select()
        .column(sea_orm::sea_query::Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("cell_rank")).lte(first))
        .take();
    let rows = risk::Model::find_by_statement(backend.build(&outer))
        .all(db)
        .await?;
    let mut cells: HashMap<(i32, i32), Vec<risk::Model>> = HashMap::new();
    for row in rows {
        let key = match basis {
            ScoreBasis::Inherent => (row.likelihood_level, row.impact_level),
            ScoreBasis::Residual => (row.residual_likelihood_level, row.residual_impact_level),
        };
        if let (Some(l), Some(i)) = key {
            cells.entry((l, i)).or_default().push(row);
        }
    }
    for risks in cells.values_mut() {
        risks.sort_by(|a, b| {
            let score = |r: &risk::Model| match basis {
                ScoreBasis::Inherent => r.inherent_score,
                ScoreBasis::Residual => r.residual_score,
            };
            score(b)
                .partial_cmp(&score(a))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.id.cmp(&b.id))
        });
    }
    Ok(cells)
}

/// Counts of a register's risks by status, residual band and tolerance: one
/// statement, folded into the summary by the caller.
pub async fn summary_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> AppResult<Vec<(String, Option<i32>, Option<bool>, i64)>> {
    Ok(risk::Entity::find()
        .select_only()
        .column(risk::Column::Status)
        .column(risk::Column::ResidualBand)
        .column(risk::Column::WithinTolerance)
        // COUNT(*), not COUNT(id): no column to read, so an index suffices.
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition)
        .group_by(risk::Column::Status)
        .group_by(risk::Column::ResidualBand)
        .group_by(risk::Column::WithinTolerance)
        .into_tuple()
        .all(db)
        .await?)
}
