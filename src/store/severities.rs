//! Severities, the 4me way: a reference derived from the name and unique per
//! organization, ordered by position then name; disabled instead of deleted
//! once in use.

use super::find_for_update;
use super::{Actor, ensure_free};
use crate::domain::identifiers::{Kind, new_id};
use crate::domain::inputs::{CreateSeverityInput, SeverityFilter, UpdateSeverityInput};
use crate::domain::validation::{
    self, NAME_MAX, SEVERITY_DESCRIPTION_MAX, SOURCE_ID_MAX, SOURCE_MAX,
};
use crate::error::{AppError, AppResult};
use async_graphql::MaybeUndefined;
use entity::{risk, severity};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

pub async fn list(
    Actor { db, principal, .. }: Actor<'_>,
    filter: SeverityFilter,
) -> AppResult<Vec<severity::Model>> {
    let mut query = severity::Entity::find().filter(severity::Column::OrgId.eq(&principal.org_id));
    if let Some(disabled) = filter.disabled {
        query = query.filter(severity::Column::Disabled.eq(disabled));
    }
    if let Some(name) = filter.name.filter(|n| !n.is_empty()) {
        let pattern = format!("%{}%", name.to_lowercase());
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(severity::Column::Name))).like(&pattern))
                .add(Expr::col(severity::Column::Reference).like(&pattern)),
        );
    }
    if let Some(source) = filter.source {
        query = query.filter(severity::Column::Source.eq(source));
    }
    if let Some(source_id) = filter.source_id {
        query = query.filter(severity::Column::SourceId.eq(source_id));
    }
    Ok(query
        .order_by_asc(severity::Column::Position)
        .order_by_asc(severity::Column::Name)
        .order_by_asc(severity::Column::Id)
        .all(db)
        .await?)
}

fn check(
    name: Option<&str>,
    description: Option<&str>,
    information: Option<&str>,
    source: Option<&str>,
    source_id: Option<&str>,
) -> AppResult<()> {
    if let Some(name) = name {
        validation::required("name", name, NAME_MAX)?;
    }
    if let Some(d) = description {
        validation::bounded("description", d, SEVERITY_DESCRIPTION_MAX)?;
    }
    if let Some(i) = information {
        validation::long_text("information", i)?;
    }
    if let Some(s) = source {
        validation::bounded("source", s, SOURCE_MAX)?;
    }
    if let Some(s) = source_id {
        validation::bounded("sourceId", s, SOURCE_ID_MAX)?;
    }
    Ok(())
}

/// CONFLICT on `name` when another severity of the organization already has
/// the reference this name derives.
async fn check_reference(
    db: &impl ConnectionTrait,
    org_id: &str,
    reference: &str,
    except: Option<&str>,
) -> AppResult<()> {
    let taken = severity::Entity::find()
        .filter(severity::Column::OrgId.eq(org_id))
        .filter(severity::Column::Reference.eq(reference));
    let message = format!("a severity with reference {reference:?} already exists");
    ensure_free(db, taken, except, ("name", message)).await
}

pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    input: CreateSeverityInput,
) -> AppResult<severity::Model> {
    check(
        Some(&input.name),
        input.description.as_deref(),
        input.information.as_deref(),
        input.source.as_deref(),
        input.source_id.as_deref(),
    )?;
    let reference = validation::severity_reference(&input.name);
    let tx = db.begin().await?;
    check_reference(&tx, &principal.org_id, &reference, None).await?;
    let position = match input.position {
        Some(p) => p,
        None => {
            // New severities go last.
            let last: Option<Option<i32>> = severity::Entity::find()
                .select_only()
                .column_as(severity::Column::Position.max(), "max")
                .filter(severity::Column::OrgId.eq(&principal.org_id))
                .into_tuple()
                .one(&tx)
                .await?;
            last.flatten().map_or(0, |p| p.saturating_add(1))
        }
    };
    let model = severity::ActiveModel {
        id: Set(new_id(Kind::Severity)),
        org_id: Set(principal.org_id.clone()),
        name: Set(input.name.trim().to_owned()),
        reference: Set(reference),
        description: Set(input.description),
        information: Set(input.information),
        position: Set(position),
        disabled: Set(input.disabled.unwrap_or(false)),
        source: Set(input.source),
        source_id: Set(input.source_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(model)
}

pub async fn update(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
    input: UpdateSeverityInput,
) -> AppResult<severity::Model> {
    let name = validation::not_cleared("name", input.name)?;
    let position = validation::not_cleared("position", input.position)?;
    let disabled = validation::not_cleared("disabled", input.disabled)?;
    check(
        name.as_deref(),
        input.description.value().map(String::as_str),
        input.information.value().map(String::as_str),
        input.source.value().map(String::as_str),
        input.source_id.value().map(String::as_str),
    )?;
    let tx = db.begin().await?;
    let current = find_for_update::<severity::Entity>(&tx, &principal.org_id, id).await?;
    let mut model = current.clone().into_active_model();
    if let Some(name) = name {
        let reference = validation::severity_reference(&name);
        check_reference(&tx, &principal.org_id, &reference, Some(id)).await?;
        model.name = Set(name.trim().to_owned());
        model.reference = Set(reference);
    }
    if let Some(position) = position {
        model.position = Set(position);
    }
    if let Some(disabled) = disabled {
        model.disabled = Set(disabled);
    }
    let optional = |value: MaybeUndefined<String>,
                    slot: &mut sea_orm::ActiveValue<Option<String>>| {
        if let Some(v) = value.as_opt_deref() {
            *slot = Set(v.map(str::to_owned));
        }
    };
    optional(input.description, &mut model.description);
    optional(input.information, &mut model.information);
    optional(input.source, &mut model.source);
    optional(input.source_id, &mut model.source_id);
    if !model.is_changed() {
        tx.commit().await?;
        return Ok(current);
    }
    model.updated_at = Set(now);
    let saved = model.update(&tx).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes a severity no risk uses; one in use is a CONFLICT (disable it).
pub async fn delete(Actor { db, principal, .. }: Actor<'_>, id: &str) -> AppResult<()> {
    let tx = db.begin().await?;
    let current = find_for_update::<severity::Entity>(&tx, &principal.org_id, id).await?;
    let in_use = risk::Entity::find()
        .filter(risk::Column::SeverityId.eq(&current.id))
        .count(&tx)
        .await?;
    if in_use > 0 {
        return Err(AppError::conflict(
            None,
            format!("the severity is used by {in_use} risk(s); disable it instead"),
        ));
    }
    severity::Entity::delete_by_id(current.id).exec(&tx).await?;
    tx.commit().await?;
    Ok(())
}
