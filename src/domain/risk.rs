//! The rules of a risk's own fields: partial updates, text limits, levels
//! against the register's scales, status and override bookkeeping, and the
//! stored score columns.

use super::custom_fields::ValueInput;
use super::date::Date;
use super::enums::{ClosureReason, RiskStage, RiskStatus, ScoreBasis, TreatmentStrategy};
use super::scales::Scales;
use super::scoring::{self, Assessment, Mitigation, Score};
use super::validation::{
    self, IDENTIFIER_MAX, LABEL_MAX, SOURCE_ID_MAX, SOURCE_MAX, TITLE_MAX, not_cleared,
};
use crate::error::{AppError, AppResult};
use async_graphql::{ID, InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};
use entity::risk;

/// A value for one custom field. Give the member that matches the field's
/// type; a value with every member null clears the field.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CustomFieldValueInput {
    /// The custom field, of the risk's register.
    pub field_id: ID,
    /// For TEXT fields; up to 64 KiB.
    pub text: Option<String>,
    /// For NUMBER fields; PERCENTAGE fields take a fraction (0.25 for 25 %).
    pub number: Option<f64>,
    /// For BOOLEAN fields.
    pub boolean: Option<bool>,
    /// For DATE fields.
    pub date: Option<Date>,
    /// For USER fields: a member of the organization.
    pub user_id: Option<ID>,
    /// For SINGLE_SELECT fields: one of the field's options.
    pub selection: Option<String>,
    /// For MULTI_SELECT fields: any of the field's options, each once.
    pub selections: Option<Vec<String>>,
}

impl CustomFieldValueInput {
    pub fn into_value(self) -> (String, ValueInput) {
        (
            self.field_id.0,
            ValueInput {
                text: self.text,
                number: self.number,
                boolean: self.boolean,
                date: self.date.map(|d| d.0),
                user_id: self.user_id.map(|id| id.0),
                selection: self.selection,
                selections: self.selections,
            },
        )
    }
}

/// Changes to a risk. A field left out is unchanged; a field given as null is
/// cleared (a required field given as null is an error).
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "UpdateRiskInput")]
pub struct RiskPatch {
    /// Unique in the register, up to 64 characters. Cannot be cleared.
    pub identifier: MaybeUndefined<String>,
    /// 1 to 128 characters. Cannot be cleared.
    pub title: MaybeUndefined<String>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub description: MaybeUndefined<String>,
    /// Up to 128 characters. Absent: unchanged; null: cleared.
    pub category: MaybeUndefined<String>,
    /// Up to 128 characters. Absent: unchanged; null: cleared.
    pub department: MaybeUndefined<String>,
    /// CLOSED sets closedAt (when unset); leaving CLOSED clears closedAt and closureReason. Cannot be cleared.
    pub status: MaybeUndefined<RiskStatus>,
    /// Cannot be cleared.
    pub stage: MaybeUndefined<RiskStage>,
    /// Only while the status is CLOSED. Absent: unchanged; null: cleared.
    pub closure_reason: MaybeUndefined<ClosureReason>,
    /// An enabled severity of the organization. Absent: unchanged; null: cleared.
    pub severity_id: MaybeUndefined<ID>,
    /// A member of the organization. Absent: unchanged; null: cleared.
    pub owner_id: MaybeUndefined<ID>,
    /// Index into the register's likelihood levels, from 0; re-scores the risk. Absent: unchanged; null: cleared.
    pub likelihood_level: MaybeUndefined<i32>,
    /// Index into the register's impact levels, from 0; re-scores the risk. Absent: unchanged; null: cleared.
    pub impact_level: MaybeUndefined<i32>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub likelihood_rationale: MaybeUndefined<String>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub impact_rationale: MaybeUndefined<String>,
    /// A likelihood level that replaces the computed residual one; setting or clearing it records who and when. Absent: unchanged; null: cleared.
    pub residual_likelihood_override: MaybeUndefined<i32>,
    /// An impact level that replaces the computed residual one; setting or clearing it records who and when. Absent: unchanged; null: cleared.
    pub residual_impact_override: MaybeUndefined<i32>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub residual_override_reason: MaybeUndefined<String>,
    /// The highest acceptable band level, from 0. Absent: unchanged; null: cleared.
    pub tolerance_level: MaybeUndefined<i32>,
    /// Cannot be cleared.
    pub treatment: MaybeUndefined<TreatmentStrategy>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub treatment_description: MaybeUndefined<String>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub treatment_rationale: MaybeUndefined<String>,
    /// The date by which the risk should be within tolerance. Absent: unchanged; null: cleared.
    pub mitigation_target_at: MaybeUndefined<Date>,
    /// Up to 64 KiB. Absent: unchanged; null: cleared.
    pub notes: MaybeUndefined<String>,
    /// Up to 30 characters. Absent: unchanged; null: cleared.
    pub source: MaybeUndefined<String>,
    /// Up to 128 characters; source and sourceId together are unique in the organization. Absent: unchanged; null: cleared.
    pub source_id: MaybeUndefined<String>,
    /// Only the fields listed are changed; a value with every member null clears that field.
    pub custom_fields: Option<Vec<CustomFieldValueInput>>,
}

