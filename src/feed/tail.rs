//! Where the dispatcher stands in the table, and which of the events it
//! reads it may pass on.
//!
//! Seqs come from a sequence when a transaction inserts its events, but
//! transactions commit in their own order, so a reader can see seq 12
//! committed while seq 11 is still in flight (or was rolled back). Passing
//! 12 would make 11 arrive late, or never. So the tail passes the unbroken
//! run after the last seq it passed, and at a hole it waits out the
//! transactions that were running when the hole was seen: once they have all
//! finished, whatever is missing below the seqs then visible will never come.
//! No writer waits on another for this, so commits group as the database
//! likes.

use std::time::{Duration, Instant};

/// One read of the table: events after the tail's last seq, oldest first,
/// and the transactions still running when they were read (PostgreSQL), or
/// None where one writer commits in seq order (SQLite).
pub struct Read<E> {
    pub events: Vec<E>,
    pub in_flight: Option<Vec<i64>>,
    /// False when the read stopped at its batch size, so more may follow.
    pub complete: bool,
}

/// A hole after `Tail::last`, and what must finish before it is settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Hole {
    /// The highest seq seen past the hole: any seq below it was handed out
    /// before it, so by a transaction in `in_flight`.
    pub through: i64,
    pub in_flight: Vec<i64>,
    pub seen: Instant,
}

pub struct Tail {
    /// The last seq passed on.
    pub last: i64,
    pub hole: Option<Hole>,
    /// Past this age a hole is settled anyway: no writing transaction lives
    /// longer than a request may, so only an unrelated long transaction can
    /// still be in the list.
    pub patience: Duration,
}

pub trait Seq {
    fn seq(&self) -> i64;
}

impl Tail {
    pub fn new(last: i64, patience: Duration) -> Self {
        Self {
            last,
            hole: None,
            patience,
        }
    }

    /// Whether the hole, if any, must be settled by asking the database
    /// whether its transactions have finished; a hole past its patience is
    /// settled without asking.
    pub fn pending(&self) -> Option<&[i64]> {
        self.hole
            .as_ref()
            .filter(|h| h.seen.elapsed() < self.patience)
            .map(|h| h.in_flight.as_slice())
    }

    /// The events of `read` that may be passed on now, in seq order.
    /// `settled`: every transaction of the hole has finished (checked before
    /// the read), or the hole outlived its patience.
    pub fn advance<E: Seq>(&mut self, read: Read<E>, settled: bool) -> Vec<E> {
        let through = match &self.hole {
            Some(hole) if settled => hole.through,
            _ => self.last,
        };
        let ordered = read.in_flight.is_none();
        let mut out = Vec::new();
        let mut rest = read.events.into_iter().peekable();
        while let Some(event) = rest.next_if(|e| e.seq() <= through) {
            self.last = event.seq();
            out.push(event);
        }
        // Everything up to `through` has been read unless the batch cut the
        // read short: the rest of the settled hole never committed.
        if settled && (read.complete || rest.peek().is_some()) {
            self.last = self.last.max(through);
            self.hole = None;
        }
        while let Some(event) = rest.next_if(|e| ordered || e.seq() == self.last + 1) {
            self.last = event.seq();
            out.push(event);
        }
        if self.hole.as_ref().is_some_and(|h| h.through <= self.last) {
            self.hole = None;
        }
        if let (None, Some(in_flight)) = (&self.hole, read.in_flight)
            && let Some(through) = rest.last().map(|e| e.seq())
        {
            self.hole = Some(Hole {
                through,
                in_flight,
                seen: Instant::now(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Seq for i64 {
        fn seq(&self) -> i64 {
            *self
        }
    }

    fn read(events: &[i64], in_flight: Option<&[i64]>) -> Read<i64> {
        Read {
            events: events.to_vec(),
            in_flight: in_flight.map(<[i64]>::to_vec),
            complete: true,
        }
    }

    fn tail() -> Tail {
        Tail::new(10, Duration::from_secs(60))
    }

    #[test]
    fn an_unbroken_run_passes_at_once() {
        let mut t = tail();
        assert_eq!(
            t.advance(read(&[11, 12, 13], Some(&[7])), false),
            [11, 12, 13]
        );
        assert_eq!((t.last, t.hole.is_none()), (13, true));
    }

    #[test]
    fn a_hole_holds_back_what_follows_it_until_its_writers_finish() {
        let mut t = tail();
        assert_eq!(t.advance(read(&[11, 13, 14], Some(&[7, 9])), false), [11]);
        assert_eq!(t.pending(), Some(&[7, 9][..]));
        // Still running: nothing more, whatever else is visible.
        assert!(t.advance(read(&[13, 14, 15], Some(&[9])), false).is_empty());
        // 12 committed meanwhile: the run goes on through it.
        assert_eq!(
            t.advance(read(&[12, 13, 14, 15], Some(&[])), false),
            [12, 13, 14, 15]
        );
        assert_eq!(t.pending(), None);
    }

    #[test]
    fn a_settled_hole_is_skipped_up_to_what_was_seen_past_it() {
        let mut t = tail();
        t.advance(read(&[11, 13, 14], Some(&[7])), false);
        // 12 was rolled back; 16 arrived behind a new hole at 15.
        assert_eq!(t.advance(read(&[13, 14, 16], Some(&[8])), true), [13, 14]);
        assert_eq!(t.last, 14);
        assert_eq!(t.hole.as_ref().map(|h| h.through), Some(16));
        assert_eq!(t.pending(), Some(&[8][..]));
    }

    #[test]
    fn a_settled_hole_cut_short_by_the_batch_stays_until_read_through() {
        let mut t = tail();
        t.advance(read(&[11, 13, 14, 15], Some(&[7])), false);
        let mut cut = read(&[13, 14], Some(&[]));
        cut.complete = false;
        assert_eq!(t.advance(cut, true), [13, 14]);
        assert!(t.hole.is_some());
        assert_eq!(t.advance(read(&[15], Some(&[])), true), [15]);
        assert!(t.hole.is_none());
    }

    #[test]
    fn a_hole_past_its_patience_is_no_longer_asked_about() {
        let mut t = Tail::new(10, Duration::ZERO);
        t.advance(read(&[12], Some(&[7])), false);
        assert!(t.hole.is_some());
        assert_eq!(t.pending(), None);
    }

    #[test]
    fn one_writer_in_seq_order_never_waits() {
        let mut t = tail();
        assert_eq!(t.advance(read(&[12, 15], None), false), [12, 15]);
        assert!(t.hole.is_none());
    }
}
