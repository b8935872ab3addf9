//! Field-level history: what changed between two states of a risk, named as
//! the API names the fields.

use entity::risk;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// The columns a client sets (or that follow from what it sets, like
/// closedAt), with their API names. Scores travel in the event's
/// residual before/after; bookkeeping columns are not history.
const TRACKED: &[(&str, &str)] = &[
    ("identifier", "identifier"),
    ("title", "title"),
    ("description", "description"),
    ("category", "category"),
    ("department", "department"),
    ("status", "status"),
    ("stage", "stage"),
    ("closure_reason", "closureReason"),
    ("closed_at", "closedAt"),
    ("severity_id", "severityId"),
    ("owner_id", "ownerId"),
    ("likelihood_level", "likelihoodLevel"),
    ("impact_level", "impactLevel"),
    ("likelihood_rationale", "likelihoodRationale"),
    ("impact_rationale", "impactRationale"),
    ("residual_likelihood_override", "residualLikelihoodOverride"),
    ("residual_impact_override", "residualImpactOverride"),
    ("residual_override_reason", "residualOverrideReason"),
    ("tolerance_level", "toleranceLevel"),
    ("treatment", "treatment"),
    ("treatment_description", "treatmentDescription"),
    ("treatment_rationale", "treatmentRationale"),
    ("mitigation_target_at", "mitigationTargetAt"),
    ("notes", "notes"),
    ("source", "source"),
    ("source_id", "sourceId"),
];

/// Every tracked field whose value differs; with no `before`, every field set.
pub fn risk_changes(before: Option<&risk::Model>, after: &risk::Model) -> Vec<FieldChange> {
    let to_map = |model: &risk::Model| match serde_json::to_value(model) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let old = before.map(to_map).unwrap_or_default();
    let new = to_map(after);
    TRACKED
        .iter()
        .filter_map(|(column, field)| {
            let from = old.get(*column).cloned().unwrap_or(Value::Null);
            let to = new.get(*column).cloned().unwrap_or(Value::Null);
            (from != to).then(|| FieldChange {
                field: (*field).to_owned(),
                from,
                to,
            })
        })
        .collect()
}
