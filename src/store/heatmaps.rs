//! Heatmaps, register summaries and breakdowns, counted by SQL aggregation over the
//! stored score columns: never by loading risks.

use super::{Binder, risk_tables};
use crate::domain::enums::ScoreBasis;
use crate::domain::enums::{BreakdownKey, RiskStatus};
use crate::domain::risk::{Facet, UNSCORED_CELL, levels_on, score_on};
use crate::error::AppResult;
use entity::{risk, risk_cell_count};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement, TryGetableMany,
};
use std::collections::HashMap;
use std::sync::Arc;

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

/// A heatmap's cell: its likelihood and impact levels; a risk without both
/// is counted with a null level.
pub type Cell = (Option<i32>, Option<i32>);

/// A cell and how many risks it holds.
pub type CellCount = (Cell, i64);

/// What a summary counts a risk under: its status, its residual band, and
/// whether it is within its tolerance.
pub type SummaryKey = (RiskStatus, Option<i32>, Option<bool>);

/// The columns of a [`SummaryKey`].
fn summary_keys() -> [Expr; 3] {
    use risk::Column as C;
    [C::Status, C::ResidualBand, C::WithinTolerance].map(Expr::col)
}

/// The columns of a heatmap's cell of `basis`.
fn cell_keys(basis: ScoreBasis) -> [Expr; 2] {
    let (l, i) = level_columns(basis);
    [Expr::col(l), Expr::col(i)]
}

/// The counts of the risks that match `condition`, grouped by `keys`: each
/// row the keys' values, then the count. One statement.
async fn counted_by<T: TryGetableMany>(
    db: &impl ConnectionTrait,
    condition: Condition,
    keys: &[Expr],
) -> AppResult<Vec<T>> {
    let mut query = risk::Entity::find().select_only();
    for key in keys {
        query = query.expr(key.clone());
    }
    // COUNT(*), not COUNT(id): no column to read, so an index suffices.
    query = query
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition);
    for key in keys {
        query = query.group_by(key.clone());
    }
    risk_tables::aggregate(db, query.into_query()).await
}

/// Each risk that matches `condition`: its id, then `keys`. What a
/// tally is read from (`graphql::answers`): one statement, which costs about
/// twice the count at 100,000 risks.
async fn each_with<T: TryGetableMany>(
    db: &impl ConnectionTrait,
    condition: Condition,
    keys: &[Expr],
) -> AppResult<Vec<T>> {
    let mut query = risk::Entity::find().select_only().column(risk::Column::Id);
    for key in keys {
        query = query.expr(key.clone());
    }
    risk_tables::aggregate(db, query.filter(condition).into_query()).await
}

/// The counts of the risks that match `condition` by cell of `basis`.
pub async fn cell_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
) -> AppResult<Vec<CellCount>> {
    let rows: Vec<(Option<i32>, Option<i32>, i64)> =
        counted_by(db, condition, &cell_keys(basis)).await?;
    Ok(rows.into_iter().map(|(l, i, n)| ((l, i), n)).collect())
}

/// Each risk that matches `condition`, with its cell of `basis`.
pub async fn cell_members(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
) -> AppResult<Vec<(String, Cell)>> {
    let rows: Vec<(String, Option<i32>, Option<i32>)> =
        each_with(db, condition, &cell_keys(basis)).await?;
    Ok(rows.into_iter().map(|(id, l, i)| (id, (l, i))).collect())
}

/// A risk's value of each facet, in `Facet::ALL`'s order.
pub type FacetValues = [Option<Arc<str>>; Facet::ALL.len()];

/// What the heatmaps of every filter by facets fold from: a risk's cell,
/// and its facets' values, shared by the risks that have the same.
pub type FacetCell = (Cell, Arc<FacetValues>);

