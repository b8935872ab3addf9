//! Which subscribers an event wakes. Every event goes into the feed's one
//! channel, but a subscriber does not wait on the channel: it waits on its
//! scope's signal, which only the events it wants raise (its organization's
//! or its register's, of its `Interest`), and then takes what the channel
//! holds. Waiting on the channel itself, every event woke every subscription
//! of the process: with 10,000 distinct subscribers of one register, an
//! update none of them wanted cost 16-24 ms of CPU, against 1-2 ms without
//! them.
//!
//! A subscriber that sleeps through more events than the channel keeps finds
//! it lagged when it wakes. Its signal remembers the seqs of its scope's
//! latest events, so it can tell whether what the channel dropped held one
//! of its own (then it catches up from the table) or others' only, which is
//! what a dashboard of a quiet register sleeps through.

use super::{Event, Scope};
use crate::domain::history::Interest;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// How many of its latest seqs a scope's signal remembers.
const RECENT: usize = 64;

/// The seqs of a scope's latest events, oldest first.
#[derive(Default)]
struct Recent(VecDeque<i64>);

impl Recent {
    fn record(&mut self, seq: i64) {
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(seq);
    }

    /// Whether the scope may have an event after `last` and before `next`,
    /// the oldest seq the channel still holds (None: it holds nothing
    /// newer). Yes too when the scope had more events after `last` than are
    /// remembered.
    fn missed(&self, last: i64, next: Option<i64>) -> bool {
        let forgotten = self.0.len() == RECENT && self.0.front().is_some_and(|&s| s > last);
        forgotten
            || self
                .0
                .iter()
                .any(|&s| s > last && next.is_none_or(|next| s < next))
    }
}

/// A target's signals, one for each interest (`Interest::index`).
type Interests = [Option<watch::Sender<Recent>>; Interest::ALL.len()];

/// An organization's signals: for its subscribers of all its registers, and
/// of each one. Only signals with subscribers are kept: the last to leave
/// takes its signal out (`Signal`'s drop).
#[derive(Default)]
struct OrgSignals {
    all: Interests,
    registers: HashMap<String, Interests>,
}

impl OrgSignals {
    /// The signals an event raises.
    fn raised_by<'s, 'e>(
        &'s self,
        event: &'e Event,
    ) -> impl Iterator<Item = &'s watch::Sender<Recent>> + use<'s, 'e> {
        std::iter::once(&self.all)
            .chain(self.registers.get(&event.register_id))
            .flat_map(|interests| Interest::ALL.iter().zip(interests))
            .filter_map(|(interest, signal)| signal.as_ref().map(|signal| (interest, signal)))
            .filter(|(interest, _)| interest.in_event(event))
            .map(|(_, signal)| signal)
    }

    /// The signals of a target: the register's, or all registers'.
    fn of(&mut self, register_id: Option<&String>) -> Option<&mut Interests> {
        match register_id {
            None => Some(&mut self.all),
            Some(id) => self.registers.get_mut(id),
        }
    }
}

type Signals = Mutex<HashMap<String, OrgSignals>>;

#[derive(Default)]
pub struct Routes {
    signals: Arc<Signals>,
}

fn lock(signals: &Signals) -> MutexGuard<'_, HashMap<String, OrgSignals>> {
    signals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Routes {
    /// The signal of `scope`'s events, raised from now on.
    pub fn signal(&self, scope: Scope) -> Signal {
        let mut signals = lock(&self.signals);
        let org = signals.entry(scope.org_id.clone()).or_default();
        let interests = match &scope.register_id {
            None => &mut org.all,
            Some(id) => org.registers.entry(id.clone()).or_default(),
        };
        let receiver = interests[scope.interest.index()]
            .get_or_insert_with(Default::default)
            .subscribe();
        drop(signals);
        Signal {
            receiver,
            scope,
            signals: self.signals.clone(),
        }
    }

    /// Passes `events` on through `send`, raising the signals of each:
    /// remembered before it is sent, so that a subscriber that finds it
    /// dropped from the channel knows it was its own; raised after, so that
    /// a subscriber woken by it finds it there.
    pub fn pass(&self, events: impl IntoIterator<Item = Event>, mut send: impl FnMut(Event)) {
        let signals = lock(&self.signals);
        let mut raised = Vec::new();
        for event in events {
            raised.clear();
            if let Some(org) = signals.get(&event.org_id) {
                raised.extend(org.raised_by(&event));
            }
            for signal in &raised {
                signal.send_if_modified(|recent| {
                    recent.record(event.seq);
                    false
                });
            }
            send(event.clone());
            for signal in &raised {
                signal.send_modify(|_| ());
            }
        }
    }
}

/// A subscriber's signal: its scope, and what its scope's events raise.
pub struct Signal {
    receiver: watch::Receiver<Recent>,
    scope: Scope,
    signals: Arc<Signals>,
}

impl Signal {
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// What the channel holds from now on is taken before the next wait
    /// returns.
    pub fn mark_seen(&mut self) {
        self.receiver.borrow_and_update();
    }

