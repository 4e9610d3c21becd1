//! Python binding of keyseal: conversion code only.
//!
//! Every decision (formats, checks, error codes, messages) is the core's; this crate turns
//! Python values into core values and back, turns core errors into Python exceptions in one
//! place ([`to_py_err`]), and keeps panics from crossing into Python ([`guard`]).
//!
//! Objects are immutable (`frozen` pyclasses over immutable core values), so they are safe
//! to share between threads, and nothing here takes a lock.
//!
//! Calls keep the GIL. A verify takes under two microseconds; detaching from the interpreter
//! and re-attaching adds ~30 ns when no other thread runs, and while another Python thread
//! is busy a released GIL can be lost for a whole switch interval (5 ms): with the
//! `_gil_probe` of `benches/python/bench.py`, worst calls took 9-13 ms when releasing,
//! against a few microseconds when keeping it. Keeping it also makes each call atomic.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use keyseal::digest::sha256_hex as core_sha256_hex;
use keyseal::policy::parse_ip;
use keyseal::token::{Audience, hmac_sha256 as core_hmac_sha256};
use keyseal::{
    Algorithm, Claim, Claims, Credential as CoreCredential, DigestStatus, Error, ErrorCode,
    ErrorFamily, ExchangeOptions, FixedEntropy, IpNet, KeyIdentity, KeyPolicy as CorePolicy,
    RequestContext, Scope, Validation,
};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt,
    PyList, PyMappingProxy, PyString, PyTuple,
};
use pyo3::{create_exception, intern};
use serde_json::{Map, Number, Value};
use zeroize::Zeroizing;

// Verification makes a dozen short-lived allocations (decoded segments, claim strings);
// mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
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
fn guard<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, Failure>) -> PyResult<T> {
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
enum Failure {
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

type Res<T> = Result<T, Failure>;

// ---------------------------------------------------------------------------------------
// Argument conversion
// ---------------------------------------------------------------------------------------

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| String::from("object"))
}

fn type_error(what: &str, expected: &str, found: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{what}: expected {expected}, found {}",
        type_name(found)
    ))
}

/// A `str`, with a `TypeError` naming the argument otherwise.
fn text(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedStr> {
    if obj.is_instance_of::<PyString>() {
        obj.extract::<PyBackedStr>()
    } else {
        Err(type_error(what, "str", obj))
    }
}

/// Secret material: `bytes`, `bytearray` or `str` (UTF-8). The copy is zeroized on drop.
fn secret_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<Vec<u8>>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Zeroizing::new(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Zeroizing::new(b.to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        let s = obj.extract::<PyBackedStr>()?;
        return Ok(Zeroizing::new(s.as_bytes().to_vec()));
    }
    Err(type_error(what, "bytes or str", obj))
}

/// Maps a Python int onto an unsigned core setting: negative values become a value the
/// core rejects with its own `invalid_config` message, so the range stays the core's.
fn non_negative(v: i64, reject_as: u64) -> u64 {
    u64::try_from(v).unwrap_or(reject_as)
}

static EPOCH: PyOnceLock<Py<PyDateTime>> = PyOnceLock::new();

/// Unix seconds from an `int` or a timezone-aware `datetime` (rounded down).
fn seconds(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract::<i64>();
    }
    if obj.is_instance_of::<PyDateTime>() {
        let py = obj.py();
        if obj.call_method0(intern!(py, "utcoffset"))?.is_none() {
            return Err(PyValueError::new_err(format!(
                "{what}: expected a timezone-aware datetime, found a naive one \
                 (use datetime.now(timezone.utc) or int seconds)"
            )));
        }
        let epoch = EPOCH.get_or_try_init(py, || -> PyResult<Py<PyDateTime>> {
            let dt = py.import("datetime")?;
            let utc = dt.getattr("timezone")?.getattr("utc")?;
            let e = dt
                .getattr("datetime")?
                .call1((1970, 1, 1, 0, 0, 0, 0, utc))?
                .cast_into::<PyDateTime>()?;
            Ok(e.unbind())
        })?;
        let delta = obj.sub(epoch.bind(py))?;
        let delta = delta.cast::<PyDelta>()?;
        // timedelta normalizes to 0 <= seconds < 86400, so this is floor division.
        return Ok(i64::from(delta.get_days()) * 86_400 + i64::from(delta.get_seconds()));
    }
    Err(type_error(
        what,
        "int seconds or a timezone-aware datetime",
        obj,
    ))
}

