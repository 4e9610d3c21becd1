//! Python binding of keyseal: conversion code only.
//!
//! Every decision (formats, checks, error codes, messages) is the core's; this crate turns
//! Python values into core values and back, turns core errors into Python exceptions in one
//! place ([`errors::to_py_err`]), and keeps panics from crossing into Python
//! ([`errors::guard`]).
//!
//! Objects are immutable (`frozen` pyclasses over immutable core values), so they are safe
//! to share between threads, and nothing here takes a lock, except `Meter`, whose counters
//! change with each check (an uncontended `Mutex`: calls keep the GIL).
//!
//! Calls keep the GIL. Every call is short, so detaching from the interpreter and
//! re-attaching would cost more than it saves: while another Python thread is busy, a
//! released GIL can be lost for a whole switch interval (`sys.getswitchinterval()`). The
//! `_gil_probe` of `benches/python/bench.py` measures both costs; the figures are in
//! `packages/python/README.md`. Keeping the GIL also makes each call atomic.
//!
//! The module is registered here; each domain lives in its own file: `keys`, `digest`,
//! `tokens`, `validation`, `exchange`, `policy`, `headers`, `meter`, with `errors` (exceptions and
//! the one conversion) and `convert`/`json` (argument conversion) beneath them.

mod convert;
mod digest;
mod errors;
mod exchange;
mod headers;
mod json;
mod keys;
mod meter;
mod policy;
mod probes;
mod tokens;
mod validation;

use pyo3::prelude::*;

// Verification makes a dozen short-lived allocations (decoded segments, claim strings);
// mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// keyseal: API keys, peppered digests, HMAC-signed tokens, key policies.
#[pymodule]
fn _keyseal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", keyseal::VERSION)?;
    errors::register(m)?;
    keys::register(m)?;
    digest::register(m)?;
    tokens::register(m)?;
    validation::register(m)?;
    exchange::register(m)?;
    policy::register(m)?;
    headers::register(m)?;
    meter::register(m)?;
    probes::register(m)
}
