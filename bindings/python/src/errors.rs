//! The Python exceptions, the ONE conversion from core errors to them ([`to_py_err`]), and
//! the guard that keeps panics from crossing into Python ([`guard`]).

use std::panic::{AssertUnwindSafe, catch_unwind};

use keyseal::{Error, ErrorCode, ErrorFamily};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMappingProxy};
use pyo3::{create_exception, intern};

create_exception!(
    keyseal,
    KeysealError,
    PyException,
    "Base class of every keyseal error; `.code` is the core's stable code, `.family` its family."
);
create_exception!(
    keyseal,
    MalformedError,
    KeysealError,
    "Input that cannot be parsed: keys, tokens, digests, CIDRs, scopes."
);
create_exception!(
    keyseal,
    SignatureError,
    KeysealError,
    "Authenticity failed: wrong MAC or digest, unknown or mismatched key material."
);
create_exception!(
    keyseal,
    TimeError,
    KeysealError,
    "A token's exp, nbf or iat rejects it at `now`."
);
create_exception!(
    keyseal,
    ClaimsError,
    KeysealError,
    "A token's claims do not satisfy the validation (aud, iss, required claims)."
);
create_exception!(
    keyseal,
    PolicyError,
    KeysealError,
    "A key's policy denies the request."
);
create_exception!(
    keyseal,
    CredentialError,
    KeysealError,
    "The headers carry no usable credential, or more than one."
);
create_exception!(
    keyseal,
    ConfigError,
    KeysealError,
    "Something was configured with an invalid value."
);
create_exception!(
    keyseal,
    RegistryError,
    KeysealError,
    "Key lifecycle errors raised by the registry and the server."
);
create_exception!(
    keyseal,
    InternalError,
    KeysealError,
    "A bug or an environment failure (no randomness); never the caller's input."
);

/// The ONE conversion from a core error to a Python exception: the family picks the class,
/// the core's `Display` is the message (it never holds a secret), `.code`/`.family` are set.
pub(crate) fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    let msg = e.to_string();
    let family = e.family();
    let err = match family {
        ErrorFamily::Malformed => MalformedError::new_err(msg),
        ErrorFamily::Signature => SignatureError::new_err(msg),
        ErrorFamily::Time => TimeError::new_err(msg),
        ErrorFamily::Claims => ClaimsError::new_err(msg),
        ErrorFamily::Policy => PolicyError::new_err(msg),
        ErrorFamily::Credential => CredentialError::new_err(msg),
        ErrorFamily::Config => ConfigError::new_err(msg),
        ErrorFamily::Registry => RegistryError::new_err(msg),
        // Internal, and any family a newer core adds before this binding knows it.
        _ => InternalError::new_err(msg),
    };
    let value = err.value(py);
    if let Err(set_err) = value
        .setattr(intern!(py, "code"), e.code())
        .and_then(|()| value.setattr(intern!(py, "family"), family.as_str()))
    {
        return set_err;
    }
    err
}

/// Runs `f`, turning a core error into its exception and a panic into `internal`: no
/// panic may reach Python (pyo3 would raise `PanicException`, a `BaseException`).
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, Failure>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Failure::Core(e))) => Err(to_py_err(py, &e)),
        Ok(Err(Failure::Py(e))) => Err(e),
        Err(_) => Err(to_py_err(
            py,
            &Error::Internal {
                detail: "a panic was caught at the python binding boundary",
            },
        )),
    }
}

/// Either a core error (converted by [`to_py_err`]) or an exception already made
/// (`TypeError` and friends from argument conversion).
pub(crate) enum Failure {
    Core(Error),
    Py(PyErr),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

pub(crate) type BindingResult<T> = Result<T, Failure>;

/// Adds the exception classes and `ERROR_CODES` (code -> family, read-only) to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KeysealError", py.get_type::<KeysealError>())?;
    m.add("MalformedError", py.get_type::<MalformedError>())?;
    m.add("SignatureError", py.get_type::<SignatureError>())?;
    m.add("TimeError", py.get_type::<TimeError>())?;
    m.add("ClaimsError", py.get_type::<ClaimsError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("CredentialError", py.get_type::<CredentialError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("RegistryError", py.get_type::<RegistryError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    let codes = PyDict::new(py);
    for code in ErrorCode::ALL {
        codes.set_item(code.as_str(), code.family().as_str())?;
    }
    // Read-only view: module-level objects are immutable like every other keyseal object.
    m.add("ERROR_CODES", PyMappingProxy::new(py, codes.as_mapping()))?;
    Ok(())
}
