//! The lookup gate: bounds the verify path's database lookups running at once.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use keyseal::{Error, ErrorCode};

use super::errors::reg;

/// A counting gate: at most `max` verify-path database lookups at once, so a flood of
/// unknown (or evicted) ids can never take every connection from the other operations.
pub(super) struct Gate {
    busy: Mutex<usize>,
    cv: Condvar,
    max: usize,
}

pub(super) struct GatePass<'g>(&'g Gate);

impl Gate {
    pub(super) fn new(max: usize) -> Gate {
        Gate {
            busy: Mutex::new(0),
            cv: Condvar::new(),
            max: max.max(1),
        }
    }

    pub(super) fn enter(&self) -> Result<GatePass<'_>, Error> {
        let poisoned = || Error::Internal {
            detail: "a registry lock was poisoned",
        };
        let mut busy = self.busy.lock().map_err(|_| poisoned())?;
        while *busy >= self.max {
            let (b, timeout) = self
                .cv
                .wait_timeout(busy, Duration::from_secs(10))
                .map_err(|_| poisoned())?;
            busy = b;
            if timeout.timed_out() && *busy >= self.max {
                return Err(reg(
                    ErrorCode::StorageUnavailable,
                    "too many key lookups are waiting for the database",
                ));
            }
        }
        *busy += 1;
        Ok(GatePass(self))
    }
}

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.busy.lock() {
            *b -= 1;
        }
        self.0.cv.notify_one();
    }
}
