//! Custom field definitions per register, and the typed values risks hold.

use super::Actor;
use super::{ensure_free, find_for_update, find_input};
use crate::domain::custom_fields::{self as rules, FieldRules, FieldValue};
use crate::domain::enums::{CustomFieldType, NumberFormat};
use crate::domain::history::FieldChange;
use crate::domain::identifiers::{Kind, new_id};
use crate::domain::inputs::{CreateCustomFieldInput, UpdateCustomFieldInput};
use crate::domain::risk::CustomFieldValueInput;
use crate::domain::risk_csv::CustomColumn;
use crate::domain::validation::{self, NAME_MAX, not_cleared};
use crate::error::{AppError, AppResult};
use entity::{
    custom_field_definition as definition, custom_field_value as value, member, register, risk,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

pub fn options_of(def: &definition::Model) -> AppResult<Vec<String>> {
    def.options
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(AppError::from)
}

pub fn type_of(def: &definition::Model) -> AppResult<CustomFieldType> {
    CustomFieldType::from_stored(&def.field_type)
}

pub fn number_format_of(def: &definition::Model) -> AppResult<Option<NumberFormat>> {
    def.number_format
        .as_deref()
        .map(NumberFormat::from_stored)
        .transpose()
}

/// The register's active fields as spreadsheet columns, in form order.
pub async fn columns(db: &impl ConnectionTrait, register_id: &str) -> AppResult<Vec<CustomColumn>> {
    definition::Entity::find()
        .filter(definition::Column::RegisterId.eq(register_id))
        .filter(definition::Column::Archived.eq(false))
        .order_by_asc(definition::Column::Position)
        .order_by_asc(definition::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|d| {
            Ok(CustomColumn::new(
                d.id.clone(),
                &d.name,
                type_of(&d)?,
                d.required,
            ))
        })
        .collect()
}

/// The value a row holds, read as its field's type.
pub fn value_of(row: &value::Model, field_type: CustomFieldType) -> AppResult<Option<FieldValue>> {
    Ok(match field_type {
        CustomFieldType::Text => row.text_value.clone().map(FieldValue::Text),
        CustomFieldType::Number => row.number_value.map(FieldValue::Number),
        CustomFieldType::Boolean => row.boolean_value.map(FieldValue::Boolean),
        CustomFieldType::Date => row.date_value.map(FieldValue::Date),
        CustomFieldType::User => row.user_id.clone().map(FieldValue::User),
        CustomFieldType::SingleSelect => row.selection.clone().map(FieldValue::Selection),
        CustomFieldType::MultiSelect => row
            .selections
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?
            .map(FieldValue::Selections),
    })
}

fn row(org_id: &str, risk_id: &str, field_id: &str, v: &FieldValue) -> value::ActiveModel {
    let mut row = value::ActiveModel {
        risk_id: Set(risk_id.to_owned()),
        field_id: Set(field_id.to_owned()),
        org_id: Set(org_id.to_owned()),
        text_value: Set(None),
        number_value: Set(None),
        boolean_value: Set(None),
        date_value: Set(None),
        user_id: Set(None),
        selection: Set(None),
        selections: Set(None),
    };
    match v {
        FieldValue::Text(t) => row.text_value = Set(Some(t.clone())),
        FieldValue::Number(n) => row.number_value = Set(Some(*n)),
        FieldValue::Boolean(b) => row.boolean_value = Set(Some(*b)),
        FieldValue::Date(d) => row.date_value = Set(Some(*d)),
        FieldValue::User(u) => row.user_id = Set(Some(u.clone())),
        FieldValue::Selection(s) => row.selection = Set(Some(s.clone())),
        FieldValue::Selections(list) => {
            row.selections = Set(Some(serde_json::Value::from(list.clone()).to_string()));
        }
    }
    row
}

/// One value of a create or update, checked against its field.
struct Parsed<'a> {
    /// Where the input was: `customFields[i]`.
    at: String,
    def: &'a definition::Model,
    field_type: CustomFieldType,
    new: Option<FieldValue>,
}

/// Checks each input against its field of the register: an active field,
/// given once, a value of its type, not cleared when required.
fn parse_inputs(
    defs: &HashMap<String, definition::Model>,
    inputs: Vec<CustomFieldValueInput>,
) -> AppResult<Vec<Parsed<'_>>> {
    let mut parsed = Vec::with_capacity(inputs.len());
    let mut seen = HashSet::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let at = format!("customFields[{i}]");
        let (field_id, input) = input.into_value();
        let def = defs.get(&field_id).filter(|d| !d.archived).ok_or_else(|| {
            AppError::bad_input(
                format!("{at}.fieldId"),
                "no such field in the risk's register",
            )
        })?;
        if !seen.insert(field_id) {
            return Err(AppError::bad_input(
                format!("{at}.fieldId"),
                "field given twice",
            ));
        }
        let options = options_of(def)?;
        let field_rules = FieldRules {
            field_type: type_of(def)?,
            number_format: number_format_of(def)?,
            options: &options,
        };
        let new = rules::parse_value(&at, &field_rules, input)?;
        if new.is_none() && def.required {
            return Err(AppError::bad_input(at, format!("{} is required", def.name)));
        }
        parsed.push(Parsed {
            at,
            def,
            field_type: field_rules.field_type,
            new,
        });
    }
    Ok(parsed)
}