/// `now`: the given time, or the system clock (the only clock read, at the edge).
fn now_or_clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match now {
        Some(obj) if !obj.is_none() => seconds(obj, "now"),
        _ => Ok(match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
        }),
    }
}

fn optional_seconds(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<i64>> {
    match obj {
        Some(o) if !o.is_none() => seconds(o, what).map(Some),
        _ => Ok(None),
    }
}

fn optional_text(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<PyBackedStr>> {
    match obj {
        Some(o) if !o.is_none() => text(o, what).map(Some),
        _ => Ok(None),
    }
}

/// A `str` or an iterable of `str` (a lone `str` is one item, not its characters).
fn strings(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<PyBackedStr>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(vec![obj.extract::<PyBackedStr>()?]);
    }
    let iter = obj
        .try_iter()
        .map_err(|_| type_error(what, "a str or an iterable of str", obj))?;
    let mut out = Vec::new();
    for item in iter {
        out.push(text(&item?, what)?);
    }
    Ok(out)
}

/// An iterable of `str` only (a lone `str` is refused: `scopes="a b"` is a likely mistake).
fn string_list(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<PyBackedStr>> {
    match obj {
        Some(o) if o.is_instance_of::<PyString>() => Err(PyTypeError::new_err(format!(
            "{what}: expected an iterable of str (a list or tuple), found a single str"
        ))),
        other => strings(other, what),
    }
}

fn as_strs(v: &[PyBackedStr]) -> Vec<&str> {
    v.iter().map(|s| &**s).collect()
}

// ---------------------------------------------------------------------------------------
// JSON <-> Python
// ---------------------------------------------------------------------------------------

const MAX_DEPTH: usize = 64;

fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for item in a {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, item) in m {
                d.set_item(k, json_to_py(py, item)?)?;
            }
            d.into_any()
        }
    })
}

/// A Python value as JSON. `what` names it in error messages (built only on error).
fn py_to_json(obj: &Bound<'_, PyAny>, what: &dyn Fn() -> String, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "{}: nested deeper than {MAX_DEPTH} levels (or recursive)",
            what()
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        // Beyond 64 bits: the nearest 64-bit bound stands in. Claims refuse every number
        // beyond +-(2^53 - 1) (RFC 7493 section 2.2) with `invalid_claim`, so the core
        // raises its own error for it, a KeysealError like any other claim error.
        return Ok(if obj.lt(0)? {
            Value::from(i64::MIN)
        } else {
            Value::from(u64::MAX)
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| {
                PyValueError::new_err(format!("{}: NaN and infinity are not JSON numbers", what()))
            });
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract::<String>()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            if !k.is_instance_of::<PyString>() {
                return Err(type_error(&format!("{}: a key", what()), "str", &k));
            }
            m.insert(k.extract::<String>()?, py_to_json(&v, what, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut a = Vec::new();
        for item in obj.try_iter()? {
            a.push(py_to_json(&item?, what, depth + 1)?);
        }
        return Ok(Value::Array(a));
    }
    Err(type_error(
        &what(),
        "a JSON value (None, bool, int, float, str, list, tuple or dict)",
        obj,
    ))
}

fn items_of<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(d.items().into_any());
    }
    if obj.hasattr(intern!(obj.py(), "items"))? {
        return obj.call_method0(intern!(obj.py(), "items"));
    }
    Err(type_error(what, "a mapping", obj))
}

