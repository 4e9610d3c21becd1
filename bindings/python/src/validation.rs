//! `Validation`: what `Keyset.verify` checks beyond the signature, from keyword options.

use std::borrow::Cow;
use std::sync::LazyLock;

use keyseal::{Claim, Validation};
use keyseal_binding_common::options::VerifyOptions;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{non_negative, q, string_list, strings, tuple_body, type_error};
use crate::errors::{BindingResult, guard};

// pyo3 signatures take literal defaults (they are what `inspect.signature`, stubtest and
// the `.pyi` show); the build fails if one drifts from the core's constant.
const _: () = assert!(keyseal::token::DEFAULT_MAX_TOKEN_LEN == 8192);

static DEFAULT_VALIDATION: LazyLock<Validation> = LazyLock::new(Validation::new);

/// The verify keyword options of `Validation(...)` and `Keyset.verify`, as pyo3
/// received them.
pub(crate) struct VerifyKwargs<'a, 'py> {
    pub(crate) leeway: i64,
    pub(crate) audience: Option<&'a Bound<'py, PyAny>>,
    pub(crate) issuer: Option<&'a Bound<'py, PyAny>>,
    pub(crate) required: Option<&'a Bound<'py, PyAny>>,
    pub(crate) dangerously_allow_missing_exp: bool,
    pub(crate) max_token_len: i64,
}

impl VerifyKwargs<'_, '_> {
    /// True when every option has its default (`None` counts as absent).
    fn is_default(&self) -> bool {
        let absent = |o: Option<&Bound<'_, PyAny>>| o.is_none_or(|o| o.is_none());
        self.leeway == 0
            && absent(self.audience)
            && absent(self.issuer)
            && absent(self.required)
            && !self.dangerously_allow_missing_exp
            && self.max_token_len == keyseal::token::DEFAULT_MAX_TOKEN_LEN as i64
    }

    /// The core's `Validation`, built by the bindings' one [`VerifyOptions::build`]; the
    /// shared default when all options are default.
    fn validation(&self) -> BindingResult<Cow<'static, Validation>> {
        if self.is_default() {
            return Ok(Cow::Borrowed(&*DEFAULT_VALIDATION));
        }
        let options = VerifyOptions {
            leeway: Some(non_negative(self.leeway, u64::MAX)),
            audience: strings(self.audience, "audience")?,
            issuer: strings(self.issuer, "issuer")?,
            required: string_list(self.required, "required")?,
            dangerously_allow_missing_exp: self.dangerously_allow_missing_exp,
            // Negative becomes 0, which the core rejects with its own range message.
            max_token_len: Some(usize::try_from(self.max_token_len).unwrap_or(0)),
        };
        Ok(Cow::Owned(options.build()?))
    }
}

/// What `Keyset.verify` checks beyond the signature, built once and reused: the core's
/// `Validation`. Passing one saves re-reading keyword options on every call.
#[pyclass(frozen, module = "keyseal", name = "Validation")]
struct PyValidation {
    inner: Validation,
}

#[pymethods]
impl PyValidation {
    #[new]
    #[pyo3(signature = (*, leeway = 0, audience = None, issuer = None, required = None, dangerously_allow_missing_exp = false, max_token_len = 8192))]
    fn new(
        py: Python<'_>,
        leeway: i64,
        audience: Option<&Bound<'_, PyAny>>,
        issuer: Option<&Bound<'_, PyAny>>,
        required: Option<&Bound<'_, PyAny>>,
        dangerously_allow_missing_exp: bool,
        max_token_len: i64,
    ) -> PyResult<Self> {
        let kwargs = VerifyKwargs {
            leeway,
            audience,
            issuer,
            required,
            dangerously_allow_missing_exp,
            max_token_len,
        };
        guard(py, || {
            Ok(PyValidation {
                inner: kwargs.validation()?.into_owned(),
            })
        })
    }

    #[getter]
    fn leeway(&self) -> u64 {
        self.inner.leeway()
    }

    #[getter]
    fn audiences<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.audiences())
    }

    #[getter]
    fn issuers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.issuers())
    }

    #[getter]
    fn required<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            self.inner
                .required()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
        )
    }

    /// True when tokens without `exp` are accepted (`exp` is then not among `required`).
    #[getter]
    fn dangerously_allow_missing_exp(&self) -> bool {
        !self.inner.required().any(|c| c == Claim::Exp)
    }

    #[getter]
    fn max_token_len(&self) -> usize {
        self.inner.max_token_len()
    }

    fn __repr__(&self) -> String {
        let list = |items: Vec<String>| tuple_body(&items);
        format!(
            "Validation(leeway={}, audience=({}), issuer=({}), required=({}), {}max_token_len={})",
            self.inner.leeway(),
            list(self.inner.audiences().iter().map(|a| q(a)).collect()),
            list(self.inner.issuers().iter().map(|a| q(a)).collect()),
            list(self.inner.required().map(|c| q(c.as_str())).collect()),
            if self.dangerously_allow_missing_exp() {
                "dangerously_allow_missing_exp=True, "
            } else {
                ""
            },
            self.inner.max_token_len()
        )
    }
}

/// The validation of one `verify` call: a `Validation` object, or keyword options (not both).
pub(crate) fn pick_validation<'a>(
    given: Option<&'a Bound<'_, PyAny>>,
    kwargs: &VerifyKwargs<'_, '_>,
) -> BindingResult<Cow<'a, Validation>> {
    match given.filter(|v| !v.is_none()) {
        Some(v) => {
            let v = v
                .cast::<PyValidation>()
                .map_err(|_| type_error("validation", "a keyseal.Validation", v))?;
            if !kwargs.is_default() {
                return Err(PyTypeError::new_err(
                    "validation: pass a keyseal.Validation or keyword options (leeway, audience, \
                     issuer, required, dangerously_allow_missing_exp, max_token_len), not both",
                )
                .into());
            }
            Ok(Cow::Borrowed(&v.get().inner))
        }
        None => kwargs.validation(),
    }
}

/// Adds `Validation` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyValidation>()
}
