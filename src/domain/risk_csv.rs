//! Risks as rows of a spreadsheet: the columns of an export, and an import
//! row read back into a patch. Column names are the API's field names, so a
//! file reads like the API and an export imports back unchanged. Members are
//! written as their email (their subject when they have none), severities as
//! their reference, bands and scales' levels as the API gives them, and each
//! active custom field gets a column of its own, by name.

use super::custom_fields::FieldValue;
use super::date::{self, Date};
use super::enums::{
    ClosureReason, CustomFieldType, ImportMatch, RiskStage, RiskStatus, TreatmentStrategy,
};
use super::risk::{CustomFieldValueInput, RiskPatch};
use super::scales::Scales;
use async_graphql::{ID, MaybeUndefined};
use entity::risk;
use std::collections::HashMap;

/// The risk's own columns, in the order an export writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Id,
    Identifier,
    Title,
    Description,
    Category,
    Department,
    Status,
    Stage,
    ClosureReason,
    Severity,
    Owner,
    LikelihoodLevel,
    ImpactLevel,
    LikelihoodRationale,
    ImpactRationale,
    InherentScore,
    InherentBand,
    ResidualLikelihoodOverride,
    ResidualImpactOverride,
    ResidualOverrideReason,
    ResidualLikelihoodLevel,
    ResidualImpactLevel,
    ResidualScore,
    ResidualBand,
    ToleranceLevel,
    WithinTolerance,
    Treatment,
    TreatmentDescription,
    TreatmentRationale,
    MitigationTargetAt,
    Notes,
    Source,
    SourceId,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

/// Every built-in column with its header name.
pub const COLUMNS: [(Column, &str); 37] = {
    use Column as C;
    [
        (C::Id, "id"),
        (C::Identifier, "identifier"),
        (C::Title, "title"),
        (C::Description, "description"),
        (C::Category, "category"),
        (C::Department, "department"),
        (C::Status, "status"),
        (C::Stage, "stage"),
        (C::ClosureReason, "closureReason"),
        (C::Severity, "severity"),
        (C::Owner, "owner"),
        (C::LikelihoodLevel, "likelihoodLevel"),
        (C::ImpactLevel, "impactLevel"),
        (C::LikelihoodRationale, "likelihoodRationale"),
        (C::ImpactRationale, "impactRationale"),
        (C::InherentScore, "inherentScore"),
        (C::InherentBand, "inherentBand"),
        (C::ResidualLikelihoodOverride, "residualLikelihoodOverride"),
        (C::ResidualImpactOverride, "residualImpactOverride"),
        (C::ResidualOverrideReason, "residualOverrideReason"),
        (C::ResidualLikelihoodLevel, "residualLikelihoodLevel"),
        (C::ResidualImpactLevel, "residualImpactLevel"),
        (C::ResidualScore, "residualScore"),
        (C::ResidualBand, "residualBand"),
        (C::ToleranceLevel, "toleranceLevel"),
        (C::WithinTolerance, "withinTolerance"),
        (C::Treatment, "treatment"),
        (C::TreatmentDescription, "treatmentDescription"),
        (C::TreatmentRationale, "treatmentRationale"),
        (C::MitigationTargetAt, "mitigationTargetAt"),
        (C::Notes, "notes"),
        (C::Source, "source"),
        (C::SourceId, "sourceId"),
        (C::ClosedAt, "closedAt"),
        (C::CreatedAt, "createdAt"),
        (C::UpdatedAt, "updatedAt"),
        (C::Version, "version"),
    ]
};

/// Multi-select choices are written joined by this, and split on ';'.
const CHOICES_SEPARATOR: &str = "; ";

/// A custom field as a column.
#[derive(Clone, Debug)]
pub struct CustomColumn {
    pub field_id: String,
    /// The header: the field's name, with " (custom field)" added when the
    /// name is that of a built-in column.
    pub header: String,
    pub field_type: CustomFieldType,
    pub required: bool,
}

impl CustomColumn {
    pub fn new(field_id: String, name: &str, field_type: CustomFieldType, required: bool) -> Self {
        let taken = COLUMNS.iter().any(|(_, n)| n.eq_ignore_ascii_case(name));
        let header = if taken {
            format!("{name} (custom field)")
        } else {
            name.to_owned()
        };
        Self {
            field_id,
            header,
            field_type,
            required,
        }
    }
}

