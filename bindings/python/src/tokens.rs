//! Tokens: `TokenKey`, `Keyset` (issue, verify, exchange), `VerifiedToken`.

use keyseal::Algorithm;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert::{
    now_or_clock, optional_seconds, optional_text, q, seconds, secret_bytes, text, type_error,
};
use crate::errors::{BindingResult, guard};
use crate::exchange::exchange_core_claims;
use crate::json::{claims_from_py, claims_to_py};
use crate::validation::{VerifyKwargs, pick_validation};

/// A token key: a `kid`, the algorithm it is pinned to, and the secret.
#[pyclass(frozen, module = "keyseal")]
struct TokenKey {
    inner: keyseal::TokenKey,
}

#[pymethods]
impl TokenKey {
    #[new]
    #[pyo3(signature = (kid, secret, *, alg = None, verify_until = None))]
    fn new(
        py: Python<'_>,
        kid: &Bound<'_, PyAny>,
        secret: &Bound<'_, PyAny>,
        alg: Option<&Bound<'_, PyAny>>,
        verify_until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let kid = text(kid, "kid")?;
            let secret = secret_bytes(secret, "secret")?;
            let alg = match optional_text(alg, "alg")? {
                Some(name) => Algorithm::from_name(&name)?,
                None => Algorithm::HS256,
            };
            let mut key = keyseal::TokenKey::new(&kid, alg, &secret)?;
            if let Some(until) = optional_seconds(verify_until, "verify_until")? {
                key = key.with_verify_until(until);
            }
            Ok(TokenKey { inner: key })
        })
    }

    #[getter]
    fn kid(&self) -> &str {
        self.inner.kid()
    }

    #[getter]
    fn alg(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    #[getter]
    fn verify_until(&self) -> Option<i64> {
        self.inner.verify_until()
    }

    fn __repr__(&self) -> String {
        match self.inner.verify_until() {
            Some(t) => format!(
                "TokenKey({}, alg={}, verify_until={t}, secret=<redacted>)",
                q(self.inner.kid()),
                q(self.inner.algorithm().as_str())
            ),
            None => format!(
                "TokenKey({}, alg={}, secret=<redacted>)",
                q(self.inner.kid()),
                q(self.inner.algorithm().as_str())
            ),
        }
    }
}

fn token_key_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<keyseal::TokenKey> {
    obj.cast::<TokenKey>()
        .map(|k| k.get().inner.clone())
        .map_err(|_| type_error(what, "a keyseal.TokenKey", obj))
}

/// A verified token: the key that verified it, its algorithm and its claims.
#[pyclass(frozen, module = "keyseal")]
struct VerifiedToken {
    #[pyo3(get)]
    kid: String,
    #[pyo3(get)]
    alg: &'static str,
    #[pyo3(get)]
    claims: Py<PyDict>,
}

#[pymethods]
impl VerifiedToken {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "VerifiedToken(kid={}, alg={}, claims={})",
            q(&self.kid),
            q(self.alg),
            self.claims.bind(py).repr()?
        ))
    }
}

/// Keys addressed by `kid`: one signs, the others only verify.
#[pyclass(frozen, module = "keyseal")]
struct Keyset {
    inner: keyseal::Keyset,
}

