//! `KeyPolicy`: where and how a key may be used.

use keyseal::KeyPolicy as CorePolicy;
use keyseal_binding_common::options::{CheckArgs, PolicyOptions};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::convert::{
    now_or_clock, optional_seconds, optional_text, py_bool, q, string_list, tuple_body, type_error,
};
use crate::errors::guard;

/// What a key record says about where and how the key may be used.
#[pyclass(frozen, module = "keyseal")]
struct KeyPolicy {
    inner: CorePolicy,
}

/// A client address from a `str` or an `ipaddress` object (whose `str` is the address).
fn ip_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if obj.is_instance_of::<PyString>() {
        return obj.extract::<String>();
    }
    let py = obj.py();
    let ipaddress = py.import("ipaddress")?;
    let v4 = ipaddress.getattr("IPv4Address")?;
    let v6 = ipaddress.getattr("IPv6Address")?;
    if obj.is_instance(&v4)? || obj.is_instance(&v6)? {
        return Ok(obj.str()?.to_string());
    }
    Err(type_error(
        "client_ip",
        "a str or an ipaddress.IPv4Address/IPv6Address",
        obj,
    ))
}

#[pymethods]
impl KeyPolicy {
    #[new]
    #[pyo3(signature = (*, enabled = true, revoked = false, expires_at = None, role = None, scopes = None, read_only = false, allowed_ips = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        enabled: bool,
        revoked: bool,
        expires_at: Option<&Bound<'_, PyAny>>,
        role: Option<&Bound<'_, PyAny>>,
        scopes: Option<&Bound<'_, PyAny>>,
        read_only: bool,
        allowed_ips: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let options = PolicyOptions {
                enabled: Some(enabled),
                revoked: Some(revoked),
                expires_at: optional_seconds(expires_at, "expires_at")?,
                role: optional_text(role, "role")?.map(|s| String::from(&*s)),
                scopes: string_list(scopes, "scopes")?,
                read_only: Some(read_only),
                allowed_ips: string_list(allowed_ips, "allowed_ips")?,
            };
            Ok(KeyPolicy {
                inner: options.build()?,
            })
        })
    }

    #[getter]
    fn enabled(&self) -> bool {
        self.inner.enabled
    }

    #[getter]
    fn revoked(&self) -> bool {
        self.inner.revoked
    }

    #[getter]
    fn expires_at(&self) -> Option<i64> {
        self.inner.expires_at
    }

    #[getter]
    fn role(&self) -> Option<&str> {
        self.inner.role.as_deref()
    }

    #[getter]
    fn read_only(&self) -> bool {
        self.inner.read_only
    }

    #[getter]
    fn scopes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.scopes.iter().map(|s| s.as_str()))
    }

    #[getter]
    fn allowed_ips<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.allowed_ips.iter().map(|n| n.to_string()))
    }

    /// Returns `None` when the request is allowed, else raises the first failing check's
    /// `PolicyError` (revoked, disabled, expired, IP, role, read-only, scope).
    #[pyo3(signature = (*, now = None, client_ip = None, method = None, required_scopes = None, allowed_roles = None))]
    fn check(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
        client_ip: Option<&Bound<'_, PyAny>>,
        method: Option<&Bound<'_, PyAny>>,
        required_scopes: Option<&Bound<'_, PyAny>>,
        allowed_roles: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guard(py, || {
            let args = CheckArgs {
                now: now_or_clock(now)?,
                client_ip: client_ip
                    .filter(|c| !c.is_none())
                    .map(ip_text)
                    .transpose()?,
                method: optional_text(method, "method")?.map(|s| String::from(&*s)),
                required_scopes: string_list(required_scopes, "required_scopes")?
                    .iter()
                    .map(|s| String::from(&**s))
                    .collect(),
                allowed_roles: string_list(allowed_roles, "allowed_roles")?
                    .iter()
                    .map(|s| String::from(&**s))
                    .collect(),
            };
            Ok(args.check(&self.inner)?)
        })
    }

    fn __repr__(&self) -> String {
        let scopes: Vec<String> = self.inner.scopes.iter().map(|s| q(s.as_str())).collect();
        let ips: Vec<String> = self
            .inner
            .allowed_ips
            .iter()
            .map(|n| q(&n.to_string()))
            .collect();
        format!(
            "KeyPolicy(enabled={}, revoked={}, expires_at={}, role={}, scopes=({}), read_only={}, allowed_ips=({}))",
            py_bool(self.inner.enabled),
            py_bool(self.inner.revoked),
            self.inner
                .expires_at
                .map_or_else(|| String::from("None"), |t| t.to_string()),
            self.inner
                .role
                .as_deref()
                .map_or_else(|| String::from("None"), q),
            tuple_body(&scopes),
            py_bool(self.inner.read_only),
            tuple_body(&ips)
        )
    }
}

/// Adds `KeyPolicy` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KeyPolicy>()
}