/// What applying a patch needs besides the risk.
pub struct PatchContext<'a> {
    pub scales: &'a Scales,
    pub now: DateTime<Utc>,
    pub actor_id: &'a str,
}

/// `Some(new value)` when the patch names the field.
fn optional<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn text(
    slot: &mut Option<String>,
    field: &str,
    value: MaybeUndefined<String>,
    max_chars: Option<usize>,
) -> AppResult<()> {
    if let Some(new) = optional(value) {
        if let Some(t) = &new {
            match max_chars {
                Some(max) => validation::bounded(field, t, max)?,
                None => validation::long_text(field, t)?,
            }
        }
        *slot = new.filter(|t| !t.is_empty());
    }
    Ok(())
}

fn level(
    slot: &mut Option<i32>,
    field: &str,
    value: MaybeUndefined<i32>,
    len: usize,
    what: &str,
) -> AppResult<()> {
    if let Some(new) = optional(value) {
        if let Some(l) = new {
            validation::level(field, l, len, what)?;
        }
        *slot = new;
    }
    Ok(())
}

/// Applies a patch to `risk` (custom fields, severity and owner references are
/// the store's: they need the database). Returns the custom field values.
pub fn apply(
    risk: &mut risk::Model,
    patch: RiskPatch,
    ctx: &PatchContext<'_>,
) -> AppResult<Vec<CustomFieldValueInput>> {
    let RiskPatch {
        identifier,
        title,
        description: d,
        category,
        department,
        status,
        stage,
        closure_reason,
        severity_id,
        owner_id,
        likelihood_level,
        impact_level,
        likelihood_rationale: lr,
        impact_rationale: ir,
        residual_likelihood_override,
        residual_impact_override,
        residual_override_reason: or,
        tolerance_level,
        treatment,
        treatment_description: td,
        treatment_rationale: tr,
        mitigation_target_at,
        notes,
        source,
        source_id,
        custom_fields,
    } = patch;
    if let Some(identifier) = not_cleared("identifier", identifier)? {
        validation::required("identifier", &identifier, IDENTIFIER_MAX)?;
        risk.identifier = identifier.trim().to_owned();
    }
    if let Some(title) = not_cleared("title", title)? {
        validation::required("title", &title, TITLE_MAX)?;
        risk.title = title;
    }
    apply_texts(
        risk,
        [
            d, category, department, lr, ir, or, td, tr, notes, source, source_id,
        ],
    )?;
    if let Some(stage) = not_cleared("stage", stage)? {
        risk.stage = stage.as_str().to_owned();
    }
    if let Some(treatment) = not_cleared("treatment", treatment)? {
        risk.treatment = treatment.as_str().to_owned();
    }
    if let Some(severity) = optional(severity_id) {
        risk.severity_id = severity.map(|id| id.0);
    }
    if let Some(owner) = optional(owner_id) {
        risk.owner_id = owner.map(|id| id.0);
    }
    if let Some(date) = optional(mitigation_target_at) {
        risk.mitigation_target_at = date.map(|d| d.0);
    }
    let levels = [
        likelihood_level,
        impact_level,
        tolerance_level,
        residual_likelihood_override,
        residual_impact_override,
    ];
    apply_levels(risk, levels, ctx)?;
    let status = not_cleared("status", status)?;
    apply_status(risk, status, optional(closure_reason), ctx.now)?;
    Ok(custom_fields.unwrap_or_default())
}