/// The columns of a [`FacetCell`] of `basis`.
fn facet_cell_keys(basis: ScoreBasis) -> Vec<Expr> {
    use risk::Column as C;
    let facets = Facet::ALL.map(|facet| match facet {
        Facet::Stage => C::Stage,
        Facet::Category => C::Category,
        Facet::Department => C::Department,
        Facet::Owner => C::OwnerId,
        Facet::Severity => C::SeverityId,
        Facet::Treatment => C::Treatment,
    });
    cell_keys(basis)
        .into_iter()
        .chain(facets.map(Expr::col))
        .collect()
}

/// A facet's value, as read.
type Text = Option<String>;

/// A count of facet cells as read: the levels, the facets' values, the
/// count.
type FacetCellCountRead = (
    Option<i32>,
    Option<i32>,
    Text,
    Text,
    Text,
    Text,
    Text,
    Text,
    i64,
);

/// A risk's facet cell as read: its id, levels and facets' values.
type FacetCellMemberRead = (
    String,
    Option<i32>,
    Option<i32>,
    Text,
    Text,
    Text,
    Text,
    Text,
    Text,
);

/// A facet a filter names, and its values: a risk matches one of them.
pub type FacetNamed = (Facet, Vec<String>);

/// One copy of each combination of facet values a read returns.
#[derive(Default)]
struct SharedValues {
    keys: Keys,
    values: foldhash::HashSet<Arc<FacetValues>>,
}

impl SharedValues {
    fn of(&mut self, read: [Text; Facet::ALL.len()]) -> Arc<FacetValues> {
        let values = read.map(|value| self.keys.shared(value));
        if let Some(shared) = self.values.get(&values) {
            return shared.clone();
        }
        let shared = Arc::new(values);
        self.values.insert(shared.clone());
        shared
    }
}

/// The counts of the risks that match `condition` by cell of `basis` and
/// facet values.
pub async fn facet_cell_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
) -> AppResult<Vec<(FacetCell, i64)>> {
    let rows: Vec<FacetCellCountRead> = counted_by(db, condition, &facet_cell_keys(basis)).await?;
    let mut shared = SharedValues::default();
    Ok(rows
        .into_iter()
        .map(|(l, i, a, b, c, d, e, f, n)| (((l, i), shared.of([a, b, c, d, e, f])), n))
        .collect())
}

/// Each risk that matches `condition`, with its cell of `basis` and facet
/// values.
pub async fn facet_cell_members(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
) -> AppResult<Vec<(String, FacetCell)>> {
    let rows: Vec<FacetCellMemberRead> = each_with(db, condition, &facet_cell_keys(basis)).await?;
    let mut shared = SharedValues::default();
    Ok(rows
        .into_iter()
        .map(|(id, l, i, a, b, c, d, e, f)| (id, ((l, i), shared.of([a, b, c, d, e, f]))))
        .collect())
}

/// The cells of the risks whose value of each `named` facet is one of its
/// values, from counts by cell and facet values.
pub fn facet_cells(counts: &[(FacetCell, i64)], named: &[FacetNamed]) -> Vec<CellCount> {
    let matches = |values: &FacetValues| {
        named.iter().all(|(facet, wanted)| {
            // `Facet::ALL` lists the facets in their declared order.
            values[*facet as usize]
                .as_deref()
                .is_some_and(|value| wanted.iter().any(|w| w == value))
        })
    };
    let mut cells: HashMap<Cell, i64> = HashMap::new();
    for ((cell, values), n) in counts {
        if matches(values) {
            *cells.entry(*cell).or_default() += n;
        }
    }
    cells.into_iter().collect()
}

/// The counts of the risks that match `condition` by status, residual band
/// and tolerance, which the caller folds into a summary.
pub async fn summary_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> AppResult<Vec<(SummaryKey, i64)>> {
    let rows: Vec<(String, Option<i32>, Option<bool>, i64)> =
        counted_by(db, condition, &summary_keys()).await?;
    rows.into_iter()
        .map(|(status, band, within, n)| Ok(((RiskStatus::from_stored(&status)?, band, within), n)))
        .collect()
}

