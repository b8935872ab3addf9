//! A register's risks as spreadsheet rows, read a batch at a time so that an
//! export of any size holds one batch in memory. Batches are separate reads:
//! a risk changed during a long export shows as it was when its batch was
//! read.

use super::custom_fields::{self, value_of};
use super::find;
use super::risk_query::{self, Batches};
use crate::domain::custom_fields::FieldValue;
use crate::domain::inputs::{RiskFilter, RiskOrder};
use crate::domain::risk_csv::{self, CustomColumn, Names};
use crate::domain::scales::Scales;
use crate::error::AppResult;
use chrono::NaiveDate;
use entity::{custom_field_value, member, register, severity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;

/// Rows read per statement.
pub const BATCH: u64 = 1000;

pub struct Export {
    pub register: register::Model,
    org_id: String,
    scales: Scales,
    custom: Vec<CustomColumn>,
    severities: HashMap<String, String>,
    batches: Batches,
}

/// The risks of `register_id` that `filter` and `search` select, in `order`;
/// NOT_FOUND for a register the caller does not have.
pub async fn open(
    db: &impl ConnectionTrait,
    org_id: &str,
    register_id: &str,
    (mut filter, search, order): (RiskFilter, Option<&str>, &[RiskOrder]),
    today: NaiveDate,
) -> AppResult<Export> {
    let register = find::<register::Entity>(db, org_id, register_id).await?;
    filter.register_id = Some(register.id.clone().into());
    let condition = risk_query::condition(org_id, today, &filter, search)?;
    let severities: Vec<(String, String)> = severity::Entity::find()
        .select_only()
        .columns([severity::Column::Id, severity::Column::Reference])
        .filter(severity::Column::OrgId.eq(org_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Export {
        scales: Scales::of(&register)?,
        custom: custom_fields::columns(db, &register.id).await?,
        severities: severities.into_iter().collect(),
        batches: Batches::new(condition, order, BATCH),
        org_id: org_id.to_owned(),
        register,
    })
}

impl Export {
    pub fn header(&self) -> Vec<String> {
        risk_csv::header(&self.custom)
    }

    /// For each column, whether it holds numbers.
    pub fn numeric(&self) -> Vec<bool> {
        risk_csv::numeric(&self.custom)
    }

    /// The next batch of rows; None at the end.
    pub async fn rows(&mut self, db: &impl ConnectionTrait) -> AppResult<Option<Vec<Vec<String>>>> {
        let Some(risks) = self.batches.next(db).await? else {
            return Ok(None);
        };
        let ids: Vec<&str> = risks.iter().map(|r| r.id.as_str()).collect();
        let mut values: HashMap<String, HashMap<String, FieldValue>> = HashMap::new();
        if !self.custom.is_empty() {
            let types: HashMap<&str, _> = self
                .custom
                .iter()
                .map(|c| (c.field_id.as_str(), c.field_type))
                .collect();
            let rows = custom_field_value::Entity::find()
                .filter(custom_field_value::Column::RiskId.is_in(ids.iter().copied()));
            let rows = super::positional::all(rows, db).await?;
            for row in rows {
                let Some(field_type) = types.get(row.field_id.as_str()) else {
                    continue;
                };
                if let Some(value) = value_of(&row, *field_type)? {
                    values
                        .entry(row.risk_id.clone())
                        .or_default()
                        .insert(row.field_id.clone(), value);
                }
            }
        }
        let mut people: Vec<&str> = risks.iter().filter_map(|r| r.owner_id.as_deref()).collect();
        for value in values.values().flat_map(HashMap::values) {
            if let FieldValue::User(id) = value {
                people.push(id);
            }
        }
        let members = contacts(db, &self.org_id, people).await?;
        let names = Names {
            scales: &self.scales,
            severities: &self.severities,
            members: &members,
        };
        Ok(Some(
            risks
                .iter()
                .map(|r| names.row(r, &self.custom, values.get(&r.id)))
                .collect(),
        ))
    }
}

/// How the file names members: by email, or by subject when they have none
/// (the two an import accepts).
async fn contacts(
    db: &impl ConnectionTrait,
    org_id: &str,
    mut ids: Vec<&str>,
) -> AppResult<HashMap<String, String>> {
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Option<String>, String)> = super::member_names(org_id)
        .filter(member::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, email, subject)| (id, email.unwrap_or(subject)))
        .collect())
}