/// The free-text fields of a patch, in the order `apply` lists them.
fn apply_texts(risk: &mut risk::Model, values: [MaybeUndefined<String>; 11]) -> AppResult<()> {
    let [
        d,
        category,
        department,
        lr,
        ir,
        or,
        td,
        tr,
        notes,
        source,
        source_id,
    ] = values;
    // (the risk's field, its API name, the patch's value, the longest it may be)
    for (slot, field, value, max) in [
        (&mut risk.description, "description", d, None),
        (&mut risk.category, "category", category, Some(LABEL_MAX)),
        (
            &mut risk.department,
            "department",
            department,
            Some(LABEL_MAX),
        ),
        (
            &mut risk.likelihood_rationale,
            "likelihoodRationale",
            lr,
            None,
        ),
        (&mut risk.impact_rationale, "impactRationale", ir, None),
        (
            &mut risk.residual_override_reason,
            "residualOverrideReason",
            or,
            None,
        ),
        (
            &mut risk.treatment_description,
            "treatmentDescription",
            td,
            None,
        ),
        (
            &mut risk.treatment_rationale,
            "treatmentRationale",
            tr,
            None,
        ),
        (&mut risk.notes, "notes", notes, None),
        (&mut risk.source, "source", source, Some(SOURCE_MAX)),
        (
            &mut risk.source_id,
            "sourceId",
            source_id,
            Some(SOURCE_ID_MAX),
        ),
    ] {
        text(slot, field, value, max)?;
    }
    Ok(())
}

/// The levels of a patch (likelihood, impact, tolerance and the two
/// overrides), each checked against its scale; a change to an override
/// records who made it and when.
fn apply_levels(
    risk: &mut risk::Model,
    values: [MaybeUndefined<i32>; 5],
    ctx: &PatchContext<'_>,
) -> AppResult<()> {
    let [likelihood_level, impact_level, tolerance_level, lo, io] = values;
    let scales = ctx.scales;
    let (l, i) = (scales.likelihood.len(), scales.impact.len());
    let overrides_before = (
        risk.residual_likelihood_override,
        risk.residual_impact_override,
    );
    // (the risk's level, its API name, the patch's value, levels on its scale, the scale)
    for (slot, field, value, len, scale) in [
        (
            &mut risk.likelihood_level,
            "likelihoodLevel",
            likelihood_level,
            l,
            "likelihood",
        ),
        (
            &mut risk.impact_level,
            "impactLevel",
            impact_level,
            i,
            "impact",
        ),
        (
            &mut risk.tolerance_level,
            "toleranceLevel",
            tolerance_level,
            scales.bands.len(),
            "band",
        ),
        (
            &mut risk.residual_likelihood_override,
            "residualLikelihoodOverride",
            lo,
            l,
            "likelihood",
        ),
        (
            &mut risk.residual_impact_override,
            "residualImpactOverride",
            io,
            i,
            "impact",
        ),
    ] {
        level(slot, field, value, len, scale)?;
    }
    if (
        risk.residual_likelihood_override,
        risk.residual_impact_override,
    ) != overrides_before
    {
        // Setting or clearing an override is recorded alike: who and when
        // name the last change to them. The reason stays as the client left
        // it.
        risk.residual_overridden_by = Some(ctx.actor_id.to_owned());
        risk.residual_overridden_at = Some(ctx.now);
    }
    Ok(())
}

/// CLOSED sets closedAt; reopening (any status but CLOSED and ARCHIVED)
/// clears closedAt and the reason. Archiving keeps how a risk was closed. A
/// closure reason is only set with CLOSED.
fn apply_status(
    risk: &mut risk::Model,
    status: Option<RiskStatus>,
    reason: Option<Option<ClosureReason>>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(status) = status {
        risk.status = status.as_str().to_owned();
    }
    let closed = risk.status == RiskStatus::Closed.as_str();
    if let Some(reason) = reason {
        if reason.is_some() && !closed {
            return Err(AppError::bad_input(
                "closureReason",
                "a closure reason needs status CLOSED",
            ));
        }
        risk.closure_reason = reason.map(|r| r.as_str().to_owned());
    }
    if closed {
        risk.closed_at.get_or_insert(now);
    } else if risk.status != RiskStatus::Archived.as_str() {
        risk.closed_at = None;
        risk.closure_reason = None;
    }
    Ok(())
}