#[pymethods]
impl Keyset {
    #[new]
    #[pyo3(signature = (signing, verify_only = None))]
    fn new(
        py: Python<'_>,
        signing: &Bound<'_, PyAny>,
        verify_only: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut set = keyseal::Keyset::new(token_key_of(signing, "signing")?);
            if let Some(keys) = verify_only.filter(|k| !k.is_none()) {
                let iter = keys.try_iter().map_err(|_| {
                    type_error("verify_only", "an iterable of keyseal.TokenKey", keys)
                })?;
                for k in iter {
                    set = set.with_verify_only(token_key_of(&k?, "verify_only")?)?;
                }
            }
            Ok(Keyset { inner: set })
        })
    }

    /// A new keyset where `next` signs and the current signing key verifies until
    /// `grace_until`.
    #[pyo3(signature = (next, *, grace_until))]
    fn rotate(
        &self,
        py: Python<'_>,
        next: &Bound<'_, PyAny>,
        grace_until: &Bound<'_, PyAny>,
    ) -> PyResult<Keyset> {
        guard(py, || {
            let next = token_key_of(next, "next")?;
            let until = seconds(grace_until, "grace_until")?;
            Ok(Keyset {
                inner: self.inner.clone().rotate(next, until)?,
            })
        })
    }

    #[getter]
    fn signing_key(&self) -> TokenKey {
        TokenKey {
            inner: self.inner.signing_key().clone(),
        }
    }

    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let keys: Vec<TokenKey> = self
            .inner
            .keys()
            .iter()
            .map(|k| TokenKey { inner: k.clone() })
            .collect();
        PyTuple::new(py, keys)
    }

    /// Signs `claims` with the signing key.
    fn issue(&self, py: Python<'_>, claims: &Bound<'_, PyAny>) -> PyResult<String> {
        guard(py, || {
            let claims = claims_from_py(claims)?;
            Ok(self.inner.issue(&claims)?)
        })
    }

    /// Verifies `token`: the key (`kid`) and algorithm that verified it, and its claims as
    /// a `dict` (the core's `VerifiedToken`, as Node's `verify` returns it).
    #[pyo3(signature = (token, validation = None, *, now = None, leeway = 0, audience = None, issuer = None, required = None, dangerously_allow_missing_exp = false, max_token_len = 8192))]
    #[allow(clippy::too_many_arguments)]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        validation: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
        leeway: i64,
        audience: Option<&Bound<'py, PyAny>>,
        issuer: Option<&Bound<'py, PyAny>>,
        required: Option<&Bound<'py, PyAny>>,
        dangerously_allow_missing_exp: bool,
        max_token_len: i64,
    ) -> PyResult<VerifiedToken> {
        let kwargs = VerifyKwargs {
            leeway,
            audience,
            issuer,
            required,
            dangerously_allow_missing_exp,
            max_token_len,
        };
        guard(py, || {
            let verified = self.verified(token, validation, now, &kwargs)?;
            Ok(VerifiedToken {
                kid: verified.kid.clone(),
                alg: verified.alg.as_str(),
                claims: claims_to_py(py, &verified.claims)?.unbind(),
            })
        })
    }

    /// Issues the short-lived token an API key is exchanged for (`ttl` defaults to the
    /// core's `DEFAULT_EXCHANGE_TTL`).
    #[pyo3(signature = (*, key_id, owner = None, scopes = None, role = None, now = None, ttl = 600, issuer = None, audience = None, jti = None))]
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &self,
        py: Python<'_>,
        key_id: &Bound<'_, PyAny>,
        owner: Option<&Bound<'_, PyAny>>,
        scopes: Option<&Bound<'_, PyAny>>,
        role: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
        ttl: i64,
        issuer: Option<&Bound<'_, PyAny>>,
        audience: Option<&Bound<'_, PyAny>>,
        jti: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        guard(py, || {
            let claims =
                exchange_core_claims(key_id, owner, scopes, role, now, ttl, issuer, audience, jti)?;
            Ok(self.inner.issue(&claims)?)
        })
    }

    fn __repr__(&self) -> String {
        let kids: Vec<String> = self.inner.keys().iter().map(|k| q(k.kid())).collect();
        format!(
            "Keyset(signing={}, kids=[{}])",
            q(self.inner.signing_key().kid()),
            kids.join(", ")
        )
    }
}

impl Keyset {
    /// The core's verification of `token` with the validation of one `verify` call.
    fn verified(
        &self,
        token: &Bound<'_, PyAny>,
        validation: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
        kwargs: &VerifyKwargs<'_, '_>,
    ) -> BindingResult<keyseal::VerifiedToken> {
        let token = text(token, "token")?;
        let now = now_or_clock(now)?;
        let v = pick_validation(validation, kwargs)?;
        Ok(self.inner.verify(&token, &v, now)?)
    }
}

/// Adds the token classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TokenKey>()?;
    m.add_class::<Keyset>()?;
    m.add_class::<VerifiedToken>()?;
    Ok(())
}