/// The header row of an export.
pub fn header(custom: &[CustomColumn]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(_, name)| (*name).to_owned())
        .chain(custom.iter().map(|c| c.header.clone()))
        .collect()
}

/// Which columns of an export hold numbers (levels, scores, the version,
/// NUMBER fields), for formats that type their cells.
pub fn numeric(custom: &[CustomColumn]) -> Vec<bool> {
    use Column as C;
    COLUMNS
        .iter()
        .map(|(column, _)| {
            matches!(
                column,
                C::LikelihoodLevel
                    | C::ImpactLevel
                    | C::InherentScore
                    | C::ResidualLikelihoodOverride
                    | C::ResidualImpactOverride
                    | C::ResidualLikelihoodLevel
                    | C::ResidualImpactLevel
                    | C::ResidualScore
                    | C::ToleranceLevel
                    | C::Version
            )
        })
        .chain(
            custom
                .iter()
                .map(|c| c.field_type == CustomFieldType::Number),
        )
        .collect()
}

/// How an export names what a risk refers to: severities by reference and
/// members by email or subject, keyed by id.
pub struct Names<'a> {
    pub scales: &'a Scales,
    pub severities: &'a HashMap<String, String>,
    pub members: &'a HashMap<String, String>,
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

fn shown<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl Names<'_> {
    fn band(&self, band: Option<i32>) -> String {
        let band = band.and_then(|b| usize::try_from(b).ok());
        text(
            band.and_then(|b| self.scales.bands.get(b))
                .map(|b| b.name.as_str()),
        )
    }

    fn member(&self, id: Option<&str>) -> String {
        text(id.and_then(|id| self.members.get(id)).map(String::as_str))
    }

    /// One cell of a risk's built-in columns.
    pub fn cell(&self, column: Column, r: &risk::Model) -> String {
        use Column as C;
        let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
        match column {
            C::Id => r.id.clone(),
            C::Identifier => r.identifier.clone(),
            C::Title => r.title.clone(),
            C::Description => text(r.description.as_deref()),
            C::Category => text(r.category.as_deref()),
            C::Department => text(r.department.as_deref()),
            C::Status => r.status.clone(),
            C::Stage => r.stage.clone(),
            C::ClosureReason => text(r.closure_reason.as_deref()),
            C::Severity => text(
                r.severity_id
                    .as_deref()
                    .and_then(|id| self.severities.get(id))
                    .map(String::as_str),
            ),
            C::Owner => self.member(r.owner_id.as_deref()),
            C::LikelihoodLevel => shown(r.likelihood_level),
            C::ImpactLevel => shown(r.impact_level),
            C::LikelihoodRationale => text(r.likelihood_rationale.as_deref()),
            C::ImpactRationale => text(r.impact_rationale.as_deref()),
            C::InherentScore => shown(r.inherent_score),
            C::InherentBand => self.band(r.inherent_band),
            C::ResidualLikelihoodOverride => shown(r.residual_likelihood_override),
            C::ResidualImpactOverride => shown(r.residual_impact_override),
            C::ResidualOverrideReason => text(r.residual_override_reason.as_deref()),
            C::ResidualLikelihoodLevel => shown(r.residual_likelihood_level),
            C::ResidualImpactLevel => shown(r.residual_impact_level),
            C::ResidualScore => shown(r.residual_score),
            C::ResidualBand => self.band(r.residual_band),
            C::ToleranceLevel => shown(r.tolerance_level),
            C::WithinTolerance => shown(r.within_tolerance),
            C::Treatment => r.treatment.clone(),
            C::TreatmentDescription => text(r.treatment_description.as_deref()),
            C::TreatmentRationale => text(r.treatment_rationale.as_deref()),
            C::MitigationTargetAt => shown(r.mitigation_target_at),
            C::Notes => text(r.notes.as_deref()),
            C::Source => text(r.source.as_deref()),
            C::SourceId => text(r.source_id.as_deref()),
            C::ClosedAt => shown(r.closed_at.map(at)),
            C::CreatedAt => at(r.created_at),
            C::UpdatedAt => at(r.updated_at),
            C::Version => r.version.to_string(),
        }
    }

    /// A custom field's cell.
    pub fn value(&self, value: Option<&FieldValue>) -> String {
        match value {
            None => String::new(),
            Some(FieldValue::Text(s) | FieldValue::Selection(s)) => s.clone(),
            Some(FieldValue::Number(n)) => n.to_string(),
            Some(FieldValue::Boolean(b)) => b.to_string(),
            Some(FieldValue::Date(d)) => d.to_string(),
            Some(FieldValue::User(id)) => self.member(Some(id)),
            Some(FieldValue::Selections(list)) => list.join(CHOICES_SEPARATOR),
        }
    }

    /// A risk's row: built-in columns, then `values` in the order of `custom`.
    pub fn row(
        &self,
        r: &risk::Model,
        custom: &[CustomColumn],
        values: Option<&HashMap<String, FieldValue>>,
    ) -> Vec<String> {
        COLUMNS
            .iter()
            .map(|(column, _)| self.cell(*column, r))
            .chain(
                custom
                    .iter()
                    .map(|c| self.value(values.and_then(|v| v.get(&c.field_id)))),
            )
            .collect()
    }
}