/// A new risk before any input is applied: open, proposed, untreated and
/// unscored. Creation applies its input to this as a patch.
pub fn new_risk(
    id: String,
    (org_id, register_id): (&str, &str),
    actor: &str,
    now: DateTime<Utc>,
) -> risk::Model {
    risk::Model {
        id,
        org_id: org_id.to_owned(),
        register_id: register_id.to_owned(),
        identifier: String::new(),
        title: String::new(),
        description: None,
        category: None,
        department: None,
        status: RiskStatus::Open.as_str().to_owned(),
        stage: RiskStage::Proposed.as_str().to_owned(),
        closure_reason: None,
        closed_at: None,
        severity_id: None,
        owner_id: None,
        likelihood_level: None,
        impact_level: None,
        likelihood_rationale: None,
        impact_rationale: None,
        residual_likelihood_override: None,
        residual_impact_override: None,
        residual_override_reason: None,
        residual_overridden_by: None,
        residual_overridden_at: None,
        tolerance_level: None,
        treatment: TreatmentStrategy::NotSet.as_str().to_owned(),
        treatment_description: None,
        treatment_rationale: None,
        mitigation_target_at: None,
        notes: None,
        source: None,
        source_id: None,
        inherent_score: None,
        inherent_band: None,
        residual_likelihood_level: None,
        residual_impact_level: None,
        residual_likelihood_value: None,
        residual_impact_value: None,
        residual_score: None,
        residual_band: None,
        residual_overridden: false,
        target_likelihood_level: None,
        target_impact_level: None,
        target_likelihood_value: None,
        target_impact_value: None,
        target_score: None,
        target_band: None,
        within_tolerance: None,
        version: 1,
        created_at: now,
        created_by: Some(actor.to_owned()),
        updated_at: now,
        updated_by: Some(actor.to_owned()),
    }
}

fn to_level(level: Option<i32>) -> Option<usize> {
    level.and_then(|l| usize::try_from(l).ok())
}

fn to_column(level: usize) -> i32 {
    i32::try_from(level).unwrap_or(i32::MAX)
}

pub fn assessment(risk: &risk::Model) -> Assessment {
    Assessment {
        likelihood: to_level(risk.likelihood_level),
        impact: to_level(risk.impact_level),
        likelihood_override: to_level(risk.residual_likelihood_override),
        impact_override: to_level(risk.residual_impact_override),
        tolerance: to_level(risk.tolerance_level),
    }
}

/// Recomputes and stores every score column of `risk`.
pub fn rescore(risk: &mut risk::Model, scales: &Scales, links: &[Mitigation]) {
    let s = scoring::compute(scales, &assessment(risk), links);
    risk.inherent_score = s.inherent.as_ref().map(|x| x.score);
    risk.inherent_band = s.inherent.as_ref().map(|x| to_column(x.band));
    let r = s.residual.as_ref();
    risk.residual_likelihood_level = r.map(|x| to_column(x.likelihood_level));
    risk.residual_impact_level = r.map(|x| to_column(x.impact_level));
    risk.residual_likelihood_value = r.map(|x| x.likelihood_value);
    risk.residual_impact_value = r.map(|x| x.impact_value);
    risk.residual_score = r.map(|x| x.score);
    risk.residual_band = r.map(|x| to_column(x.band));
    risk.residual_overridden = r.is_some_and(|x| x.overridden);
    let t = s.target.as_ref();
    risk.target_likelihood_level = t.map(|x| to_column(x.likelihood_level));
    risk.target_impact_level = t.map(|x| to_column(x.impact_level));
    risk.target_likelihood_value = t.map(|x| x.likelihood_value);
    risk.target_impact_value = t.map(|x| x.impact_value);
    risk.target_score = t.map(|x| x.score);
    risk.target_band = t.map(|x| to_column(x.band));
    risk.within_tolerance = s.within_tolerance;
}

/// Where the kept heatmap counts put a risk without both levels.
pub const UNSCORED_CELL: (i32, i32) = (-1, -1);

/// The kept-count cell of a pair of levels.
pub fn heatmap_cell(likelihood: Option<i32>, impact: Option<i32>) -> (i32, i32) {
    likelihood.zip(impact).unwrap_or(UNSCORED_CELL)
}

/// A risk's (likelihood, impact) levels on `basis`.
pub fn levels_on(risk: &risk::Model, basis: ScoreBasis) -> (Option<i32>, Option<i32>) {
    match basis {
        ScoreBasis::Inherent => (risk.likelihood_level, risk.impact_level),
        ScoreBasis::Residual => (risk.residual_likelihood_level, risk.residual_impact_level),
    }
}

