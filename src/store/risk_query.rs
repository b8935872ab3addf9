//! Reading risks: the filter, search and multi-key order of the API as SQL,
//! with keyset cursors in both directions. Every sort ends with the id, so
//! the order is total and a cursor names one position.

use super::positional::{self, Positional, Read};
use super::risk_tables;
use crate::config::Limits;
use crate::domain::date::{Date, Timestamp};
use crate::domain::enums::RiskStatus;
use crate::domain::inputs::{
    CustomFieldCondition, RiskFilter, RiskOrder, RiskOrderField, SortDirection,
};
use crate::domain::validation;
use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use entity::custom_field_value::{self, Column as V};
use entity::{risk, severity};
use sea_orm::sea_query::{Expr, ExprTrait, Func, NullOrdering, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Iterable, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, Value,
};
use serde_json::{Value as Json, json};
use std::sync::Arc;

fn ids<T: AsRef<str>>(list: &[T]) -> Vec<String> {
    list.iter().map(|s| s.as_ref().to_owned()).collect()
}

/// The organization's severities with one of `references`, ignoring case:
/// what the filter `severityReference` names.
fn severities_referenced(org_id: &str, references: &[String]) -> SelectStatement {
    Query::select()
        .column(severity::Column::Id)
        .from(severity::Entity)
        .and_where(severity::Column::OrgId.eq(org_id))
        .and_where(severity::Column::Reference.is_in(references.iter().map(|r| r.to_lowercase())))
        .take()
}

/// The ids of the severities `severityReference` names: a filter that
/// names them by id instead reads the same risks.
pub async fn severity_ids_referenced(
    db: &impl ConnectionTrait,
    org_id: &str,
    references: &[String],
) -> AppResult<Vec<String>> {
    let rows = db
        .query_all(&severities_referenced(org_id, references))
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?)
}

