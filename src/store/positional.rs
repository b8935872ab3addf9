//! Rows read by position, for the tables read many rows at a time. SeaORM's
//! derived decoding finds each column by name and, for every NULL one,
//! formats an error message that its `Option` path then drops: a page of 50
//! risks and their custom values formatted about two thousand, and a remap
//! decodes 100,000 risks. Here each column is read at its place in the
//! SELECT that `Entity::find()` writes, which lists the model's fields in
//! order; the values are decoded by the same driver calls.

use sea_orm::sqlx::postgres::{PgRow, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteRow};
use sea_orm::sqlx::{self, Decode, Row, Type};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, QueryTrait, RuntimeErr,
    Statement,
};
use std::sync::Arc;

/// A column type both drivers decode.
pub trait Cell:
    for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}
impl<T> Cell for T where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}

/// A row of either driver.
#[derive(Clone, Copy)]
pub enum AnyRow<'a> {
    Postgres(&'a PgRow),
    Sqlite(&'a SqliteRow),
}

impl AnyRow<'_> {
    fn of(res: &QueryResult) -> Option<AnyRow<'_>> {
        match (res.try_as_pg_row(), res.try_as_sqlite_row()) {
            (Some(row), _) => Some(AnyRow::Postgres(row)),
            (_, Some(row)) => Some(AnyRow::Sqlite(row)),
            _ => None,
        }
    }

    fn len(self) -> usize {
        match self {
            AnyRow::Postgres(row) => row.len(),
            AnyRow::Sqlite(row) => row.len(),
        }
    }

    /// The column at `index`, decoded as SeaORM would.
    pub fn get<T: Cell>(self, index: usize) -> Result<T, sqlx::Error> {
        match self {
            AnyRow::Postgres(row) => row.try_get(index),
            AnyRow::Sqlite(row) => row.try_get(index),
        }
    }
}

/// Which of a model's columns a select reads, by their place in the model
/// (at most 64; a risk has 52).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read(u64);

impl Read {
    /// Every column of a model `width` wide.
    pub fn all(width: usize) -> Self {
        Self(u64::MAX >> (64 - width))
    }

    /// The columns at these places.
    pub fn of(places: impl IntoIterator<Item = usize>) -> Self {
        Self(places.into_iter().fold(0, |read, place| read | 1 << place))
    }

    pub fn has(self, place: usize) -> bool {
        self.0 & 1 << place != 0
    }

    fn width(self) -> usize {
        self.0.count_ones() as usize
    }
}

/// A model whose columns are read by position.
pub trait Positional: Sized {
    /// How many columns a whole row has.
    const WIDTH: usize;

    /// Reads the columns of `read`, which the row holds in the model's order;
    /// every other field keeps its default.
    fn decode(row: AnyRow<'_>, read: Read) -> Result<Self, sqlx::Error>;
}

/// A row of the columns of `read`, decoded by position. A whole-row select
/// whose row is of another width (a select of fewer columns) is decoded by
/// name, as SeaORM does, rather than with shifted fields.
fn decode<M: Positional + FromQueryResult>(res: &QueryResult, read: Read) -> Result<M, DbErr> {
    match AnyRow::of(res) {
        Some(row) if row.len() == read.width() => {
            M::decode(row, read).map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))
        }
        _ if read == Read::all(M::WIDTH) => M::from_query_result(res, ""),
        _ => Err(DbErr::Type(format!(
            "a row of {} columns where {} were selected",
            res.column_names().len(),
            read.width()
        ))),
    }
}

/// The rows a select of whole rows returns, decoded by position into a
/// list made at its final size: a fallible `collect` cannot know the size,
/// and growing a list of 100,000 risks by doubling copied it into fresh
/// pages again and again (two fifths of a remap's decoding time).
pub async fn all<E>(
    select: sea_orm::Select<E>,
    db: &impl ConnectionTrait,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
{
    let statement = db.get_database_backend().build(&select.into_query());
    rows(statement, Read::all(E::Model::WIDTH), db).await
}

/// The rows a statement of the columns of `read`, in the model's order,
/// returns.
pub async fn rows<M: Positional + FromQueryResult>(
    statement: Statement,
    read: Read,
    db: &impl ConnectionTrait,
) -> Result<Vec<M>, DbErr> {
    let rows = db.query_all_raw(statement).await?;
    let mut models = Vec::with_capacity(rows.len());
    // Each row's buffer is freed once decoded, for the next models to reuse.
    for row in rows {
        models.push(decode(&row, read)?);
    }
    Ok(models)
}

/// Declares a model's fields once, in the order of its columns, for its
/// decoder and for a test that holds them against the entity's columns.
macro_rules! positional {
    ($test:ident, $model:ident { $($field:ident),* $(,)? }) => {
        impl Positional for entity::$model::Model {
            const WIDTH: usize = [$(stringify!($field)),*].len();

            fn decode(row: AnyRow<'_>, read: Read) -> Result<Self, sqlx::Error>
            {
                let (mut place, mut at) = (0, 0);
                // Fields are evaluated in the order written, the SELECT's.
                Ok(Self { $($field: {
                    place += 1;
                    if read.has(place - 1) {
                        at += 1;
                        row.get(at - 1)?
                    } else {
                        Default::default()
                    }
                }),* })
            }
        }

        #[cfg(test)]
        #[test]
        fn $test() {
            use sea_orm::{IdenStatic, Iterable};
            let selected: Vec<&str> = entity::$model::Column::iter().map(|c| c.as_str()).collect();
            assert_eq!(selected, [$(stringify!($field)),*]);
        }
    };
}

positional!(
    risks_are_read_in_the_order_a_select_lists_them,
    risk {
        id,
        org_id,
        register_id,
        identifier,
        title,
        description,
        category,
        department,
        status,
        stage,
        closure_reason,
        closed_at,
        severity_id,
        owner_id,
        likelihood_level,
        impact_level,
        likelihood_rationale,
        impact_rationale,
        residual_likelihood_override,
        residual_impact_override,
        residual_override_reason,
        residual_overridden_by,
        residual_overridden_at,
        tolerance_level,
        treatment,
        treatment_description,
        treatment_rationale,
        mitigation_target_at,
        notes,
        source,
        source_id,
        inherent_score,
        inherent_band,
        residual_likelihood_level,
        residual_impact_level,
        residual_likelihood_value,
        residual_impact_value,
        residual_score,
        residual_band,
        residual_overridden,
        target_likelihood_level,
        target_impact_level,
        target_likelihood_value,
        target_impact_value,
        target_score,
        target_band,
        within_tolerance,
        version,
        created_at,
        created_by,
        updated_at,
        updated_by,
    }
);

positional!(
    custom_values_are_read_in_the_order_a_select_lists_them,
    custom_field_value {
        risk_id,
        field_id,
        org_id,
        text_value,
        number_value,
        boolean_value,
        date_value,
        user_id,
        selection,
        selections,
    }
);
