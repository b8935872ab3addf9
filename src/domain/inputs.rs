//! Inputs of registers, severities, custom fields and risk creation, and the
//! risk filter and order. Updates follow the partial-update convention: an
//! absent field is unchanged, null clears.

use super::date::{Date, Timestamp};
use super::enums::{
    ClosureReason, ControlHealth, CustomFieldType, NumberFormat, RiskStage, RiskStatus,
    ScalesPreset, TreatmentStrategy,
};
use super::risk::{CustomFieldValueInput, RiskPatch};
use super::scales::Scales;
use crate::error::{AppError, AppResult};
use async_graphql::{Enum, ID, InputObject, MaybeUndefined};

/// A new register. Risk identifiers are generated as `<identifierPrefix>-<n>`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateRegisterInput {
    /// Shown in lists; 1 to 128 characters.
    pub name: String,
    /// Free text, up to 64 KiB; null or empty for none.
    pub description: Option<String>,
    /// Prefix of generated risk identifiers, 1 to 16 letters, digits, '_' or
    /// '-': RA gives RA-1, RA-2, ...
    pub identifier_prefix: String,
    /// The register's own scales; give these or `preset`, not both, or
    /// neither for DEFAULT_5X5.
    pub scales: Option<Scales>,
    /// Ready-made scales, when `scales` is not given.
    pub preset: Option<ScalesPreset>,
}

/// Where each old level goes when scales change: `likelihood[old]` is its new level.
#[derive(InputObject, Clone, Debug)]
pub struct ScalesRemapInput {
    /// For each old likelihood level, in order, its new level; null keeps levels as they are.
    pub likelihood: Option<Vec<i32>>,
    /// For each old impact level, in order, its new level; null keeps levels as they are.
    pub impact: Option<Vec<i32>>,
}

/// A partial update of a register: absent fields are unchanged.
#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateRegisterInput {
    /// 1 to 128 characters; cannot be cleared.
    pub name: MaybeUndefined<String>,
    /// Free text, up to 64 KiB; null clears.
    pub description: MaybeUndefined<String>,
    /// Prefix of identifiers generated from now on; existing identifiers keep theirs. Cannot be cleared.
    pub identifier_prefix: MaybeUndefined<String>,
    /// New scales: every risk is re-scored in the same transaction. Cannot be cleared.
    pub scales: MaybeUndefined<Scales>,
    /// Needed when the new scales would leave existing risks' levels out of range.
    pub scales_remap: Option<ScalesRemapInput>,
}

/// A new severity of the organization (the 4me model).
#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateSeverityInput {
    /// 1 to 128 characters; its reference (lowercase, '_' for spaces) must be unique in the organization.
    pub name: String,
    /// Short description, up to 255 characters.
    pub description: Option<String>,
    /// Longer guidance, up to 64 KiB.
    pub information: Option<String>,
    /// Sort position in lists, ascending; after the existing severities when not given.
    pub position: Option<i32>,
    /// A disabled severity cannot be set on risks; false when not given.
    pub disabled: Option<bool>,
    /// The system the severity comes from, up to 30 characters.
    pub source: Option<String>,
    /// Its id in that system, up to 128 characters.
    pub source_id: Option<String>,
}

/// A partial update of a severity: absent fields are unchanged.
#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateSeverityInput {
    /// 1 to 128 characters; renaming changes the reference. Cannot be cleared.
    pub name: MaybeUndefined<String>,
    /// Up to 255 characters. Absent: unchanged; null: cleared.
    pub description: MaybeUndefined<String>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub information: MaybeUndefined<String>,
    /// Sort position, ascending. Cannot be cleared.
    pub position: MaybeUndefined<i32>,
    /// Disable to stop new uses; risks that have it keep it. Cannot be cleared.
    pub disabled: MaybeUndefined<bool>,
    /// Up to 30 characters. Absent: unchanged; null: cleared.
    pub source: MaybeUndefined<String>,
    /// Up to 128 characters. Absent: unchanged; null: cleared.
    pub source_id: MaybeUndefined<String>,
}

/// Which severities to list; absent members do not filter.
#[derive(InputObject, Clone, Debug, Default)]
pub struct SeverityFilter {
    /// Only disabled (true) or only enabled (false) severities.
    pub disabled: Option<bool>,
    /// Case-insensitive substring of name or reference.
    pub name: Option<String>,
    /// Exactly this source.
    pub source: Option<String>,
    /// Exactly this source id.
    pub source_id: Option<String>,
}

