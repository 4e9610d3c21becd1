//! API key -> token exchange: the claims `Keyset.exchange` signs.

use keyseal::Claims;
use keyseal_binding_common::options::ExchangeArgs;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{as_strs, non_negative, now_or_clock, optional_text, string_list, text};
use crate::errors::{BindingResult, guard};
use crate::json::claims_to_py;

// pyo3 signatures take literal defaults (they are what `inspect.signature`, stubtest and
// the `.pyi` show); the build fails if one drifts from the core's constant.
const _: () = assert!(keyseal::token::DEFAULT_EXCHANGE_TTL == 600);

#[allow(clippy::too_many_arguments)]
pub(crate) fn exchange_core_claims(
    key_id: &Bound<'_, PyAny>,
    owner: Option<&Bound<'_, PyAny>>,
    scopes: Option<&Bound<'_, PyAny>>,
    role: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
    ttl: i64,
    issuer: Option<&Bound<'_, PyAny>>,
    audience: Option<&Bound<'_, PyAny>>,
    jti: Option<&Bound<'_, PyAny>>,
) -> BindingResult<Claims> {
    let key_id = text(key_id, "key_id")?;
    let owner = optional_text(owner, "owner")?;
    let scopes = string_list(scopes, "scopes")?;
    let scope_refs = as_strs(&scopes);
    let role = optional_text(role, "role")?;
    let now = now_or_clock(now)?;
    let args = ExchangeArgs {
        key_id: &key_id,
        owner: owner.as_deref(),
        scopes: &scope_refs,
        role: role.as_deref(),
        now,
        // Negative ttl becomes 0, which the core rejects with its own range message.
        ttl: Some(non_negative(ttl, 0)),
        issuer: optional_text(issuer, "issuer")?.map(|s| String::from(&*s)),
        audience: optional_text(audience, "audience")?.map(|s| String::from(&*s)),
        jti: optional_text(jti, "jti")?.map(|s| String::from(&*s)),
    };
    Ok(args.claims()?)
}

/// The claims `Keyset.exchange` signs, as a `dict`.
#[pyfunction]
#[pyo3(signature = (*, key_id, owner = None, scopes = None, role = None, now = None, ttl = 600, issuer = None, audience = None, jti = None))]
#[allow(clippy::too_many_arguments)]
fn exchange_claims<'py>(
    py: Python<'py>,
    key_id: &Bound<'py, PyAny>,
    owner: Option<&Bound<'py, PyAny>>,
    scopes: Option<&Bound<'py, PyAny>>,
    role: Option<&Bound<'py, PyAny>>,
    now: Option<&Bound<'py, PyAny>>,
    ttl: i64,
    issuer: Option<&Bound<'py, PyAny>>,
    audience: Option<&Bound<'py, PyAny>>,
    jti: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(py, || {
        let claims =
            exchange_core_claims(key_id, owner, scopes, role, now, ttl, issuer, audience, jti)?;
        Ok(claims_to_py(py, &claims)?)
    })
}

/// Adds `exchange_claims` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exchange_claims, m)?)
}