/// USER values must name members of the risk's organization.
async fn check_users(
    tx: &impl ConnectionTrait,
    org_id: &str,
    parsed: &[Parsed<'_>],
) -> AppResult<()> {
    let user = |p: &Parsed<'_>| match &p.new {
        Some(FieldValue::User(u)) => Some(u.clone()),
        _ => None,
    };
    let users: Vec<String> = parsed.iter().filter_map(user).collect();
    if users.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = member::Entity::find()
        .filter(member::Column::OrgId.eq(org_id))
        .filter(member::Column::Id.is_in(users))
        .all(tx)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    match parsed
        .iter()
        .find(|p| user(p).is_some_and(|u| !known.contains(&u)))
    {
        Some(p) => Err(AppError::bad_input(
            format!("{}.userId", p.at),
            "not a member of the organization",
        )),
        None => Ok(()),
    }
}

/// A new risk must set every required active field.
fn check_required(
    defs: &HashMap<String, definition::Model>,
    parsed: &[Parsed<'_>],
) -> AppResult<()> {
    let given: HashSet<&str> = parsed
        .iter()
        .filter(|p| p.new.is_some())
        .map(|p| p.def.id.as_str())
        .collect();
    match defs
        .values()
        .find(|d| d.required && !d.archived && !given.contains(d.id.as_str()))
    {
        Some(missing) => Err(AppError::bad_input(
            "customFields",
            format!("{} is required", missing.name),
        )),
        None => Ok(()),
    }
}

/// Stores one value (or removes it when cleared).
async fn save_value(
    tx: &impl ConnectionTrait,
    risk: &risk::Model,
    def: &definition::Model,
    new: Option<&FieldValue>,
) -> AppResult<()> {
    match new {
        Some(v) => {
            value::Entity::insert(row(&risk.org_id, &risk.id, &def.id, v))
                .on_conflict(
                    OnConflict::columns([value::Column::RiskId, value::Column::FieldId])
                        .update_columns([
                            value::Column::TextValue,
                            value::Column::NumberValue,
                            value::Column::BooleanValue,
                            value::Column::DateValue,
                            value::Column::UserId,
                            value::Column::Selection,
                            value::Column::Selections,
                        ])
                        .to_owned(),
                )
                .exec(tx)
                .await?;
        }
        None => {
            value::Entity::delete_many()
                .filter(value::Column::RiskId.eq(&risk.id))
                .filter(value::Column::FieldId.eq(&def.id))
                .exec(tx)
                .await?;
        }
    }
    Ok(())
}

/// A register's field definitions by id, archived ones included (values
/// naming them are refused by name).
pub type Definitions = HashMap<String, definition::Model>;

pub async fn definitions(tx: &impl ConnectionTrait, register_id: &str) -> AppResult<Definitions> {
    Ok(definition::Entity::find()
        .filter(definition::Column::RegisterId.eq(register_id))
        .all(tx)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect())
}

/// A risk's new custom values, checked and compared with what it holds,
/// not yet written: a create or update checks everything before it writes
/// anything.
#[derive(Default)]
pub struct CheckedValues<'a> {
    changed: Vec<(&'a definition::Model, Option<FieldValue>)>,
    pub changes: Vec<FieldChange>,
}

/// Checks the values of a create or update. Only the fields listed change;
/// with `creating`, every required field must end up set.
pub async fn check_values<'a>(
    tx: &impl ConnectionTrait,
    defs: &'a Definitions,
    risk: &risk::Model,
    inputs: Vec<CustomFieldValueInput>,
    creating: bool,
) -> AppResult<CheckedValues<'a>> {
    let mut checked = CheckedValues {
        changed: Vec::new(),
        changes: Vec::new(),
    };
    let parsed = parse_inputs(defs, inputs)?;
    check_users(tx, &risk.org_id, &parsed).await?;
    if creating {
        check_required(defs, &parsed)?;
    }
    let mut existing: HashMap<String, value::Model> = if creating || parsed.is_empty() {
        HashMap::new()
    } else {
        value::Entity::find()
            .filter(value::Column::RiskId.eq(&risk.id))
            .all(tx)
            .await?
            .into_iter()
            .map(|v| (v.field_id.clone(), v))
            .collect()
    };
    for Parsed {
        def,
        field_type,
        new,
        ..
    } in parsed
    {
        let old = existing
            .remove(&def.id)
            .map(|row| value_of(&row, field_type))
            .transpose()?
            .flatten();
        if old == new {
            continue;
        }
        checked.changes.push(FieldChange {
            field: format!("customFields.{}", def.name),
            from: old.map_or(Value::Null, |v| v.to_json()),
            to: new.as_ref().map_or(Value::Null, FieldValue::to_json),
        });
        checked.changed.push((def, new));
    }
    Ok(checked)
}

