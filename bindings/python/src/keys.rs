//! API keys: `KeyFormat`, `ApiKey`, `KeyParts`, `parse_key`.

use keyseal::FixedEntropy;
use pyo3::prelude::*;

use crate::convert::{q, secret_bytes, text};
use crate::errors::guard;

// pyo3 signatures take literal defaults (they are what `inspect.signature`, stubtest and
// the `.pyi` show); the build fails if one drifts from the core's constant.
const _: () = assert!(
    keyseal::KeyFormat::DEFAULT_ID_LEN == 16 && keyseal::KeyFormat::DEFAULT_SECRET_LEN == 32
);

/// How keys of one kind look: `<prefix>_<id>_<secret><checksum>`.
#[pyclass(frozen, module = "keyseal")]
struct KeyFormat {
    inner: keyseal::KeyFormat,
}

#[pymethods]
impl KeyFormat {
    #[new]
    #[pyo3(signature = (prefix, *, id_len = 16, secret_len = 32))]
    fn new(
        py: Python<'_>,
        prefix: &Bound<'_, PyAny>,
        id_len: i64,
        secret_len: i64,
    ) -> PyResult<Self> {
        guard(py, || {
            let prefix = text(prefix, "prefix")?;
            // Negative lengths become 0, which the core rejects with its own message.
            let id_len = usize::try_from(id_len).unwrap_or(0);
            let secret_len = usize::try_from(secret_len).unwrap_or(0);
            let inner = keyseal::KeyFormat::new(&prefix)?.with_lengths(id_len, secret_len)?;
            Ok(KeyFormat { inner })
        })
    }

    #[getter]
    fn prefix(&self) -> &str {
        self.inner.prefix()
    }

    #[getter]
    fn id_len(&self) -> usize {
        self.inner.id_len()
    }

    #[getter]
    fn secret_len(&self) -> usize {
        self.inner.secret_len()
    }

    #[getter]
    fn key_len(&self) -> usize {
        self.inner.key_len()
    }

    /// A new key from the operating system's CSPRNG.
    fn generate(&self, py: Python<'_>) -> PyResult<ApiKey> {
        guard(py, || {
            Ok(ApiKey {
                inner: self.inner.generate_os()?,
            })
        })
    }

    /// A key from fixed bytes (tests and vectors only); `rng_failed` when they run out.
    fn generate_from_entropy(
        &self,
        py: Python<'_>,
        entropy: &Bound<'_, PyAny>,
    ) -> PyResult<ApiKey> {
        guard(py, || {
            let bytes = secret_bytes(entropy, "entropy")?;
            let mut rng = FixedEntropy::new(&bytes);
            Ok(ApiKey {
                inner: self.inner.generate(&mut rng)?,
            })
        })
    }

    /// Parses a key of this format.
    fn parse(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<ApiKey> {
        guard(py, || {
            let key = text(key, "key")?;
            Ok(ApiKey {
                inner: self.inner.parse(&key)?,
            })
        })
    }

    /// Checks a key of this format and returns its parts, as the core's
    /// `KeyFormat::check` does.
    fn check(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<KeyParts> {
        guard(py, || {
            let key = text(key, "key")?;
            // The core's `KeyParts` borrows the key; `parse` makes the same checks and
            // keeps an owned, zeroizing copy the Python object can hold.
            Ok(KeyParts {
                inner: self.inner.parse(&key)?,
            })
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "KeyFormat({}, id_len={}, secret_len={})",
            q(self.inner.prefix()),
            self.inner.id_len(),
            self.inner.secret_len()
        )
    }
}

/// A parsed or generated API key; `repr`/`str` never show the secret.
#[pyclass(frozen, module = "keyseal")]
struct ApiKey {
    inner: keyseal::ApiKey,
}

#[pymethods]
impl ApiKey {
    #[getter]
    fn prefix<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.prefix()))
    }

    #[getter]
    fn id<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.id()))
    }

    #[getter]
    fn checksum<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.checksum()))
    }

    /// `prefix_id`: the public part, the `accessKey` of the access-key/secret-key flow.
    #[getter]
    fn prefixed_id<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.prefixed_id()))
    }

    /// The whole key, to hand to its owner once.
    fn expose<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose()))
    }

    /// The secret part, without the checksum.
    fn expose_secret<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose_secret()))
    }

    /// The secret and its checksum: the `secretKey` of the access-key/secret-key flow.
    fn expose_secret_with_checksum<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose_secret_with_checksum()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!(
                "ApiKey(prefix={}, id={}, secret=<redacted>)",
                q(self.inner.prefix()),
                q(self.inner.id())
            ))
        })
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || Ok(self.inner.to_string()))
    }
}

/// The parts of a checked key (what `KeyFormat.check` returns), as the core's `KeyParts`:
/// prefix, id, and the secret through `expose_secret()`; `repr` never shows the secret.
#[pyclass(frozen, module = "keyseal")]
struct KeyParts {
    inner: keyseal::ApiKey,
}

#[pymethods]
impl KeyParts {
    #[getter]
    fn prefix<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.prefix()))
    }

    #[getter]
    fn id<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.id()))
    }

    /// The secret part, without the checksum.
    fn expose_secret<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose_secret()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!(
                "KeyParts(prefix={}, id={}, secret=<redacted>)",
                q(self.inner.prefix()),
                q(self.inner.id())
            ))
        })
    }
}

/// Parses a key of any valid prefix and lengths.
#[pyfunction]
fn parse_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<ApiKey> {
    guard(py, || {
        let key = text(key, "key")?;
        Ok(ApiKey {
            inner: keyseal::parse_key(&key)?,
        })
    })
}

/// Adds the key classes and functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KeyFormat>()?;
    m.add_class::<ApiKey>()?;
    m.add_class::<KeyParts>()?;
    m.add_function(wrap_pyfunction!(parse_key, m)?)?;
    Ok(())
}
