//! Credentials in request headers: `Credential`, `extract_credential`.

use keyseal::Credential as CoreCredential;
use keyseal::Error;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use zeroize::Zeroizing;

use crate::convert::{q, type_error};
use crate::errors::guard;
use crate::json::items_of;

/// The credential found in a request's headers. `repr` never shows the value.
#[pyclass(frozen, module = "keyseal")]
struct Credential {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    source: &'static str,
    value: Zeroizing<String>,
}

#[pymethods]
impl Credential {
    /// The key (a pair's halves joined with `_`) or the token. Handle with care.
    #[getter]
    fn value(&self) -> &str {
        &self.value
    }

    fn __repr__(&self) -> String {
        format!(
            "Credential(kind={}, source={}, value=<redacted>)",
            q(self.kind),
            q(self.source)
        )
    }
}

fn header_part(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if obj.is_instance_of::<PyString>() {
        return obj.extract::<String>();
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        // Raw ASGI headers are bytes; HTTP field values are latin-1 (RFC 9110 section 5.5).
        return Ok(b.as_bytes().iter().map(|&c| char::from(c)).collect());
    }
    Err(type_error(what, "str or bytes", obj))
}

/// Finds the one credential in `headers`: a mapping (Starlette's and Django's headers, a
/// dict) or an iterable of `(name, value)` pairs (repeats kept).
#[pyfunction]
fn extract_credential(py: Python<'_>, headers: &Bound<'_, PyAny>) -> PyResult<Credential> {
    guard(py, || {
        let iter = if headers.is_instance_of::<PyDict>() || headers.hasattr(intern!(py, "items"))? {
            items_of(headers, "headers")?
        } else {
            headers.clone()
        };
        let iter = iter.try_iter().map_err(|_| {
            type_error(
                "headers",
                "a mapping or an iterable of (name, value) pairs",
                headers,
            )
        })?;
        let mut pairs: Vec<(String, Zeroizing<String>)> = Vec::new();
        for item in iter {
            let item = item?;
            let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item
                .extract()
                .map_err(|_| type_error("headers", "(name, value) pairs", &item))?;
            pairs.push((
                header_part(&name, "header name")?,
                Zeroizing::new(header_part(&value, "header value")?),
            ));
        }
        let cred =
            keyseal::extract_credential(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
        let kind = match cred {
            CoreCredential::ApiKey { .. } => "api_key",
            CoreCredential::Token(_) => "token",
            CoreCredential::KeyPair { .. } => "key_pair",
        };
        let value = match (cred, cred.key()) {
            (CoreCredential::Token(t), _) => Zeroizing::new(String::from(t)),
            (_, Some(k)) => k,
            (_, None) => {
                return Err(Error::Internal {
                    detail: "a key credential without a key",
                }
                .into());
            }
        };
        Ok(Credential {
            kind,
            source: cred.source().as_str(),
            value,
        })
    })
}

/// Adds `Credential` and `extract_credential` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Credential>()?;
    m.add_function(wrap_pyfunction!(extract_credential, m)?)
}
