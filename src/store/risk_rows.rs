//! Risk rows read by position. SeaORM's derived decoding finds each column
//! by name and, for every NULL one, formats an error message that its
//! `Option` path then drops: a page of 50 risks formatted about a thousand,
//! and a remap decodes 100,000 rows. Here each column is read at its place
//! in the SELECT that `risk::Entity::find()` writes, which lists the
//! model's fields in order; the values are decoded by the same driver calls.

use entity::risk;
use sea_orm::sqlx::{self, ColumnIndex, Decode, Row, Type};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, QueryResult, RuntimeErr, Select};
use std::sync::Arc;

/// A risk decoded by column position (see the module's note).
struct Positional(risk::Model);

/// Declares the model's fields once, for both the decoder and the list a
/// test holds against the entity's columns.
macro_rules! positional {
    ($($field:ident),* $(,)?) => {
        /// The columns in the order `decode` reads them.
        #[cfg(test)]
        const COLUMNS: &[&str] = &[$(stringify!($field)),*];
        const WIDTH: usize = [$(stringify!($field)),*].len();

        fn decode<'r, R>(row: &'r R) -> Result<risk::Model, sqlx::Error>
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
            Ok(risk::Model { $($field: row.try_get(next())?),* })
        }
    };
}

positional!(
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
);

impl FromQueryResult for Positional {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let read = match (res.try_as_pg_row(), res.try_as_sqlite_row()) {
            (Some(row), _) if pre.is_empty() && row.len() == WIDTH => decode(row),
            (_, Some(row)) if pre.is_empty() && row.len() == WIDTH => decode(row),
            // Another shape of query: by name, as SeaORM does.
            _ => return risk::Model::from_query_result(res, pre).map(Self),
        };
        read.map(Self)
            .map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))
    }
}

/// The risks a select of whole rows returns, decoded by position.
pub async fn all(
    select: Select<risk::Entity>,
    db: &impl ConnectionTrait,
) -> Result<Vec<risk::Model>, DbErr> {
    let rows = select.into_model::<Positional>().all(db).await?;
    Ok(rows.into_iter().map(|Positional(risk)| risk).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{IdenStatic, Iterable};

    #[test]
    fn the_decoder_reads_the_columns_in_the_order_a_select_lists_them() {
        let selected: Vec<&str> = risk::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(selected, COLUMNS);
    }
}