/// Each risk that matches `condition`, with what a summary counts it under.
pub async fn summary_members(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> AppResult<Vec<(String, SummaryKey)>> {
    let rows: Vec<(String, String, Option<i32>, Option<bool>)> =
        each_with(db, condition, &summary_keys()).await?;
    rows.into_iter()
        .map(|(id, status, band, within)| {
            Ok((id, (RiskStatus::from_stored(&status)?, band, within)))
        })
        .collect()
}

/// The kept counts of a register's cells: the unfiltered heatmap in one
/// read of at most one row per cell.
pub async fn kept_counts(
    db: &impl ConnectionTrait,
    register_id: &str,
    basis: ScoreBasis,
) -> AppResult<Vec<CellCount>> {
    let rows = risk_cell_count::Entity::find()
        .filter(risk_cell_count::Column::RegisterId.eq(register_id))
        .filter(risk_cell_count::Column::Basis.eq(basis.as_str()))
        .filter(risk_cell_count::Column::Count.ne(0))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|c| kept_row((c.likelihood, c.impact), c.count))
        .collect())
}

/// A kept count as a [`CellCount`]: the unscored cell as null levels.
fn kept_row(cell: (i32, i32), n: i64) -> CellCount {
    let scored = cell != UNSCORED_CELL;
    ((scored.then_some(cell.0), scored.then_some(cell.1)), n)
}

/// The kept counts of a register's risks whose `facet` is one of `values`,
/// by cell: one read of at most a row per cell and value.
pub async fn kept_facet_counts(
    db: &impl ConnectionTrait,
    register_id: &str,
    basis: ScoreBasis,
    (facet, values): (Facet, &[String]),
) -> AppResult<Vec<CellCount>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut binder = Binder::new(db.get_database_backend());
    let (register, basis, facet) = (
        binder.bind(register_id),
        binder.bind(basis.as_str()),
        binder.bind(facet.as_str()),
    );
    let values: Vec<String> = values.iter().map(|v| binder.bind(v.as_str())).collect();
    // The SUM is cast: PostgreSQL sums BIGINTs as NUMERIC.
    let sql = format!(
        "SELECT likelihood, impact, CAST(SUM(count) AS BIGINT) AS n FROM risk_facet_counts \
         WHERE register_id = {register} AND basis = {basis} AND facet = {facet} \
         AND value IN ({}) GROUP BY likelihood, impact HAVING SUM(count) <> 0",
        values.join(", ")
    );
    let rows = db.query_all_raw(binder.statement(sql)).await?;
    rows.iter()
        .map(|row| {
            let cell: (i32, i32) = (row.try_get("", "likelihood")?, row.try_get("", "impact")?);
            let n: i64 = row.try_get("", "n")?;
            Ok(kept_row(cell, n))
        })
        .collect()
}

/// Counts a register's cells again from its risks: for risks written
/// straight into the table (bulk loads), which bypass the writes that keep
/// the counts. One statement per basis for the cells, and per basis and
/// facet for the facets' values.
pub async fn recount(db: &impl ConnectionTrait, register_id: &str) -> AppResult<()> {
    for table in ["risk_cell_counts", "risk_facet_counts"] {
        let mut binder = Binder::new(db.get_database_backend());
        let register = binder.bind(register_id);
        db.execute_raw(binder.statement(format!(
            "DELETE FROM {table} WHERE register_id = {register}"
        )))
        .await?;
    }
    for basis in [ScoreBasis::Inherent, ScoreBasis::Residual] {
        count_into(db, register_id, basis, None).await?;
        for facet in Facet::ALL {
            count_into(db, register_id, basis, Some(facet)).await?;
        }
    }
    Ok(())
}

