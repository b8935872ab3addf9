//! Risk writes. Each is one transaction that saves the risk, its custom field
//! values, its recomputed scores and its events together.

use super::custom_fields::{self, Definitions};
use super::events;
use super::rescore::{Recorded, event, mitigations_in_register, mitigations_of, save_scores};
use super::risk_tables;
use super::{Actor, LOOKUP_CHUNK};
use super::{ensure_free, find, find_for_update, find_input};
use crate::auth::Principal;
use crate::domain::enums::{ChangeCause, RiskEventKind, RiskStatus};
use crate::domain::history::{FieldChange, risk_changes};
use crate::domain::identifiers::{Kind, new_id, risk_identifier};
use crate::domain::inputs::{CreateRiskInput, ScalesRemapInput};
use crate::domain::risk::{self as rules, PatchContext, RiskPatch};
use crate::domain::scales::{Scales, ScalesMove};
use crate::error::{AppError, AppResult};
use async_graphql::MaybeUndefined;
use chrono::{DateTime, Utc};
use entity::{member, register, risk, severity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// Whether a field a patch may set changed: set now, and not to what it was.
fn changed(
    before: Option<&risk::Model>,
    after: &risk::Model,
    f: fn(&risk::Model) -> Option<&str>,
) -> bool {
    f(after).is_some() && before.is_none_or(|b| f(b) != f(after))
}

/// An identifier given by hand is not another risk's in the register.
async fn check_identifier(
    tx: &impl ConnectionTrait,
    before: Option<&risk::Model>,
    after: &risk::Model,
) -> AppResult<()> {
    if changed(before, after, |r| Some(&r.identifier)) {
        let taken = risk::Entity::find()
            .filter(risk::Column::RegisterId.eq(&after.register_id))
            .filter(risk::Column::Identifier.eq(&after.identifier));
        let message = format!("{} is already used in this register", after.identifier);
        ensure_free(tx, taken, Some(&after.id), ("identifier", message)).await?;
    }
    Ok(())
}

/// Checks what else a patch changed that needs the database: a unique
/// source key, an enabled severity and an owner of the organization.
async fn check_references(
    tx: &impl ConnectionTrait,
    before: Option<&risk::Model>,
    after: &risk::Model,
    sources: Option<&SourceKeys>,
) -> AppResult<()> {
    let changed = |f| changed(before, after, f);
    if let (Some(source), Some(source_id)) = (&after.source, &after.source_id)
        && (changed(|r| r.source.as_deref()) || changed(|r| r.source_id.as_deref()))
    {
        let message = "another risk has this source and sourceId".to_owned();
        match sources.and_then(|known| known.holder(source, source_id)) {
            Some(holder) => {
                if holder.is_some_and(|(id, _)| *id != after.id) {
                    return Err(AppError::conflict(Some("sourceId"), message));
                }
            }
            None => {
                let taken = risk::Entity::find()
                    .filter(risk::Column::OrgId.eq(&after.org_id))
                    .filter(risk::Column::Source.eq(source))
                    .filter(risk::Column::SourceId.eq(source_id));
                ensure_free(tx, taken, Some(&after.id), ("sourceId", message)).await?;
            }
        }
    }
    if let Some(severity_id) = after
        .severity_id
        .as_deref()
        .filter(|_| changed(|r| r.severity_id.as_deref()))
    {
        let severity =
            find_input::<severity::Entity>(tx, &after.org_id, severity_id, "severityId").await?;
        if severity.disabled {
            return Err(AppError::bad_input(
                "severityId",
                "the severity is disabled",
            ));
        }
    }
    if let Some(owner_id) = after
        .owner_id
        .as_deref()
        .filter(|_| changed(|r| r.owner_id.as_deref()))
    {
        find_input::<member::Entity>(tx, &after.org_id, owner_id, "ownerId").await?;
    }
    Ok(())
}

pub async fn create(
    Actor { db, principal, now }: Actor<'_>,
    input: CreateRiskInput,
) -> AppResult<risk::Model> {
    let (register_id, patch) = input.into_patch();
    let tx = db.begin().await?;
    let register = register_for_risks(&tx, &principal.org_id, &register_id).await?;
    let mut registers = Registers::default();
    registers.add(&register)?;
    registers.add_fields(&tx, &register.id).await?;
    let into = (&register, &registers);
    let written = create_in(&tx, principal, now, into, patch, Known::default()).await?;
    let cause = ChangeCause::RiskCreated;
    record(&tx, principal, now, &registers, cause, &[&written]).await?;
    tx.commit().await?;
    Ok(written.risk)
}

/// The register new risks go into, locked before its scales are read so that
/// a scales change cannot slip between a risk's validation and its insert.
pub async fn register_for_risks(
    tx: &impl ConnectionTrait,
    org_id: &str,
    register_id: &str,
) -> AppResult<register::Model> {
    let register = find_for_update::<register::Entity>(tx, org_id, register_id)
        .await
        .map_err(|err| err.missing_is_input("registerId"))?;
    if register.archived {
        return Err(AppError::bad_input(
            "registerId",
            "the register is archived",
        ));
    }
    Ok(register)
}

/// What writes to risks read once per register: its scales and fields.
#[derive(Default)]
pub struct Registers {
    scales: HashMap<String, Scales>,
    fields: HashMap<String, Definitions>,
}

impl Registers {
    /// Reads a register's scales, unless already read.
    pub fn add(&mut self, register: &register::Model) -> AppResult<()> {
        if !self.scales.contains_key(&register.id) {
            self.scales
                .insert(register.id.clone(), Scales::of(register)?);
        }
        Ok(())
    }

    /// Like [`Registers::add`], by id, for a register of the organization.
    async fn add_id(&mut self, tx: &impl ConnectionTrait, org_id: &str, id: &str) -> AppResult<()> {
        if !self.scales.contains_key(id) {
            let register = find::<register::Entity>(tx, org_id, id).await?;
            self.add(&register)?;
        }
        Ok(())
    }

    /// Reads a register's custom fields, unless already read: only writes
    /// that set values, and creations, need them.
    pub async fn add_fields(
        &mut self,
        tx: &impl ConnectionTrait,
        register_id: &str,
    ) -> AppResult<()> {
        if !self.fields.contains_key(register_id) {
            let fields = custom_fields::definitions(tx, register_id).await?;
            self.fields.insert(register_id.to_owned(), fields);
        }
        Ok(())
    }

    fn scales(&self, register_id: &str) -> AppResult<&Scales> {
        self.scales
            .get(register_id)
            .ok_or_else(|| AppError::internal("a register's scales were not read"))
    }

    fn fields(&self, register_id: &str) -> AppResult<&Definitions> {
        self.fields
            .get(register_id)
            .ok_or_else(|| AppError::internal("a register's fields were not read"))
    }
}

/// What a write did to one risk, kept until its event is recorded.
pub struct Written {
    pub risk: risk::Model,
    /// None for a creation.
    before: Option<risk::Model>,
    kind: RiskEventKind,
    changes: Vec<FieldChange>,
}

impl Written {
    /// False for an update that changed nothing: it gets no event.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Appends the events of what was written, one per changed risk.
pub async fn record(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    now: DateTime<Utc>,
    registers: &Registers,
    cause: ChangeCause,
    written: &[&Written],
) -> AppResult<()> {
    let mut events = Vec::with_capacity(written.len());
    for w in written.iter().filter(|w| w.changed()) {
        let scales = registers.scales(&w.risk.register_id)?;
        let how = Recorded {
            kind: w.kind,
            cause,
            actor_id: &principal.member_id,
            at: now,
        };
        let before = w.before.as_ref().map(|b| (b, scales));
        events.push(event(&w.risk, before, scales, how, w.changes.clone()));
    }
    events::append(tx, events).await
}

/// Inserts a risk into a register locked by `register_for_risks` (and
/// added to `registers`), inside the caller's transaction. Everything is
/// checked before anything is written.
pub async fn create_in(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    now: DateTime<Utc>,
    (register, registers): (&register::Model, &Registers),
    patch: RiskPatch,
    known: Known<'_>,
) -> AppResult<Written> {
    let (scales, fields) = (
        registers.scales(&register.id)?,
        registers.fields(&register.id)?,
    );
    let mut risk = rules::new_risk(
        new_id(Kind::Risk),
        (&register.org_id, &register.id),
        &principal.member_id,
        now,
    );
    let ctx = PatchContext {
        scales,
        now,
        actor_id: &principal.member_id,
    };
    let values = rules::apply(&mut risk, patch, &ctx)?;
    if risk.identifier.is_empty() {
        risk.identifier = match known.identifier {
            Some(identifier) => identifier,
            None => take_identifiers(tx, &register.id, 1, &HashSet::new())
                .await?
                .pop()
                .ok_or_else(|| AppError::not_found("register"))?,
        };
    } else {
        check_identifier(tx, None, &risk).await?;
    }
    check_references(tx, None, &risk, known.sources).await?;
    let values = custom_fields::check_values(tx, fields, &risk, values, true).await?;
    rules::rescore(&mut risk, scales, &[]);
    risk_tables::insert(tx, std::slice::from_ref(&risk)).await?;
    let mut changes = risk_changes(None, &risk);
    changes.extend(values.write(tx, &risk).await?);
    Ok(Written {
        risk,
        before: None,
        kind: RiskEventKind::Created,
        changes,
    })
}

/// What a caller creating many risks looked up for all of them at once, so
/// that each new risk need not ask again.
#[derive(Default)]
pub struct Known<'a> {
    /// The identifier the risk takes if it gives none of its own (see
    /// `take_identifiers`).
    pub identifier: Option<String>,
    /// The source keys in use, if the caller looked them up; a key it did
    /// not is looked up alone.
    pub sources: Option<&'a SourceKeys>,
}

/// Source keys (source and sourceId) of an organization, looked up at
/// once: the risk that holds each, with its register.
#[derive(Default)]
pub struct SourceKeys {
    held: HashMap<(String, String), Option<(String, String)>>,
}

impl SourceKeys {
    /// Looks `keys` up in the organization, those not looked up before.
    pub async fn look_up<'k>(
        &mut self,
        tx: &impl ConnectionTrait,
        org_id: &str,
        keys: impl IntoIterator<Item = (&'k str, &'k str)>,
    ) -> AppResult<()> {
        let mut source_ids = Vec::new();
        for (source, source_id) in keys {
            let key = (source.to_owned(), source_id.to_owned());
            if let Entry::Vacant(slot) = self.held.entry(key) {
                slot.insert(None);
                source_ids.push(source_id);
            }
        }
        source_ids.sort_unstable();
        source_ids.dedup();
        for chunk in source_ids.chunks(LOOKUP_CHUNK) {
            let rows: Vec<(String, String, String, String)> = risk::Entity::find()
                .select_only()
                .columns([
                    risk::Column::Source,
                    risk::Column::SourceId,
                    risk::Column::Id,
                    risk::Column::RegisterId,
                ])
                .filter(risk::Column::OrgId.eq(org_id))
                .filter(risk::Column::Source.is_not_null())
                .filter(risk::Column::SourceId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(tx)
                .await?;
            for (source, source_id, id, register_id) in rows {
                if let Some(holder) = self.held.get_mut(&(source, source_id)) {
                    *holder = Some((id, register_id));
                }
            }
        }
        Ok(())
    }

    /// Whether a key was looked up, and if so the risk that holds it (with
    /// its register), if any.
    pub fn holder(&self, source: &str, source_id: &str) -> Option<Option<&(String, String)>> {
        self.held
            .get(&(source.to_owned(), source_id.to_owned()))
            .map(Option::as_ref)
    }

    /// A risk was written: the key it had is free, the key it has held.
    pub fn written(&mut self, written: &Written) {
        if let Some(old) = written.before.as_ref().and_then(source_key) {
            self.held.insert(old, None);
        }
        let risk = &written.risk;
        if let Some(new) = source_key(risk) {
            let holder = Some((risk.id.clone(), risk.register_id.clone()));
            self.held.insert(new, holder);
        }
    }
}

fn source_key(risk: &risk::Model) -> Option<(String, String)> {
    Some((risk.source.clone()?, risk.source_id.clone()?))
}

/// The risks of a register that hold any of `identifiers`: each one's id by
/// its identifier.
pub async fn holders(
    tx: &impl ConnectionTrait,
    register_id: &str,
    identifiers: &[&str],
) -> AppResult<HashMap<String, String>> {
    let mut held = HashMap::new();
    for chunk in identifiers.chunks(LOOKUP_CHUNK) {
        let rows: Vec<(String, String)> = risk::Entity::find()
            .select_only()
            .columns([risk::Column::Identifier, risk::Column::Id])
            .filter(risk::Column::RegisterId.eq(register_id))
            .filter(risk::Column::Identifier.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(tx)
            .await?;
        held.extend(rows);
    }
    Ok(held)
}

/// The next `n` generated identifiers of a register, none of them in use
/// nor among `avoid` (identifiers the caller is about to give by hand).
/// The counter moves with one UPDATE ... RETURNING inside the caller's
/// transaction, so concurrent creates serialize on the register row and
/// never share a number; numbers in use are skipped. An import takes all
/// it needs at once: PostgreSQL keeps every version of the register row
/// one transaction writes, and each UPDATE of it walks them all.
pub async fn take_identifiers(
    tx: &impl ConnectionTrait,
    register_id: &str,
    n: usize,
    avoid: &HashSet<&str>,
) -> AppResult<Vec<String>> {
    let mut free = Vec::with_capacity(n);
    while free.len() < n {
        let wanted = i64::try_from(n - free.len()).unwrap_or(i64::MAX);
        let updated = register::Entity::update_many()
            .col_expr(
                register::Column::NextNumber,
                Expr::col(register::Column::NextNumber).add(wanted),
            )
            .filter(register::Column::Id.eq(register_id))
            .exec_with_returning(tx)
            .await?;
        let register = updated
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("register"))?;
        let first = register.next_number - wanted;
        let candidates: Vec<String> = (first..register.next_number)
            .map(|number| risk_identifier(&register.identifier_prefix, number))
            .collect();
        let names: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let taken = holders(tx, register_id, &names).await?;
        free.extend(
            candidates
                .into_iter()
                .filter(|c| !taken.contains_key(c) && !avoid.contains(c.as_str())),
        );
    }
    Ok(free)
}

/// Applies a patch. A patch that changes nothing writes nothing and keeps the
/// version; `expected_version` guards against lost updates, and the UPDATE
/// itself re-checks the version so a concurrent writer cannot slip between.
pub async fn update(
    Actor { db, principal, now }: Actor<'_>,
    id: &str,
    patch: RiskPatch,
    expected_version: Option<i32>,
    (kind, cause): (RiskEventKind, ChangeCause),
) -> AppResult<risk::Model> {
    let tx = db.begin().await?;
    let mut registers = Registers::default();
    let written = update_in(
        &tx,
        principal,
        now,
        (id, &mut registers),
        patch,
        expected_version,
        kind,
    )
    .await?;
    record(&tx, principal, now, &registers, cause, &[&written]).await?;
    tx.commit().await?;
    Ok(written.risk)
}

/// Most risks one bulk update may change.
pub const BULK_MAX: usize = 500;

/// Applies one patch to many risks in one transaction: all of them change,
/// each with its event, or none does. Risks are locked in id order, so bulk
/// updates of overlapping sets wait for each other instead of deadlocking;
/// the answer keeps the order of `ids`. An error names the risk it is about.
pub async fn bulk_update(
    Actor { db, principal, now }: Actor<'_>,
    ids: &[String],
    patch: RiskPatch,
    expected_versions: Option<&[i32]>,
) -> AppResult<Vec<risk::Model>> {
    if ids.len() > BULK_MAX {
        return Err(AppError::LimitExceeded(format!(
            "at most {BULK_MAX} risks at once"
        )));
    }
    if expected_versions.is_some_and(|v| v.len() != ids.len()) {
        return Err(AppError::bad_input(
            "expectedVersions",
            "give one version for each id, in the same order",
        ));
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
    if let Some(twice) = order.windows(2).find(|w| ids[w[0]] == ids[w[1]]) {
        return Err(AppError::bad_input(
            "ids",
            format!("{} is given twice", ids[twice[1]]),
        ));
    }
    let tx = db.begin().await?;
    let mut saved: Vec<Option<Written>> = ids.iter().map(|_| None).collect();
    // Read once per register, not once per risk.
    let mut registers = Registers::default();
    for i in order {
        let expected = expected_versions.map(|v| v[i]);
        let risk = (ids[i].as_str(), &mut registers);
        let kind = RiskEventKind::Updated;
        let written = update_in(&tx, principal, now, risk, patch.clone(), expected, kind)
            .await
            .map_err(|e| e.about(&format!("ids[{i}] ({})", ids[i])))?;
        saved[i] = Some(written);
    }
    let saved: Vec<Written> = saved.into_iter().flatten().collect();
    let all: Vec<&Written> = saved.iter().collect();
    record(
        &tx,
        principal,
        now,
        &registers,
        ChangeCause::RiskUpdated,
        &all,
    )
    .await?;
    tx.commit().await?;
    Ok(saved.into_iter().map(|w| w.risk).collect())
}

/// `update` inside the caller's transaction, which records its event;
/// `registers` holds what was read of the registers so far. Everything is
/// checked before anything is written.
pub async fn update_in(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    now: DateTime<Utc>,
    (id, registers): (&str, &mut Registers),
    patch: RiskPatch,
    expected_version: Option<i32>,
    kind: RiskEventKind,
) -> AppResult<Written> {
    let before = find_for_update::<risk::Entity>(tx, &principal.org_id, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(AppError::conflict(
            Some("expectedVersion"),
            format!("the risk is at version {}", before.version),
        ));
    }
    let register = &before.register_id;
    registers.add_id(tx, &principal.org_id, register).await?;
    let mut after = before.clone();
    let ctx = PatchContext {
        scales: registers.scales(register)?,
        now,
        actor_id: &principal.member_id,
    };
    let values = rules::apply(&mut after, patch, &ctx)?;
    if !values.is_empty() {
        registers.add_fields(tx, register).await?;
    }
    check_identifier(tx, Some(&before), &after).await?;
    check_references(tx, Some(&before), &after, None).await?;
    // Stored scores are kept true by every change to scales and links, so
    // only a change to what the risk says about itself moves them: an edit
    // of anything else needs no read of the links.
    if rules::assessment(&after) != rules::assessment(&before) {
        let mitigations = mitigations_of(tx, std::slice::from_ref(&before.id)).await?;
        rules::rescore(
            &mut after,
            registers.scales(register)?,
            mitigations.get(&before.id).map_or(&[], Vec::as_slice),
        );
    }
    let values = if values.is_empty() {
        custom_fields::CheckedValues::default()
    } else {
        let fields = registers.fields(register)?;
        custom_fields::check_values(tx, fields, &after, values, false).await?
    };
    let mut changes = risk_changes(Some(&before), &after);
    changes.extend(values.changes.iter().cloned());
    if changes.is_empty() {
        return Ok(Written {
            risk: before,
            before: None,
            kind,
            changes,
        });
    }
    after.version = before.version + 1;
    after.updated_at = now;
    after.updated_by = Some(principal.member_id.clone());
    risk_tables::update(tx, &before, &after).await?;
    values.write(tx, &after).await?;
    Ok(Written {
        risk: after,
        before: Some(before),
        kind,
        changes,
    })
}

pub async fn archive(actor: Actor<'_>, id: &str) -> AppResult<risk::Model> {
    let patch = RiskPatch {
        status: MaybeUndefined::Value(RiskStatus::Archived),
        ..RiskPatch::default()
    };
    let cause = (RiskEventKind::Archived, ChangeCause::RiskArchived);
    update(actor, id, patch, None, cause).await
}

pub async fn delete(Actor { db, principal, now }: Actor<'_>, id: &str) -> AppResult<String> {
    let tx = db.begin().await?;
    let risk = find_for_update::<risk::Entity>(&tx, &principal.org_id, id).await?;
    let register = find::<register::Entity>(&tx, &principal.org_id, &risk.register_id).await?;
    let scales = Scales::of(&register)?;
    entity::custom_field_value::Entity::delete_many()
        .filter(entity::custom_field_value::Column::RiskId.eq(&risk.id))
        .exec(&tx)
        .await?;
    risk_tables::delete(&tx, &risk.id).await?;
    let how = Recorded {
        kind: RiskEventKind::Deleted,
        cause: ChangeCause::RiskDeleted,
        actor_id: &principal.member_id,
        at: now,
    };
    let mut e = event(&risk, Some((&risk, &scales)), &scales, how, Vec::new());
    e.residual_after = None;
    events::append(&tx, vec![e]).await?;
    tx.commit().await?;
    Ok(risk.id)
}

/// Moves every risk of a register to new scales inside the caller's
/// transaction: levels and overrides through the remap (refused, with
/// nothing changed, when a level would fall out of range), scores recomputed,
/// one SCALES_UPDATED event per risk whose levels or residual moved.
pub async fn move_to_scales(
    tx: &impl ConnectionTrait,
    principal: &Principal,
    register: &register::Model,
    old: &Scales,
    new: &Scales,
    remap: Option<&ScalesRemapInput>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let moving = ScalesMove::new(remap, old, new)?;
    let risks = risk::Entity::find()
        .filter(risk::Column::RegisterId.eq(&register.id))
        .order_by_asc(risk::Column::Id)
        .lock_exclusive();
    let risks = super::positional::all(risks, tx).await?;
    let mitigations = mitigations_in_register(tx, &register.id).await?;
    let (mut moved, mut changed) = (
        Vec::with_capacity(risks.len()),
        Vec::with_capacity(risks.len()),
    );
    let mut stranded = 0;
    for before in &risks {
        let Some(mut after) = moving.apply(before) else {
            stranded += 1;
            continue;
        };
        rules::rescore(
            &mut after,
            new,
            mitigations.get(&before.id).map_or(&[], Vec::as_slice),
        );
        if *before != after {
            let changes = risk_changes(Some(before), &after);
            after.version = before.version + 1;
            after.updated_at = now;
            after.updated_by = Some(principal.member_id.clone());
            moved.push((before, after));
            changed.push(changes);
        }
    }
    if stranded > 0 {
        return Err(AppError::bad_input(
            if remap.is_some() {
                "scalesRemap"
            } else {
                "scales"
            },
            format!(
                "the new scales would leave {stranded} risk(s) with levels out of range; give scalesRemap"
            ),
        ));
    }
    save_scores(tx, &moved).await?;
    let how = Recorded {
        kind: RiskEventKind::Updated,
        cause: ChangeCause::ScalesUpdated,
        actor_id: &principal.member_id,
        at: now,
    };
    let events = moved
        .iter()
        .zip(changed)
        .map(|((before, after), changes)| event(after, Some((before, old)), new, how, changes))
        .collect();
    events::append(tx, events).await
}
