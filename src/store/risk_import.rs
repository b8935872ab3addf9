//! `importRisks`: a CSV file upserted into one register in one transaction.
//! Each row runs the rules of `createRisk` or `updateRisk`, which check
//! before they write, so a bad row is reported without stopping the others;
//! any error, or a dry run, rolls the whole import back.

use super::custom_fields;
use super::risk_tables;
use super::risks::{self, Known, Registers, SourceKeys, Written};
use super::{Actor, LOOKUP_CHUNK};
use crate::domain::enums::{ChangeCause, ImportMatch, RiskEventKind};
use crate::domain::risk::RiskPatch;
use crate::domain::risk_csv::{CellError, Header, MatchKey, References};
use crate::error::{AppError, AppResult};
use entity::{member, register, severity};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use std::collections::{HashMap, HashSet};

/// What is imported, and how.
pub struct Import<'a> {
    pub register_id: &'a str,
    pub csv: &'a str,
    pub match_by: ImportMatch,
    pub dry_run: bool,
    pub max_rows: usize,
}

/// A problem with a row: its number counts the header as row 1.
#[derive(Debug)]
pub struct RowError {
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

/// What an import did, or, with errors or a dry run, would do.
#[derive(Debug, Default)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<RowError>,
}

impl Imported {
    fn refuse(&mut self, row: usize, errors: impl IntoIterator<Item = CellError>) {
        self.errors.extend(errors.into_iter().map(|e| RowError {
            row,
            column: e.column,
            message: e.message,
        }));
    }
}

/// The file's records, header included; more than `max_rows` data rows is
/// refused before anything is read from the database.
fn records(csv: &str, max_rows: usize) -> AppResult<Vec<csv::StringRecord>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        if records.len() > max_rows {
            return Err(AppError::LimitExceeded(format!(
                "an import holds at most {max_rows} rows"
            )));
        }
        // The input is a string, so UTF-8 errors cannot happen; the reader
        // has no other.
        records.push(record.map_err(|err| AppError::bad_input("csv", err.to_string()))?);
    }
    Ok(records)
}

