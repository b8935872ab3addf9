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
use async_graphql::{Enum, ID, InputObject, MaybeUndefined};

#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateRegisterInput {
    pub name: String,
    pub description: Option<String>,
    /// Prefix of generated risk identifiers, e.g. RA gives RA-1, RA-2, ...
    pub identifier_prefix: String,
    /// Give scales or a preset; DEFAULT_5X5 when neither.
    pub scales: Option<Scales>,
    pub preset: Option<ScalesPreset>,
}

/// Where each old level goes when scales change: likelihood[old] = new level.
#[derive(InputObject, Clone, Debug)]
pub struct ScalesRemapInput {
    pub likelihood: Option<Vec<i32>>,
    pub impact: Option<Vec<i32>>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateRegisterInput {
    pub name: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub identifier_prefix: MaybeUndefined<String>,
    pub scales: MaybeUndefined<Scales>,
    /// Needed when the new scales would leave existing risks' levels out of range.
    pub scales_remap: Option<ScalesRemapInput>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateSeverityInput {
    pub name: String,
    pub description: Option<String>,
    pub information: Option<String>,
    pub position: Option<i32>,
    pub disabled: Option<bool>,
    pub source: Option<String>,
    pub source_id: Option<String>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateSeverityInput {
    pub name: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub information: MaybeUndefined<String>,
    pub position: MaybeUndefined<i32>,
    pub disabled: MaybeUndefined<bool>,
    pub source: MaybeUndefined<String>,
    pub source_id: MaybeUndefined<String>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct SeverityFilter {
    pub disabled: Option<bool>,
    /// Case-insensitive substring of name or reference.
    pub name: Option<String>,
    pub source: Option<String>,
    pub source_id: Option<String>,
}

#[derive(InputObject, Clone, Debug)]
pub struct CreateCustomFieldInput {
    pub register_id: ID,
    pub name: String,
    #[graphql(name = "type")]
    pub field_type: CustomFieldType,
    pub number_format: Option<NumberFormat>,
    pub options: Option<Vec<String>>,
    pub required: Option<bool>,
    pub position: Option<i32>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateCustomFieldInput {
    pub name: MaybeUndefined<String>,
    pub number_format: MaybeUndefined<NumberFormat>,
    pub options: MaybeUndefined<Vec<String>>,
    pub required: MaybeUndefined<bool>,
    pub position: MaybeUndefined<i32>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateRiskInput {
    pub register_id: ID,
    /// Generated from the register prefix when absent.
    pub identifier: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub department: Option<String>,
    pub status: Option<RiskStatus>,
    pub stage: Option<RiskStage>,
    pub closure_reason: Option<ClosureReason>,
    pub severity_id: Option<ID>,
    pub owner_id: Option<ID>,
    pub likelihood_level: Option<i32>,
    pub impact_level: Option<i32>,
    pub likelihood_rationale: Option<String>,
    pub impact_rationale: Option<String>,
    pub residual_likelihood_override: Option<i32>,
    pub residual_impact_override: Option<i32>,
    pub residual_override_reason: Option<String>,
    pub tolerance_level: Option<i32>,
    pub treatment: Option<TreatmentStrategy>,
    pub treatment_description: Option<String>,
    pub treatment_rationale: Option<String>,
    pub mitigation_target_at: Option<Date>,
    pub notes: Option<String>,
    pub source: Option<String>,
    pub source_id: Option<String>,
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
}

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

#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateControlInput {
    pub identifier: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// HEALTHY when not given.
    pub health: Option<ControlHealth>,
    /// Default strength of new links, 0..1; 1 when not given.
    pub effectiveness: Option<f64>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct UpdateControlInput {
    pub identifier: MaybeUndefined<String>,
    pub name: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub health: MaybeUndefined<ControlHealth>,
    pub effectiveness: MaybeUndefined<f64>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct RiskFilter {
    pub register_id: Option<ID>,
    pub status: Option<Vec<RiskStatus>>,
    pub stage: Option<Vec<RiskStage>>,
    pub category: Option<Vec<String>>,
    pub department: Option<Vec<String>>,
    pub owner_id: Option<Vec<ID>>,
    pub severity_id: Option<Vec<ID>>,
    pub treatment: Option<Vec<TreatmentStrategy>>,
    pub likelihood_level: Option<Vec<i32>>,
    pub impact_level: Option<Vec<i32>>,
    pub residual_likelihood_level: Option<Vec<i32>>,
    pub residual_impact_level: Option<Vec<i32>>,
    pub inherent_band: Option<Vec<i32>>,
    pub residual_band: Option<Vec<i32>>,
    pub residual_score_min: Option<f64>,
    pub residual_score_max: Option<f64>,
    pub within_tolerance: Option<bool>,
    pub source: Option<String>,
    pub source_id: Option<String>,
    pub updated_since: Option<Timestamp>,
    /// Archived risks are left out unless this is true or status names ARCHIVED.
    #[graphql(default_with = "Some(false)")]
    pub include_archived: Option<bool>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RiskOrderField {
    Identifier,
    Title,
    CreatedAt,
    UpdatedAt,
    InherentScore,
    ResidualScore,
    MitigationTargetAt,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

#[derive(InputObject, Clone, Copy, Debug)]
pub struct RiskOrder {
    pub field: RiskOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}
