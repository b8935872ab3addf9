//! Counts kept across requests: filtered heatmaps, summaries and
//! breakdowns. Each counts up to every risk of its register (12-120 ms at
//! 100,000 on PostgreSQL, 25-190 ms on SQLite), and dashboards ask the same
//! question every few seconds of a register that changes far less often.
//!
//! An answer is a *tally*: counts by what each risk is counted under (a
//! heatmap's cell; a summary's status, band and tolerance; a breakdown's
//! group and score). It is kept with the feed's head as it was when its
//! read began: every event up to that seq had committed, or never will (see
//! `feed::tail`), so the read saw all of them. It serves again only while
//!
//! - the table holds no event of its register after that seq, which one
//!   read of the (register, seq) index tells: a change committed here or on
//!   any other instance is seen at once, without waiting for the feed;
//! - the reference generation is the one its read began in: filters name
//!   severities and custom field definitions, whose changes write no event
//!   of a risk (`Feed::reference_changed`).
//!
//! A question asked the first time is counted. Asked again after a change,
//! each matching risk's key is read into the tally, which costs about twice
//! a count; from then on a change costs a read of only the risks it
//! changed, found by their events: they are taken out of their counts and
//! counted again as they are now, if they still match. Every change to a
//! risk writes its event in its own transaction, so no answer outlives a
//! change that would alter it.
//!
//! Requests that find no current answer to the same question take turns:
//! the first reads, and those that waited find its answer current. A tally
//! changes only in its turn, so an older read never undoes a newer one.

use super::ContextExt;
use crate::error::AppResult;
use crate::store::Actor;
use crate::store::{events, risk_tables};
use async_graphql::Context;
use sea_orm::Condition;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// About how many answers are kept; the least used make room.
const ANSWERS_HELD: usize = 1_000;

/// What a count of a tally is taken to weigh: its key and number.
const ROW_BYTES: u64 = 64;

/// What the kept tallies may weigh together: four of 100,000 risks each.
const TALLY_BYTES_HELD: u64 = 32 << 20;

/// What a risk in a tally is taken to weigh: its id and key in a map (an
/// instance grew 5-8 MB a heatmap's tally of 100,000).
const MEMBER_BYTES: u64 = 80;

/// More changed risks than this since a tally was last brought up to date
/// (a control's thousands of risks re-scored) read the whole tally anew:
/// reading them one by one would cost more.
const MOST_CHANGED: u64 = 256;

/// The maps of a tally, which a read fills with 100,000 risks at a time:
/// std's SipHash was a sixth of that read's time, and foldhash (seeded at
/// random, as std's) takes 13 % off an instance's CPU for a count and a
/// read of 100,000 risks' facets.
type FastMap<K, V> = foldhash::HashMap<K, V>;

/// A question: the register, and what is counted of it and how.
type Question = (String, String);

/// A turn for each question being read now.
type Turns = Mutex<HashMap<Question, Arc<tokio::sync::Mutex<()>>>>;

pub struct Answers {
    tallies: quick_cache::sync::Cache<Question, Arc<Kept>, ByWeight>,
    counting: Turns,
}

/// The risks an answer counts, each under its key, and how many each key
/// has.
struct Tally<K> {
    /// The feed's head when it was last brought up to date.
    as_of: i64,
    /// The reference generation when it was counted.
    generation: u64,
    /// Each risk's key; None while only counted.
    members: Option<FastMap<Box<str>, K>>,
    counts: FastMap<K, i64>,
}

impl<K: Hash + Eq + Clone> Tally<K> {
    /// Counts alone, which a change cannot bring up to date.
    fn counted(as_of: i64, generation: u64, rows: &[(K, i64)]) -> Self {
        Self {
            as_of,
            generation,
            members: None,
            counts: rows.iter().cloned().collect(),
        }
    }

    fn new(as_of: i64, generation: u64, members: Vec<(String, K)>) -> Self {
        let mut tally = Self {
            as_of,
            generation,
            members: Some(FastMap::with_capacity_and_hasher(
                members.len(),
                Default::default(),
            )),
            counts: FastMap::default(),
        };
        tally.update(HashSet::new(), members);
        tally
    }

    /// Takes the `changed` risks out of their keys' counts, and counts those
    /// that match `now` under theirs. Nothing changes while only counted.
    fn update(&mut self, changed: HashSet<String>, now: Vec<(String, K)>) {
        let Some(members) = &mut self.members else {
            return;
        };
        let mut moved = |key, by| *self.counts.entry(key).or_default() += by;
        for id in changed {
            if let Some(key) = members.remove(id.as_str()) {
                moved(key, -1);
            }
        }
        for (id, key) in now {
            if let Some(was) = members.insert(id.into_boxed_str(), key.clone()) {
                moved(was, -1);
            }
            moved(key, 1);
        }
    }