pub async fn import(
    Actor { db, principal, now }: Actor<'_>,
    import: Import<'_>,
) -> AppResult<Imported> {
    let records = records(import.csv, import.max_rows)?;
    let Some((head, rows)) = records.split_first() else {
        return Err(AppError::bad_input(
            "csv",
            "the file is empty: it needs a header row",
        ));
    };
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().collect()).collect();
    let tx = db.begin().await?;
    let register = risks::register_for_risks(&tx, &principal.org_id, import.register_id).await?;
    let mut registers = Registers::default();
    registers.add(&register)?;
    registers.add_fields(&tx, &register.id).await?;
    let mut outcome = Imported::default();
    let custom = custom_fields::columns(&tx, &register.id).await?;
    let header = match Header::read(&head.iter().collect::<Vec<_>>(), custom, import.match_by) {
        Ok(header) => header,
        Err(errors) => {
            outcome.refuse(1, errors);
            return Ok(outcome);
        }
    };
    let names: Vec<&str> = rows.iter().flat_map(|r| header.member_names(r)).collect();
    let refs = References {
        severities: severities(&tx, &principal.org_id).await?,
        members: members(&tx, &principal.org_id, &names).await?,
    };
    let keys: Vec<Result<Option<MatchKey>, CellError>> = rows
        .iter()
        .map(|cells| header.key(cells, import.match_by))
        .collect();
    let mut sources = SourceKeys::default();
    let matched = keys.iter().flatten().flatten();
    let found = existing(&tx, &register, matched, &mut sources).await?;
    // Every row is read and checked against the file first, so that what
    // the new risks need of the database is asked once; then the rows are
    // written in order.
    let planned = plan(
        &rows,
        &keys,
        &found,
        (&header, &refs, &register.id),
        &mut outcome,
    );
    let given: HashSet<&str> = planned
        .iter()
        .filter_map(|p| p.patch.identifier.value())
        .map(|identifier| identifier.trim())
        .collect();
    let wanted = planned.iter().filter(|p| p.generated()).count();
    let mut reserved = if wanted == 0 {
        Vec::new()
    } else {
        risks::take_identifiers(&tx, &register.id, wanted, &given).await?
    }
    .into_iter();
    // The source keys new risks give, at once too.
    let given_keys = planned
        .iter()
        .filter(|p| p.target.is_none())
        .filter_map(|p| {
            Some((
                p.patch.source.value()?.as_str(),
                p.patch.source_id.value()?.as_str(),
            ))
        });
    sources.look_up(&tx, &register.org_id, given_keys).await?;
    let mut written: Vec<Written> = Vec::new();
    for planned in planned {
        let identifier = planned.generated().then(|| reserved.next()).flatten();
        let Planned {
            row,
            target,
            patch,
            fields,
        } = planned;
        // Each write checks everything before it writes anything, so a
        // refused row leaves nothing behind for the rows after it to see.
        let saved = match target {
            None => {
                let into = (&register, &registers);
                let known = Known {
                    identifier,
                    sources: Some(&sources),
                };
                risks::create_in(&tx, principal, now, into, patch, known).await
            }
            Some(id) => {
                let kind = RiskEventKind::Updated;
                let risk = (id, &mut registers);
                risks::update_in(&tx, principal, now, risk, patch, None, kind).await
            }
        };
        match saved {
            Ok(w) => {
                sources.written(&w);
                match (target, w.changed()) {
                    (None, _) => outcome.created += 1,
                    (Some(_), true) => outcome.updated += 1,
                    (Some(_), false) => outcome.unchanged += 1,
                }
                written.push(w);
            }
            Err(err) => {
                let (field, message) = match err {
                    AppError::BadUserInput { field, message }
                    | AppError::Conflict {
                        field: Some(field),
                        message,
                    } => (Some(field), message),
                    AppError::NotFound(message) => (None, message),
                    // The database refused a write (a concurrent writer took
                    // a unique key): the transaction is lost, and so is the
                    // import.
                    other => return Err(other),
                };
                let column = field.map(|f| header.column_of(&f, &fields));
                outcome.refuse(row, [CellError::new(column, message)]);
            }
        }
    }
    // Rows refused while read come before those refused while written:
    // report them in the file's order.
    outcome.errors.sort_by_key(|e| e.row);
    if outcome.errors.is_empty() && !import.dry_run {
        let all: Vec<&Written> = written.iter().collect();
        risks::record(
            &tx,
            principal,
            now,
            &registers,
            ChangeCause::RisksImported,
            &all,
        )
        .await?;
        tx.commit().await?;
        risk_tables::after_bulk_insert(db, outcome.created).await;
    }
    Ok(outcome)
}

/// Reads every row against the file and the risks its keys name: what to
/// write, in the file's order. The problems of the rows that cannot be
/// written go to `outcome`.
fn plan<'a>(
    rows: &[Vec<&str>],
    keys: &'a [Result<Option<MatchKey>, CellError>],
    found: &'a HashMap<MatchKey, (String, String)>,
    (header, refs, register_id): (&Header, &References, &str),
    outcome: &mut Imported,
) -> Vec<Planned<'a>> {
    let mut first_of: HashMap<&MatchKey, usize> = HashMap::new();
    let mut planned = Vec::new();
    for (i, (cells, key)) in rows.iter().zip(keys).enumerate() {
        let row = i + 2;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let key = match key {
            Ok(key) => key.as_ref(),
            Err(e) => {
                outcome.refuse(row, [e.clone()]);
                continue;
            }
        };
        if let Some(key) = key
            && let Some(first) = first_of.insert(key, row)
        {
            let message = format!("row {first} is about the same risk");
            outcome.refuse(row, [CellError::new(None, message)]);
            continue;
        }
        let target = match key.and_then(|k| found.get(k)) {
            Some((id, elsewhere)) if elsewhere != register_id => {
                let message =
                    format!("the risk {id} with this source and sourceId is in another register");
                outcome.refuse(row, [CellError::new("sourceId".to_owned(), message)]);
                continue;
            }
            target => target.map(|(id, _)| id.as_str()),
        };
        match header.patch(cells, refs, target.is_none()) {
            Ok((patch, fields)) => planned.push(Planned {
                row,
                target,
                patch,
                fields,
            }),
            Err(errors) => outcome.refuse(row, errors),
        }
    }
    planned
}