/// A claims mapping as the core's `Claims`: first as JSON (an aware `datetime` for
/// `exp`/`nbf`/`iat` becomes its seconds), then the core's `Claims::from_json`, so claims
/// are typed by the same rules as in every other runtime and in received tokens.
fn claims_from_py(obj: &Bound<'_, PyAny>) -> Res<Claims> {
    let mut map = Map::new();
    let mut add = |k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<()> {
        if !k.is_instance_of::<PyString>() {
            return Err(type_error("claims: a claim name", "str", k));
        }
        let name = k.extract::<String>()?;
        let value =
            if matches!(name.as_str(), "exp" | "nbf" | "iat") && v.is_instance_of::<PyDateTime>() {
                Value::from(seconds(v, &name)?)
            } else {
                py_to_json(v, &|| format!("claims[{}]", q(&name)), 0)?
            };
        map.insert(name, value);
        Ok(())
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            add(&k, &v)?;
        }
    } else {
        for item in items_of(obj, "claims")?.try_iter()? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            add(&k, &v)?;
        }
    }
    let json = serde_json::to_vec(&Value::Object(map)).map_err(|_| Error::Internal {
        detail: "claims did not serialize",
    })?;
    Ok(Claims::from_json(&json)?)
}

/// The core's `Claims` as a `dict`, registered claims first (keys interned).
fn claims_to_py<'py>(py: Python<'py>, c: &Claims) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some(v) = &c.iss {
        d.set_item(intern!(py, "iss"), v)?;
    }
    if let Some(v) = &c.sub {
        d.set_item(intern!(py, "sub"), v)?;
    }
    match &c.aud {
        Audience::None => {}
        Audience::One(a) => d.set_item(intern!(py, "aud"), a)?,
        Audience::Many(v) => d.set_item(intern!(py, "aud"), PyList::new(py, v)?)?,
    }
    if let Some(v) = c.exp {
        d.set_item(intern!(py, "exp"), v)?;
    }
    if let Some(v) = c.nbf {
        d.set_item(intern!(py, "nbf"), v)?;
    }
    if let Some(v) = c.iat {
        d.set_item(intern!(py, "iat"), v)?;
    }
    if let Some(v) = &c.jti {
        d.set_item(intern!(py, "jti"), v)?;
    }
    if let Some(v) = &c.scope {
        d.set_item(intern!(py, "scope"), v)?;
    }
    if let Some(v) = &c.role {
        d.set_item(intern!(py, "role"), v)?;
    }
    for (k, v) in &c.extra {
        d.set_item(k, json_to_py(py, v)?)?;
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

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

    /// Checks a key of this format without keeping it.
    fn check(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let key = text(key, "key")?;
            self.inner.check(&key)?;
            Ok(())
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

    #[getter]
    fn access_key<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.access_key()))
    }

    /// The whole key, to hand to its owner once.
    fn expose<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose()))
    }

    /// The secret part, without the checksum.
    fn expose_secret<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose_secret()))
    }

    /// The `secretKey` half of the key-pair form: secret and checksum.
    fn expose_secret_key<'a>(&'a self, py: Python<'_>) -> PyResult<&'a str> {
        guard(py, || Ok(self.inner.expose_secret_key()))
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

// ---------------------------------------------------------------------------------------
// Digests
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

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

static DEFAULT_VALIDATION: LazyLock<Validation> = LazyLock::new(Validation::new);

/// The core's `Validation` from keyword arguments; the shared default when all are default.
/// `required` adds to the default `exp`; only `dangerously_allow_missing_exp` drops it
/// (applied first, so naming `exp` in `required` keeps it required).
fn validation(
    leeway: i64,
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    required: Option<&Bound<'_, PyAny>>,
    dangerously_allow_missing_exp: bool,
    max_token_len: i64,
) -> Res<Cow<'static, Validation>> {
    let audience = audience.filter(|a| !a.is_none());
    let issuer = issuer.filter(|a| !a.is_none());
    let required = required.filter(|a| !a.is_none());
    if leeway == 0
        && audience.is_none()
        && issuer.is_none()
        && required.is_none()
        && !dangerously_allow_missing_exp
        && max_token_len == keyseal::token::DEFAULT_MAX_TOKEN_LEN as i64
    {
        return Ok(Cow::Borrowed(&*DEFAULT_VALIDATION));
    }
    let mut v = Validation::new()
        .with_leeway(non_negative(leeway, u64::MAX))?
        .with_max_token_len(usize::try_from(max_token_len).unwrap_or(0))?;
    for a in strings(audience, "audience")? {
        v = v.with_audience(&a);
    }
    for i in strings(issuer, "issuer")? {
        v = v.with_issuer(&i);
    }
    if dangerously_allow_missing_exp {
        v = v.dangerously_allow_missing_exp();
    }
    if required.is_some() {
        for name in string_list(required, "required")? {
            let claim = Claim::from_name(&name).ok_or(Error::InvalidConfig {
                setting: "required",
                expected: "registered claim names: iss, sub, aud, exp, nbf, iat, jti, scope, role",
            })?;
            v = v.require(claim);
        }
    }
    Ok(Cow::Owned(v))
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
        guard(py, || {
            Ok(PyValidation {
                inner: validation(
                    leeway,
                    audience,
                    issuer,
                    required,
                    dangerously_allow_missing_exp,
                    max_token_len,
                )?
                .into_owned(),
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
fn pick_validation<'a>(
    given: Option<&'a Bound<'_, PyAny>>,
    leeway: i64,
    audience: Option<&Bound<'_, PyAny>>,
    issuer: Option<&Bound<'_, PyAny>>,
    required: Option<&Bound<'_, PyAny>>,
    dangerously_allow_missing_exp: bool,
    max_token_len: i64,
) -> Res<Cow<'a, Validation>> {
    match given.filter(|v| !v.is_none()) {
        Some(v) => {
            let v = v
                .cast::<PyValidation>()
                .map_err(|_| type_error("validation", "a keyseal.Validation", v))?;
            let has = |o: Option<&Bound<'_, PyAny>>| o.is_some_and(|o| !o.is_none());
            if leeway != 0
                || has(audience)
                || has(issuer)
                || has(required)
                || dangerously_allow_missing_exp
                || max_token_len != keyseal::token::DEFAULT_MAX_TOKEN_LEN as i64
            {
                return Err(PyTypeError::new_err(
                    "validation: pass a keyseal.Validation or keyword options (leeway, audience, \
                     issuer, required, dangerously_allow_missing_exp, max_token_len), not both",
                )
                .into());
            }
            Ok(Cow::Borrowed(&v.get().inner))
        }
        None => validation(
            leeway,
            audience,
            issuer,
            required,
            dangerously_allow_missing_exp,
            max_token_len,
        ),
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

    /// Verifies `token` and returns its claims as a `dict`.
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
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let token = text(token, "token")?;
            let now = now_or_clock(now)?;
            let v = pick_validation(
                validation,
                leeway,
                audience,
                issuer,
                required,
                dangerously_allow_missing_exp,
                max_token_len,
            )?;
            let verified = self.inner.verify(&token, &v, now)?;
            Ok(claims_to_py(py, &verified.claims)?)
        })
    }

    /// Like `verify`, and also says which key (`kid`) and algorithm verified the token.
    #[pyo3(signature = (token, validation = None, *, now = None, leeway = 0, audience = None, issuer = None, required = None, dangerously_allow_missing_exp = false, max_token_len = 8192))]
    #[allow(clippy::too_many_arguments)]
    fn verify_complete<'py>(
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
        guard(py, || {
            let token = text(token, "token")?;
            let now = now_or_clock(now)?;
            let v = pick_validation(
                validation,
                leeway,
                audience,
                issuer,
                required,
                dangerously_allow_missing_exp,
                max_token_len,
            )?;
            let verified = self.inner.verify(&token, &v, now)?;
            Ok(VerifiedToken {
                kid: verified.kid.clone(),
                alg: verified.alg.as_str(),
                claims: claims_to_py(py, &verified.claims)?.unbind(),
            })
        })
    }

    /// Issues the short-lived token an API key is exchanged for (default 10 minutes).
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

#[allow(clippy::too_many_arguments)]
fn exchange_core_claims(
    key_id: &Bound<'_, PyAny>,
    owner: Option<&Bound<'_, PyAny>>,
    scopes: Option<&Bound<'_, PyAny>>,
    role: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
    ttl: i64,
    issuer: Option<&Bound<'_, PyAny>>,
    audience: Option<&Bound<'_, PyAny>>,
    jti: Option<&Bound<'_, PyAny>>,
) -> Res<Claims> {
    let key_id = text(key_id, "key_id")?;
    let owner = optional_text(owner, "owner")?;
    let scopes = string_list(scopes, "scopes")?;
    let scope_refs = as_strs(&scopes);
    let role = optional_text(role, "role")?;
    let now = now_or_clock(now)?;
    let options = ExchangeOptions {
        // Negative ttl becomes 0, which the core rejects with its own range message.
        ttl: non_negative(ttl, 0),
        issuer: optional_text(issuer, "issuer")?.map(|s| String::from(&*s)),
        audience: optional_text(audience, "audience")?.map(|s| String::from(&*s)),
        jti: optional_text(jti, "jti")?.map(|s| String::from(&*s)),
    };
    let identity = KeyIdentity {
        key_id: &key_id,
        owner: owner.as_deref(),
        scopes: &scope_refs,
        role: role.as_deref(),
    };
    Ok(keyseal::exchange_claims(&identity, now, &options)?)
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

// ---------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------

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
            let mut parsed_scopes = Vec::new();
            for s in string_list(scopes, "scopes")? {
                parsed_scopes.push(Scope::new(&s)?);
            }
            let mut nets = Vec::new();
            for n in string_list(allowed_ips, "allowed_ips")? {
                nets.push(n.parse::<IpNet>()?);
            }
            Ok(KeyPolicy {
                inner: CorePolicy {
                    enabled,
                    revoked,
                    expires_at: optional_seconds(expires_at, "expires_at")?,
                    role: optional_text(role, "role")?.map(|s| String::from(&*s)),
                    scopes: parsed_scopes,
                    read_only,
                    allowed_ips: nets,
                },
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
            let now = now_or_clock(now)?;
            let client_ip = match client_ip.filter(|c| !c.is_none()) {
                Some(c) => Some(parse_ip(&ip_text(c)?)?),
                None => None,
            };
            let method = optional_text(method, "method")?;
            let required = string_list(required_scopes, "required_scopes")?;
            let roles = string_list(allowed_roles, "allowed_roles")?;
            let required = as_strs(&required);
            let roles = as_strs(&roles);
            let ctx = RequestContext {
                now,
                client_ip,
                method: method.as_deref(),
                required_scopes: &required,
                allowed_roles: &roles,
            };
            self.inner.check(&ctx)?;
            Ok(())
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

/// A Python-style quoted string for `repr`s: `'text'`.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The inside of a Python tuple's repr: `'a', 'b'`, or `'a',` for one item.
fn tuple_body(items: &[String]) -> String {
    match items {
        [one] => format!("{one},"),
        _ => items.join(", "),
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

// ---------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------------------

/// Panics inside the binding's guard, to prove that no panic reaches Python: the caller
/// gets `InternalError` with code `internal`. Used by the test suite only.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    guard(py, || -> Res<()> {
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

/// keyseal: API keys, peppered digests, HMAC-signed tokens, key policies.
#[pymodule]
fn _keyseal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", keyseal::VERSION)?;
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
    m.add_class::<KeyFormat>()?;
    m.add_class::<ApiKey>()?;
    m.add_class::<Pepper>()?;
    m.add_class::<PepperSet>()?;
    m.add_class::<TokenKey>()?;
    m.add_class::<Keyset>()?;
    m.add_class::<VerifiedToken>()?;
    m.add_class::<PyValidation>()?;
    m.add_class::<KeyPolicy>()?;
    m.add_class::<Credential>()?;
    m.add_function(wrap_pyfunction!(parse_key, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_hex, m)?)?;
    m.add_function(wrap_pyfunction!(hmac_sha256, m)?)?;
    m.add_function(wrap_pyfunction!(exchange_claims, m)?)?;
    m.add_function(wrap_pyfunction!(extract_credential, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_gil_probe, m)?)?;
    Ok(())
}
