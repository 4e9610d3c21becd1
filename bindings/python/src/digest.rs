//! Peppered key digests and plain hashes: `Pepper`, `PepperSet`, `sha256_hex`,
//! `hmac_sha256`.

use keyseal::DigestStatus;
use keyseal::digest::sha256_hex as core_sha256_hex;
use keyseal::token::hmac_sha256 as core_hmac_sha256;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{q, secret_bytes, text, type_error};
use crate::errors::guard;

/// A server-side secret that keys digests.
#[pyclass(frozen, module = "keyseal")]
struct Pepper {
    inner: keyseal::Pepper,
}

#[pymethods]
impl Pepper {
    #[new]
    fn new(py: Python<'_>, id: &Bound<'_, PyAny>, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let id = text(id, "id")?;
            let secret = secret_bytes(secret, "secret")?;
            Ok(Pepper {
                inner: keyseal::Pepper::new(&id, &secret)?,
            })
        })
    }

    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn __repr__(&self) -> String {
        format!("Pepper({}, secret=<redacted>)", q(self.inner.id()))
    }
}

/// The current pepper plus older ones that still verify.
#[pyclass(frozen, module = "keyseal")]
struct PepperSet {
    inner: keyseal::PepperSet,
}

fn pepper_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<keyseal::Pepper> {
    obj.cast::<Pepper>()
        .map(|p| p.get().inner.clone())
        .map_err(|_| type_error(what, "a keyseal.Pepper", obj))
}

#[pymethods]
impl PepperSet {
    #[new]
    #[pyo3(signature = (current, previous = None))]
    fn new(
        py: Python<'_>,
        current: &Bound<'_, PyAny>,
        previous: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut set = keyseal::PepperSet::new(pepper_of(current, "current")?);
            if let Some(prev) = previous.filter(|p| !p.is_none()) {
                let iter = prev
                    .try_iter()
                    .map_err(|_| type_error("previous", "an iterable of keyseal.Pepper", prev))?;
                for p in iter {
                    set = set.with_previous(pepper_of(&p?, "previous")?)?;
                }
            }
            Ok(PepperSet { inner: set })
        })
    }

    #[getter]
    fn current(&self) -> Pepper {
        Pepper {
            inner: self.inner.current().clone(),
        }
    }

    /// The stored form of `key`'s digest under the current pepper.
    fn digest(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
        guard(py, || {
            let key = text(key, "key")?;
            Ok(self.inner.digest(&key))
        })
    }

    /// `"current"`, or `"outdated"` when `stored` should be replaced by `digest(key)`.
    fn verify<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        stored: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyString>> {
        guard(py, || {
            let key = text(key, "key")?;
            let stored = text(stored, "stored")?;
            Ok(match self.inner.verify(&key, &stored)? {
                DigestStatus::Current => intern!(py, "current").clone(),
                DigestStatus::Outdated => intern!(py, "outdated").clone(),
            })
        })
    }

    fn __repr__(&self) -> String {
        format!("PepperSet(current={})", q(self.inner.current().id()))
    }
}

/// The plain SHA-256 of `key` as lowercase hex (the form other systems store).
#[pyfunction]
fn sha256_hex(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(py, || {
        let key = text(key, "key")?;
        Ok(core_sha256_hex(&key))
    })
}

/// HMAC-SHA256 of `data` under `key`.
#[pyfunction]
fn hmac_sha256<'py>(
    py: Python<'py>,
    key: &Bound<'py, PyAny>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(py, || {
        let key = secret_bytes(key, "key")?;
        let data = secret_bytes(data, "data")?;
        Ok(PyBytes::new(py, &core_hmac_sha256(&key, &data)?))
    })
}

/// Adds the digest classes and functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pepper>()?;
    m.add_class::<PepperSet>()?;
    m.add_function(wrap_pyfunction!(sha256_hex, m)?)?;
    m.add_function(wrap_pyfunction!(hmac_sha256, m)?)?;
    Ok(())
}
