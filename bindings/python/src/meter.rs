//! `Meter`: named rate limits and credits per subject, in memory (the core's
//! [`keyseal::Meter`]), for services that meter in-process.
//!
//! Options are read from Python values into `keyseal_binding_common::meter::MeterOptions`
//! and built by the one function every binding uses. A wrong type, an unknown key or a
//! missing one is a `TypeError`, as for keyword arguments; a value out of range is the
//! core's `ConfigError` (`invalid_config`). The answer is a dict in the vectors' shape.
//!
//! The one mutable object of the module: the core's meter sits behind a `Mutex`, which is
//! never contended (calls keep the GIL) but keeps the object safe to share between threads
//! should a call ever run without it.

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use keyseal::MeterAnswer;
use keyseal_binding_common::meter::{
    CreditOptions, LimitOptions, MeterOptions, RefillOptions, amount,
};
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString};

use crate::convert::{q, text, tuple_body, type_error};
use crate::errors::{BindingResult, guard};

/// Named rate limits and credits per subject, in memory.
#[pyclass(frozen, module = "keyseal")]
struct Meter {
    inner: Mutex<keyseal::Meter>,
    /// The limits' names, in the spec's order, made once for every answer.
    names: Vec<Py<PyString>>,
}

/// `obj` as a dict whose keys are all in `allowed`.
fn dict<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    allowed: &[&str],
) -> PyResult<Bound<'py, PyDict>> {
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| type_error(what, "a dict", obj))?;
    for k in d.keys() {
        let known = k
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_cow().ok().map(|s| allowed.contains(&&*s)))
            .unwrap_or(false);
        if !known {
            return Err(PyTypeError::new_err(format!(
                "{what}: unexpected key {}; expected the keys {}",
                k.repr()?,
                allowed.join(", ")
            )));
        }
    }
    Ok(d.clone())
}

/// The value under `key`; absent and `None` are both `None`.
fn get<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|v| !v.is_none()))
}

fn required<'py>(d: &Bound<'py, PyDict>, key: &str, what: &str) -> PyResult<Bound<'py, PyAny>> {
    get(d, key)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: missing key '{key}'")))
}

/// An `int` (not a `bool`) as a `u64`; an int outside 0..2^64 becomes `reject_as`, a value
/// the core refuses with its own `invalid_config` message.
fn int(obj: &Bound<'_, PyAny>, what: &str, reject_as: u64) -> PyResult<u64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        Ok(obj.extract::<u64>().unwrap_or(reject_as))
    } else {
        Err(type_error(what, "int", obj))
    }
}

fn opt_int(obj: Option<Bound<'_, PyAny>>, what: &str, reject_as: u64) -> PyResult<Option<u64>> {
    obj.map(|o| int(&o, what, reject_as)).transpose()
}

/// A per-call number (`cost`, `now_ms`, `amount`): an `int` from 0 to 2^53-1.
fn per_call(obj: &Bound<'_, PyAny>, setting: &'static str) -> BindingResult<u64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        Ok(amount(setting, obj.extract::<u64>().ok())?)
    } else {
        Err(type_error(setting, "int", obj).into())
    }
}

/// `now_ms`, or the wall clock in milliseconds (the only clock read, at the edge).
fn now_ms(obj: Option<&Bound<'_, PyAny>>) -> BindingResult<u64> {
    match obj {
        Some(o) if !o.is_none() => per_call(o, "now_ms"),
        _ => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
    }
}

fn limit(obj: &Bound<'_, PyAny>, i: usize) -> PyResult<LimitOptions> {
    let what = format!("limits[{i}]");
    let d = dict(obj, &what, &["name", "limit", "window_ms"])?;
    Ok(LimitOptions {
        name: String::from(&*text(
            &required(&d, "name", &what)?,
            &format!("{what}['name']"),
        )?),
        limit: int(
            &required(&d, "limit", &what)?,
            &format!("{what}['limit']"),
            u64::MAX,
        )?,
        window_ms: int(
            &required(&d, "window_ms", &what)?,
            &format!("{what}['window_ms']"),
            u64::MAX,
        )?,
    })
}

fn refill(obj: &Bound<'_, PyAny>) -> PyResult<RefillOptions> {
    let what = "credits['refill']";
    let d = dict(obj, what, &["amount", "interval", "day", "cap"])?;
    Ok(RefillOptions {
        amount: int(&required(&d, "amount", what)?, "refill['amount']", u64::MAX)?,
        interval: String::from(&*text(
            &required(&d, "interval", what)?,
            "refill['interval']",
        )?),
        day: opt_int(get(&d, "day")?, "refill['day']", u64::MAX)?,
        cap: opt_int(get(&d, "cap")?, "refill['cap']", u64::MAX)?,
    })
}

fn credits(obj: &Bound<'_, PyAny>) -> PyResult<CreditOptions> {
    let what = "credits";
    let d = dict(obj, what, &["remaining", "refill"])?;
    Ok(CreditOptions {
        remaining: int(
            &required(&d, "remaining", what)?,
            "credits['remaining']",
            u64::MAX,
        )?,
        refill: get(&d, "refill")?.map(|r| refill(&r)).transpose()?,
    })
}