/// The filter and search as one SQL condition, scoped to the organization;
/// `today` is the day `overdue` is judged on. A list too long for one
/// statement, or a search too long to mean anything, is refused.
pub fn condition(
    org_id: &str,
    today: NaiveDate,
    filter: &RiskFilter,
    search: Option<&str>,
) -> AppResult<Condition> {
    use risk::Column as C;
    filter.check()?;
    if let Some(search) = search {
        validation::bounded("search", search, validation::SEARCH_MAX)?;
    }
    let mut cond = Condition::all().add(C::OrgId.eq(org_id));
    let f = filter;
    if let Some(ids) = &f.ids {
        cond = cond.add(risk_tables::with_ids(ids.iter().map(|id| id.as_str())));
    }
    if let Some(id) = &f.register_id {
        cond = cond.add(C::RegisterId.eq(id.as_str()));
    }
    let names_archived = f
        .status
        .as_ref()
        .is_some_and(|s| s.contains(&RiskStatus::Archived));
    if let Some(status) = &f.status {
        cond = cond.add(C::Status.is_in(status.iter().map(|s| s.as_str())));
    }
    if !f.include_archived.unwrap_or(false) && !names_archived {
        // Written into the SQL, not bound: see `limited`.
        let archived = Expr::Constant(RiskStatus::Archived.as_str().into());
        cond = cond.add(Expr::col((risk::Entity, C::Status)).ne(archived));
    }
    if let Some(stage) = &f.stage {
        cond = cond.add(C::Stage.is_in(stage.iter().map(|s| s.as_str())));
    }
    if let Some(treatment) = &f.treatment {
        cond = cond.add(C::Treatment.is_in(treatment.iter().map(|s| s.as_str())));
    }
    let lists: [(C, Option<Vec<String>>); 4] = [
        (C::Category, f.category.clone()),
        (C::Department, f.department.clone()),
        (C::OwnerId, f.owner_id.as_deref().map(ids)),
        (C::SeverityId, f.severity_id.as_deref().map(ids)),
    ];
    for (column, values) in lists {
        if let Some(values) = values {
            cond = cond.add(column.is_in(values));
        }
    }
    if let Some(references) = &f.severity_reference {
        cond = cond.add(C::SeverityId.in_subquery(severities_referenced(org_id, references)));
    }
    let levels: [(C, &Option<Vec<i32>>); 6] = [
        (C::LikelihoodLevel, &f.likelihood_level),
        (C::ImpactLevel, &f.impact_level),
        (C::ResidualLikelihoodLevel, &f.residual_likelihood_level),
        (C::ResidualImpactLevel, &f.residual_impact_level),
        (C::InherentBand, &f.inherent_band),
        (C::ResidualBand, &f.residual_band),
    ];
    for (column, values) in levels {
        if let Some(values) = values {
            cond = cond.add(column.is_in(values.iter().copied()));
        }
    }
    if let Some(min) = f.residual_score_min {
        cond = cond.add(C::ResidualScore.gte(min));
    }
    if let Some(max) = f.residual_score_max {
        cond = cond.add(C::ResidualScore.lte(max));
    }
    if let Some(within) = f.within_tolerance {
        cond = cond.add(C::WithinTolerance.eq(within));
    }
    for (column, value) in [(C::Source, &f.source), (C::SourceId, &f.source_id)] {
        if let Some(value) = value {
            cond = cond.add(Expr::expr(Func::lower(Expr::col(column))).eq(value.to_lowercase()));
        }
    }
    if let Some(Timestamp(since)) = f.updated_since {
        cond = cond.add(C::UpdatedAt.gte(since));
    }
    let spans = [
        (C::CreatedAt, &f.created_at),
        (C::UpdatedAt, &f.updated_at),
        (C::ClosedAt, &f.closed_at),
    ];
    for (column, span) in spans {
        let Some(span) = span else { continue };
        if let Some(Timestamp(from)) = span.from {
            cond = cond.add(column.gte(from));
        }
        if let Some(Timestamp(to)) = span.to {
            cond = cond.add(column.lte(to));
        }
    }
    if let Some(span) = &f.mitigation_target_at {
        if let Some(Date(from)) = span.from {
            cond = cond.add(C::MitigationTargetAt.gte(from));
        }
        if let Some(Date(to)) = span.to {
            cond = cond.add(C::MitigationTargetAt.lte(to));
        }
    }
    if let Some(overdue) = f.overdue {
        let closed = RiskStatus::Closed.as_str();
        cond = cond.add(if overdue {
            Condition::all()
                .add(C::MitigationTargetAt.lt(today))
                .add(C::Status.ne(closed))
        } else {
            // Spelled out: NOT of the above would drop risks without a date.
            Condition::any()
                .add(C::MitigationTargetAt.is_null())
                .add(C::MitigationTargetAt.gte(today))
                .add(C::Status.eq(closed))
        });
    }
    for c in f.custom_fields.as_deref().unwrap_or_default() {
        cond = cond.add(C::Id.in_subquery(with_value(
            org_id,
            c.field_id.as_str(),
            field_condition(c),
        )));
    }
    if let Some(pattern) = search.and_then(super::contains_pattern) {
        let text_values = with_value(
            org_id,
            None,
            Condition::all().add(super::lower_like(V::TextValue, &pattern)),
        );
        cond = cond.add(
            Condition::any()
                .add(super::lower_like(C::Identifier, &pattern))
                .add(super::lower_like(C::Title, &pattern))
                .add(super::lower_like(C::Description, &pattern))
                .add(super::lower_like(C::SourceId, &pattern))
                .add(C::Id.in_subquery(text_values)),
        );
    }
    Ok(cond)
}

/// The risks of the organization with a custom value (of `field`, when
/// given) that meets `condition`.
fn with_value<'a>(
    org_id: &str,
    field: impl Into<Option<&'a str>>,
    condition: Condition,
) -> SelectStatement {
    let mut query = Query::select();
    query
        .column(V::RiskId)
        .from(custom_field_value::Entity)
        .and_where(V::OrgId.eq(org_id))
        .cond_where(condition);
    if let Some(field) = field.into() {
        query.and_where(V::FieldId.eq(field));
    }
    query.take()
}

/// What one custom field condition asks of a value: text or selected
/// option for `equals` and `in`, text for `contains`, number for the bounds.
fn field_condition(c: &CustomFieldCondition) -> Condition {
    let either = |matches: &dyn Fn(V) -> SimpleExpr| {
        Condition::any()
            .add(matches(V::TextValue))
            .add(matches(V::Selection))
    };
    let mut all = Condition::all();
    if let Some(value) = &c.equals {
        all = all.add(either(&|column| Expr::col(column).eq(value.as_str())));
    }
    if let Some(values) = &c.any_of {
        all = all.add(either(&|column| {
            Expr::col(column).is_in(values.iter().map(String::as_str))
        }));
    }
    if let Some(pattern) = c.contains.as_deref().and_then(super::contains_pattern) {
        all = all.add(super::lower_like(V::TextValue, &pattern));
    }
    if let Some(min) = c.min {
        all = all.add(V::NumberValue.gte(min));
    }
    if let Some(max) = c.max {
        all = all.add(V::NumberValue.lte(max));
    }
    all
}