/// A risk's score on `basis`.
pub fn score_on(risk: &risk::Model, basis: ScoreBasis) -> Option<f64> {
    match basis {
        ScoreBasis::Inherent => risk.inherent_score,
        ScoreBasis::Residual => risk.residual_score,
    }
}

/// The heatmap cells a risk counts in, by basis: its (likelihood, impact)
/// levels, or (-1, -1) without both. Only open risks count.
pub fn heatmap_cells(risk: &risk::Model) -> Vec<(ScoreBasis, (i32, i32))> {
    if !RiskStatus::OPEN.iter().any(|s| s.as_str() == risk.status) {
        return Vec::new();
    }
    [ScoreBasis::Inherent, ScoreBasis::Residual]
        .into_iter()
        .map(|basis| {
            let (likelihood, impact) = levels_on(risk, basis);
            (basis, heatmap_cell(likelihood, impact))
        })
        .collect()
}

/// A column whose heatmap counts are kept by value (migration 13): what a
/// dashboard filters a heatmap by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Facet {
    Stage,
    Category,
    Department,
    Owner,
    Severity,
    Treatment,
}

impl Facet {
    pub const ALL: [Self; 6] = [
        Self::Stage,
        Self::Category,
        Self::Department,
        Self::Owner,
        Self::Severity,
        Self::Treatment,
    ];

    /// The name the kept counts give it: its column's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Category => "category",
            Self::Department => "department",
            Self::Owner => "owner_id",
            Self::Severity => "severity_id",
            Self::Treatment => "treatment",
        }
    }
}

/// The values a risk counts under in each facet's kept counts.
pub fn facet_values(risk: &risk::Model) -> [(Facet, Option<&str>); 6] {
    [
        (Facet::Stage, Some(risk.stage.as_str())),
        (Facet::Category, risk.category.as_deref()),
        (Facet::Department, risk.department.as_deref()),
        (Facet::Owner, risk.owner_id.as_deref()),
        (Facet::Severity, risk.severity_id.as_deref()),
        (Facet::Treatment, Some(risk.treatment.as_str())),
    ]
}

/// Which stored score to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Inherent,
    Residual,
    Target,
}

