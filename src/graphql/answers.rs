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

use crate::error::AppResult;
use crate::feed::Feed;
use crate::store::events;
use sea_orm::DatabaseConnection;
use std::any::Any;
use std::collections::HashMap;
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

/// A question: the register, and what is counted of it and how.
type Question = (String, String);

pub struct Answers {
    kept: quick_cache::sync::Cache<Question, Arc<Answer>, ByBytes>,
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

/// Weighs an answer by the bytes of its question and rows.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<Question, Arc<Answer>> for ByBytes {
    fn weight(&self, (register_id, question): &Question, answer: &Arc<Answer>) -> u64 {
        (register_id.len() + question.len()) as u64 + answer.len as u64 * ROW_BYTES
    }
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            kept: quick_cache::sync::Cache::with_weighter(ANSWERS_HELD, BYTES_HELD, ByBytes),
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