pub async fn count(db: &impl ConnectionTrait, condition: Condition) -> AppResult<u64> {
    let query = risk::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(condition)
        .into_query();
    let counted: Vec<(i64,)> = risk_tables::aggregate(db, query).await?;
    Ok(counted.first().map_or(0, |(n,)| *n as u64))
}

/// A sort key: its column, whether it can be null, and how to read a cursor
/// value back into SQL.
struct Key {
    column: risk::Column,
    ascending: bool,
    /// The column as SQL names it: the id that breaks ties is named on the
    /// table of the key before it (`risk_tables::id_beside`).
    sql: Expr,
}

impl Key {
    fn new(column: risk::Column, ascending: bool) -> Self {
        Self {
            column,
            ascending,
            sql: Expr::col(column),
        }
    }

    fn nullable(&self) -> bool {
        matches!(
            self.column,
            risk::Column::InherentScore
                | risk::Column::ResidualScore
                | risk::Column::MitigationTargetAt
        )
    }

    /// The row's value of this key, as its cursor holds it.
    fn cursor_value(&self, risk: &risk::Model) -> Json {
        use risk::Column as C;
        match self.column {
            C::Identifier => Json::from(risk.identifier.as_str()),
            C::Title => Json::from(risk.title.as_str()),
            C::CreatedAt => json!(risk.created_at),
            C::UpdatedAt => json!(risk.updated_at),
            C::InherentScore => Json::from(risk.inherent_score),
            C::ResidualScore => Json::from(risk.residual_score),
            C::MitigationTargetAt => json!(risk.mitigation_target_at),
            C::Id => Json::from(risk.id.as_str()),
            // `keys` makes no other.
            _ => Json::Null,
        }
    }

    /// A cursor's JSON value as a typed SQL value; None for null.
    fn sql_value(&self, json: &Json) -> Option<Option<Value>> {
        if json.is_null() {
            return Some(None);
        }
        let value = match self.column {
            risk::Column::InherentScore | risk::Column::ResidualScore => {
                Value::from(json.as_f64()?)
            }
            risk::Column::CreatedAt | risk::Column::UpdatedAt => {
                Value::from(json.as_str()?.parse::<DateTime<Utc>>().ok()?)
            }
            risk::Column::MitigationTargetAt => {
                Value::from(json.as_str()?.parse::<NaiveDate>().ok()?)
            }
            _ => Value::from(json.as_str()?.to_owned()),
        };
        Some(Some(value))
    }
}

fn keys(order: &[RiskOrder]) -> Vec<Key> {
    let mut keys: Vec<Key> = order
        .iter()
        .map(|o| {
            let column = match o.field {
                RiskOrderField::Identifier => risk::Column::Identifier,
                RiskOrderField::Title => risk::Column::Title,
                RiskOrderField::CreatedAt => risk::Column::CreatedAt,
                RiskOrderField::UpdatedAt => risk::Column::UpdatedAt,
                RiskOrderField::InherentScore => risk::Column::InherentScore,
                RiskOrderField::ResidualScore => risk::Column::ResidualScore,
                RiskOrderField::MitigationTargetAt => risk::Column::MitigationTargetAt,
            };
            Key::new(column, o.direction == SortDirection::Asc)
        })
        .collect();
    if keys.is_empty() {
        keys.push(Key::new(risk::Column::CreatedAt, true));
    }
    // The tiebreak runs the way the last key does, on that key's table, so
    // that one index of (register, key, id) serves the whole order in
    // either direction.
    let last = keys.last().expect("one key at least");
    let sql = risk_tables::id_beside(last.column);
    let ascending = last.ascending;
    keys.push(Key {
        sql,
        ..Key::new(risk::Column::Id, ascending)
    });
    keys
}

/// The cursor of a row: its sort keys' values, and nothing else of it.
fn encode_cursor(keys: &[Key], risk: &risk::Model) -> String {
    let values: Vec<Json> = keys.iter().map(|k| k.cursor_value(risk)).collect();
    URL_SAFE_NO_PAD.encode(Json::from(values).to_string())
}