/// A new custom field on a register's risks.
#[derive(InputObject, Clone, Debug)]
pub struct CreateCustomFieldInput {
    /// The register whose risks get the field.
    pub register_id: ID,
    /// 1 to 128 characters, unique among the register's active fields.
    pub name: String,
    /// What values hold; cannot change later.
    #[graphql(name = "type")]
    pub field_type: CustomFieldType,
    /// For NUMBER fields only: how the value is shown; DECIMAL when not given.
    pub number_format: Option<NumberFormat>,
    /// For SINGLE_SELECT and MULTI_SELECT only: the allowed choices, 1 to 100 distinct non-empty strings.
    pub options: Option<Vec<String>>,
    /// Whether every new risk must give a value; false when not given.
    pub required: Option<bool>,
    /// Sort position on forms, ascending; after the existing fields when not given.
    pub position: Option<i32>,
}

/// A partial update of a custom field: absent fields are unchanged. The type cannot change.
#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateCustomFieldInput {
    /// 1 to 128 characters, unique among the register's active fields. Cannot be cleared.
    pub name: MaybeUndefined<String>,
    /// For NUMBER fields only. Cannot be cleared.
    pub number_format: MaybeUndefined<NumberFormat>,
    /// For select fields only: the allowed choices, replacing the old list.
    pub options: MaybeUndefined<Vec<String>>,
    /// Whether new risks must give a value. Cannot be cleared.
    pub required: MaybeUndefined<bool>,
    /// Sort position on forms. Cannot be cleared.
    pub position: MaybeUndefined<i32>,
}

/// A new risk. Absent fields are not set; scores are computed from the register's scales.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateRiskInput {
    /// The register the risk belongs to; it must not be archived.
    pub register_id: ID,
    /// Generated from the register prefix when absent.
    pub identifier: Option<String>,
    /// 1 to 128 characters.
    pub title: String,
    /// Up to 64 KiB.
    pub description: Option<String>,
    /// Free-form grouping, e.g. Security; up to 128 characters.
    pub category: Option<String>,
    /// The department concerned; up to 128 characters.
    pub department: Option<String>,
    /// OPEN when not given. CLOSED sets closedAt to now.
    pub status: Option<RiskStatus>,
    /// PROPOSED when not given.
    pub stage: Option<RiskStage>,
    /// Why the risk is closed; only with status CLOSED.
    pub closure_reason: Option<ClosureReason>,
    /// An enabled severity of the organization.
    pub severity_id: Option<ID>,
    /// The member who owns the risk.
    pub owner_id: Option<ID>,
    /// Index into the register's likelihood levels, from 0.
    pub likelihood_level: Option<i32>,
    /// Index into the register's impact levels, from 0.
    pub impact_level: Option<i32>,
    /// Why this likelihood; up to 64 KiB.
    pub likelihood_rationale: Option<String>,
    /// Why this impact; up to 64 KiB.
    pub impact_rationale: Option<String>,
    /// A likelihood level that replaces the computed residual one.
    pub residual_likelihood_override: Option<i32>,
    /// An impact level that replaces the computed residual one.
    pub residual_impact_override: Option<i32>,
    /// Why the residual is overridden; up to 64 KiB.
    pub residual_override_reason: Option<String>,
    /// The highest band level the organization accepts for this risk, from 0.
    pub tolerance_level: Option<i32>,
    /// How the risk is treated; NOT_SET when not given.
    pub treatment: Option<TreatmentStrategy>,
    /// What the treatment does; up to 64 KiB.
    pub treatment_description: Option<String>,
    /// Why this treatment; up to 64 KiB.
    pub treatment_rationale: Option<String>,
    /// The date by which the risk should be within tolerance.
    pub mitigation_target_at: Option<Date>,
    /// Up to 64 KiB.
    pub notes: Option<String>,
    /// The system the risk comes from, up to 30 characters.
    pub source: Option<String>,
    /// Its id in that system, up to 128 characters; source and sourceId together are unique in the organization.
    pub source_id: Option<String>,
    /// Values of the register's custom fields; required fields must be given.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
}