/// Inserts the counts of a register's open risks by cell of `basis`, and by
/// value of `facet` when one is given, as `store::events` keeps them: a risk
/// without both levels in the unscored cell, one without the facet's value
/// not counted under it.
async fn count_into(
    db: &impl ConnectionTrait,
    register_id: &str,
    basis: ScoreBasis,
    facet: Option<Facet>,
) -> AppResult<()> {
    let (l, i) = level_columns(basis);
    let (l, i) = (
        sea_orm::IdenStatic::as_str(&l),
        sea_orm::IdenStatic::as_str(&i),
    );
    let (unscored_l, unscored_i) = UNSCORED_CELL;
    let cl = format!("CASE WHEN {l} IS NULL OR {i} IS NULL THEN {unscored_l} ELSE {l} END");
    let ci = format!("CASE WHEN {l} IS NULL OR {i} IS NULL THEN {unscored_i} ELSE {i} END");
    // Bound in the order the SQL names them: SQLite's `?` are positional.
    let mut binder = Binder::new(db.get_database_backend());
    let basis = binder.bind(basis.as_str());
    // A facet's counts need its column, which only the view joins in.
    let (table, from, keys, values, grouped, named) = match facet {
        None => {
            let none = String::new;
            (
                "risk_cell_counts",
                risk_tables::SCORES,
                "",
                none(),
                none(),
                none(),
            )
        }
        Some(facet) => {
            let column = facet.as_str();
            (
                "risk_facet_counts",
                "risk_view",
                "facet, value, ",
                format!("{}, {column}, ", binder.bind(column)),
                format!("{column}, "),
                format!(" AND {column} IS NOT NULL"),
            )
        }
    };
    let register = binder.bind(register_id);
    let open: Vec<String> = RiskStatus::OPEN
        .iter()
        .map(|s| binder.bind(s.as_str()))
        .collect();
    let sql = format!(
        "INSERT INTO {table} (register_id, basis, {keys}likelihood, impact, count) \
         SELECT register_id, {basis}, {values}{cl}, {ci}, COUNT(*) FROM {from} \
         WHERE register_id = {register} AND status IN ({open}){named} \
         GROUP BY register_id, {grouped}{cl}, {ci}",
        open = open.join(", "),
    );
    db.execute_raw(binder.statement(sql)).await?;
    Ok(())
}

/// Up to `first` risks of each of `cells`, highest score first (ties by id,
/// the other way round: the order of a page of risks by that score), each
/// cell's walking the cell's index of (register, levels, score, id) for its
/// first rows. A window function over the whole register (`ROW_NUMBER()
/// OVER (PARTITION BY` the cell) read and sorted every risk: 540-860 ms at
/// 100,000.
///
/// The limit is written into the SQL (`store::write_limit`). PostgreSQL
/// joins the cells, a VALUES list, LATERAL to one query:
/// one query to plan (a query a cell, joined by UNION ALL, took 13 ms to
/// plan for 25 cells, against 0.9 to run) and the filter bound once.
/// SQLite has no LATERAL: it runs a query a cell, joined by UNION ALL into
/// as few statements as keep the bound values within bounds.
pub async fn cell_risks(
    db: &impl ConnectionTrait,
    condition: Condition,
    basis: ScoreBasis,
    first: u64,
    cells: &[(i32, i32)],
) -> AppResult<HashMap<(i32, i32), Vec<risk::Model>>> {
    if cells.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let (l, i) = level_columns(basis);
    // The first risks of the cell whose levels are `cl` and `ci`.
    let top = |cl: Expr, ci: Expr| {
        let mut statement = risk::Entity::find()
            .filter(condition.clone())
            .filter(Expr::col((risk::Entity, l)).eq(cl))
            .filter(Expr::col((risk::Entity, i)).eq(ci))
            .order_by_desc(score_column(basis))
            .order_by_desc(risk::Column::Id)
            .build(backend);
        super::write_limit(&mut statement, first);
        statement
    };
    let statements = if backend == DbBackend::Postgres {
        let listed: Vec<String> = cells.iter().map(|(l, i)| format!("({l}, {i})")).collect();
        let level = |name: &str| Expr::col((Alias::new("c"), Alias::new(name)));
        let mut statement = top(level("l"), level("i"));
        statement.sql = format!(
            "SELECT cell.* FROM (VALUES {}) AS c (l, i) CROSS JOIN LATERAL ({}) AS cell",
            listed.join(", "),
            statement.sql
        );
        vec![statement]
    } else {
        let arms: Vec<Statement> = cells
            .iter()
            .map(|&(cl, ci)| {
                let mut arm = top(Expr::val(cl), Expr::val(ci));
                arm.sql = format!("SELECT * FROM ({}) AS cell", arm.sql);
                arm
            })
            .collect();
        // Each cell's query binds the filter's values again: a register of
        // 400 cells and a filter of 500 ids would bind 200,000.
        let per_arm = arms.first().map_or(0, |arm| bound(arm).len());
        let per_statement = (super::VALUES_PER_STATEMENT / per_arm.max(1)).max(1);
        arms.chunks(per_statement)
            .map(|chunk| {
                let sql = chunk.iter().map(|arm| arm.sql.as_str()).collect::<Vec<_>>();
                let values = chunk.iter().flat_map(|arm| bound(arm).iter().cloned());
                Statement::from_sql_and_values(backend, sql.join(" UNION ALL "), values)
            })
            .collect()
    };
    let mut rows = Vec::new();
    for statement in statements {
        rows.extend(risk::Model::find_by_statement(statement).all(db).await?);
    }
    let mut by_cell: HashMap<(i32, i32), Vec<risk::Model>> = HashMap::new();
    for row in rows {
        if let (Some(l), Some(i)) = levels_on(&row, basis) {
            by_cell.entry((l, i)).or_default().push(row);
        }
    }
    // A union keeps no order of its own.
    let score = |r: &risk::Model| score_on(r, basis);
    for risks in by_cell.values_mut() {
        risks.sort_by(|a, b| {
            score(b)
                .partial_cmp(&score(a))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.id.cmp(&a.id))
        });
    }
    Ok(by_cell)
}

