//! Python arguments to Rust values: text, secret bytes, times, lists of strings, with a
//! `TypeError` naming the argument; and the quoting helpers of the `repr`s.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDateTime, PyDelta, PyDeltaAccess, PyInt, PyString,
};
use zeroize::Zeroizing;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| String::from("object"))
}

pub(crate) fn type_error(what: &str, expected: &str, found: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{what}: expected {expected}, found {}",
        type_name(found)
    ))
}

/// A `str`, with a `TypeError` naming the argument otherwise.
pub(crate) fn text(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedStr> {
    if obj.is_instance_of::<PyString>() {
        obj.extract::<PyBackedStr>()
    } else {
        Err(type_error(what, "str", obj))
    }
}

/// Secret material: `bytes`, `bytearray` or `str` (UTF-8). The copy is zeroized on drop.
pub(crate) fn secret_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<Vec<u8>>> {
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
pub(crate) fn non_negative(v: i64, reject_as: u64) -> u64 {
    u64::try_from(v).unwrap_or(reject_as)
}

static EPOCH: PyOnceLock<Py<PyDateTime>> = PyOnceLock::new();

/// Unix seconds from an `int` or a timezone-aware `datetime` (rounded down).
pub(crate) fn seconds(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
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
pub(crate) fn now_or_clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match now {
        Some(obj) if !obj.is_none() => seconds(obj, "now"),
        _ => Ok(match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
        }),
    }
}

pub(crate) fn optional_seconds(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<i64>> {
    match obj {
        Some(o) if !o.is_none() => seconds(o, what).map(Some),
        _ => Ok(None),
    }
}

pub(crate) fn optional_text(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<PyBackedStr>> {
    match obj {
        Some(o) if !o.is_none() => text(o, what).map(Some),
        _ => Ok(None),
    }
}

/// A `str` or an iterable of `str` (a lone `str` is one item, not its characters).
pub(crate) fn strings(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<PyBackedStr>> {
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
pub(crate) fn string_list(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Vec<PyBackedStr>> {
    match obj {
        Some(o) if o.is_instance_of::<PyString>() => Err(PyTypeError::new_err(format!(
            "{what}: expected an iterable of str (a list or tuple), found a single str"
        ))),
        other => strings(other, what),
    }
}

pub(crate) fn as_strs(v: &[PyBackedStr]) -> Vec<&str> {
    v.iter().map(|s| &**s).collect()
}

/// A Python-style quoted string for `repr`s: `'text'`.
pub(crate) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The inside of a Python tuple's repr: `'a', 'b'`, or `'a',` for one item.
pub(crate) fn tuple_body(items: &[String]) -> String {
    match items {
        [one] => format!("{one},"),
        _ => items.join(", "),
    }
}

pub(crate) fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}
