//! The outbox: every change to a risk appends its event here, in the
//! transaction of the change, so committed state and feed never disagree.

use super::{Binder, ROWS_PER_STATEMENT};
use crate::domain::enums::{ChangeCause, RiskEventKind};
use crate::domain::history::FieldChange;
use crate::domain::risk::{Facet, facet_values, heatmap_cells};
use crate::domain::scoring::Score;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{risk, risk_event};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait,
};
use std::collections::BTreeMap;

pub struct NewEvent<'a> {
    pub risk: &'a risk::Model,
    /// The risk before the change; None for a creation.
    pub before: Option<&'a risk::Model>,
    pub kind: RiskEventKind,
    pub cause: ChangeCause,
    pub actor_id: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    pub residual_before: Option<Score>,
    pub residual_after: Option<Score>,
}

/// Moves the heatmap's kept counts by what the events did: each risk leaves
/// the cells it was in and enters those it is in now, in the register's
/// counts and in those of each of its facet values. One upsert per chunk,
/// in key order, so writers never wait on each other's rows in opposite
/// orders; and after the risks themselves, so no writer waits on a risk while
/// holding a count.
async fn count_cells(db: &impl ConnectionTrait, events: &[NewEvent<'_>]) -> AppResult<()> {
    type Cell<'a> = (&'a str, &'a str, (i32, i32));
    let mut cells: BTreeMap<Cell<'_>, i64> = BTreeMap::new();
    let mut facets: BTreeMap<(Cell<'_>, Facet, &str), i64> = BTreeMap::new();
    for e in events {
        for (risk, delta) in [
            (e.before, -1),
            ((e.kind != RiskEventKind::Deleted).then_some(e.risk), 1),
        ] {
            let Some(risk) = risk else { continue };
            for (basis, cell) in heatmap_cells(risk) {
                let key = (risk.register_id.as_str(), basis.as_str(), cell);
                *cells.entry(key).or_default() += delta;
                for (facet, value) in facet_values(risk) {
                    if let Some(value) = value {
                        *facets.entry((key, facet, value)).or_default() += delta;
                    }
                }
            }
        }
    }
    let cells = cells.into_iter().map(|(cell, delta)| ((cell, ()), delta));
    add_counts(db, "risk_cell_counts", &[], cells, |_, ()| Vec::new()).await?;
    add_counts(
        db,
        "risk_facet_counts",
        &["facet", "value"],
        facets
            .into_iter()
            .map(|((cell, facet, value), delta)| ((cell, (facet, value)), delta)),
        |binder, (facet, value): &(Facet, &str)| {
            vec![binder.bind(facet.as_str()), binder.bind(*value)]
        },
    )
    .await
}

/// Adds `deltas` to the counts of `table`, keyed by register, basis, the
/// `columns` that `bind` binds, and cell; deltas of zero are left out.
async fn add_counts<'a, K>(
    db: &impl ConnectionTrait,
    table: &str,
    columns: &[&str],
    deltas: impl IntoIterator<Item = (((&'a str, &'a str, (i32, i32)), K), i64)>,
    bind: impl Fn(&mut Binder, &K) -> Vec<String>,
) -> AppResult<()> {
    let deltas: Vec<_> = deltas
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    let key: Vec<&str> = ["register_id", "basis"]
        .into_iter()
        .chain(columns.iter().copied())
        .chain(["likelihood", "impact"])
        .collect();
    let key = key.join(", ");
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut binder = Binder::new(db.get_database_backend());
        let rows: Vec<String> = chunk
            .iter()
            .map(|(((register, basis, (l, i)), extra), delta)| {
                let mut row = vec![binder.bind(*register), binder.bind(*basis)];
                row.extend(bind(&mut binder, extra));
                row.extend([binder.bind(*l), binder.bind(*i), binder.bind(*delta)]);
                format!("({})", row.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({key}, count) VALUES {} ON CONFLICT ({key}) \
             DO UPDATE SET count = {table}.count + excluded.count",
            rows.join(", ")
        );
        db.execute_raw(binder.statement(sql)).await?;
    }
    Ok(())
}

/// Appends events in the caller's transaction, which has already written
/// the risks they describe. Nothing here serializes writers: the feed's tail
/// (`feed::tail`) passes seqs on in order however the commits fall.
pub async fn append(db: &impl ConnectionTrait, events: Vec<NewEvent<'_>>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    count_cells(db, &events).await?;
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        rows.push(risk_event::ActiveModel {
            seq: NotSet,
            org_id: Set(e.risk.org_id.clone()),
            register_id: Set(e.risk.register_id.clone()),
            risk_id: Set(e.risk.id.clone()),
            kind: Set(e.kind.as_str().to_owned()),
            cause: Set(e.cause.as_str().to_owned()),
            actor_id: Set(e.actor_id.map(str::to_owned)),
            occurred_at: Set(e.at),
            changes: Set(serde_json::to_string(&e.changes)?),
            residual_before: Set(e
                .residual_before
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?),
            residual_after: Set(e
                .residual_after
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?),
        });
    }
    // A dozen values a row: chunks keep each statement under the bound
    // parameter limits of both databases.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        risk_event::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(())
}

/// Up to `limit` events after `seq`, oldest first. On PostgreSQL also the
/// transactions on this database running when they were read: one
/// statement, so the events and the list come from the same snapshot.
pub async fn tail(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> AppResult<(Vec<risk_event::Model>, Option<Vec<i64>>)> {
    if db.get_database_backend() != DbBackend::Postgres {
        let events = risk_event::Entity::find()
            .filter(risk_event::Column::Seq.gt(seq))
            .order_by_asc(risk_event::Column::Seq)
            .limit(limit)
            .all(db)
            .await?;
        return Ok((events, None));
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // A snapshot lists the running transactions below its xmax, one
            // past the newest id seen to finish. A writer takes its id at
            // its first write and its seq later, at its event, so a writer
            // still running can hold a seq below a committed one under an id
            // at or past xmax. pg_stat_activity, read after the snapshot,
            // names those: any of them still running then, and any that
            // finished in between commit before the next read. Its ids are
            // 32 bits (the low half of a 64-bit id), widened here by their
            // distance from xmax.
            //
            // Transaction ids are the cluster's: those of sessions on other
            // databases cannot hold a seq, so they are left out, and a long
            // transaction there never holds the feed back. Left out, not
            // picked: a transaction of this database that commits between
            // the snapshot and the read of pg_stat_activity must stay in
            // the list, or the hole its seq leaves would be settled before
            // the seq is seen.
            "WITH s AS (SELECT snap, pg_snapshot_xmax(snap)::text::bigint AS xmax \
               FROM (SELECT pg_current_snapshot() AS snap) t), \
             a AS (SELECT datname = current_database() AS here, backend_xid::text::bigint AS xid \
               FROM pg_stat_activity WHERE backend_xid IS NOT NULL) \
             SELECT e.*, array_to_string(ARRAY( \
               SELECT x::text::bigint FROM pg_snapshot_xip(s.snap) x \
                 WHERE x::text::bigint % 4294967296 NOT IN (SELECT xid FROM a WHERE NOT here) \
               UNION SELECT s.xmax + (a.xid - s.xmax % 4294967296 + 6442450944) % 4294967296 \
                 - 2147483648 FROM a WHERE a.here), \
             ',') AS in_flight \
             FROM s CROSS JOIN LATERAL \
               (SELECT * FROM risk_events WHERE seq > $1 ORDER BY seq LIMIT $2) e",
            [seq.into(), (limit as i64).into()],
        ))
        .await?;
    let mut in_flight = Vec::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if events.is_empty() {
            let list: String = row.try_get("", "in_flight")?;
            in_flight = list.split(',').filter_map(|x| x.parse().ok()).collect();
        }
        events.push(risk_event::Model::from_query_result(&row, "")?);
    }
    Ok((events, Some(in_flight)))
}

