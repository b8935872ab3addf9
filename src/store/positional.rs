//! Rows read by position, for the tables read many rows at a time. SeaORM's
//! derived decoding finds each column by name and, for every NULL one,
//! formats an error message that its `Option` path then drops: a page of 50
//! risks and their custom values formatted about two thousand, and a remap
//! decodes 100,000 risks. Here each column is read at its place in the
//! SELECT that `Entity::find()` writes, which lists the model's fields in
//! order; the values are decoded by the same driver calls.

use sea_orm::sqlx::{self, ColumnIndex, Decode, Row, Type};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, RuntimeErr};
use std::sync::Arc;

/// A model whose columns are all read by position.
pub trait Positional: Sized {
    /// How many columns a whole row has.
    const WIDTH: usize;

    fn decode<'r, R>(row: &'r R) -> Result<Self, sqlx::Error>
    where
        R: Row,
        usize: ColumnIndex<R>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        i32: Decode<'r, R::Database> + Type<R::Database>,
        f64: Decode<'r, R::Database> + Type<R::Database>,
        bool: Decode<'r, R::Database> + Type<R::Database>,
        chrono::DateTime<chrono::Utc>: Decode<'r, R::Database> + Type<R::Database>,
        chrono::NaiveDate: Decode<'r, R::Database> + Type<R::Database>;
}

/// A model decoded by position.
struct ByPosition<M>(M);

impl<M: Positional + FromQueryResult> FromQueryResult for ByPosition<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let read = match (res.try_as_pg_row(), res.try_as_sqlite_row()) {
            (Some(row), _) if pre.is_empty() && row.len() == M::WIDTH => M::decode(row),
            (_, Some(row)) if pre.is_empty() && row.len() == M::WIDTH => M::decode(row),
            // Another shape of query: by name, as SeaORM does.
            _ => return M::from_query_result(res, pre).map(Self),
        };
        read.map(Self)
            .map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))
    }
}

/// The rows a select of whole rows returns, decoded by position.
pub async fn all<E>(
    select: sea_orm::Select<E>,
    db: &impl ConnectionTrait,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Positional,
{
    let rows = select.into_model::<ByPosition<E::Model>>().all(db).await?;
    Ok(rows.into_iter().map(|ByPosition(model)| model).collect())
}

/// Declares a model's fields once, in the order of its columns, for its
/// decoder and for a test that holds them against the entity's columns.
macro_rules! positional {
    ($test:ident, $model:ident { $($field:ident),* $(,)? }) => {
        impl Positional for entity::$model::Model {
            const WIDTH: usize = [$(stringify!($field)),*].len();

            fn decode<'r, R>(row: &'r R) -> Result<Self, sqlx::Error>
            where
                R: Row,
                usize: ColumnIndex<R>,
                String: Decode<'r, R::Database> + Type<R::Database>,
                i32: Decode<'r, R::Database> + Type<R::Database>,
                f64: Decode<'r, R::Database> + Type<R::Database>,
                bool: Decode<'r, R::Database> + Type<R::Database>,
                chrono::DateTime<chrono::Utc>: Decode<'r, R::Database> + Type<R::Database>,
                chrono::NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
            {
                let mut at = 0;
                let mut next = || {
                    at += 1;
                    at - 1
                };
                // Fields are evaluated in the order written, the SELECT's.
                Ok(Self { $($field: row.try_get(next())?),* })
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