    fn rows(&self) -> Vec<(K, i64)> {
        self.counts
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(key, n)| (key.clone(), *n))
            .collect()
    }

    /// What it is taken to weigh, in bytes.
    fn weight(&self) -> u64 {
        let members = self.members.as_ref().map_or(0, FastMap::len) as u64;
        members * MEMBER_BYTES + self.counts.len() as u64 * ROW_BYTES
    }
}

/// A kept tally: a `Mutex<Tally<K>>` of the key its question fixes.
struct Kept {
    weight: u64,
    tally: Box<dyn Any + Send + Sync>,
}

impl Kept {
    fn new<K: Hash + Eq + Clone + Send + 'static>(tally: Tally<K>) -> Arc<Self> {
        Arc::new(Self {
            weight: tally.weight(),
            tally: Box::new(Mutex::new(tally)),
        })
    }

    fn tally<K: 'static>(&self) -> Option<&Mutex<Tally<K>>> {
        self.tally.downcast_ref()
    }
}

fn locked<K>(tally: &Mutex<Tally<K>>) -> std::sync::MutexGuard<'_, Tally<K>> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

/// Weighs a tally by the bytes of its question and risks.
#[derive(Clone)]
struct ByWeight;

impl quick_cache::Weighter<Question, Arc<Kept>> for ByWeight {
    fn weight(&self, (register_id, question): &Question, kept: &Arc<Kept>) -> u64 {
        (register_id.len() + question.len()) as u64 + kept.weight
    }
}

/// The kept tallies, in one shard: the cache splits its weight between its
/// shards (eight on two cores), and would refuse a tally heavier than its
/// shard's part.
fn tallies() -> quick_cache::sync::Cache<Question, Arc<Kept>, ByWeight> {
    let mut options = quick_cache::OptionsBuilder::new();
    options
        .estimated_items_capacity(ANSWERS_HELD)
        .weight_capacity(TALLY_BYTES_HELD)
        .shards(1);
    quick_cache::sync::Cache::with_options(
        options.build().expect("every option it requires is set"),
        ByWeight,
        quick_cache::DefaultHashBuilder::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    )
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            tallies: tallies(),
            counting: Mutex::default(),
        }
    }
}

/// What `count` answers of `register_id`'s risks that match
/// `condition`: counts by key. `how` must tell apart every statement
/// `count` and `members` may send besides the condition. The kept tally
/// while it is current. A question asked the first time is counted;
/// asked again after a change, `members` reads each risk's key into a
/// tally, which later changes bring up to date by reading only the risks
/// they changed, when those are few.
pub async fn tally<K, C, F, M, R>(
    (ctx, actor): (&Context<'_>, &Actor<'_>),
    (register_id, how, condition): (&str, String, &Condition),
    count: C,
    members: M,
) -> AppResult<Vec<(K, i64)>>
where
    K: Hash + Eq + Clone + Send + 'static,
    C: FnOnce(Condition) -> F,
    F: Future<Output = AppResult<Vec<(K, i64)>>>,
    M: Fn(Condition) -> R,
    R: Future<Output = AppResult<Vec<(String, K)>>>,
{
    let services = ctx.services()?;
    let (answers, feed) = (&services.answers, &services.feed);
    let (db, org_id) = (actor.db, actor.org_id());
    let question = (register_id.to_owned(), format!("{how} {condition:?}"));
    let kept = answers.tallies.get(&question);
    if let Some(tally) = kept.as_deref().and_then(Kept::tally::<K>) {
        let (as_of, generation) = {
            let tally = locked(tally);
            (tally.as_of, tally.generation)
        };
        if generation == feed.reference_generation(org_id)
            && !events::any_after(db, register_id, as_of).await?
        {
            answered("true");
            return Ok(locked(tally).rows());
        }
    }
    // Tallies change in turn: one brought up to date by an older read
    // after a newer one would put a risk back where it was.
    answers
        .in_turn(&question, async {
            // Both taken before anything is read: what commits meanwhile
            // makes the answer stale, never the other way round.
            let generation = feed.reference_generation(org_id);
            let as_of = feed.head();
            let kept = answers.tallies.get(&question);
            let tally = kept
                .as_deref()
                .and_then(Kept::tally::<K>)
                .filter(|tally| locked(tally).generation == generation);
            let Some(tally) = tally else {
                answered("false");
                let rows = count(condition.clone()).await?;
                let kept = Kept::new(Tally::counted(as_of, generation, &rows));
                answers.tallies.insert(question.clone(), kept);
                return Ok(rows);
            };
            let (since, tallied) = {
                let tally = locked(tally);
                (tally.as_of, tally.members.is_some())
            };
            let changed = events::risks_after(db, register_id, since, MOST_CHANGED).await?;
            let many = changed.len() as u64 > MOST_CHANGED;
            let changed: HashSet<String> = changed.into_iter().collect();
            let (now, kept_as) = if changed.is_empty() {
                // The request this one waited for brought it up to date.
                (Vec::new(), "true")
            } else if tallied && !many {
                let ids = risk_tables::with_ids(changed.iter().map(String::as_str));
                (members(condition.clone().add(ids)).await?, "updated")
            } else {
                answered("false");
                let tally = Tally::new(as_of, generation, members(condition.clone()).await?);
                let rows = tally.rows();
                answers.tallies.insert(question.clone(), Kept::new(tally));
                return Ok(rows);
            };
            answered(kept_as);
            let mut tally = locked(tally);
            tally.update(changed, now);
            tally.as_of = tally.as_of.max(as_of);
            Ok(tally.rows())
        })
        .await
}

