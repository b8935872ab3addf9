//! Keeps stored scores true: loads the links in force for risks and writes
//! back the risks whose scores a change moved, each with its event, inside the
//! caller's transaction.

use super::events::{self, NewEvent};
use super::risk_tables::{self, SCORES};
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
    ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// Links to non-archived controls of the risks `which` selects, by risk:
/// each link's own strength, or its control's effectiveness when it has
/// none. Only the columns a score needs are read: a control linked to
/// thousands of risks is otherwise decoded whole once per link.
async fn mitigations_where(
    db: &impl ConnectionTrait,
    which: SimpleExpr,
) -> AppResult<HashMap<String, Vec<Mitigation>>> {
    let rows: Vec<(String, String, Option<f64>, f64, String)> = risk_control::Entity::find()
        .select_only()
        .column(risk_control::Column::RiskId)
        .column(risk_control::Column::Reduces)
        .column(risk_control::Column::Strength)
        .column(control::Column::Effectiveness)
        .column(control::Column::Health)
        .inner_join(control::Entity)
        .filter(which)
        .filter(control::Column::Archived.eq(false))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_risk: HashMap<String, Vec<Mitigation>> = HashMap::new();
    for (risk_id, reduces, strength, effectiveness, health) in rows {
        by_risk.entry(risk_id).or_default().push(Mitigation {
            reduces: MitigationTarget::from_stored(&reduces)?,
            strength: strength.unwrap_or(effectiveness),
            health: ControlHealth::from_stored(&health)?,
        });
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

const SCORED: usize = 20;

/// The columns a re-score or a move to new scales changes: the levels (a
/// remap moves them) and every stored score.
fn scored(r: &risk::Model) -> [(risk::Column, sea_orm::Value); SCORED] {
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
/// time and author, the same for all. Only the columns that moved in some
/// row of a chunk are set: SQLite rewrites exactly the indexes on the
/// columns an `UPDATE` sets, and a control's change moves residual scores
/// only.
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
        let values: Vec<_> = chunk
            .iter()
            .map(|(before, after)| (scored(before), scored(after)))
            .collect();
        let columns: Vec<usize> = (0..SCORED)
            .filter(|&c| values.iter().any(|(b, a)| b[c].1 != a[c].1))
            .collect();
        let mut binder = Binder::new(tx.get_database_backend());
        let names: Vec<&str> = columns.iter().map(|&c| values[0].1[c].0.as_str()).collect();
        let rows: Vec<String> = chunk
            .iter()
            .zip(&values)
            .map(|((before, _), (_, after))| {
                let row: Vec<String> = [before.id.clone().into(), before.version.into()]
                    .into_iter()
                    .chain(columns.iter().map(|&c| after[c].1.clone()))
                    .map(|v: sea_orm::Value| binder.bind(v))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect();
        let set: String = names.iter().map(|n| format!("{n} = v.{n}, ")).collect();
        let (at, by) = (
            binder.bind(first.updated_at),
            binder.bind(first.updated_by.clone()),
        );
        // The ids again as a list: joined to the values alone, PostgreSQL
        // plans a prepared statement as a scan of the whole table.
        let ids: Vec<String> = chunk
            .iter()
            .map(|(before, _)| binder.bind(before.id.clone()))
            .collect();
        let sql = format!(
            "WITH v(id, version{cols}) AS (VALUES {rows}) \
             UPDATE {SCORES} SET {set}version = v.version + 1, updated_at = {at}, updated_by = {by} \
             FROM v WHERE {SCORES}.id IN ({ids}) AND {SCORES}.id = v.id \
             AND {SCORES}.version = v.version",
            cols = names.iter().map(|n| format!(", {n}")).collect::<String>(),
            rows = rows.join(", "),
            ids = ids.join(", "),
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
            .filter(risk_tables::with_ids(chunk.iter().copied()))
            .order_by_asc(risk::Column::Id)
            .lock_exclusive();
        let locked = super::positional::all(locked, tx).await?;
        risks.extend(locked);
    }
    // The organization is checked here, not in SQL: beside a long id list,
    // SQLite without statistics prefers an index on the organization and
    // reads all of its risks, once per chunk (a second for 10,000 ids).
    risks.retain(|r| r.org_id == principal.org_id);
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
    let mut moved = Vec::with_capacity(risks.len());
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
