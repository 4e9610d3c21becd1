//! The writer gate of one SQLite database in this process: its write transactions take
//! turns in arrival order.
//!
//! SQLite lets one writer in at a time and makes the others wait in its busy handler,
//! which sleeps and polls (1, 2, 5, 10, ... up to 100 ms between tries). A writer that
//! commits and begins again at once (the usage flusher writing its chunks, a leader
//! settling batch after batch) then takes the lock again before a sleeping waiter
//! wakes, and a request waiting to settle its meters waits for all of it. Behind the
//! gate the waiters queue in this process and the next in line is woken as the lock is
//! given up. Other processes on the same file still meet SQLite's own locking.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::conn::DbErr;

#[derive(Default)]
struct State {
    held: bool,
    queue: VecDeque<u64>,
    next: u64,
}

/// A fair (first come, first served) lock taken by `begin` and given up by `commit` or
/// `rollback`; shared by the connections of one pool.
#[derive(Default)]
pub(crate) struct WriteGate {
    state: Mutex<State>,
    cv: Condvar,
}

impl WriteGate {
    /// Waits for this caller's turn, at most `wait` (then `storage_unavailable`, as
    /// SQLite's busy timeout would answer).
    pub(crate) fn acquire(&self, wait: Duration) -> Result<(), DbErr> {
        let deadline = Instant::now() + wait;
        let mut st = self.state.lock().map_err(|_| DbErr::Other)?;
        let ticket = st.next;
        st.next = st.next.wrapping_add(1);
        st.queue.push_back(ticket);
        loop {
            if !st.held && st.queue.front() == Some(&ticket) {
                st.queue.pop_front();
                st.held = true;
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.queue.retain(|t| *t != ticket);
                drop(st);
                // The front may have changed: let the next in line look.
                self.cv.notify_all();
                return Err(DbErr::Unavailable);
            }
            st = self.cv.wait_timeout(st, left).map_err(|_| DbErr::Other)?.0;
        }
    }

    /// Gives the turn to the next in line.
    pub(crate) fn release(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.held = false;
        }
        self.cv.notify_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn writers_take_turns_in_arrival_order() {
        let gate = Arc::new(WriteGate::default());
        gate.acquire(Duration::from_secs(5)).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..4 {
            let (g, o) = (Arc::clone(&gate), Arc::clone(&order));
            handles.push(std::thread::spawn(move || {
                g.acquire(Duration::from_secs(5)).unwrap();
                o.lock().unwrap().push(i);
                g.release();
            }));
            // Each waiter queues before the next one starts.
            while gate.state.lock().unwrap().queue.len() < i + 1 {
                std::thread::yield_now();
            }
        }
        gate.release();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_waiter_gives_up_after_its_wait_and_the_queue_goes_on() {
        let gate = Arc::new(WriteGate::default());
        gate.acquire(Duration::from_secs(5)).unwrap();
        assert!(matches!(
            gate.acquire(Duration::from_millis(20)),
            Err(DbErr::Unavailable)
        ));
        let g = Arc::clone(&gate);
        let later = std::thread::spawn(move || g.acquire(Duration::from_secs(5)));
        while gate.state.lock().unwrap().queue.is_empty() {
            std::thread::yield_now();
        }
        gate.release();
        assert!(later.join().unwrap().is_ok());
        assert!(gate.state.lock().unwrap().held);
    }

    /// A borrower that returns its connection with a transaction still open (an early
    /// return between `begin` and `commit`) must not keep the gate: the pool rolls the
    /// transaction back and the next writer begins at once.
    #[test]
    fn a_transaction_left_open_is_rolled_back_and_frees_the_gate() {
        use crate::store::Val;
        let (dir, pool) = crate::store::temp_sqlite_pool("gate", 2);
        {
            let mut c = pool.get().unwrap();
            c.batch("CREATE TABLE t (v INTEGER)").unwrap();
            c.begin().unwrap();
            c.exec("INSERT INTO t (v) VALUES (?)", &[Val::Int(1)])
                .unwrap();
            // Dropped here: back to the pool with the transaction open.
        }
        let (a, b) = (pool.get().unwrap(), pool.get());
        drop(a);
        let mut c = b.unwrap();
        // Without the pool's rollback this waits out the gate (10 s) and fails.
        c.begin().unwrap();
        let rows = c.query("SELECT COUNT(*) FROM t", &[]).unwrap();
        assert_eq!(
            rows[0][0].int(),
            Some(0),
            "the abandoned insert was rolled back"
        );
        c.commit().unwrap();
        drop(c);
        drop(pool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
