//! Registers: their scales, identifier counters and archive state.

use super::Actor;
use super::find_for_update;
use crate::domain::enums::ScalesPreset;
use crate::domain::identifiers::{Kind, new_id, risk_identifier};
use crate::domain::inputs::{CreateRegisterInput, ScalesRemapInput, UpdateRegisterInput};
use crate::domain::scales::Scales;
use crate::domain::validation::{self, NAME_MAX, not_cleared};
use crate::error::{AppError, AppResult};
use entity::{register, risk};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, TransactionTrait,
};

pub fn scales_of(register: &register::Model) -> AppResult<Scales> {
    Scales::from_json(&register.scales)
}

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

/// The next generated identifier of a register. The counter is bumped with a
/// single UPDATE ... RETURNING inside the caller's transaction, so concurrent
/// creates serialize on the register row and never share a number; numbers
/// taken by hand-given identifiers are skipped.
pub async fn take_identifier(tx: &impl ConnectionTrait, register_id: &str) -> AppResult<String> {
    loop {
        let updated = register::Entity::update_many()
            .col_expr(
                register::Column::NextNumber,
                Expr::col(register::Column::NextNumber).add(1),
            )
            .filter(register::Column::Id.eq(register_id))
            .exec_with_returning(tx)
            .await?;
        let register = updated
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("register"))?;
        let identifier = risk_identifier(&register.identifier_prefix, register.next_number - 1);
        let taken = risk::Entity::find()
            .filter(risk::Column::RegisterId.eq(register_id))
            .filter(risk::Column::Identifier.eq(&identifier))
            .one(tx)
            .await?
            .is_some();
        if !taken {
            return Ok(identifier);
        }
    }
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
        let old = scales_of(&current)?;
        // A remap moves levels even onto scales equal to the old ones (a
        // reordering, say).
        if *scales != old || input.scales_remap.is_some() {
            if *scales != old {
                model.scales = Set(scales.to_json());
            }
            super::risks::move_to_scales(
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

/// Where each old level of one side goes; None keeps levels as they are.
pub type LevelMap = Option<Vec<usize>>;

/// Validates a remap of one side against the old and new level counts.
pub fn check_remap(
    field: &str,
    remap: Option<&Vec<i32>>,
    old_len: usize,
    new_len: usize,
) -> AppResult<LevelMap> {
    let Some(remap) = remap else { return Ok(None) };
    if remap.len() != old_len {
        return Err(AppError::bad_input(
            field,
            format!("give a new level for each of the {old_len} old levels"),
        ));
    }
    remap
        .iter()
        .enumerate()
        .map(|(i, level)| validation::level(&format!("{field}[{i}]"), *level, new_len, "new"))
        .collect::<AppResult<Vec<_>>>()
        .map(Some)
}

/// The remap of both sides, checked.
pub fn remaps(
    remap: Option<&ScalesRemapInput>,
    old: &Scales,
    new: &Scales,
) -> AppResult<(LevelMap, LevelMap)> {
    Ok((
        check_remap(
            "scalesRemap.likelihood",
            remap.and_then(|r| r.likelihood.as_ref()),
            old.likelihood.len(),
            new.likelihood.len(),
        )?,
        check_remap(
            "scalesRemap.impact",
            remap.and_then(|r| r.impact.as_ref()),
            old.impact.len(),
            new.impact.len(),
        )?,
    ))
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