/// A row read and checked against the file, to be written.
struct Planned<'a> {
    /// Its number, counting the header as row 1.
    row: usize,
    /// The risk it updates; None for a new one.
    target: Option<&'a str>,
    patch: RiskPatch,
    /// The custom fields its columns name, to report errors by column.
    fields: Vec<String>,
}

impl Planned<'_> {
    /// A new risk without an identifier of its own: it takes the next one.
    fn generated(&self) -> bool {
        self.target.is_none() && self.patch.identifier.is_undefined()
    }
}

/// The organization's severities by reference.
async fn severities(tx: &impl ConnectionTrait, org_id: &str) -> AppResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = severity::Entity::find()
        .select_only()
        .columns([severity::Column::Reference, severity::Column::Id])
        .filter(severity::Column::OrgId.eq(org_id))
        .into_tuple()
        .all(tx)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The members the file names, by lowercased email and subject; a name two
/// members answer to maps to None.
async fn members(
    tx: &impl ConnectionTrait,
    org_id: &str,
    names: &[&str],
) -> AppResult<HashMap<String, Option<String>>> {
    let mut wanted: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    wanted.sort();
    wanted.dedup();
    let mut known: HashMap<String, Option<String>> = HashMap::new();
    let lower = |c: member::Column| Expr::expr(Func::lower(Expr::col(c)));
    for chunk in wanted.chunks(LOOKUP_CHUNK) {
        let rows: Vec<(String, Option<String>, String)> = super::member_names(org_id)
            .filter(
                Condition::any()
                    .add(lower(member::Column::Email).is_in(chunk.iter().cloned()))
                    .add(lower(member::Column::Subject).is_in(chunk.iter().cloned())),
            )
            .into_tuple()
            .all(tx)
            .await?;
        for (id, email, subject) in rows {
            for name in email.into_iter().chain([subject]) {
                let name = name.to_lowercase();
                let entry = known.entry(name).or_insert_with(|| Some(id.clone()));
                if entry.as_deref() != Some(id.as_str()) {
                    *entry = None;
                }
            }
        }
    }
    Ok(known)
}

/// The risks the rows' keys name: by identifier in the register, or by
/// source and source id in the organization (with the register each is in).
/// Source keys are looked up into `sources`.
async fn existing<'k>(
    tx: &impl ConnectionTrait,
    register: &register::Model,
    keys: impl Iterator<Item = &'k MatchKey>,
    sources: &mut SourceKeys,
) -> AppResult<HashMap<MatchKey, (String, String)>> {
    let (mut identifiers, mut source_keys) = (Vec::new(), Vec::new());
    for key in keys {
        match key {
            MatchKey::Identifier(identifier) => identifiers.push(identifier.as_str()),
            MatchKey::Source(source, id) => source_keys.push((source.as_str(), id.as_str())),
        }
    }
    let mut found: HashMap<MatchKey, (String, String)> =
        risks::holders(tx, &register.id, &identifiers)
            .await?
            .into_iter()
            .map(|(identifier, id)| (MatchKey::Identifier(identifier), (id, register.id.clone())))
            .collect();
    sources
        .look_up(tx, &register.org_id, source_keys.iter().copied())
        .await?;
    for (source, id) in source_keys {
        if let Some(Some(holder)) = sources.holder(source, id) {
            let key = MatchKey::Source(source.to_owned(), id.to_owned());
            found.insert(key, holder.clone());
        }
    }
    Ok(found)
}
