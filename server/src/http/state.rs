//! Shared server state and the two pools registry work runs on: management calls on
//! [`AppState::blocking_slots`], verify-path lookups (cache misses) on
//! [`AppState::lookup_slots`] behind a bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::Response;
use keyseal::Error;
use keyseal_registry::Registry;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::listen::Limits;
use crate::metrics::Metrics;

/// Verify-path lookups that may wait for a [`AppState::lookup_slots`] slot at once; past
/// that a cache miss answers 503 `storage_unavailable` at once (with `Retry-After`)
/// instead of queueing without bound.
const MAX_LOOKUP_QUEUE: usize = 1024;

/// Verify-path requests on the blocking pool at once, at least: besides record loads
/// (which the registry's own lookup gate still bounds to `max_concurrent_lookups`), a
/// request whose metering needs the database waits there for its batch, and the more
/// wait together, the more one commit settles (see `keyseal_registry::meter`).
const MIN_VERIFY_SLOTS: usize = 64;

/// Shared server state.
pub struct AppState {
    /// The registry (blocking; called through `spawn_blocking`).
    pub registry: Arc<Registry>,
    /// Metrics.
    pub metrics: Metrics,
    /// Management calls running on the blocking pool at once, at most.
    pub blocking_slots: Semaphore,
    /// Verify-path requests that need the database (cache misses of verify, exchange,
    /// token checks and authentication; metering settles) on the blocking pool at once,
    /// at most ([`MIN_VERIFY_SLOTS`], or `max_concurrent_lookups` if larger): a flood of
    /// unknown keys waits here, asynchronously, holding no management slot, and within
    /// these slots the registry's own lookup gate bounds record loads, so management
    /// calls and cached verifications stay responsive.
    pub lookup_slots: Semaphore,
    /// Verify-path lookups waiting for or holding a slot now (bounded by
    /// [`MAX_LOOKUP_QUEUE`]).
    lookup_waiting: AtomicUsize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// The web console's settings and sessions.
    pub console: crate::console::Console,
}

impl AppState {
    /// The state for `registry` with `management_slots` blocking slots for management
    /// calls and the connection `limits` of the listener.
    pub fn new(registry: Arc<Registry>, management_slots: usize, limits: &Limits) -> AppState {
        let lookups = registry
            .config()
            .max_concurrent_lookups
            .max(MIN_VERIFY_SLOTS);
        AppState {
            registry,
            metrics: Metrics::default(),
            blocking_slots: Semaphore::new(management_slots.max(1)),
            lookup_slots: Semaphore::new(lookups),
            lookup_waiting: AtomicUsize::new(0),
            body_timeout: limits.body_timeout,
            console: crate::console::Console::default(),
        }
    }
}

/// The state extractor every handler names.
pub type St = State<Arc<AppState>>;
/// A handler's result: an answer or an [`ApiError`].
pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Unix seconds now.
/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs blocking registry work off the async threads, holding a slot of `slots`.
pub async fn blocking_in<T, F>(
    st: &Arc<AppState>,
    slots: &Semaphore,
    f: F,
) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    // Bounded: more registry calls at once than the pool has connections only add
    // threads fighting for the CPU; the rest wait here, asynchronously.
    let _permit = slots
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the blocking slots were closed"))?;
    let reg = Arc::clone(&st.registry);
    tokio::task::spawn_blocking(move || f(&reg))
        .await
        .map_err(|_| ApiError::internal("a blocking registry task failed"))
}

/// Runs a management call's blocking registry work (see [`AppState::blocking_slots`]).
pub async fn blocking<T, F>(st: &Arc<AppState>, f: F) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    blocking_in(st, &st.blocking_slots, f).await
}

/// Counts a verify-path lookup waiting for its slot; refuses past [`MAX_LOOKUP_QUEUE`].
struct LookupTicket<'a>(&'a AtomicUsize);

impl<'a> LookupTicket<'a> {
    fn take(st: &'a AppState) -> ApiResult<LookupTicket<'a>> {
        if st.lookup_waiting.fetch_add(1, Ordering::AcqRel) >= MAX_LOOKUP_QUEUE {
            st.lookup_waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::busy());
        }
        Ok(LookupTicket(&st.lookup_waiting))
    }
}

impl Drop for LookupTicket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs a verify-path registry call (verify, exchange). `run(reg, false)` must answer
/// from the registry's memory alone (`verify_cached`, `exchange_cached`), so it runs on
/// this async thread; only when it returns `None` (a cache miss: the database is needed)
/// does `run(reg, true)` go to the blocking pool. Both backends: the PostgreSQL driver
/// never runs on a runtime thread this way.
pub async fn on_verify_path<T, F>(st: &Arc<AppState>, run: F) -> ApiResult<Result<T, Error>>
where
    T: Send + 'static,
    F: Fn(&Registry, bool) -> Option<Result<T, Error>> + Send + 'static,
{
    if let Some(out) = run(&st.registry, false) {
        return Ok(out);
    }
    let _ticket = LookupTicket::take(st)?;
    blocking_in(st, &st.lookup_slots, move |reg| Ok(run(reg, true)))
        .await?
        .map_err(|e: Error| ApiError::from_op(&e))?
        .ok_or_else(|| ApiError::internal("a verification with database access asked for it"))
}

/// Runs a registry operation and maps its error for a management call.
pub async fn management_call<T, F>(st: &Arc<AppState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Registry) -> Result<T, Error> + Send + 'static,
{
    blocking(st, f).await?.map_err(|e| ApiError::from_op(&e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use keyseal_registry::ListQuery;

    fn state(dir: &std::path::Path) -> Arc<AppState> {
        use keyseal::{KeyFormat, Pepper, PepperSet};
        let peppers = PepperSet::new(Pepper::new("p1", &[7u8; 32]).unwrap());
        let cfg = keyseal_registry::RegistryConfig::new(KeyFormat::new("ks").unwrap(), peppers);
        let storage =
            keyseal_registry::Storage::Sqlite(dir.join("k.db").to_string_lossy().into_owned());
        let reg = Registry::open(storage, cfg).unwrap();
        Arc::new(AppState::new(Arc::new(reg), 4, &Limits::default()))
    }

    /// A flood of unknown keys holds every verify-path lookup slot; management calls run
    /// on slots of their own and still complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn management_calls_never_wait_for_verify_lookups() {
        let dir = std::env::temp_dir().join(format!("keyseal-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = state(&dir);
        let held: Vec<_> = (0..st.lookup_slots.available_permits())
            .map(|_| st.lookup_slots.try_acquire().expect("a free lookup slot"))
            .collect();
        assert!(held.len() >= MIN_VERIFY_SLOTS);
        assert!(st.lookup_slots.try_acquire().is_err());
        let listed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            management_call(&st, |reg| reg.list("acct", &ListQuery::default())),
        )
        .await;
        assert!(
            matches!(listed, Ok(Ok(_))),
            "a management call waited for verify-path slots"
        );
        drop(held);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
