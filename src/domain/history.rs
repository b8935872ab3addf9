//! Field-level history: what changed between two states of a risk, named as
//! the API names the fields, and which of those changes each kind of
//! subscriber listens for.

use crate::domain::enums::RiskEventKind;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{risk, risk_event};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// A tracked field's value, borrowed from the model: compared as it is, and
/// turned into JSON (as the model's own serde would) only when it changed.
#[derive(Serialize, PartialEq)]
#[serde(untagged)]
enum Tracked<'a> {
    Text(Option<&'a str>),
    Level(Option<i32>),
    At(Option<DateTime<Utc>>),
    Day(Option<NaiveDate>),
}

type Field = fn(&risk::Model) -> Tracked<'_>;

/// The fields a client sets (or that follow from what it sets, like
/// closedAt), by their API names. Scores travel in the event's residual
/// before/after; bookkeeping columns are not history.
const TRACKED: &[(&str, Field)] = &[
    ("identifier", |r| Tracked::Text(Some(&r.identifier))),
    ("title", |r| Tracked::Text(Some(&r.title))),
    ("description", |r| Tracked::Text(r.description.as_deref())),
    ("category", |r| Tracked::Text(r.category.as_deref())),
    ("department", |r| Tracked::Text(r.department.as_deref())),
    ("status", |r| Tracked::Text(Some(&r.status))),
    ("stage", |r| Tracked::Text(Some(&r.stage))),
    ("closureReason", |r| {
        Tracked::Text(r.closure_reason.as_deref())
    }),
    ("closedAt", |r| Tracked::At(r.closed_at)),
    ("severityId", |r| Tracked::Text(r.severity_id.as_deref())),
    ("ownerId", |r| Tracked::Text(r.owner_id.as_deref())),
    ("likelihoodLevel", |r| Tracked::Level(r.likelihood_level)),
    ("impactLevel", |r| Tracked::Level(r.impact_level)),
    ("likelihoodRationale", |r| {
        Tracked::Text(r.likelihood_rationale.as_deref())
    }),
    ("impactRationale", |r| {
        Tracked::Text(r.impact_rationale.as_deref())
    }),
    ("residualLikelihoodOverride", |r| {
        Tracked::Level(r.residual_likelihood_override)
    }),
    ("residualImpactOverride", |r| {
        Tracked::Level(r.residual_impact_override)
    }),
    ("residualOverrideReason", |r| {
        Tracked::Text(r.residual_override_reason.as_deref())
    }),
    ("toleranceLevel", |r| Tracked::Level(r.tolerance_level)),
    ("treatment", |r| Tracked::Text(Some(&r.treatment))),
    ("treatmentDescription", |r| {
        Tracked::Text(r.treatment_description.as_deref())
    }),
    ("treatmentRationale", |r| {
        Tracked::Text(r.treatment_rationale.as_deref())
    }),
    ("mitigationTargetAt", |r| {
        Tracked::Day(r.mitigation_target_at)
    }),
    ("notes", |r| Tracked::Text(r.notes.as_deref())),
    ("source", |r| Tracked::Text(r.source.as_deref())),
    ("sourceId", |r| Tracked::Text(r.source_id.as_deref())),
];

/// Every tracked field whose value differs; with no `before`, every field set.
pub fn risk_changes(before: Option<&risk::Model>, after: &risk::Model) -> Vec<FieldChange> {
    let json = |value: Tracked<'_>| serde_json::to_value(value).unwrap_or(Value::Null);
    TRACKED
        .iter()
        .filter_map(|(field, read)| {
            let to = read(after);
            let from = before.map(read);
            let changed = match &from {
                Some(from) => *from != to,
                None => is_set(&to),
            };
            changed.then(|| FieldChange {
                field: (*field).to_owned(),
                from: from.map_or(Value::Null, json),
                to: json(to),
            })
        })
        .collect()
}

/// Whether a field of a new risk has a value.
fn is_set(value: &Tracked<'_>) -> bool {
    !matches!(
        value,
        Tracked::Text(None) | Tracked::Level(None) | Tracked::At(None) | Tracked::Day(None)
    )
}

/// What a subscriber of the change feed listens for: the feed wakes it for
/// those events only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Interest {
    /// Every change (`riskEvents`).
    Every,
    /// Moves of a residual score or level (`residualRiskChanged`).
    Residual,
    /// What can move a heatmap: a risk came, went, moved cell or changed
    /// status (`heatmapChanged`).
    Heatmap,
}

