//! Registers: their scales, identifier counters and archive state.

use super::Actor;
use super::{find_for_update, risks};
use crate::domain::enums::ScalesPreset;
use crate::domain::identifiers::{Kind, new_id};
use crate::domain::inputs::{CreateRegisterInput, UpdateRegisterInput};
use crate::domain::scales::Scales;
use crate::domain::validation::{self, NAME_MAX, not_cleared};
use crate::error::{AppError, AppResult};
use entity::register;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionTrait,
};

pub async fn list(
    Actor { db, principal, .. }: Actor<'_>,
    include_archived: bool,
) -> AppResult<Vec<register::Model>> {
    let mut query = register::Entity::find().filter(register::Column::OrgId.eq(&principal.org_id));
    if !include_archived {
        query = query.filter(register::Column::Archived.eq(false));
    }
    Ok(query
        .order_by_asc(register::Column::Name)
        .order_by_asc(register::Column::Id)
        .all(db)
        .await?)
}

fn check_text(
    name: Option<&str>,
    description: Option<&str>,
    prefix: Option<&str>,
) -> AppResult<()> {
    if let Some(name) = name {
        validation::required("name", name, NAME_MAX)?;
    }
    if let Some(description) = description {
        validation::long_text("description", description)?;
    }
    if let Some(prefix) = prefix {
        validation::identifier_prefix("identifierPrefix", prefix)?;
    }
    Ok(())
}

pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    input: CreateRegisterInput,
) -> AppResult<register::Model> {
    check_text(
        Some(&input.name),
        input.description.as_deref(),
        Some(&input.identifier_prefix),
    )?;
    let scales = match (input.scales, input.preset) {
        (Some(_), Some(_)) => {
            return Err(AppError::bad_input(
                "preset",
                "give scales or a preset, not both",
            ));
        }
        (Some(scales), None) => {
            scales.validate("scales")?;
            scales
        }
        (None, preset) => Scales::preset(preset.unwrap_or(ScalesPreset::Default5x5)),
    };
    let model = register::ActiveModel {
        id: Set(new_id(Kind::Register)),
        org_id: Set(principal.org_id.clone()),
        name: Set(input.name.trim().to_owned()),
        description: Set(input.description.filter(|d| !d.is_empty())),
        identifier_prefix: Set(input.identifier_prefix),
        next_number: Set(1),
        scales: Set(scales.to_json()),
        archived: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

pub async fn update(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
    input: UpdateRegisterInput,
    expected_version: Option<i32>,
) -> AppResult<register::Model> {
    let tx = db.begin().await?;
    let current = find_for_update::<register::Entity>(&tx, &principal.org_id, id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(AppError::conflict(
            Some("expectedVersion"),
            format!("the register is at version {}", current.version),
        ));
    }
    let name = not_cleared("name", input.name)?;
    let prefix = not_cleared("identifierPrefix", input.identifier_prefix)?;
    check_text(
        name.as_deref(),
        input.description.value().map(String::as_str),
        prefix.as_deref(),
    )?;

    let mut model = current.clone().into_active_model();
    if let Some(name) = name {
        model.name = Set(name.trim().to_owned());
    }
    if let Some(prefix) = prefix {
        model.identifier_prefix = Set(prefix.to_owned());
    }
    if let Some(description) = input.description.as_opt_deref() {
        model.description = Set(description.filter(|d| !d.is_empty()).map(str::to_owned));
    }
    let new_scales = not_cleared("scales", input.scales)?;
    match &new_scales {
        Some(scales) => scales.validate("scales")?,
        None if input.scales_remap.is_some() => {
            return Err(AppError::bad_input(
                "scalesRemap",
                "scalesRemap goes with new scales",
            ));
        }
        None => {}
    }
    if let Some(scales) = &new_scales {
        let old = Scales::of(&current)?;
        // A remap moves levels even onto scales equal to the old ones (a
        // reordering, say).
        if *scales != old || input.scales_remap.is_some() {
            if *scales != old {
                model.scales = Set(scales.to_json());
            }
            risks::move_to_scales(
                &tx,
                principal,
                &current,
                &old,
                scales,
                input.scales_remap.as_ref(),
                now,
            )
            .await?;
        }
    }
    if !model.is_changed() {
        tx.commit().await?;
        return Ok(current);
    }
    model.version = Set(current.version + 1);
    model.updated_at = Set(now);
    let saved = model.update(&tx).await?;
    tx.commit().await?;
    Ok(saved)
}

pub async fn archive(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
) -> AppResult<register::Model> {
    let tx = db.begin().await?;
    let current = find_for_update::<register::Entity>(&tx, &principal.org_id, id).await?;
    if current.archived {
        return Ok(current);
    }
    let mut model = current.clone().into_active_model();
    model.archived = Set(true);
    model.version = Set(current.version + 1);
    model.updated_at = Set(now);
    let archived = model.update(&tx).await?;
    tx.commit().await?;
    Ok(archived)
}