/// The values a statement binds.
fn bound(statement: &Statement) -> &[sea_orm::Value] {
    statement.values.as_ref().map_or(&[], |values| &values.0)
}

/// One group of a breakdown: its key (None for risks without one), how many
/// risks, and the average and highest score of those that are scored.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub key: Option<String>,
    pub count: i64,
    pub average: Option<f64>,
    pub max: Option<f64>,
}

/// What a breakdown counts a risk under: its group's key, and its score's
/// bits (`f64::to_bits`), so that the groups' averages and maxima fold from
/// the counts.
pub type KeyScore = (Option<Arc<str>>, Option<u64>);

/// The key and score a breakdown by `by` of `basis` counts a risk under.
fn breakdown_keys(by: BreakdownKey, basis: ScoreBasis) -> [Expr; 2] {
    use risk::Column as C;
    let inherent = basis == ScoreBasis::Inherent;
    let key = match by {
        BreakdownKey::Category => C::Category,
        BreakdownKey::Department => C::Department,
        BreakdownKey::Owner => C::OwnerId,
        BreakdownKey::Severity => C::SeverityId,
        BreakdownKey::Status => C::Status,
        BreakdownKey::Stage => C::Stage,
        BreakdownKey::Treatment => C::Treatment,
        BreakdownKey::Band if inherent => C::InherentBand,
        BreakdownKey::Band => C::ResidualBand,
    };
    [
        Expr::col(key).cast_as("TEXT"),
        Expr::col(score_column(basis)),
    ]
}

/// The counts of the risks `condition` selects by group of `by` and score
/// of `basis`.
pub async fn breakdown_counts(
    db: &impl ConnectionTrait,
    condition: Condition,
    (by, basis): (BreakdownKey, ScoreBasis),
) -> AppResult<Vec<(KeyScore, i64)>> {
    let rows: Vec<(Option<String>, Option<f64>, i64)> =
        counted_by(db, condition, &breakdown_keys(by, basis)).await?;
    let mut keys = Keys::default();
    Ok(rows
        .into_iter()
        .map(|(key, score, n)| ((keys.shared(key), score.map(f64::to_bits)), n))
        .collect())
}