/// A stored score, rebuilt from its columns; the inherent one takes its values
/// from the scales.
pub fn stored_score(risk: &risk::Model, which: Stored, scales: &Scales) -> Option<Score> {
    let (l, i, lv, iv, score, band, overridden) = match which {
        Stored::Inherent => {
            let (l, i) = (
                to_level(risk.likelihood_level)?,
                to_level(risk.impact_level)?,
            );
            (
                l,
                i,
                scales.likelihood.get(l)?.value,
                scales.impact.get(i)?.value,
                risk.inherent_score?,
                risk.inherent_band?,
                false,
            )
        }
        Stored::Residual => (
            to_level(risk.residual_likelihood_level)?,
            to_level(risk.residual_impact_level)?,
            risk.residual_likelihood_value?,
            risk.residual_impact_value?,
            risk.residual_score?,
            risk.residual_band?,
            risk.residual_overridden,
        ),
        Stored::Target => (
            to_level(risk.target_likelihood_level)?,
            to_level(risk.target_impact_level)?,
            risk.target_likelihood_value?,
            risk.target_impact_value?,
            risk.target_score?,
            risk.target_band?,
            false,
        ),
    };
    Some(Score {
        likelihood_level: l,
        likelihood_value: lv,
        impact_level: i,
        impact_value: iv,
        score,
        band: to_level(Some(band))?,
        overridden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enums::ScalesPreset;
    use chrono::TimeZone;

    fn blank() -> risk::Model {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        let mut risk = new_risk("rsk_1".into(), ("org_1", "reg_1"), "mem_0", at);
        risk.identifier = "RA-1".into();
        risk.title = "t".into();
        risk
    }

    fn ctx(scales: &Scales) -> PatchContext<'_> {
        PatchContext {
            scales,
            now: Utc
                .with_ymd_and_hms(2026, 2, 1, 0, 0, 0)
                .single()
                .expect("date"),
            actor_id: "mem_1",
        }
    }

    #[test]
    fn absent_fields_stay_and_null_clears() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let mut risk = blank();
        risk.notes = Some("keep".into());
        risk.category = Some("drop".into());
        let patch = RiskPatch {
            category: MaybeUndefined::Null,
            ..RiskPatch::default()
        };
        apply(&mut risk, patch, &ctx(&scales)).expect("applies");
        assert_eq!(risk.notes.as_deref(), Some("keep"));
        assert_eq!(risk.category, None);
    }

    #[test]
    fn required_fields_cannot_be_cleared() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let patch = RiskPatch {
            title: MaybeUndefined::Null,
            ..RiskPatch::default()
        };
        match apply(&mut blank(), patch, &ctx(&scales)) {
            Err(AppError::BadUserInput { field, .. }) => assert_eq!(field, "title"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closing_sets_closed_at_and_reopening_clears_it() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let mut risk = blank();
        let close = RiskPatch {
            status: MaybeUndefined::Value(RiskStatus::Closed),
            closure_reason: MaybeUndefined::Value(ClosureReason::Mitigated),
            ..RiskPatch::default()
        };
        apply(&mut risk, close, &ctx(&scales)).expect("closes");
        assert_eq!(risk.closed_at, Some(ctx(&scales).now));
        assert_eq!(risk.closure_reason.as_deref(), Some("MITIGATED"));
        let reopen = RiskPatch {
            status: MaybeUndefined::Value(RiskStatus::Open),
            ..RiskPatch::default()
        };
        apply(&mut risk, reopen, &ctx(&scales)).expect("reopens");
        assert_eq!((risk.closed_at, risk.closure_reason), (None, None));
    }

    #[test]
    fn archiving_keeps_how_a_risk_was_closed() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let mut risk = blank();
        let close = RiskPatch {
            status: MaybeUndefined::Value(RiskStatus::Closed),
            closure_reason: MaybeUndefined::Value(ClosureReason::Accepted),
            ..RiskPatch::default()
        };
        apply(&mut risk, close, &ctx(&scales)).expect("closes");
        let archive = RiskPatch {
            status: MaybeUndefined::Value(RiskStatus::Archived),
            ..RiskPatch::default()
        };
        apply(&mut risk, archive, &ctx(&scales)).expect("archives");
        assert_eq!(risk.status, "ARCHIVED");
        assert_eq!(risk.closed_at, Some(ctx(&scales).now));
        assert_eq!(risk.closure_reason.as_deref(), Some("ACCEPTED"));
    }

    #[test]
    fn overrides_record_who_and_when() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let mut risk = blank();
        let set = RiskPatch {
            residual_impact_override: MaybeUndefined::Value(1),
            ..RiskPatch::default()
        };
        apply(&mut risk, set, &ctx(&scales)).expect("sets");
        assert_eq!(risk.residual_overridden_by.as_deref(), Some("mem_1"));
        let reason = RiskPatch {
            residual_override_reason: MaybeUndefined::Value("audited".into()),
            ..RiskPatch::default()
        };
        apply(&mut risk, reason, &ctx(&scales)).expect("explains");
        let clear = RiskPatch {
            residual_impact_override: MaybeUndefined::Null,
            ..RiskPatch::default()
        };
        let later = PatchContext {
            now: ctx(&scales).now + chrono::Duration::hours(1),
            actor_id: "mem_2",
            ..ctx(&scales)
        };
        apply(&mut risk, clear, &later).expect("clears");
        assert_eq!(
            (
                risk.residual_overridden_by.as_deref(),
                risk.residual_overridden_at
            ),
            (Some("mem_2"), Some(later.now))
        );
        // The client did not send the reason: it stays.
        assert_eq!(risk.residual_override_reason.as_deref(), Some("audited"));
    }

    #[test]
    fn stored_scores_round_trip() {
        let scales = Scales::preset(ScalesPreset::Default5x5);
        let mut risk = blank();
        risk.likelihood_level = Some(3);
        risk.impact_level = Some(2);
        risk.residual_likelihood_override = Some(0);
        rescore(&mut risk, &scales, &[]);
        let s = scoring::compute(&scales, &assessment(&risk), &[]);
        assert_eq!(stored_score(&risk, Stored::Inherent, &scales), s.inherent);
        assert_eq!(stored_score(&risk, Stored::Residual, &scales), s.residual);
        assert_eq!(stored_score(&risk, Stored::Target, &scales), s.target);
    }
}
