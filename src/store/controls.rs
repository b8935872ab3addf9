//! Controls and their links to risks. Every change that moves a linked risk's
//! scores re-scores it in the same transaction, with its event.

use super::Actor;
use super::rescore::{Cause, rescore};
use super::{ensure_free, find, find_for_update};
use crate::auth::Principal;
use crate::domain::enums::{ChangeCause, ControlHealth, MitigationTarget};
use crate::domain::history::FieldChange;
use crate::domain::identifiers::{Kind, new_id};
use crate::domain::inputs::{CreateControlInput, UpdateControlInput};
use crate::domain::validation::{self, IDENTIFIER_MAX, NAME_MAX, not_cleared};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use entity::{control, risk, risk_control};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};

pub async fn list(
    Actor { db, principal, .. }: Actor<'_>,
    include_archived: bool,
) -> AppResult<Vec<control::Model>> {
    let mut query = control::Entity::find().filter(control::Column::OrgId.eq(&principal.org_id));
    if !include_archived {
        query = query.filter(control::Column::Archived.eq(false));
    }
    Ok(query
        .order_by_asc(control::Column::Name)
        .order_by_asc(control::Column::Id)
        .all(db)
        .await?)
}

fn effectiveness(field: &str, value: f64) -> AppResult<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(field, "must be between 0 and 1"))
    }
}

async fn check_identifier(
    db: &impl ConnectionTrait,
    org_id: &str,
    identifier: &str,
    except: Option<&str>,
) -> AppResult<()> {
    validation::required("identifier", identifier, IDENTIFIER_MAX)?;
    let taken = control::Entity::find()
        .filter(control::Column::OrgId.eq(org_id))
        .filter(control::Column::Identifier.eq(identifier));
    let message = format!("another control is {identifier}");
    ensure_free(db, taken, except, ("identifier", message)).await
}

pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    input: CreateControlInput,
) -> AppResult<control::Model> {
    validation::required("name", &input.name, NAME_MAX)?;
    if let Some(d) = &input.description {
        validation::long_text("description", d)?;
    }
    let effectiveness = effectiveness("effectiveness", input.effectiveness.unwrap_or(1.0))?;
    let tx = db.begin().await?;
    if let Some(identifier) = &input.identifier {
        check_identifier(&tx, &principal.org_id, identifier, None).await?;
    }
    let saved = control::ActiveModel {
        id: Set(new_id(Kind::Control)),
        org_id: Set(principal.org_id.clone()),
        identifier: Set(input.identifier),
        name: Set(input.name.trim().to_owned()),
        description: Set(input.description.filter(|d| !d.is_empty())),
        health: Set(input
            .health
            .unwrap_or(ControlHealth::Healthy)
            .as_str()
            .to_owned()),
        effectiveness: Set(effectiveness),
        archived: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// The ids of the risks linked to a control.
async fn linked_risks(db: &impl ConnectionTrait, control_id: &str) -> AppResult<Vec<String>> {
    Ok(risk_control::Entity::find()
        .select_only()
        .column(risk_control::Column::RiskId)
        .filter(risk_control::Column::ControlId.eq(control_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// How history names a control's field: `controls.C-7.health`.
fn control_field(control: &control::Model, field: &str) -> String {
    format!(
        "controls.{}.{field}",
        control.identifier.as_deref().unwrap_or(&control.id)
    )
}

/// The changes of a control that can move scores, as history records them.
fn scoring_changes(before: &control::Model, after: &control::Model) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if before.health != after.health {
        changes.push(FieldChange {
            field: control_field(after, "health"),
            from: json!(before.health),
            to: json!(after.health),
        });
    }
    if before.effectiveness != after.effectiveness {
        changes.push(FieldChange {
            field: control_field(after, "effectiveness"),
            from: json!(before.effectiveness),
            to: json!(after.effectiveness),
        });
    }
    if before.archived != after.archived {
        changes.push(FieldChange {
            field: control_field(after, "archived"),
            from: json!(before.archived),
            to: json!(after.archived),
        });
    }
    changes
}

/// Saves a control change and re-scores the risks it moves.
async fn save_and_rescore(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    before: &control::Model,
    mut model: control::ActiveModel,
    now: DateTime<Utc>,
) -> AppResult<control::Model> {
    if !model.is_changed() {
        return Ok(before.clone());
    }
    model.version = Set(before.version + 1);
    model.updated_at = Set(now);
    let after = model.update(tx).await?;
    let changes = scoring_changes(before, &after);
    if !changes.is_empty() {
        let risks = linked_risks(tx, &after.id).await?;
        let why = Cause {
            cause: ChangeCause::ControlUpdated,
            changes: &|_| changes.clone(),
            always: false,
        };
        rescore(tx, principal, &risks, &why, now).await?;
    }
    Ok(after)
}

pub async fn update(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
    input: UpdateControlInput,
    expected_version: Option<i32>,
) -> AppResult<control::Model> {
    let tx = db.begin().await?;
    let before = find_for_update::<control::Entity>(&tx, &principal.org_id, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(AppError::conflict(
            Some("expectedVersion"),
            format!("the control is at version {}", before.version),
        ));
    }
    let mut model = before.clone().into_active_model();
    if let Some(identifier) = input.identifier.as_opt_deref() {
        if let Some(identifier) = identifier {
            check_identifier(&tx, &principal.org_id, identifier, Some(id)).await?;
        }
        model.identifier = Set(identifier.map(str::to_owned));
    }
    if let Some(name) = not_cleared("name", input.name)? {
        validation::required("name", &name, NAME_MAX)?;
        model.name = Set(name.trim().to_owned());
    }
    if let Some(description) = input.description.as_opt_deref() {
        if let Some(d) = description {
            validation::long_text("description", d)?;
        }
        model.description = Set(description.filter(|d| !d.is_empty()).map(str::to_owned));
    }
    if let Some(health) = not_cleared("health", input.health)? {
        model.health = Set(health.as_str().to_owned());
    }
    if let Some(e) = not_cleared("effectiveness", input.effectiveness)? {
        model.effectiveness = Set(effectiveness("effectiveness", e)?);
    }
    let after = save_and_rescore(&tx, principal, &before, model, now).await?;
    tx.commit().await?;
    Ok(after)
}

/// Archives a control: its links stop counting, and the risks they reduced
/// are re-scored.
pub async fn archive(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
) -> AppResult<control::Model> {
    let tx = db.begin().await?;
    let before = find_for_update::<control::Entity>(&tx, &principal.org_id, id).await?;
    let mut model = before.clone().into_active_model();
    model.archived = Set(true);
    let after = save_and_rescore(&tx, principal, &before, model, now).await?;
    tx.commit().await?;
    Ok(after)
}

fn link_json(link: Option<&risk_control::Model>) -> Value {
    link.map_or(
        Value::Null,
        |l| json!({ "reduces": l.reduces, "strength": l.strength }),
    )
}

/// A link and what it joins, as `linkControl` returns it.
pub struct Linked {
    pub link: risk_control::Model,
    pub control: control::Model,
}

/// Links a control to a risk, or updates the link when there is one. A link
/// without a strength follows the control's effectiveness.
pub async fn link(
    Actor { db, principal, now }: Actor<'_>,
    (risk_id, control_id): (&str, &str),
    reduces: MitigationTarget,
    strength: Option<f64>,
) -> AppResult<Linked> {
    if let Some(s) = strength {
        effectiveness("strength", s)?;
    }
    let tx = db.begin().await?;
    let risk = find_for_update::<risk::Entity>(&tx, &principal.org_id, risk_id).await?;
    let control = find::<control::Entity>(&tx, &principal.org_id, control_id).await?;
    if control.archived {
        return Err(AppError::bad_input("controlId", "the control is archived"));
    }
    let before = risk_control::Entity::find_by_id((risk.id.clone(), control.id.clone()))
        .one(&tx)
        .await?;
    let link = risk_control::Model {
        risk_id: risk.id.clone(),
        control_id: control.id.clone(),
        org_id: principal.org_id.clone(),
        reduces: reduces.as_str().to_owned(),
        strength,
        created_at: before.as_ref().map_or(now, |b| b.created_at),
    };
    if before.as_ref() == Some(&link) {
        tx.commit().await?;
        return Ok(Linked { link, control });
    }
    let active = link.clone().into_active_model().reset_all();
    if before.is_some() {
        active.update(&tx).await?;
    } else {
        active.insert(&tx).await?;
    }
    let change = FieldChange {
        field: format!(
            "controls.{}",
            control.identifier.as_deref().unwrap_or(&control.id)
        ),
        from: link_json(before.as_ref()),
        to: link_json(Some(&link)),
    };
    let why = Cause {
        cause: ChangeCause::ControlLinked,
        changes: &|_| vec![change.clone()],
        always: true,
    };
    rescore(&tx, principal, std::slice::from_ref(&risk.id), &why, now).await?;
    tx.commit().await?;
    Ok(Linked { link, control })
}

/// Removes a link; false when there was none.
pub async fn unlink(
    Actor { db, principal, now }: Actor<'_>,
    (risk_id, control_id): (&str, &str),
) -> AppResult<bool> {
    let tx = db.begin().await?;
    let risk = find_for_update::<risk::Entity>(&tx, &principal.org_id, risk_id).await?;
    let control = find::<control::Entity>(&tx, &principal.org_id, control_id).await?;
    let Some(before) = risk_control::Entity::find_by_id((risk.id.clone(), control.id.clone()))
        .one(&tx)
        .await?
    else {
        tx.commit().await?;
        return Ok(false);
    };
    risk_control::Entity::delete_by_id((risk.id.clone(), control.id.clone()))
        .exec(&tx)
        .await?;
    let change = FieldChange {
        field: format!(
            "controls.{}",
            control.identifier.as_deref().unwrap_or(&control.id)
        ),
        from: link_json(Some(&before)),
        to: Value::Null,
    };
    let why = Cause {
        cause: ChangeCause::ControlUnlinked,
        changes: &|_| vec![change.clone()],
        always: true,
    };
    rescore(&tx, principal, std::slice::from_ref(&risk.id), &why, now).await?;
    tx.commit().await?;
    Ok(true)
}
