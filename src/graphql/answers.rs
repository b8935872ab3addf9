//! Aggregates kept across requests: filtered heatmaps, summaries and
//! breakdowns. Each counts up to every risk of its register (12-100 ms at
//! 100,000 on PostgreSQL, 25-190 ms on SQLite), and dashboards ask the same
//! question every few seconds of a register that changes far less often.
//!
//! An answer is kept with the feed's head as it was when its count began:
//! every event up to that seq had committed, or never will (see
//! `feed::tail`), so the count saw all of them. It serves again only while
//!
//! - the table holds no event of its register after that seq, which one
//!   read of the (register, seq) index tells: a change committed here or on
//!   any other instance is seen at once, without waiting for the feed;
//! - the reference generation is the one its count began in: filters name
//!   severities and custom field definitions, whose changes write no event
//!   of a risk (`Feed::reference_changed`).
//!
//! Every change to a risk writes its event in its own transaction, so no
//! answer outlives a change that would alter it.
//!
//! Requests that find no current answer to the same question take turns:
//! the first counts, and those that waited find its answer current.
//!
//! A filtered heatmap asked again after a change is kept as a tally: the
//! cell of each risk it counts. A later change then costs a read of the
//! risks it changed, found by their events, not a new count of the
//! register: they are taken out of their cells and put back where they are
//! now, if they still match. Reading every risk's cell costs about twice a
//! count, so a question asked once is only counted.

use crate::domain::enums::ScoreBasis;
use crate::error::AppResult;
use crate::feed::Feed;
use crate::store::heatmaps::{self, CellCount};
use crate::store::{events, risk_tables};
use sea_orm::{Condition, DatabaseConnection};
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// About how many answers are kept; the least used make room.
const ANSWERS_HELD: usize = 1_000;

/// What the kept answers may weigh together, in bytes of their questions
/// and rows: a question holds its filter, which a client may make long.
const BYTES_HELD: u64 = 32 << 20;

/// What a row of an answer is taken to weigh: a cell's levels and count, or
/// a group's key and figures.
const ROW_BYTES: u64 = 64;

/// Larger answers (a breakdown by a text every risk has its own of) are
/// counted each time rather than kept.
const MOST_ROWS: usize = 256;

/// What the kept tallies may weigh together: four of 100,000 risks each.
const TALLY_BYTES_HELD: u64 = 32 << 20;

/// What a risk in a tally is taken to weigh: its id and cell in a map (an
/// instance grew 5-8 MB a tally of 100,000).
const MEMBER_BYTES: u64 = 80;

/// More changed risks than this since a tally was last brought up to date
/// (a control's thousands of risks re-scored) are counted anew: one read of
/// them all costs about what the count does.
const MOST_CHANGED: u64 = 256;

/// A question: the register, and what is counted of it and how.
type Question = (String, String);

/// A heatmap's cell: its likelihood and impact levels, null for a risk
/// without both.
pub type Cell = (Option<i32>, Option<i32>);

/// A risk and its cell.
pub type Member = (String, Option<i32>, Option<i32>);

pub struct Answers {
    kept: quick_cache::sync::Cache<Question, Arc<Answer>, ByBytes>,
    tallies: quick_cache::sync::Cache<Question, Arc<Mutex<Tally>>, ByMembers>,
    /// A turn for each question being counted now.
    counting: Mutex<HashMap<Question, Arc<tokio::sync::Mutex<()>>>>,
}

struct Answer {
    /// The feed's head when the count began.
    as_of: i64,
    /// The reference generation when the count began.
    generation: u64,
    /// A `Vec` of the rows' type: the question fixes it.
    rows: Arc<dyn Any + Send + Sync>,
    /// How many rows it holds.
    len: usize,
}

/// The risks a filtered heatmap counts, each in its cell, and how many
/// each cell holds.
struct Tally {
    /// The feed's head when it was last brought up to date.
    as_of: i64,
    /// The reference generation when it was counted.
    generation: u64,
    /// Each risk's cell; None while only counted.
    cells: Option<HashMap<Box<str>, Cell>>,
    counts: HashMap<Cell, i64>,
}