    /// Waits until an event of the scope was passed on since the last
    /// `mark_seen`.
    pub async fn raised(&mut self) {
        // The sender lives as long as this receiver: `Drop` takes it out.
        let _ = self.receiver.changed().await;
    }

    /// Whether the scope may have an event after `last` and before `next`:
    /// see [`Recent::missed`].
    pub fn missed(&self, last: i64, next: Option<i64>) -> bool {
        self.receiver.borrow().missed(last, next)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let mut signals = lock(&self.signals);
        let Some(org) = signals.get_mut(&self.scope.org_id) else {
            return;
        };
        let Some(interests) = org.of(self.scope.register_id.as_ref()) else {
            return;
        };
        let slot = &mut interests[self.scope.interest.index()];
        // This receiver is the one left.
        if slot.as_ref().is_some_and(|s| s.receiver_count() <= 1) {
            *slot = None;
        }
        let unheard = |interests: &Interests| interests.iter().all(Option::is_none);
        if let Some(id) = &self.scope.register_id
            && org.registers.get(id).is_some_and(unheard)
        {
            org.registers.remove(id);
        }
        if unheard(&org.all) && org.registers.is_empty() {
            signals.remove(&self.scope.org_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enums::RiskEventKind;
    use crate::domain::history::tests::event;

    fn recent(seqs: &[i64]) -> Recent {
        let mut recent = Recent::default();
        for seq in seqs {
            recent.record(*seq);
        }
        recent
    }

    #[test]
    fn a_lost_event_of_the_scope_is_missed() {
        // Its event 7 fell between the last seq taken (5) and the oldest
        // the channel still holds (9).
        assert!(recent(&[2, 7, 12]).missed(5, Some(9)));
        // Nothing after the last one taken before the oldest held.
        assert!(!recent(&[2, 5, 12]).missed(5, Some(9)));
        // The channel holds nothing newer: any event after `last` is lost.
        assert!(recent(&[2, 7]).missed(5, None));
        assert!(!recent(&[2, 5]).missed(5, None));
        assert!(!recent(&[]).missed(5, None));
    }

    #[test]
    fn more_events_than_remembered_count_as_missed() {
        let many: Vec<i64> = (100..100 + RECENT as i64).collect();
        // The oldest remembered is after `last`: older ones were forgotten.
        assert!(recent(&many).missed(50, Some(100)));
        // All remembered after the oldest held, and one at `last`: none lost.
        let mut at_last = vec![50];
        at_last.extend(200..200 + RECENT as i64 - 1);
        assert!(!recent(&at_last).missed(50, Some(200)));
    }

    fn scope(register_id: Option<&str>, interest: Interest) -> Scope {
        Scope {
            org_id: "org".into(),
            register_id: register_id.map(str::to_owned),
            interest,
        }
    }

    #[test]
    fn the_last_subscriber_to_leave_takes_its_signal_out() {
        let routes = Routes::default();
        let a = routes.signal(scope(Some("reg_a"), Interest::Every));
        let b = routes.signal(scope(Some("reg_a"), Interest::Every));
        let c = routes.signal(scope(Some("reg_a"), Interest::Residual));
        let d = routes.signal(scope(None, Interest::Heatmap));
        drop(a);
        let kept = |routes: &Routes| {
            lock(&routes.signals).get("org").map(|org| {
                let register = org
                    .registers
                    .get("reg_a")
                    .map(|i| i.iter().flatten().count());
                (org.all.iter().flatten().count(), register)
            })
        };
        assert_eq!(kept(&routes), Some((1, Some(2))), "b still listens");
        drop(b);
        assert_eq!(kept(&routes), Some((1, Some(1))));
        drop(c);
        assert_eq!(kept(&routes), Some((1, None)));
        drop(d);
        assert_eq!(kept(&routes), None, "nothing left of the organization");
    }

    #[test]
    fn an_event_raises_only_the_signals_that_want_it() {
        let routes = Routes::default();
        let signals = [
            routes.signal(scope(Some("reg_a"), Interest::Every)),
            routes.signal(scope(Some("reg_a"), Interest::Residual)),
            routes.signal(scope(Some("reg_b"), Interest::Every)),
            routes.signal(scope(None, Interest::Every)),
        ];
        // A note on a risk of reg_a: no residual move.
        let mut note = event(RiskEventKind::Updated, &["notes"], ("{}", "{}"));
        (note.seq, note.register_id) = (7, "reg_a".into());
        let event = Arc::new(note);
        let mut sent = Vec::new();
        routes.pass([event], |event| sent.push(event.seq));
        assert_eq!(sent, [7]);
        let raised = signals
            .iter()
            .map(|s| s.receiver.has_changed().unwrap_or(false))
            .collect::<Vec<_>>();
        assert_eq!(raised, [true, false, false, true]);
        // Remembered by those it raised, for a subscriber that lags.
        assert!(signals[0].missed(5, None));
        assert!(!signals[1].missed(5, None));
    }
}
