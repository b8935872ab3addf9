//! Keeps stored scores true: loads the links in force for risks and writes
//! back the risks whose scores a change moved, each with its event, inside the
//! caller's transaction.

use super::events::{self, NewEvent};
use super::{Binder, ROWS_PER_STATEMENT};
use crate::auth::Principal;
use crate::domain::enums::{ChangeCause, ControlHealth, MitigationTarget, RiskEventKind};
use crate::domain::history::FieldChange;
use crate::domain::risk::{self as rules, Stored, stored_score};
use crate::domain::scales::Scales;
use crate::domain::scoring::Mitigation;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use entity::{control, register, risk, risk_control};
use sea_orm::sea_query::{Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// The mitigation a link puts in force: its own strength, or its control's
/// effectiveness when it has none.
pub fn mitigation(link: &risk_control::Model, control: &control::Model) -> AppResult<Mitigation> {
    Ok(Mitigation {
        reduces: MitigationTarget::from_stored(&link.reduces)?,
        strength: link.strength.unwrap_or(control.effectiveness),
        health: ControlHealth::from_stored(&control.health)?,
    })
}

/// Links to non-archived controls of the risks `which` selects, by risk.
async fn mitigations_where(
    db: &impl ConnectionTrait,
    which: SimpleExpr,
) -> AppResult<HashMap<String, Vec<Mitigation>>> {
    let rows = risk_control::Entity::find()
        .find_also_related(control::Entity)
        .filter(which)
        .filter(control::Column::Archived.eq(false))
        .all(db)
        .await?;
    let mut by_risk: HashMap<String, Vec<Mitigation>> = HashMap::new();
    for (link, control) in rows {
        if let Some(control) = control {
            let m = mitigation(&link, &control)?;
            by_risk.entry(link.risk_id).or_default().push(m);
        }
    }
    Ok(by_risk)
}

pub async fn mitigations_of(
    db: &impl ConnectionTrait,
    risk_ids: &[String],
) -> AppResult<HashMap<String, Vec<Mitigation>>> {
    let mut all = HashMap::new();
    for ids in risk_ids.chunks(ROWS_PER_STATEMENT) {
        let which = risk_control::Column::RiskId.is_in(ids.iter().map(String::as_str));
        all.extend(mitigations_where(db, which).await?);
    }
    Ok(all)
}

/// The mitigations of every risk of a register.
pub async fn mitigations_in_register(
    db: &impl ConnectionTrait,
    register_id: &str,
) -> AppResult<HashMap<String, Vec<Mitigation>>> {
    let risks = Query::select()
        .column(risk::Column::Id)
        .from(risk::Entity)
        .and_where(risk::Column::RegisterId.eq(register_id))
        .take();
    mitigations_where(db, risk_control::Column::RiskId.in_subquery(risks)).await
}

/// The columns a re-score or a move to new scales changes: the levels (a
/// remap moves them) and every stored score.
fn scored(r: &risk::Model) -> [(risk::Column, sea_orm::Value); 20] {
    use risk::Column as C;
    [
        (C::LikelihoodLevel, r.likelihood_level.into()),
        (C::ImpactLevel, r.impact_level.into()),
        (
            C::ResidualLikelihoodOverride,
            r.residual_likelihood_override.into(),
        ),
        (C::ResidualImpactOverride, r.residual_impact_override.into()),
        (C::InherentScore, r.inherent_score.into()),
        (C::InherentBand, r.inherent_band.into()),
        (
            C::ResidualLikelihoodLevel,
            r.residual_likelihood_level.into(),
        ),
        (C::ResidualImpactLevel, r.residual_impact_level.into()),
        (
            C::ResidualLikelihoodValue,
            r.residual_likelihood_value.into(),
        ),
        (C::ResidualImpactValue, r.residual_impact_value.into()),
        (C::ResidualScore, r.residual_score.into()),
        (C::ResidualBand, r.residual_band.into()),
        (C::ResidualOverridden, r.residual_overridden.into()),
        (C::TargetLikelihoodLevel, r.target_likelihood_level.into()),
        (C::TargetImpactLevel, r.target_impact_level.into()),
        (C::TargetLikelihoodValue, r.target_likelihood_value.into()),
        (C::TargetImpactValue, r.target_impact_value.into()),
        (C::TargetScore, r.target_score.into()),
        (C::TargetBand, r.target_band.into()),
        (C::WithinTolerance, r.within_tolerance.into()),
    ]
}

/// Writes the levels and scores of many risks, a chunk of rows per
/// statement (`UPDATE … FROM` a list of values), each row only if its
/// version is still the one read. Every `after` carries its new version,
/// time and author, the same for all.
pub async fn save_scores(
    tx: &impl ConnectionTrait,
    moved: &[(&risk::Model, risk::Model)],
) -> AppResult<()> {
    // Counted as written; a rollback after this is an error, logged apart.
    metrics::counter!("riskgraph_rescored_risks_total").increment(moved.len() as u64);
    for chunk in moved.chunks(ROWS_PER_STATEMENT) {
        let Some((_, first)) = chunk.first() else {
            continue;
        };
        let mut binder = Binder::new(tx.get_database_backend());
        let names: Vec<&str> = scored(first).iter().map(|(c, _)| c.as_str()).collect();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(before, after)| {
                let row: Vec<String> = [before.id.clone().into(), before.version.into()]
                    .into_iter()
                    .chain(scored(after).into_iter().map(|(_, v)| v))
                    .map(|v: sea_orm::Value| binder.bind(v))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect();
        let set: Vec<String> = names.iter().map(|n| format!("{n} = v.{n}")).collect();
        let (at, by) = (
            binder.bind(first.updated_at),
            binder.bind(first.updated_by.clone()),
        );
        let sql = format!(
            "WITH v(id, version, {cols}) AS (VALUES {rows}) \
             UPDATE risks SET {set}, version = v.version + 1, updated_at = {at}, updated_by = {by} \
             FROM v WHERE risks.id = v.id AND risks.version = v.version",
            cols = names.join(", "),
            rows = rows.join(", "),
            set = set.join(", "),
        );
        let result = tx.execute_raw(binder.statement(sql)).await?;
        if result.rows_affected() != chunk.len() as u64 {
            return Err(AppError::conflict(
                None,
                "a risk changed meanwhile; try again",
            ));
        }
    }
    Ok(())
}

/// Writes `after` over `before`, only if nobody changed the row meanwhile.
pub async fn save(
    tx: &impl ConnectionTrait,
    before: &risk::Model,
    after: &risk::Model,
) -> AppResult<()> {
    let result = risk::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(risk::Column::Id.eq(&before.id))
        .filter(risk::Column::Version.eq(before.version))
        .exec(tx)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::conflict(
            None,
            "the risk changed meanwhile; try again",
        ));
    }
    Ok(())
}