impl Tally {
    /// Counts alone, which a change cannot bring up to date.
    fn counted(as_of: i64, generation: u64, rows: &[CellCount]) -> Self {
        Self {
            as_of,
            generation,
            cells: None,
            counts: rows.iter().map(|&(l, i, n)| ((l, i), n)).collect(),
        }
    }

    fn new(as_of: i64, generation: u64, members: Vec<Member>) -> Self {
        let mut tally = Self {
            as_of,
            generation,
            cells: Some(HashMap::with_capacity(members.len())),
            counts: HashMap::new(),
        };
        tally.update(HashSet::new(), members);
        tally
    }

    /// Takes the `changed` risks out of their cells, and puts those that
    /// match `now` in theirs. Nothing changes while only counted.
    fn update(&mut self, changed: HashSet<String>, now: Vec<Member>) {
        let Some(cells) = &mut self.cells else {
            return;
        };
        let mut moved = |cell, by| *self.counts.entry(cell).or_default() += by;
        for id in changed {
            if let Some(cell) = cells.remove(id.as_str()) {
                moved(cell, -1);
            }
        }
        for (id, l, i) in now {
            if let Some(was) = cells.insert(id.into_boxed_str(), (l, i)) {
                moved(was, -1);
            }
            moved((l, i), 1);
        }
    }

    fn rows(&self) -> Vec<CellCount> {
        self.counts
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(&(l, i), &n)| (l, i, n))
            .collect()
    }
}

fn locked(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

/// Weighs a tally by the bytes of its question and risks.
#[derive(Clone)]
struct ByMembers;

impl quick_cache::Weighter<Question, Arc<Mutex<Tally>>> for ByMembers {
    fn weight(&self, (register_id, question): &Question, tally: &Arc<Mutex<Tally>>) -> u64 {
        let tally = locked(tally);
        let members = tally.cells.as_ref().map_or(0, HashMap::len) as u64;
        let rows = tally.counts.len() as u64;
        (register_id.len() + question.len()) as u64 + members * MEMBER_BYTES + rows * ROW_BYTES
    }
}

/// Weighs an answer by the bytes of its question and rows.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<Question, Arc<Answer>> for ByBytes {
    fn weight(&self, (register_id, question): &Question, answer: &Arc<Answer>) -> u64 {
        (register_id.len() + question.len()) as u64 + answer.len as u64 * ROW_BYTES
    }
}

/// The kept tallies, in one shard: the cache splits its weight between its
/// shards (eight on two cores), and would refuse a tally heavier than its
/// shard's part.
fn tallies() -> quick_cache::sync::Cache<Question, Arc<Mutex<Tally>>, ByMembers> {
    let mut options = quick_cache::OptionsBuilder::new();
    options
        .estimated_items_capacity(ANSWERS_HELD)
        .weight_capacity(TALLY_BYTES_HELD)
        .shards(1);
    quick_cache::sync::Cache::with_options(
        options.build().expect("every option it requires is set"),
        ByMembers,
        quick_cache::DefaultHashBuilder::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    )
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            kept: quick_cache::sync::Cache::with_weighter(ANSWERS_HELD, BYTES_HELD, ByBytes),
            tallies: tallies(),
            counting: Mutex::default(),
        }
    }
}

impl Answers {
    /// What `count` answers of `register_id`'s risks for `question`, which
    /// must tell apart every statement `count` may send (the condition, the
    /// basis, the grouping): the kept answer while it is current, else a new
    /// count, kept.
    pub async fn count<T, F>(
        &self,
        feed: &Feed,
        (db, org_id): (&DatabaseConnection, &str),
        register_id: &str,
        question: String,
        count: F,
    ) -> AppResult<Vec<T>>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = AppResult<Vec<T>>>,
    {
        let question = (register_id.to_owned(), question);
        let seen = self.kept.get(&question);
        if let Some(rows) = self
            .current(feed, (db, org_id), (register_id, seen.as_deref()))
            .await?
        {
            return Ok(rows);
        }
        let turn = self.turn(&question);
        let held = turn.lock().await;
        // Another's count while this one waited or looked is looked at;
        // the answer already found stale is not asked about again.
        let kept = match self.kept.get(&question) {
            Some(now) if !seen.is_some_and(|seen| Arc::ptr_eq(&seen, &now)) => {
                self.current(feed, (db, org_id), (register_id, Some(&now)))
                    .await
            }
            _ => Ok(None),
        };
        let answered = match kept {
            Ok(Some(rows)) => Ok(rows),
            Ok(None) => self.counted(feed, org_id, &question, count).await,
            Err(err) => Err(err),
        };
        drop(held);
        self.done(&question, turn);
        answered
    }