/// Whether the table holds a committed event of the register after `seq`:
/// one lookup in its (register, seq) index.
pub async fn any_after(db: &impl ConnectionTrait, register_id: &str, seq: i64) -> AppResult<bool> {
    let found = risk_event::Entity::find()
        .select_only()
        .column(risk_event::Column::Seq)
        .filter(risk_event::Column::RegisterId.eq(register_id))
        .filter(risk_event::Column::Seq.gt(seq))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// The risks of the register's committed events after `seq`, in the
/// events' order, one per event: at most `most` + 1, so that more than
/// `most` tells that many changed without reading them all.
pub async fn risks_after(
    db: &impl ConnectionTrait,
    register_id: &str,
    seq: i64,
    most: u64,
) -> AppResult<Vec<String>> {
    Ok(risk_event::Entity::find()
        .select_only()
        .column(risk_event::Column::RiskId)
        .filter(risk_event::Column::RegisterId.eq(register_id))
        .filter(risk_event::Column::Seq.gt(seq))
        .order_by_asc(risk_event::Column::Seq)
        .limit(most + 1)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Whether every one of these PostgreSQL transactions has committed or
/// rolled back, as a snapshot taken now sees it. Not as the commit log says:
/// a transaction is marked committed there a moment before it leaves the
/// list of running ones, and a read in that moment would still miss its
/// events, after the tail had already settled the hole they fill.
pub async fn finished(db: &impl ConnectionTrait, transactions: &[i64]) -> AppResult<bool> {
    let list = transactions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let running: Option<i64> = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FROM unnest(string_to_array($1, ',')) x \
             WHERE x <> '' AND NOT pg_visible_in_snapshot(x::xid8, pg_current_snapshot())",
            [list.into()],
        ))
        .await?
        .map(|row| row.try_get("", "count"))
        .transpose()?;
    Ok(running == Some(0))
}

/// The PostgreSQL channel on which instances tell each other that events
/// were committed.
pub const CHANNEL: &str = "riskgraph_events";

/// Tells every instance's feed to look at the table. Sent by a feed after
/// its own process committed events, not by each writer: a NOTIFY holds a
/// database-wide lock through its commit, which would make writers take
/// turns. Nothing is lost if it is: the feeds poll as well, so its commit
/// need not wait for the disk.
pub async fn announce(db: &DatabaseConnection) -> AppResult<()> {
    let tx = db.begin().await?;
    tx.execute_unprepared(&format!(
        "SET LOCAL synchronous_commit = off; NOTIFY {CHANNEL}"
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}