/// Each risk `condition` selects, with its group of `by` and score of
/// `basis`.
pub async fn breakdown_members(
    db: &impl ConnectionTrait,
    condition: Condition,
    (by, basis): (BreakdownKey, ScoreBasis),
) -> AppResult<Vec<(String, KeyScore)>> {
    let rows: Vec<(String, Option<String>, Option<f64>)> =
        each_with(db, condition, &breakdown_keys(by, basis)).await?;
    let mut keys = Keys::default();
    Ok(rows
        .into_iter()
        .map(|(id, key, score)| (id, (keys.shared(key), score.map(f64::to_bits))))
        .collect())
}

/// One copy of each group key a read returns, however many risks share it.
#[derive(Default)]
struct Keys(foldhash::HashMap<String, Arc<str>>);

impl Keys {
    fn shared(&mut self, key: Option<String>) -> Option<Arc<str>> {
        let key = key?;
        let shared = self
            .0
            .entry(key)
            .or_insert_with_key(|key| Arc::from(key.as_str()));
        Some(shared.clone())
    }
}

/// The groups of a breakdown, from its counts by key and score.
pub fn groups(counts: &[(KeyScore, i64)]) -> Vec<Group> {
    // Per key: risks, scored risks, their scores' sum, the highest.
    let mut by_key: HashMap<Option<&str>, (i64, i64, f64, Option<f64>)> = HashMap::new();
    for ((key, score), n) in counts {
        let group = by_key.entry(key.as_deref()).or_default();
        group.0 += n;
        if let Some(score) = score.map(f64::from_bits) {
            group.1 += n;
            group.2 += score * *n as f64;
            group.3 = Some(group.3.map_or(score, |max| max.max(score)));
        }
    }
    by_key
        .into_iter()
        .map(|(key, (count, scored, sum, max))| Group {
            key: key.map(str::to_owned),
            count,
            average: (scored > 0).then(|| sum / scored as f64),
            max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_cells_count_the_risks_with_a_named_value_of_each_facet() {
        let values = |category: Option<&str>, treatment: &str| {
            let mut values: FacetValues = Default::default();
            values[Facet::Category as usize] = category.map(Arc::from);
            values[Facet::Treatment as usize] = Some(Arc::from(treatment));
            Arc::new(values)
        };
        let counts = [
            (((Some(1), Some(2)), values(Some("A"), "ACCEPT")), 2),
            (((Some(1), Some(2)), values(Some("B"), "ACCEPT")), 3),
            (((Some(0), Some(0)), values(Some("A"), "MITIGATE")), 4),
            (((None, None), values(None, "ACCEPT")), 5),
        ];
        let named = |category: &[&str], treatment: &[&str]| {
            let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
            [
                (Facet::Category, strings(category)),
                (Facet::Treatment, strings(treatment)),
            ]
        };
        let mut cells = facet_cells(&counts, &named(&["A", "B"], &["ACCEPT"]));
        cells.sort();
        assert_eq!(cells, [((Some(1), Some(2)), 5)]);
        let mut cells = facet_cells(&counts, &named(&["A"], &["ACCEPT", "MITIGATE"]));
        cells.sort();
        assert_eq!(cells, [((Some(0), Some(0)), 4), ((Some(1), Some(2)), 2)]);
        assert!(facet_cells(&counts, &named(&[], &["ACCEPT"])).is_empty());
    }

    #[test]
    fn a_breakdown_s_groups_fold_from_counts_by_key_and_score() {
        let key = |k: &str| Some(Arc::from(k));
        let score = |s: f64| Some(f64::to_bits(s));
        let counts = [
            ((key("a"), score(4.0)), 2),
            ((key("a"), score(10.0)), 1),
            ((key("a"), None), 3),
            ((None, None), 1),
        ];
        let mut groups = groups(&counts);
        groups.sort_by(|x, y| x.key.cmp(&y.key));
        let group = |key: Option<&str>, count, average, max| Group {
            key: key.map(str::to_owned),
            count,
            average,
            max,
        };
        assert_eq!(
            groups,
            [
                group(None, 1, None, None),
                group(Some("a"), 6, Some(6.0), Some(10.0)),
            ]
        );
    }
}