/// Counts an answer on `/metrics` by how it was had: kept (`true`), brought
/// up to date by the risks changed (`updated`), or read anew (`false`).
fn answered(kept: &'static str) {
    metrics::counter!("riskgraph_answers_total", "kept" => kept).increment(1);
}

impl Answers {
    /// Runs `work` in `question`'s turn: after every request that took it
    /// before.
    async fn in_turn<T>(&self, question: &Question, work: impl Future<Output = T>) -> T {
        let turn = Turn::take(&self.counting, question);
        let _held = turn.mutex.lock().await;
        work.await
    }
}

/// A request's place in its question's turn. Left when dropped, however
/// the request ends: one that a client abandons while it waits or reads
/// leaves no entry behind.
struct Turn<'a> {
    counting: &'a Turns,
    question: &'a Question,
    mutex: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Turn<'a> {
    fn take(counting: &'a Turns, question: &'a Question) -> Self {
        let mut waiting = counting.lock().unwrap_or_else(|p| p.into_inner());
        let mutex = waiting.entry(question.clone()).or_default().clone();
        Self {
            counting,
            question,
            mutex,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut waiting = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        // Held by the map and by this turn alone: nobody else waits.
        if Arc::strong_count(&self.mutex) == 2 {
            waiting.remove(self.question);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::heatmaps::Cell;

    fn member(id: &str, cell: Cell) -> (String, Cell) {
        (id.to_owned(), cell)
    }

    fn sorted(tally: &Tally<Cell>) -> Vec<(Cell, i64)> {
        let mut rows = tally.rows();
        rows.sort();
        rows
    }

    #[test]
    fn a_changed_risk_moves_its_cell_leaves_or_enters() {
        let (low, high, unscored) = ((Some(1), Some(1)), (Some(2), Some(2)), (None, None));
        let members = vec![member("a", low), member("b", low), member("c", unscored)];
        let mut tally = Tally::new(0, 0, members);
        // a moved up, b no longer matches, d now does; c is untouched.
        let changed = ["a", "b", "d"].map(String::from).into();
        tally.update(changed, vec![member("a", high), member("d", low)]);
        assert_eq!(sorted(&tally), [(unscored, 1), (low, 1), (high, 1)]);
        tally.update(["d".to_owned()].into(), Vec::new());
        assert_eq!(
            sorted(&tally),
            [(unscored, 1), (high, 1)],
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
            answers.tallies.insert(question, Kept::new(tally));
        }
        assert_eq!(answers.tallies.len(), 4);
    }

    #[test]
    fn an_abandoned_turn_leaves_no_entry() {
        use futures_util::FutureExt;
        let answers = Answers::default();
        let question = ("reg".to_owned(), "q".to_owned());
        let mut first = Box::pin(answers.in_turn(&question, std::future::pending::<()>()));
        assert!(first.as_mut().now_or_never().is_none(), "reads");
        let mut second = Box::pin(answers.in_turn(&question, async {}));
        assert!(second.as_mut().now_or_never().is_none(), "waits");
        drop(second);
        drop(first);
        let turns = answers.counting.lock().unwrap_or_else(|p| p.into_inner());
        assert!(turns.is_empty());
    }

    #[test]
    fn counts_alone_are_not_moved() {
        let rows = [((Some(1), Some(1)), 2)];
        let mut tally = Tally::counted(0, 0, &rows);
        tally.update(
            ["a".to_owned()].into(),
            vec![member("a", (Some(2), Some(2)))],
        );
        assert_eq!(tally.rows(), rows);
    }
}