/// A new risk. Absent fields are not set; scores are computed from the register's scales.
impl CreateRiskInput {
    /// Creation is a patch over a blank risk: one set of rules for both.
    /// Returns the register and the patch.
    pub fn into_patch(self) -> (ID, RiskPatch) {
        // Absent on create means not set: nothing to clear on a new risk.
        fn v<T>(value: Option<T>) -> MaybeUndefined<T> {
            value.map_or(MaybeUndefined::Undefined, MaybeUndefined::Value)
        }
        let patch = RiskPatch {
            identifier: v(self.identifier),
            title: MaybeUndefined::Value(self.title),
            description: v(self.description),
            category: v(self.category),
            department: v(self.department),
            status: v(self.status),
            stage: v(self.stage),
            closure_reason: v(self.closure_reason),
            severity_id: v(self.severity_id),
            owner_id: v(self.owner_id),
            likelihood_level: v(self.likelihood_level),
            impact_level: v(self.impact_level),
            likelihood_rationale: v(self.likelihood_rationale),
            impact_rationale: v(self.impact_rationale),
            residual_likelihood_override: v(self.residual_likelihood_override),
            residual_impact_override: v(self.residual_impact_override),
            residual_override_reason: v(self.residual_override_reason),
            tolerance_level: v(self.tolerance_level),
            treatment: v(self.treatment),
            treatment_description: v(self.treatment_description),
            treatment_rationale: v(self.treatment_rationale),
            mitigation_target_at: v(self.mitigation_target_at),
            notes: v(self.notes),
            source: v(self.source),
            source_id: v(self.source_id),
            custom_fields: self.custom_fields,
        };
        (self.register_id, patch)
    }
}

/// A new control of the organization.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateControlInput {
    /// A reference such as C-12, unique in the organization; up to 64 characters.
    pub identifier: Option<String>,
    /// 1 to 128 characters.
    pub name: String,
    /// Up to 64 KiB.
    pub description: Option<String>,
    /// HEALTHY when not given.
    pub health: Option<ControlHealth>,
    /// Default strength of new links, 0..1; 1 when not given.
    pub effectiveness: Option<f64>,
}

/// A partial update of a control: absent fields are unchanged.
#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateControlInput {
    /// Unique in the organization, up to 64 characters. Absent: unchanged; null: cleared.
    pub identifier: MaybeUndefined<String>,
    /// 1 to 128 characters. Cannot be cleared.
    pub name: MaybeUndefined<String>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub description: MaybeUndefined<String>,
    /// A change re-scores every linked risk. Cannot be cleared.
    pub health: MaybeUndefined<ControlHealth>,
    /// 0..1: the strength of links made without one; a change re-scores them. Cannot be cleared.
    pub effectiveness: MaybeUndefined<f64>,
}

/// A span of instants; both ends count, and either may be left open.
#[derive(InputObject, Clone, Debug, Default)]
pub struct TimeRange {
    /// At or after this instant.
    pub from: Option<Timestamp>,
    /// At or before this instant.
    pub to: Option<Timestamp>,
}

/// A span of days; both ends count, and either may be left open.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DateRange {
    /// On or after this day.
    pub from: Option<Date>,
    /// On or before this day.
    pub to: Option<Date>,
}

/// A condition on one custom field's value; a risk without a value for the
/// field matches none. Conditions given together must all hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CustomFieldCondition {
    /// The field.
    pub field_id: ID,
    /// The text, or the selected option, is exactly this.
    pub equals: Option<String>,
    /// The text, or the selected option, is one of these; at most 500.
    #[graphql(name = "in")]
    pub any_of: Option<Vec<String>>,
    /// The text contains this, ignoring case.
    pub contains: Option<String>,
    /// The number is at least this.
    pub min: Option<f64>,
    /// The number is at most this.
    pub max: Option<f64>,
}

/// Most custom field conditions in one filter.
pub const FIELD_CONDITIONS_MAX: usize = 20;

/// Which risks to return. Members combine with AND; the values of a list member with OR. Absent or null members do not filter.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RiskFilter {
    /// Only these risks; at most 500. IDs of risks the caller cannot see
    /// match nothing, like unknown ones.
    pub ids: Option<Vec<ID>>,
    /// Only this register's risks.
    pub register_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<RiskStatus>>,
    /// Any of these stages.
    pub stage: Option<Vec<RiskStage>>,
    /// Any of these categories, exactly.
    pub category: Option<Vec<String>>,
    /// Any of these departments, exactly.
    pub department: Option<Vec<String>>,
    /// Owned by any of these members.
    pub owner_id: Option<Vec<ID>>,
    /// With any of these severities.
    pub severity_id: Option<Vec<ID>>,
    /// With any of these severities, named by reference (e.g. `high`), ignoring case.
    pub severity_reference: Option<Vec<String>>,
    /// With any of these treatments.
    pub treatment: Option<Vec<TreatmentStrategy>>,
    /// Inherent likelihood level in this list.
    pub likelihood_level: Option<Vec<i32>>,
    /// Inherent impact level in this list.
    pub impact_level: Option<Vec<i32>>,
    /// Residual likelihood level in this list.
    pub residual_likelihood_level: Option<Vec<i32>>,
    /// Residual impact level in this list.
    pub residual_impact_level: Option<Vec<i32>>,
    /// Inherent band level in this list.
    pub inherent_band: Option<Vec<i32>>,
    /// Residual band level in this list.
    pub residual_band: Option<Vec<i32>>,
    /// Residual score at least this (inclusive).
    pub residual_score_min: Option<f64>,
    /// Residual score at most this (inclusive).
    pub residual_score_max: Option<f64>,
    /// Only risks within (true) or beyond (false) tolerance; risks where it is unknown match neither.
    pub within_tolerance: Option<bool>,
    /// This source, ignoring case.
    pub source: Option<String>,
    /// This source id, ignoring case.
    pub source_id: Option<String>,
    /// Changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Created within this span.
    pub created_at: Option<TimeRange>,
    /// Last changed within this span.
    pub updated_at: Option<TimeRange>,
    /// Closed within this span (so CLOSED, or closed before being archived).
    pub closed_at: Option<TimeRange>,
    /// With a mitigation target date within this span.
    pub mitigation_target_at: Option<DateRange>,
    /// True: the mitigation target date has passed (it is before today, UTC)
    /// and the risk is not CLOSED. False: every other risk.
    pub overdue: Option<bool>,
    /// Conditions on custom field values, all of which must hold; at most 20.
    pub custom_fields: Option<Vec<CustomFieldCondition>>,
    /// Archived risks are left out unless this is true or status names ARCHIVED.
    #[graphql(default_with = "Some(false)")]
    pub include_archived: Option<bool>,
}

