//! DataLoaders: every nested field that can fan out loads through one of
//! these, so a page of risks costs a handful of statements, not one per row.
//! Each request gets its own set, scoped to the caller's organization.

use crate::error::AppError;
use crate::store::OrgScoped;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::runtime::{TokioSpawner, TokioTimer};
use entity::{custom_field_definition, custom_field_value, member, register, severity};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::marker::PhantomData;

/// Rows of one table by id.
pub struct ById<E> {
    db: DatabaseConnection,
    org_id: String,
    entity: PhantomData<E>,
}

impl<E> Loader<String> for ById<E>
where
    E: OrgScoped + Send + Sync + 'static,
    E::Model: Send + Sync + Clone + 'static,
{
    type Value = E::Model;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, E::Model>, AppError> {
        let rows = E::find()
            .filter(E::id_column().is_in(keys.iter().map(String::as_str)))
            .filter(E::org_column().eq(self.org_id.as_str()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (E::id_of(&row).to_owned(), row))
            .collect())
    }
}

/// The custom field values of each risk.
pub struct ValuesByRisk {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for ValuesByRisk {
    type Value = Vec<custom_field_value::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        let rows = custom_field_value::Entity::find()
            .filter(custom_field_value::Column::RiskId.is_in(keys.iter().map(String::as_str)))
            .filter(custom_field_value::Column::OrgId.eq(self.org_id.as_str()))
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<String, Self::Value> = HashMap::new();
        for row in rows {
            grouped.entry(row.risk_id.clone()).or_default().push(row);
        }
        Ok(grouped)
    }
}

/// The custom field definitions of each register, in position order.
pub struct FieldsByRegister {
    db: DatabaseConnection,
    org_id: String,
}

impl Loader<String> for FieldsByRegister {
    type Value = Vec<custom_field_definition::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, AppError> {
        use custom_field_definition::Column as C;
        let rows = custom_field_definition::Entity::find()
            .filter(C::RegisterId.is_in(keys.iter().map(String::as_str)))
            .filter(C::OrgId.eq(self.org_id.as_str()))
            .order_by_asc(C::Position)
            .order_by_asc(C::Name)
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<String, Self::Value> = HashMap::new();
        for row in rows {
            grouped.entry(row.register_id.clone()).or_default().push(row);
        }
        Ok(grouped)
    }
}

fn loader<T: Loader<String>>(inner: T) -> DataLoader<T> {
    DataLoader::new(inner, TokioSpawner::current(), TokioTimer::default())
}

pub struct Loaders {
    pub members: DataLoader<ById<member::Entity>>,
    pub severities: DataLoader<ById<severity::Entity>>,
    pub registers: DataLoader<ById<register::Entity>>,
    pub fields: DataLoader<ById<custom_field_definition::Entity>>,
    pub values: DataLoader<ValuesByRisk>,
    pub fields_by_register: DataLoader<FieldsByRegister>,
}

fn by_id<E>(db: &DatabaseConnection, org_id: &str) -> DataLoader<ById<E>>
where
    E: OrgScoped + Send + Sync + 'static,
    E::Model: Send + Sync + Clone + 'static,
{
    loader(ById {
        db: db.clone(),
        org_id: org_id.to_owned(),
        entity: PhantomData,
    })
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, org_id: &str) -> Self {
        Self {
            members: by_id(db, org_id),
            severities: by_id(db, org_id),
            registers: by_id(db, org_id),
            fields: by_id(db, org_id),
            values: loader(ValuesByRisk {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
            fields_by_register: loader(FieldsByRegister {
                db: db.clone(),
                org_id: org_id.to_owned(),
            }),
        }
    }
}