impl Interest {
    pub const ALL: [Interest; 3] = [Interest::Every, Interest::Residual, Interest::Heatmap];

    /// Its place in [`Interest::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether this interest listens for `event`.
    pub fn in_event(self, event: &risk_event::Model) -> bool {
        let moved_residual = || event.residual_before != event.residual_after;
        match self {
            Interest::Every => true,
            Interest::Residual => moved_residual(),
            Interest::Heatmap => {
                event.kind != RiskEventKind::Updated.as_str()
                    || moved_residual()
                    || ["\"status\"", "\"likelihoodLevel\"", "\"impactLevel\""]
                        .iter()
                        .any(|field| event.changes.contains(field))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn risk() -> risk::Model {
        let mut risk = crate::domain::risk::new_risk(
            "rsk_1".into(),
            ("org", "reg"),
            "mem",
            DateTime::UNIX_EPOCH,
        );
        risk.identifier = "RA-1".into();
        risk.title = "Phishing".into();
        risk
    }

    fn change(field: &str, from: Value, to: Value) -> FieldChange {
        FieldChange {
            field: field.into(),
            from,
            to,
        }
    }

    #[test]
    fn an_edit_lists_exactly_the_fields_that_differ_as_the_api_writes_them() {
        let before = risk();
        let mut after = before.clone();
        after.title = "Spear phishing".into();
        after.likelihood_level = Some(3);
        after.mitigation_target_at = NaiveDate::from_ymd_opt(2027, 3, 31);
        after.closed_at = DateTime::from_timestamp(1_800_000_000, 123_000_000);
        after.residual_score = Some(9.0);
        after.version = 7;
        assert_eq!(
            risk_changes(Some(&before), &after),
            [
                change("title", json!("Phishing"), json!("Spear phishing")),
                change("closedAt", Value::Null, json!("2027-01-15T08:00:00.123Z")),
                change("likelihoodLevel", Value::Null, json!(3)),
                change("mitigationTargetAt", Value::Null, json!("2027-03-31")),
            ]
        );
        assert!(risk_changes(Some(&after), &after).is_empty());
    }

    #[test]
    fn a_creation_lists_every_field_set() {
        let fields: Vec<String> = risk_changes(None, &risk())
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            fields,
            ["identifier", "title", "status", "stage", "treatment"]
        );
    }

    /// An event of `kind` that changed `changes`, with its residual before
    /// and after.
    pub(crate) fn event(
        kind: RiskEventKind,
        changes: &[&str],
        residual: (&str, &str),
    ) -> risk_event::Model {
        let changes: Vec<FieldChange> = changes
            .iter()
            .map(|field| FieldChange {
                field: (*field).into(),
                from: json!(1),
                to: json!(2),
            })
            .collect();
        risk_event::Model {
            seq: 1,
            org_id: "org".into(),
            register_id: "reg".into(),
            risk_id: "rsk".into(),
            kind: kind.as_str().into(),
            cause: "RISK_UPDATED".into(),
            actor_id: None,
            occurred_at: DateTime::default(),
            changes: serde_json::to_string(&changes).unwrap_or_default(),
            residual_before: Some(residual.0.into()),
            residual_after: Some(residual.1.into()),
        }
    }

    #[test]
    fn interests_are_the_events_that_can_change_what_they_show() {
        use Interest::*;
        let same = ("{\"score\":4}", "{\"score\":4}");
        let moved = ("{\"score\":4}", "{\"score\":9}");
        let cases = [
            // A note: only the whole feed.
            (
                event(RiskEventKind::Updated, &["notes"], same),
                [true, false, false],
            ),
            // A residual move: everyone.
            (
                event(RiskEventKind::Updated, &[], moved),
                [true, true, true],
            ),
            // An inherent level or a status moves an inherent heatmap, or
            // takes a risk off every heatmap, without a residual move.
            (
                event(RiskEventKind::Updated, &["likelihoodLevel"], same),
                [true, false, true],
            ),
            (
                event(RiskEventKind::Updated, &["status"], same),
                [true, false, true],
            ),
            // A risk that comes or goes.
            (
                event(RiskEventKind::Archived, &[], same),
                [true, false, true],
            ),
            (
                event(RiskEventKind::Created, &["title"], same),
                [true, false, true],
            ),
        ];
        for (event, expected) in cases {
            let got = [Every, Residual, Heatmap].map(|i| i.in_event(&event));
            assert_eq!(got, expected, "{} {}", event.kind, event.changes);
        }
    }
}