impl Meter {
    fn lock(&self) -> std::sync::MutexGuard<'_, keyseal::Meter> {
        // The core does not panic; were a call to, the meter's state is still whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answer<'py>(&self, py: Python<'py>, a: &MeterAnswer) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item(intern!(py, "allowed"), a.verdict.allowed)?;
        d.set_item(intern!(py, "code"), a.verdict.code.map(|c| c.as_str()))?;
        d.set_item(intern!(py, "retry_after_ms"), a.verdict.retry_after_ms)?;
        let limits = PyList::empty(py);
        for (name, l) in self.names.iter().zip(&a.limits) {
            let x = PyDict::new(py);
            x.set_item(intern!(py, "name"), name.bind(py))?;
            x.set_item(intern!(py, "allowed"), l.allowed)?;
            x.set_item(intern!(py, "limit"), l.limit)?;
            x.set_item(intern!(py, "remaining"), l.remaining)?;
            x.set_item(intern!(py, "reset_ms"), l.reset_ms)?;
            x.set_item(intern!(py, "retry_after_ms"), l.retry_after_ms)?;
            limits.append(x)?;
        }
        d.set_item(intern!(py, "limits"), limits)?;
        match &a.credits {
            Some(c) => {
                let x = PyDict::new(py);
                x.set_item(intern!(py, "allowed"), c.allowed)?;
                x.set_item(intern!(py, "remaining"), c.remaining)?;
                x.set_item(intern!(py, "refill_at_ms"), c.refill_at_ms)?;
                d.set_item(intern!(py, "credits"), x)?;
            }
            None => d.set_item(intern!(py, "credits"), py.None())?,
        }
        Ok(d)
    }
}

#[pymethods]
impl Meter {
    #[new]
    #[pyo3(signature = (limits = None, credits = None, max_subjects = None))]
    fn new(
        py: Python<'_>,
        limits: Option<&Bound<'_, PyAny>>,
        credits: Option<&Bound<'_, PyAny>>,
        max_subjects: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut items = Vec::new();
            if let Some(obj) = limits.filter(|l| !l.is_none()) {
                if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyDict>() {
                    return Err(type_error("limits", "a list of dicts", obj).into());
                }
                let iter = obj
                    .try_iter()
                    .map_err(|_| type_error("limits", "a list of dicts", obj))?;
                for (i, item) in iter.enumerate() {
                    items.push(limit(&item?, i)?);
                }
            }
            let options = MeterOptions {
                limits: items,
                credits: credits
                    .filter(|c| !c.is_none())
                    .map(self::credits)
                    .transpose()?,
                // Out of range becomes 0, which the core refuses.
                max_subjects: opt_int(
                    max_subjects.filter(|m| !m.is_none()).cloned(),
                    "max_subjects",
                    0,
                )?,
            };
            let meter = options.build()?;
            let names = meter
                .spec()
                .limits
                .iter()
                .map(|(name, _)| PyString::new(py, name).unbind())
                .collect();
            Ok(Meter {
                inner: Mutex::new(meter),
                names,
            })
        })
    }

    /// Checks `cost` for `subject` at `now_ms` (default: the wall clock) against every
    /// limit and the credits, and spends it on all of them when all allow it, unless
    /// `dry_run`.
    #[pyo3(
        signature = (subject, cost = None, *, dry_run = false, now_ms = None),
        text_signature = "($self, subject, cost=1, *, dry_run=False, now_ms=None)"
    )]
    fn check<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        cost: Option<&Bound<'py, PyAny>>,
        dry_run: bool,
        now_ms: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let subject = text(subject, "subject")?;
            let cost = match cost {
                None => 1,
                Some(c) => per_call(c, "cost")?,
            };
            let now = self::now_ms(now_ms)?;
            let a = self.lock().check(&subject, now, cost, dry_run)?;
            Ok(self.answer(py, &a)?)
        })
    }

    /// Adds `amount` credits to `subject` (not limited by the refill cap); returns the
    /// balance.
    #[pyo3(signature = (subject, amount, *, now_ms = None))]
    fn add_credits(
        &self,
        py: Python<'_>,
        subject: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
        now_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        guard(py, || {
            let subject = text(subject, "subject")?;
            let amount = per_call(amount, "amount")?;
            let now = self::now_ms(now_ms)?;
            Ok(self.lock().add_credits(&subject, now, amount)?)
        })
    }

    fn __len__(&self) -> usize {
        self.lock().len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let names: Vec<String> = self
            .names
            .iter()
            .map(|n| q(&n.bind(py).to_string()))
            .collect();
        let m = self.lock();
        format!(
            "Meter(limits=({}), credits={}, subjects={})",
            tuple_body(&names),
            if m.spec().credits.is_some() {
                "True"
            } else {
                "False"
            },
            m.len()
        )
    }
}

/// Adds `Meter` to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Meter>()
}