/// How a change is recorded: what, why, by whom and when.
#[derive(Clone, Copy)]
pub struct Recorded<'a> {
    pub kind: RiskEventKind,
    pub cause: ChangeCause,
    pub actor_id: &'a str,
    pub at: DateTime<Utc>,
}

/// The event of a change to a risk; `before` is the risk and its scales as
/// they were (None for a creation).
pub fn event<'a>(
    risk: &'a risk::Model,
    before: Option<(&'a risk::Model, &Scales)>,
    scales: &Scales,
    how: Recorded<'a>,
    changes: Vec<FieldChange>,
) -> NewEvent<'a> {
    NewEvent {
        risk,
        before: before.map(|(b, _)| b),
        kind: how.kind,
        cause: how.cause,
        actor_id: Some(how.actor_id),
        at: how.at,
        changes,
        residual_before: before.and_then(|(b, s)| stored_score(b, Stored::Residual, s)),
        residual_after: stored_score(risk, Stored::Residual, scales),
    }
}

/// What a control or link change did to one risk, for its event.
pub struct Cause<'a> {
    pub cause: ChangeCause,
    pub changes: &'a (dyn Fn(&risk::Model) -> Vec<FieldChange> + Sync),
    /// Record an event even for risks whose scores did not move (a link or
    /// unlink is a change to the risk itself).
    pub always: bool,
}

/// Re-scores `risk_ids` with the links now in force. Risks whose scores
/// moved are saved with a new version; each moved (or, with `always`, each)
/// risk gets an event.
pub async fn rescore(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    risk_ids: &[String],
    why: &Cause<'_>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if risk_ids.is_empty() {
        return Ok(());
    }
    // Locked in id order, so that writers of overlapping sets of risks wait
    // for each other instead of deadlocking or failing.
    let mut ids: Vec<&str> = risk_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut risks = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let locked = risk::Entity::find()
            .filter(risk::Column::Id.is_in(chunk.iter().copied()))
            .filter(risk::Column::OrgId.eq(&principal.org_id))
            .order_by_asc(risk::Column::Id)
            .lock_exclusive()
            .all(tx)
            .await?;
        risks.extend(locked);
    }
    let mut register_ids: Vec<&str> = risks.iter().map(|r| r.register_id.as_str()).collect();
    register_ids.sort_unstable();
    register_ids.dedup();
    let mut scales = HashMap::new();
    for register in register::Entity::find()
        .filter(register::Column::Id.is_in(register_ids))
        .all(tx)
        .await?
    {
        scales.insert(register.id.clone(), Scales::of(&register)?);
    }
    let mitigations = mitigations_of(tx, risk_ids).await?;
    let mut moved = Vec::new();
    let mut unmoved = Vec::new();
    for before in &risks {
        let Some(scales) = scales.get(&before.register_id) else {
            continue;
        };
        let mut after = before.clone();
        rules::rescore(
            &mut after,
            scales,
            mitigations.get(&before.id).map_or(&[], Vec::as_slice),
        );
        if after != *before {
            after.version = before.version + 1;
            after.updated_at = now;
            after.updated_by = Some(principal.member_id.clone());
            moved.push((before, after));
        } else if why.always {
            unmoved.push((before, after));
        }
    }
    save_scores(tx, &moved).await?;
    let written = moved.iter().chain(&unmoved).map(|(before, after)| {
        let scales = &scales[&before.register_id];
        (*before, after, scales)
    });
    let how = Recorded {
        kind: RiskEventKind::Updated,
        cause: why.cause,
        actor_id: &principal.member_id,
        at: now,
    };
    let events = written
        .map(|(before, after, scales)| {
            event(
                after,
                Some((before, scales)),
                scales,
                how,
                (why.changes)(after),
            )
        })
        .collect();
    events::append(tx, events).await
}