/// A problem with one cell (or, for row 1, one header).
#[derive(Clone, Debug, PartialEq)]
pub struct CellError {
    pub column: Option<String>,
    pub message: String,
}

impl CellError {
    pub fn new(column: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            message: message.into(),
        }
    }
}

/// What one column of an import file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Builtin(Column),
    Custom(usize),
}

/// An import file's header, read against the register's columns.
#[derive(Debug)]
pub struct Header {
    slots: Vec<Slot>,
    names: Vec<String>,
    custom: Vec<CustomColumn>,
}

impl Header {
    /// Reads the header row; names match ignoring case and surrounding
    /// spaces. An unknown or repeated name is an error, so a typo cannot
    /// drop a column's data silently.
    pub fn read(
        cells: &[&str],
        custom: Vec<CustomColumn>,
        match_by: ImportMatch,
    ) -> Result<Self, Vec<CellError>> {
        let mut slots = Vec::with_capacity(cells.len());
        let mut errors = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            // Spreadsheets save UTF-8 with a byte order mark.
            let name = cell.trim_start_matches('\u{feff}').trim();
            let slot = COLUMNS
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
                .map(|(c, _)| Slot::Builtin(*c))
                .or_else(|| {
                    custom
                        .iter()
                        .position(|c| c.header.trim().eq_ignore_ascii_case(name))
                        .map(Slot::Custom)
                });
            match slot {
                None => errors.push(CellError::new(
                    name.to_owned(),
                    format!(
                        "column {} is neither a risk field nor a custom field of the register",
                        i + 1
                    ),
                )),
                Some(slot) if slots.contains(&slot) => {
                    errors.push(CellError::new(name.to_owned(), "the column is given twice"))
                }
                Some(slot) => slots.push(slot),
            }
        }
        if match_by == ImportMatch::SourceId {
            for (column, name) in [(Column::Source, "source"), (Column::SourceId, "sourceId")] {
                if !slots.contains(&Slot::Builtin(column)) {
                    errors.push(CellError::new(
                        name.to_owned(),
                        format!("matching by SOURCE_ID needs a {name} column"),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let names = slots
            .iter()
            .map(|slot| match slot {
                Slot::Builtin(c) => name_of(*c).to_owned(),
                Slot::Custom(i) => custom[*i].header.clone(),
            })
            .collect();
        Ok(Self {
            slots,
            names,
            custom,
        })
    }

    fn cell<'c>(&self, cells: &[&'c str], column: Column) -> Option<&'c str> {
        let at = self
            .slots
            .iter()
            .position(|s| *s == Slot::Builtin(column))?;
        cells.get(at).copied()
    }

    /// The cells of a row that name members: the owner and USER fields.
    pub fn member_names<'c>(&self, cells: &[&'c str]) -> Vec<&'c str> {
        self.slots
            .iter()
            .zip(cells)
            .filter(|(slot, _)| match slot {
                Slot::Builtin(c) => *c == Column::Owner,
                Slot::Custom(i) => self.custom[*i].field_type == CustomFieldType::User,
            })
            .map(|(_, cell)| cell.trim())
            .filter(|cell| !cell.is_empty())
            .collect()
    }

    /// What a row is matched on; None for a row without it, which creates
    /// a risk. A source id without its source is refused: only the two
    /// together name one risk.
    pub fn key(
        &self,
        cells: &[&str],
        match_by: ImportMatch,
    ) -> Result<Option<MatchKey>, CellError> {
        let given = |c| self.cell(cells, c).map(str::trim).filter(|t| !t.is_empty());
        Ok(match match_by {
            ImportMatch::Identifier => given(Column::Identifier)
                .map(|identifier| MatchKey::Identifier(identifier.to_owned())),
            ImportMatch::SourceId => match (given(Column::Source), given(Column::SourceId)) {
                (Some(source), Some(id)) => {
                    Some(MatchKey::Source(source.to_owned(), id.to_owned()))
                }
                (None, Some(_)) => {
                    return Err(CellError::new(
                        "source".to_owned(),
                        "matching by SOURCE_ID needs the source beside the sourceId",
                    ));
                }
                (_, None) => None,
            },
        })
    }

    /// The column a store error about `field` (an input path of
    /// `UpdateRiskInput`) belongs to; `fields` lists the custom fields of the
    /// patch in order.
    pub fn column_of(&self, field: &str, fields: &[String]) -> String {
        let custom = field
            .strip_prefix("customFields[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| fields.get(i))
            .and_then(|id| self.custom.iter().find(|c| &c.field_id == id));
        if let Some(column) = custom {
            return column.header.clone();
        }
        let root = field.split(['.', '[']).next().unwrap_or(field);
        match root {
            "severityId" => "severity".to_owned(),
            "ownerId" => "owner".to_owned(),
            other => other.to_owned(),
        }
    }

    /// Reads a data row into a patch: for a new risk (`creating`) an empty
    /// cell leaves the field unset; for an existing one it clears it, as null
    /// does in `updateRisk`, so only the columns in the file change. Returns
    /// the patch with the ids of its custom fields in order, or every bad
    /// cell of the row.
    pub fn patch(
        &self,
        cells: &[&str],
        refs: &References,
        creating: bool,
    ) -> Result<(RiskPatch, Vec<String>), Vec<CellError>> {
        let mut patch = RiskPatch::default();
        let mut fields = Vec::new();
        let mut values = Vec::new();
        let mut errors = Vec::new();
        if cells.len() != self.slots.len() {
            return Err(vec![CellError::new(
                None,
                format!(
                    "the row has {} cells; the header has {}",
                    cells.len(),
                    self.slots.len()
                ),
            )]);
        }
        for ((slot, cell), name) in self.slots.iter().zip(cells).zip(&self.names) {
            let read = match *slot {
                Slot::Builtin(column) => set(&mut patch, column, cell, refs, creating),
                Slot::Custom(i) => {
                    let column = &self.custom[i];
                    let blank = cell.trim().is_empty();
                    if blank && creating {
                        Ok(())
                    } else {
                        custom_value(column, cell, refs).map(|value| {
                            fields.push(column.field_id.clone());
                            values.push(value);
                        })
                    }
                }
            };
            if let Err(message) = read {
                errors.push(CellError::new(name.clone(), message));
            }
        }
        if creating {
            if patch.title.is_undefined() {
                errors.push(CellError::new(
                    "title".to_owned(),
                    "a new risk needs a title",
                ));
            }
            for column in self.custom.iter().filter(|c| c.required) {
                if !fields.contains(&column.field_id) {
                    errors.push(CellError::new(
                        column.header.clone(),
                        format!("{} is required for a new risk", column.header),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !values.is_empty() {
            patch.custom_fields = Some(values);
        }
        Ok((patch, fields))
    }
}

fn name_of(column: Column) -> &'static str {
    COLUMNS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("", |(_, name)| name)
}

/// How a row finds its risk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MatchKey {
    Identifier(String),
    /// Source and source id.
    Source(String, String),
}

/// What an import's names refer to: severities by lowercased reference and
/// members by lowercased email or subject, each to its id; None marks a
/// name shared by several members.
#[derive(Default)]
pub struct References {
    pub severities: HashMap<String, String>,
    pub members: HashMap<String, Option<String>>,
}

impl References {
    fn member(&self, name: &str) -> Result<ID, String> {
        match self.members.get(&name.to_lowercase()) {
            Some(Some(id)) => Ok(ID(id.clone())),
            Some(None) => Err(format!(
                "{name:?} names more than one member; give their subject"
            )),
            None => Err(format!(
                "no member of the organization has the email or subject {name:?}"
            )),
        }
    }
}

/// An enumeration's value as the API spells it, or as a person might
/// (`not set`, `Accept`).
fn enumerated<T: Copy>(all: &[T], as_str: fn(T) -> &'static str, cell: &str) -> Result<T, String> {
    let wanted = cell.trim().replace([' ', '-'], "_");
    all.iter()
        .copied()
        .find(|v| as_str(*v).eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
            format!("{:?} is not one of {}", cell.trim(), names.join(", "))
        })
}

fn whole(cell: &str) -> Result<i32, String> {
    cell.trim()
        .parse()
        .map_err(|_| format!("{:?} is not a whole number", cell.trim()))
}

fn day(cell: &str) -> Result<Date, String> {
    date::parse(cell.trim())
        .map(Date)
        .ok_or_else(|| format!("{:?} is not a date as YYYY-MM-DD", cell.trim()))
}

/// A cell's value for the patch. An empty cell leaves a new risk's field
/// unset and clears an existing risk's.
fn given<T>(
    cell: &str,
    creating: bool,
    read: impl FnOnce(&str) -> Result<T, String>,
) -> Result<MaybeUndefined<T>, String> {
    if !cell.trim().is_empty() {
        read(cell).map(MaybeUndefined::Value)
    } else if creating {
        Ok(MaybeUndefined::Undefined)
    } else {
        Ok(MaybeUndefined::Null)
    }
}

/// `given`, for a cell naming one of an enumeration's values.
fn choice<T: Copy>(
    cell: &str,
    creating: bool,
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> Result<MaybeUndefined<T>, String> {
    given(cell, creating, |c| enumerated(all, as_str, c))
}

/// Sets one built-in field of the patch from its cell.
fn set(
    patch: &mut RiskPatch,
    column: Column,
    cell: &str,
    refs: &References,
    creating: bool,
) -> Result<(), String> {
    use Column as C;
    let words = |cell: &str| given(cell, creating, |c| Ok(c.to_owned()));
    let level = |cell: &str| given(cell, creating, whole);
    match column {
        // An identifier is generated when none is given, and never cleared.
        C::Identifier if cell.trim().is_empty() => {}
        C::Identifier => patch.identifier = MaybeUndefined::Value(cell.trim().to_owned()),
        C::Title => patch.title = words(cell)?,
        C::Description => patch.description = words(cell)?,
        C::Category => patch.category = words(cell)?,
        C::Department => patch.department = words(cell)?,
        C::Status => patch.status = choice(cell, creating, RiskStatus::ALL, RiskStatus::as_str)?,
        C::Stage => patch.stage = choice(cell, creating, RiskStage::ALL, RiskStage::as_str)?,
        C::ClosureReason => {
            patch.closure_reason =
                choice(cell, creating, ClosureReason::ALL, ClosureReason::as_str)?;
        }
        C::Treatment => {
            patch.treatment = choice(
                cell,
                creating,
                TreatmentStrategy::ALL,
                TreatmentStrategy::as_str,
            )?;
        }
        C::Severity => {
            patch.severity_id = given(cell, creating, |c| {
                let reference = c.trim().to_lowercase();
                refs.severities
                    .get(&reference)
                    .map(|id| ID(id.clone()))
                    .ok_or_else(|| format!("no severity has the reference {reference:?}"))
            })?;
        }
        C::Owner => patch.owner_id = given(cell, creating, |c| refs.member(c.trim()))?,
        C::LikelihoodLevel => patch.likelihood_level = level(cell)?,
        C::ImpactLevel => patch.impact_level = level(cell)?,
        C::ResidualLikelihoodOverride => patch.residual_likelihood_override = level(cell)?,
        C::ResidualImpactOverride => patch.residual_impact_override = level(cell)?,
        C::ToleranceLevel => patch.tolerance_level = level(cell)?,
        C::LikelihoodRationale => patch.likelihood_rationale = words(cell)?,
        C::ImpactRationale => patch.impact_rationale = words(cell)?,
        C::ResidualOverrideReason => patch.residual_override_reason = words(cell)?,
        C::TreatmentDescription => patch.treatment_description = words(cell)?,
        C::TreatmentRationale => patch.treatment_rationale = words(cell)?,
        C::MitigationTargetAt => patch.mitigation_target_at = given(cell, creating, day)?,
        C::Notes => patch.notes = words(cell)?,
        C::Source => patch.source = words(cell)?,
        C::SourceId => patch.source_id = words(cell)?,
        // Computed by the service: an export carries them, an import
        // ignores them.
        C::Id
        | C::InherentScore
        | C::InherentBand
        | C::ResidualLikelihoodLevel
        | C::ResidualImpactLevel
        | C::ResidualScore
        | C::ResidualBand
        | C::WithinTolerance
        | C::ClosedAt
        | C::CreatedAt
        | C::UpdatedAt
        | C::Version => {}
    }
    Ok(())
}

/// A custom field's cell as the value input of `updateRisk`; empty clears.
fn custom_value(
    column: &CustomColumn,
    cell: &str,
    refs: &References,
) -> Result<CustomFieldValueInput, String> {
    let mut input = CustomFieldValueInput {
        field_id: ID(column.field_id.clone()),
        ..CustomFieldValueInput::default()
    };
    let trimmed = cell.trim();
    if trimmed.is_empty() {
        return Ok(input);
    }
    match column.field_type {
        CustomFieldType::Text => input.text = Some(cell.to_owned()),
        CustomFieldType::Number => {
            let number = trimmed
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| format!("{trimmed:?} is not a number"))?;
            input.number = Some(number);
        }
        CustomFieldType::Boolean => {
            let yes = ["true", "yes", "y", "1"];
            let no = ["false", "no", "n", "0"];
            let lower = trimmed.to_lowercase();
            input.boolean = Some(if yes.contains(&lower.as_str()) {
                true
            } else if no.contains(&lower.as_str()) {
                false
            } else {
                return Err(format!("{trimmed:?} is not true or false"));
            });
        }
        CustomFieldType::Date => input.date = Some(day(trimmed)?),
        CustomFieldType::User => input.user_id = Some(refs.member(trimmed)?),
        CustomFieldType::SingleSelect => input.selection = Some(trimmed.to_owned()),
        CustomFieldType::MultiSelect => {
            input.selections = Some(
                trimmed
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom() -> Vec<CustomColumn> {
        vec![
            CustomColumn::new("f1".into(), "Business unit", CustomFieldType::Text, false),
            CustomColumn::new("f2".into(), "Notes", CustomFieldType::MultiSelect, true),
        ]
    }

    fn refs() -> References {
        References {
            severities: HashMap::from([("high".to_owned(), "sev1".to_owned())]),
            members: HashMap::from([
                ("ann@example.com".to_owned(), Some("m1".to_owned())),
                ("shared@example.com".to_owned(), None),
            ]),
        }
    }

    #[test]
    fn a_custom_field_named_like_a_risk_field_gets_its_own_header() {
        let names = header(&custom());
        assert_eq!(names.len(), COLUMNS.len() + 2);
        assert_eq!(names[0], "id");
        assert_eq!(names[COLUMNS.len()], "Business unit");
        assert_eq!(names[COLUMNS.len() + 1], "Notes (custom field)");
    }

    #[test]
    fn numbers_are_known_by_column() {
        let numeric = numeric(&custom());
        assert_eq!(numeric.len(), header(&custom()).len());
        let at = |name: &str| COLUMNS.iter().position(|(_, n)| *n == name).expect(name);
        assert!(numeric[at("residualScore")] && numeric[at("version")]);
        assert!(!numeric[at("identifier")] && !numeric[at("residualBand")]);
        assert!(!numeric[COLUMNS.len()], "a TEXT field");
    }

    #[test]
    fn headers_match_ignoring_case_and_unknown_ones_are_named() {
        let header = Header::read(
            &["\u{feff}Title", " notes ", "business UNIT"],
            custom(),
            ImportMatch::Identifier,
        );
        assert!(header.is_ok(), "{header:?}");
        let errors = Header::read(
            &["title", "titel", "title"],
            custom(),
            ImportMatch::SourceId,
        )
        .expect_err("bad header");
        let columns: Vec<_> = errors.iter().filter_map(|e| e.column.clone()).collect();
        assert_eq!(columns, ["titel", "title", "source", "sourceId"]);
    }

    #[test]
    fn empty_cells_leave_new_risks_unset_and_clear_existing_ones() {
        let mut optional = custom();
        optional[1].required = false;
        let header = Header::read(
            &["title", "category", "likelihoodLevel", "Business unit"],
            optional,
            ImportMatch::Identifier,
        )
        .expect("header");
        let (patch, fields) = header
            .patch(&["Leak", "", "2", ""], &refs(), false)
            .expect("patch");
        assert_eq!(patch.category, MaybeUndefined::Null);
        assert_eq!(patch.likelihood_level, MaybeUndefined::Value(2));
        assert_eq!(fields, ["f1"]);
        let cleared = &patch.custom_fields.as_ref().expect("values")[0];
        assert_eq!(cleared.text, None);
        let (patch, fields) = header
            .patch(&["Leak", "", "2", ""], &refs(), true)
            .expect("patch");
        assert!(patch.category.is_undefined());
        assert!(fields.is_empty());
    }

    #[test]
    fn each_bad_cell_of_a_row_is_reported() {
        let header = Header::read(
            &[
                "status",
                "severity",
                "owner",
                "mitigationTargetAt",
                "Notes (custom field)",
            ],
            custom(),
            ImportMatch::Identifier,
        )
        .expect("header");
        let errors = header
            .patch(
                &["shut", "low", "shared@example.com", "1 May", ""],
                &refs(),
                true,
            )
            .expect_err("bad row");
        let columns: Vec<_> = errors.iter().filter_map(|e| e.column.clone()).collect();
        assert_eq!(
            columns,
            [
                "status",
                "severity",
                "owner",
                "mitigationTargetAt",
                "title",
                "Notes (custom field)"
            ]
        );
        assert!(errors[2].message.contains("more than one member"));
    }

    #[test]
    fn cells_read_the_way_people_write_them() {
        let header = Header::read(
            &[
                "treatment",
                "severity",
                "owner",
                "Notes (custom field)",
                "title",
            ],
            custom(),
            ImportMatch::Identifier,
        )
        .expect("header");
        let (patch, _) = header
            .patch(
                &["not set", " HIGH ", "Ann@Example.com", "a;b; ", "t"],
                &refs(),
                true,
            )
            .expect("patch");
        assert_eq!(
            patch.treatment,
            MaybeUndefined::Value(TreatmentStrategy::NotSet)
        );
        assert_eq!(patch.severity_id, MaybeUndefined::Value(ID("sev1".into())));
        assert_eq!(patch.owner_id, MaybeUndefined::Value(ID("m1".into())));
        let values = patch.custom_fields.expect("values");
        assert_eq!(values[0].selections, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn store_errors_land_on_their_columns() {
        let header = Header::read(
            &["severity", "Business unit", "Notes (custom field)"],
            custom(),
            ImportMatch::Identifier,
        )
        .expect("header");
        let fields = ["f2".to_owned(), "f1".to_owned()];
        assert_eq!(header.column_of("severityId", &fields), "severity");
        assert_eq!(
            header.column_of("customFields[1].text", &fields),
            "Business unit"
        );
        assert_eq!(
            header.column_of("customFields[0]", &fields),
            "Notes (custom field)"
        );
        assert_eq!(header.column_of("sourceId", &fields), "sourceId");
    }

    #[test]
    fn rows_match_on_the_chosen_key() {
        let header = Header::read(
            &["identifier", "source", "sourceId"],
            custom(),
            ImportMatch::SourceId,
        )
        .expect("header");
        let row = ["RA-1", "Jira", " SEC-1 "];
        assert_eq!(
            header.key(&row, ImportMatch::SourceId),
            Ok(Some(MatchKey::Source("Jira".into(), "SEC-1".into())))
        );
        assert_eq!(
            header.key(&row, ImportMatch::Identifier),
            Ok(Some(MatchKey::Identifier("RA-1".into())))
        );
        assert_eq!(header.key(&["", "", ""], ImportMatch::Identifier), Ok(None));
        let orphan = header.key(&["", " ", "SEC-1"], ImportMatch::SourceId);
        assert_eq!(orphan.map_err(|e| e.column), Err(Some("source".to_owned())));
    }
}