impl CheckedValues<'_> {
    /// Writes the values that changed, once the risk's row exists.
    pub async fn write(
        self,
        tx: &impl ConnectionTrait,
        risk: &risk::Model,
    ) -> AppResult<Vec<FieldChange>> {
        for (def, new) in &self.changed {
            save_value(tx, risk, def, new.as_ref()).await?;
        }
        Ok(self.changes)
    }
}

async fn check_name_free(
    db: &impl ConnectionTrait,
    register_id: &str,
    name: &str,
    except: Option<&str>,
) -> AppResult<()> {
    let taken = definition::Entity::find()
        .filter(definition::Column::RegisterId.eq(register_id))
        .filter(definition::Column::Archived.eq(false))
        .filter(definition::Column::Name.eq(name));
    let message = format!("the register already has a field named {name:?}");
    ensure_free(db, taken, except, ("name", message)).await
}

pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    input: CreateCustomFieldInput,
) -> AppResult<definition::Model> {
    validation::required("name", &input.name, NAME_MAX)?;
    let number_format = match input.field_type {
        CustomFieldType::Number => Some(input.number_format.unwrap_or(NumberFormat::Decimal)),
        _ => input.number_format,
    };
    let options = input.options.clone().unwrap_or_default();
    rules::validate_definition(
        &FieldRules {
            field_type: input.field_type,
            number_format,
            options: &options,
        },
        input.options.is_some(),
    )?;
    let tx = db.begin().await?;
    let register =
        find_input::<register::Entity>(&tx, &principal.org_id, &input.register_id, "registerId")
            .await?;
    let name = input.name.trim().to_owned();
    check_name_free(&tx, &register.id, &name, None).await?;
    let position = match input.position {
        Some(p) => p,
        None => i32::try_from(
            definition::Entity::find()
                .filter(definition::Column::RegisterId.eq(&register.id))
                .count(&tx)
                .await?,
        )
        .unwrap_or(i32::MAX),
    };
    let saved = definition::ActiveModel {
        id: Set(new_id(Kind::CustomField)),
        org_id: Set(principal.org_id.clone()),
        register_id: Set(register.id),
        name: Set(name),
        field_type: Set(input.field_type.as_str().to_owned()),
        number_format: Set(number_format.map(|f| f.as_str().to_owned())),
        options: Set(input.options.map(|o| Value::from(o).to_string())),
        required: Set(input.required.unwrap_or(false)),
        position: Set(position),
        archived: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(saved)
}

pub async fn update(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
    input: UpdateCustomFieldInput,
) -> AppResult<definition::Model> {
    let tx = db.begin().await?;
    let current = find_for_update::<definition::Entity>(&tx, &principal.org_id, id).await?;
    let field_type = type_of(&current)?;
    let mut model = current.clone().into_active_model();
    if let Some(name) = not_cleared("name", input.name)? {
        validation::required("name", &name, NAME_MAX)?;
        let name = name.trim().to_owned();
        check_name_free(&tx, &current.register_id, &name, Some(id)).await?;
        model.name = Set(name);
    }
    let mut number_format = number_format_of(&current)?;
    if let Some(format) = input.number_format.as_opt_ref() {
        number_format = format.copied();
        if field_type == CustomFieldType::Number && number_format.is_none() {
            return Err(AppError::bad_input(
                "numberFormat",
                "a NUMBER field needs a format",
            ));
        }
    }
    let mut options = options_of(&current)?;
    let options_given = !input.options.is_undefined();
    if let Some(new) = input.options.as_opt_ref() {
        options = new.cloned().unwrap_or_default();
    }
    rules::validate_definition(
        &FieldRules {
            field_type,
            number_format,
            options: &options,
        },
        options_given && !options.is_empty(),
    )?;
    model.number_format = Set(number_format.map(|f| f.as_str().to_owned()));
    if options_given {
        model.options = Set((!options.is_empty()).then(|| Value::from(options).to_string()));
    }
    if let Some(required) = not_cleared("required", input.required)? {
        model.required = Set(required);
    }
    if let Some(position) = not_cleared("position", input.position)? {
        model.position = Set(position);
    }
    if !model.is_changed() {
        tx.commit().await?;
        return Ok(current);
    }
    model.updated_at = Set(now);
    let saved = model.update(&tx).await?;
    tx.commit().await?;
    Ok(saved)
}

pub async fn archive(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
) -> AppResult<definition::Model> {
    let tx = db.begin().await?;
    let current = find_for_update::<definition::Entity>(&tx, &principal.org_id, id).await?;
    if current.archived {
        return Ok(current);
    }
    let mut model = current.into_active_model();
    model.archived = Set(true);
    model.updated_at = Set(now);
    let archived = model.update(&tx).await?;
    tx.commit().await?;
    Ok(archived)
}