fn decode_cursor(keys: &[Key], cursor: &str, field: &str) -> AppResult<Vec<Option<Value>>> {
    let bad = || AppError::bad_input(field, "not a cursor of this query");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let values: Vec<Json> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if values.len() != keys.len() {
        return Err(bad());
    }
    keys.iter()
        .zip(&values)
        .map(|(k, v)| k.sql_value(v).ok_or_else(bad))
        .collect()
}

/// Rows strictly after the cursor in the order the query runs: `forward` is
/// the requested order with nulls last; backward is its reverse.
fn past_cursor(keys: &[Key], values: &[Option<Value>], forward: bool) -> Condition {
    let never = || SimpleExpr::from(Expr::cust("1 = 0"));
    let mut any = Condition::any();
    for (k, key) in keys.iter().enumerate() {
        let mut all = Condition::all();
        for (prev, value) in keys[..k].iter().zip(values) {
            all = all.add(match value {
                Some(v) => prev.sql.clone().eq(v.clone()),
                None => prev.sql.clone().is_null(),
            });
        }
        let ascending = key.ascending == forward;
        let nulls_last = forward;
        let col = key.sql.clone();
        let beyond: Condition = match &values[k] {
            Some(v) => {
                let cmp = if ascending {
                    col.clone().gt(v.clone())
                } else {
                    col.clone().lt(v.clone())
                };
                let mut c = Condition::any().add(cmp);
                if nulls_last && key.nullable() {
                    c = c.add(col.is_null());
                }
                c
            }
            None if nulls_last => Condition::all().add(never()),
            None => Condition::all().add(col.is_not_null()),
        };
        any = any.add(all.add(beyond));
    }
    any
}

/// The cursor's side as a range that an index scan can start from: to a
/// planner, `past_cursor`'s disjunction is only a filter, and a page deep
/// into a register would read every row before it. A range on the first key
/// alone still read every row that ties with the cursor there, and scores
/// tie by the thousand: 15.7 ms for a page 30,000 risks deep, against
/// 0.4 ms with the row comparison.
///
/// So the range compares, as one row, the keys from the first on that run
/// the first key's way and hold a value in the cursor, which the index of
/// (register, key, id) serves; a key that can be null ends it after the
/// first, since a comparison with a null matches nothing. Strict when it
/// covers every key (it is then exactly the rows past the cursor, and
/// `past_cursor` is left out: its disjunction only blurs the planner's
/// estimate, enough to keep PostgreSQL planning each deep page afresh),
/// inclusive when it covers fewer. None when the cursor has no value of the
/// first key. Only for rows with a value of the first key: past a cursor
/// going forward lie the nulls too.
fn seek(keys: &[Key], values: &[Option<Value>], forward: bool) -> Option<Seek> {
    let first = keys.first()?;
    let run: Vec<(&Key, &Value)> = keys
        .iter()
        .zip(values)
        .enumerate()
        .map_while(|(i, (key, value))| {
            let joins = key.ascending == first.ascending && (i == 0 || !key.nullable());
            Some((key, value.as_ref().filter(|_| joins)?))
        })
        .collect();
    if run.is_empty() {
        return None;
    }
    let columns = Expr::tuple(run.iter().map(|(key, _)| key.sql.clone()));
    let cursor = Expr::tuple(run.iter().map(|(_, value)| Expr::val((*value).clone())));
    let exact = run.len() == keys.len();
    let range = match (first.ascending == forward, exact) {
        (true, true) => columns.gt(cursor),
        (true, false) => columns.gte(cursor),
        (false, true) => columns.lt(cursor),
        (false, false) => columns.lte(cursor),
    };
    Some(Seek { range, exact })
}

/// A cursor's range over the rows with a value of the first key.
struct Seek {
    range: SimpleExpr,
    /// Exactly the rows past the cursor, not a superset of them.
    exact: bool,
}

