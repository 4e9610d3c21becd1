//! Probes for the test suite and the benchmark, not part of the public API.

use pyo3::prelude::*;

use crate::errors::{BindingResult, guard};

/// Panics inside the binding's guard, to prove that no panic reaches Python: the caller
/// gets `InternalError` with code `internal`. Used by the test suite only.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    guard(py, || -> BindingResult<()> {
        let empty: Vec<u8> = Vec::new();
        // An out-of-bounds index panics; the guard must turn it into `internal`.
        let i = std::hint::black_box(empty.len() + 1);
        let _byte = std::hint::black_box(empty[i]);
        Ok(())
    })
}

/// Benchmark probe (benches/python/bench.py): returns at once, detached from the
/// interpreter (GIL released and re-acquired) when `release` is true. It measures what
/// releasing the GIL around a sub-microsecond call would add; no other call releases it.
#[pyfunction]
fn _gil_probe(py: Python<'_>, release: bool) {
    if release {
        py.detach(|| std::hint::black_box(()));
    }
}

/// Adds the probes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_gil_probe, m)?)
}