    /// Counts anew, and keeps the answer unless it is large.
    async fn counted<T, F>(
        &self,
        feed: &Feed,
        org_id: &str,
        question: &Question,
        count: F,
    ) -> AppResult<Vec<T>>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = AppResult<Vec<T>>>,
    {
        // Both taken before anything is read: what commits meanwhile makes
        // the count stale, never the other way round.
        let generation = feed.reference_generation(org_id);
        let as_of = feed.head();
        metrics::counter!("riskgraph_answers_total", "kept" => "false").increment(1);
        let rows = count.await?;
        if rows.len() <= MOST_ROWS {
            let answer = Answer {
                as_of,
                generation,
                rows: Arc::new(rows.clone()),
                len: rows.len(),
            };
            self.kept.insert(question.clone(), Arc::new(answer));
        }
        Ok(rows)
    }

    /// The rows of a kept answer, if it is current.
    async fn current<T: Clone + 'static>(
        &self,
        feed: &Feed,
        (db, org_id): (&DatabaseConnection, &str),
        (register_id, answer): (&str, Option<&Answer>),
    ) -> AppResult<Option<Vec<T>>> {
        let Some(answer) = answer else {
            return Ok(None);
        };
        let Some(rows) = answer.rows.downcast_ref::<Vec<T>>() else {
            return Ok(None);
        };
        if answer.generation != feed.reference_generation(org_id)
            || events::any_after(db, register_id, answer.as_of).await?
        {
            return Ok(None);
        }
        metrics::counter!("riskgraph_answers_total", "kept" => "true").increment(1);
        Ok(Some(rows.clone()))
    }

    /// The counts by cell of `basis` of `register_id`'s risks that match
    /// `condition`: the kept tally while it is current. A question asked
    /// the first time is counted; asked again after a change, its risks are
    /// read into a tally, which later changes bring up to date by reading
    /// only the risks they changed, when those are few.
    pub async fn cells(
        &self,
        feed: &Feed,
        (db, org_id): (&DatabaseConnection, &str),
        register_id: &str,
        (condition, basis): (&Condition, ScoreBasis),
    ) -> AppResult<Vec<CellCount>> {
        let question = (register_id.to_owned(), format!("{basis:?} {condition:?}"));
        if let Some(kept) = self.tallies.get(&question) {
            let (as_of, generation) = {
                let tally = locked(&kept);
                (tally.as_of, tally.generation)
            };
            if generation == feed.reference_generation(org_id)
                && !events::any_after(db, register_id, as_of).await?
            {
                metrics::counter!("riskgraph_answers_total", "kept" => "true").increment(1);
                return Ok(locked(&kept).rows());
            }
        }
        // Tallies change in turn: one brought up to date by an older read
        // after a newer one would put a risk back where it was.
        let turn = self.turn(&question);
        let held = turn.lock().await;
        let asked = (db, org_id, &question);
        let answered = self.tallied(feed, asked, (condition, basis)).await;
        drop(held);
        self.done(&question, turn);
        answered
    }

    /// The kept tally brought up to date, or a new one; in the question's
    /// turn.
    async fn tallied(
        &self,
        feed: &Feed,
        (db, org_id, question): (&DatabaseConnection, &str, &Question),
        (condition, basis): (&Condition, ScoreBasis),
    ) -> AppResult<Vec<CellCount>> {
        // Both taken before anything is read, as in `counted`.
        let generation = feed.reference_generation(org_id);
        let as_of = feed.head();
        let kept = self
            .tallies
            .get(question)
            .filter(|kept| locked(kept).generation == generation);
        let Some(kept) = kept else {
            metrics::counter!("riskgraph_answers_total", "kept" => "false").increment(1);
            let rows = heatmaps::cell_counts(db, condition.clone(), basis).await?;
            let tally = Tally::counted(as_of, generation, &rows);
            self.tallies
                .insert(question.clone(), Arc::new(Mutex::new(tally)));
            return Ok(rows);
        };
        let (since, tallied) = {
            let tally = locked(&kept);
            (tally.as_of, tally.cells.is_some())
        };
        let changed = events::risks_after(db, &question.0, since, MOST_CHANGED).await?;
        let (now, kept_as) = if changed.is_empty() {
            // The request this one waited for brought it up to date.
            (Vec::new(), "true")
        } else if tallied && changed.len() as u64 <= MOST_CHANGED {
            let ids = changed.iter().map(String::as_str);
            let condition = condition.clone().add(risk_tables::with_ids(ids));
            (
                heatmaps::cell_members(db, condition, basis).await?,
                "updated",
            )
        } else {
            metrics::counter!("riskgraph_answers_total", "kept" => "false").increment(1);
            let members = heatmaps::cell_members(db, condition.clone(), basis).await?;
            let tally = Tally::new(as_of, generation, members);
            let rows = tally.rows();
            self.tallies
                .insert(question.clone(), Arc::new(Mutex::new(tally)));
            return Ok(rows);
        };
        metrics::counter!("riskgraph_answers_total", "kept" => kept_as).increment(1);
        let mut tally = locked(&kept);
        tally.update(changed.into_iter().collect(), now);
        tally.as_of = tally.as_of.max(as_of);
        Ok(tally.rows())
    }

    /// The turn of `question`'s counters.
    fn turn(&self, question: &Question) -> Arc<tokio::sync::Mutex<()>> {
        let mut counting = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        counting.entry(question.clone()).or_default().clone()
    }

    /// Leaves `question`'s turn; the last to leave takes it out.
    fn done(&self, question: &Question, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut counting = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        // Held by the map and by `turn`: nobody else waits.
        if Arc::strong_count(&turn) == 2 {
            counting.remove(question);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, cell: Cell) -> Member {
        (id.to_owned(), cell.0, cell.1)
    }

    #[test]
    fn a_changed_risk_moves_its_cell_leaves_or_enters() {
        let (low, high, unscored) = ((Some(1), Some(1)), (Some(2), Some(2)), (None, None));
        let members = vec![member("a", low), member("b", low), member("c", unscored)];
        let mut tally = Tally::new(0, 0, members);
        // a moved up, b no longer matches, d now does; c is untouched.
        let changed = ["a", "b", "d"].map(String::from).into();
        tally.update(changed, vec![member("a", high), member("d", low)]);
        let mut rows = tally.rows();
        rows.sort();
        assert_eq!(
            rows,
            [
                (None, None, 1),
                (Some(1), Some(1), 1),
                (Some(2), Some(2), 1)
            ]
        );
        tally.update(["d".to_owned()].into(), Vec::new());
        let mut rows = tally.rows();
        rows.sort();
        assert_eq!(
            rows,
            [(None, None, 1), (Some(2), Some(2), 1)],
            "an empty cell is left out"
        );
    }

    #[test]
    fn four_tallies_of_a_hundred_thousand_risks_are_kept() {
        let answers = Answers::default();
        let members = || (0..100_000).map(|n| member(&format!("rsk_{n:026}"), (Some(1), Some(1))));
        for k in 0..4 {
            let tally = Tally::new(0, 0, members().collect());
            let question = ("reg".to_owned(), k.to_string());
            answers
                .tallies
                .insert(question, Arc::new(Mutex::new(tally)));
        }
        assert_eq!(answers.tallies.len(), 4);
    }

    #[test]
    fn counts_alone_are_not_moved() {
        let rows = [(Some(1), Some(1), 2)];
        let mut tally = Tally::counted(0, 0, &rows);
        tally.update(
            ["a".to_owned()].into(),
            vec![member("a", (Some(2), Some(2)))],
        );
        assert_eq!(tally.rows(), rows);
    }
}