/// Most values a list of a filter may hold: each is a bound parameter of
/// the statement, and both databases cap how many one statement takes.
pub const FILTER_VALUES_MAX: usize = 500;

impl RiskFilter {
    /// Refuses a list longer than [`FILTER_VALUES_MAX`], naming it.
    pub fn check(&self) -> AppResult<()> {
        let lists = [
            ("ids", self.ids.as_ref().map(Vec::len)),
            ("status", self.status.as_ref().map(Vec::len)),
            ("stage", self.stage.as_ref().map(Vec::len)),
            ("category", self.category.as_ref().map(Vec::len)),
            ("department", self.department.as_ref().map(Vec::len)),
            ("ownerId", self.owner_id.as_ref().map(Vec::len)),
            ("severityId", self.severity_id.as_ref().map(Vec::len)),
            (
                "severityReference",
                self.severity_reference.as_ref().map(Vec::len),
            ),
            ("treatment", self.treatment.as_ref().map(Vec::len)),
            (
                "likelihoodLevel",
                self.likelihood_level.as_ref().map(Vec::len),
            ),
            ("impactLevel", self.impact_level.as_ref().map(Vec::len)),
            (
                "residualLikelihoodLevel",
                self.residual_likelihood_level.as_ref().map(Vec::len),
            ),
            (
                "residualImpactLevel",
                self.residual_impact_level.as_ref().map(Vec::len),
            ),
            ("inherentBand", self.inherent_band.as_ref().map(Vec::len)),
            ("residualBand", self.residual_band.as_ref().map(Vec::len)),
        ];
        let conditions = self.custom_fields.as_deref().unwrap_or_default();
        if conditions.len() > FIELD_CONDITIONS_MAX {
            return Err(AppError::LimitExceeded(format!(
                "filter.customFields may hold at most {FIELD_CONDITIONS_MAX} conditions"
            )));
        }
        if conditions.iter().any(|c| {
            c.any_of
                .as_ref()
                .is_some_and(|v| v.len() > FILTER_VALUES_MAX)
        }) {
            return Err(AppError::LimitExceeded(format!(
                "filter.customFields.in may list at most {FILTER_VALUES_MAX} values"
            )));
        }
        match lists
            .iter()
            .find(|(_, len)| len.is_some_and(|n| n > FILTER_VALUES_MAX))
        {
            Some((name, _)) => Err(AppError::LimitExceeded(format!(
                "filter.{name} may list at most {FILTER_VALUES_MAX} values"
            ))),
            None => Ok(()),
        }
    }
}

/// What risks can be sorted by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RiskOrderField {
    /// The identifier, as text.
    Identifier,
    /// The title, as text.
    Title,
    /// When the risk was created.
    CreatedAt,
    /// When the risk last changed.
    UpdatedAt,
    /// The inherent score; unscored risks come last either way.
    InherentScore,
    /// The residual score; unscored risks come last either way.
    ResidualScore,
    /// The mitigation target date; risks without one come last either way.
    MitigationTargetAt,
}

/// Which way a sort goes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// One sort key; later keys break ties of earlier ones, and the id breaks the rest.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct RiskOrder {
    /// What to sort by.
    pub field: RiskOrderField,
    /// ASC when not given.
    #[graphql(default)]
    pub direction: SortDirection,
}
