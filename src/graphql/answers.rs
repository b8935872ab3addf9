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

use crate::error::AppResult;
use crate::feed::Feed;
use crate::store::events;
use sea_orm::DatabaseConnection;
use std::any::Any;
use std::sync::Arc;

/// Answers kept, at most; the least used make room.
const ANSWERS_HELD: usize = 1_000;

/// Larger answers (a breakdown by a text every risk has its own of) are
/// counted each time rather than kept: this bounds what the process holds.
const MOST_ROWS: usize = 256;

/// A question: the register, and what is counted of it and how.
type Question = (String, String);

pub struct Answers {
    kept: quick_cache::sync::Cache<Question, Arc<Answer>>,
}

struct Answer {
    /// The feed's head when the count began.
    as_of: i64,
    /// The reference generation when the count began.
    generation: u64,
    /// A `Vec` of the rows' type: the question fixes it.
    rows: Arc<dyn Any + Send + Sync>,
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            kept: quick_cache::sync::Cache::new(ANSWERS_HELD),
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
        // Both taken before anything is read: what commits meanwhile makes
        // the count that follows stale, never the other way round.
        let generation = feed.reference_generation(org_id);
        let as_of = feed.head();
        if let Some(answer) = self.kept.get(&question)
            && answer.generation == generation
            && let Some(rows) = answer.rows.downcast_ref::<Vec<T>>()
            && !events::any_after(db, register_id, answer.as_of).await?
        {
            metrics::counter!("riskgraph_answers_total", "kept" => "true").increment(1);
            return Ok(rows.clone());
        }
        metrics::counter!("riskgraph_answers_total", "kept" => "false").increment(1);
        let rows = count.await?;
        if rows.len() <= MOST_ROWS {
            let answer = Answer {
                as_of,
                generation,
                rows: Arc::new(rows.clone()),
            };
            self.kept.insert(question, Arc::new(answer));
        }
        Ok(rows)
    }
}
