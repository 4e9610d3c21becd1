//! JSON values and claims between Python and the core.

use keyseal::token::Audience;
use keyseal::{Claims, Error};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::convert::{q, seconds, type_error};
use crate::errors::BindingResult;

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

pub(crate) fn items_of<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
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
pub(crate) fn claims_from_py(obj: &Bound<'_, PyAny>) -> BindingResult<Claims> {
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
pub(crate) fn claims_to_py<'py>(py: Python<'py>, c: &Claims) -> PyResult<Bound<'py, PyDict>> {
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
