//! The one source of "now". Tests of closedAt, durations and expiry set the
//! time instead of waiting for it.

use chrono::{DateTime, SubsecRound, Utc};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// A clock that stands still at `at` until moved with [`Clock::advance`].
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// Now, in whole microseconds: what both databases store, so a
    /// mutation answers the very timestamp every later read returns.
    pub fn now(&self) -> DateTime<Utc> {
        let now = match &self.fixed {
            Some(at) => *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            #[expect(
                clippy::disallowed_methods,
                reason = "the one place that reads the wall clock"
            )]
            None => Utc::now(),
        };
        now.trunc_subsecs(6)
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Some(at) = &self.fixed {
            let mut at = at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *at += by;
        }
    }
}