fn ordered(mut query: Select<risk::Entity>, keys: &[Key], forward: bool) -> Select<risk::Entity> {
    for key in keys {
        let ascending = key.ascending == forward;
        let order = if ascending { Order::Asc } else { Order::Desc };
        query = if key.nullable() {
            let nulls = if forward {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            query.order_by_with_nulls(key.sql.clone(), order, nulls)
        } else {
            query.order_by(key.sql.clone(), order)
        };
    }
    query
}

/// Up to `limit` rows that `condition` matches past the cursor (from the
/// start without one), in the order the query runs.
///
/// A nullable first key sorts nulls last both ways, which one index of
/// (register, key, id) cannot give in both directions: it serves its values
/// one way and the nulls the other. So such an order runs as two queries,
/// each over one side of the key and each in the index's own order read
/// forward or backward: the rows with a value, then the nulls while the page
/// is not full (backward, the other way round). A page that its first query
/// fills costs one statement, as before; and no second index per key has to
/// be written on every change of a risk.
async fn run(
    db: &impl ConnectionTrait,
    condition: Condition,
    read: Read,
    keys: &[Key],
    cursor: Option<&[Option<Value>]>,
    forward: bool,
    limit: u64,
) -> AppResult<Vec<risk::Model>> {
    let query = risk::Entity::find().filter(condition);
    let query = if read == whole_rows() {
        query
    } else {
        let columns = risk::Column::iter().filter(|c| read.has(*c as usize));
        query.select_only().columns(columns)
    };
    let past = cursor.map(|values| past_cursor(keys, values, forward));
    // Past the cursor: its range, with the exact condition beside a range
    // that holds more.
    let beyond = |query: Select<risk::Entity>, bound: Option<Seek>| match bound {
        Some(Seek { range, exact: true }) => query.filter(range),
        Some(Seek { range, .. }) => query
            .filter(range)
            .apply_if(past.clone(), QueryFilter::filter),
        None => query.apply_if(past.clone(), QueryFilter::filter),
    };
    // The rows with a value of the first key, past the cursor.
    let valued = |query| beyond(query, cursor.and_then(|values| seek(keys, values, forward)));
    let Some(key) = keys.first().filter(|k| k.nullable()) else {
        return limited(ordered(valued(query), keys, forward), limit, read, db).await;
    };
    let order = if key.ascending == forward {
        Order::Asc
    } else {
        Order::Desc
    };
    let side = |with_value: bool| {
        let column = key.sql.clone();
        let side = if with_value {
            valued(query.clone().filter(column.is_not_null()))
        } else {
            // A cursor among the nulls is a range of the keys after the
            // first, which the same index serves there. SQLite searched
            // without it, from the first null: a page 90,000 risks deep
            // into those with no target date took 17 ms, 3 ms with it.
            let among = cursor.filter(|values| values.first().is_some_and(Option::is_none));
            let bound = among.and_then(|values| seek(&keys[1..], &values[1..], forward));
            beyond(query.clone().filter(column.is_null()), bound)
        };
        ordered(
            side.order_by(key.sql.clone(), order.clone()),
            &keys[1..],
            forward,
        )
    };
    // Values come first going forward, nulls first going backward. A cursor
    // already past that first side (among the nulls going forward, among the
    // values going backward) leaves nothing of it to read; its query would
    // still scan the whole side only to filter every row out.
    let past_first = cursor.is_some_and(|v| v.first().is_some_and(Option::is_some) != forward);
    let mut rows = if past_first {
        Vec::new()
    } else {
        limited(side(forward), limit, read, db).await?
    };
    let filled = rows.len() as u64;
    if filled < limit {
        rows.extend(limited(side(!forward), limit - filled, read, db).await?);
    }
    Ok(rows)
}

/// Up to `limit` rows of `query`, the limit written into the SQL rather
/// than bound (`store::write_limit`), as is the condition that leaves
/// archived risks out: bound, `status <> $n` read to PostgreSQL's generic
/// planner as matching nothing where all risks share one status. Written
/// in, the generic plan walks the order's index as each fresh plan does.
async fn limited(
    query: Select<risk::Entity>,
    limit: u64,
    read: Read,
    db: &impl ConnectionTrait,
) -> AppResult<Vec<risk::Model>> {
    let mut statement = query.build(db.get_database_backend());
    super::write_limit(&mut statement, limit);
    Ok(positional::rows(statement, read, db).await?)
}

fn whole_rows() -> Read {
    Read::all(risk::Model::WIDTH)
}

/// What a page reads of its risks: the columns its fields ask for (every
/// column when `asked` is None), the ids every risk carries to the loaders
/// and checks, and the sort keys its cursors are written from. A page of
/// eight fields read whole rows of 52 columns: a third of PostgreSQL's time
/// on the statement went to forming and sending columns nobody asked for,
/// and a twentieth of ours to decoding them. A column's place is its
/// discriminant: the entity declares its columns in the model's order, which
/// `positional`'s test holds.
fn read_for(asked: Option<&[risk::Column]>, keys: &[Key]) -> Read {
    let Some(asked) = asked else {
        return whole_rows();
    };
    let ids = [
        risk::Column::Id,
        risk::Column::OrgId,
        risk::Column::RegisterId,
    ];
    let keys = keys.iter().map(|k| k.column);
    Read::of(
        asked
            .iter()
            .copied()
            .chain(ids)
            .chain(keys)
            .map(|c| c as usize),
    )
}

/// Every risk a condition matches, in order, a batch at a time: how an
/// export walks a register without holding it in memory. Each batch starts
/// past the last row of the one before, as a cursor would.
pub struct Batches {
    condition: Condition,
    keys: Vec<Key>,
    after: Option<Vec<Option<Value>>>,
    size: u64,
    done: bool,
}

impl Batches {
    pub fn new(condition: Condition, order: &[RiskOrder], size: u64) -> Self {
        Self {
            condition,
            keys: keys(order),
            after: None,
            size,
            done: false,
        }
    }

    /// The next batch; None once every row has been read.
    pub async fn next(&mut self, db: &impl ConnectionTrait) -> AppResult<Option<Vec<risk::Model>>> {
        if self.done {
            return Ok(None);
        }
        let rows = run(
            db,
            self.condition.clone(),
            whole_rows(),
            &self.keys,
            self.after.as_deref(),
            true,
            self.size,
        )
        .await?;
        self.done = (rows.len() as u64) < self.size;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(
            self.keys
                .iter()
                .map(|k| k.sql_value(&k.cursor_value(last)).flatten())
                .collect(),
        );
        Ok(Some(rows))
    }
}

/// Relay pagination arguments.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

pub struct Page {
    /// Shared, not copied, with the answer's nodes.
    pub risks: Vec<Arc<risk::Model>>,
    keys: Vec<Key>,
    pub has_next: bool,
    pub has_previous: bool,
}

impl Page {
    /// `risk`'s cursor, written only when an answer asks for it.
    pub fn cursor(&self, risk: &risk::Model) -> String {
        encode_cursor(&self.keys, risk)
    }
}

/// A page of the risks `condition` matches, reading the columns `asked`
/// for (see `read_for`). An answer that shows nothing of the page (a
/// `totalCount` alone: not `shown`) has its arguments checked and reads no
/// row.
pub async fn page(
    db: &impl ConnectionTrait,
    condition: Condition,
    (asked, shown): (Option<&[risk::Column]>, bool),
    order: &[RiskOrder],
    args: PageArgs,
    limits: &Limits,
) -> AppResult<Page> {
    let keys = keys(order);
    let read = read_for(asked, &keys);
    let forward = args.last.is_none() && args.before.is_none();
    if (args.first.is_some() || args.after.is_some()) && !forward {
        return Err(AppError::bad_input(
            "last",
            "page forward with first/after or backward with last/before, not both",
        ));
    }
    let (field, given) = match args.last {
        Some(n) => ("last", Some(n)),
        None => ("first", args.first),
    };
    let default = limits.default_page_size;
    let size = validation::page_size(field, given, default, limits.max_page_size)?;
    let cursor = match (&args.after, &args.before) {
        (Some(c), _) => Some(decode_cursor(&keys, c, "after")?),
        (_, Some(c)) => Some(decode_cursor(&keys, c, "before")?),
        _ => None,
    };
    if !shown {
        return Ok(Page {
            risks: Vec::new(),
            keys,
            has_next: false,
            has_previous: false,
        });
    }
    let mut rows = run(
        db,
        condition,
        read,
        &keys,
        cursor.as_deref(),
        forward,
        size + 1,
    )
    .await?;
    let more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    if !forward {
        rows.reverse();
    }
    let risks = rows.into_iter().map(Arc::new).collect();
    // Past a cursor there is something on the other side; counting it exactly
    // would cost another query, which the Relay spec lets us skip.
    let (has_next, has_previous) = if forward {
        (more, cursor.is_some())
    } else {
        (cursor.is_some(), more)
    };
    Ok(Page {
        risks,
        keys,
        has_next,
        has_previous,
    })
}
