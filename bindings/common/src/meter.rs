//! The bindings' in-process `Meter`: its options as every binding receives them, built
//! into the core's [`MeterSpec`] by one function ([`MeterOptions::build`]); the numbers a
//! host passes per call ([`amount`], [`amount_from_f64`]); and for both JS backends the
//! options JSON read into [`MeterOptions`] and the answer written as JSON text
//! ([`JsMeter`]).
//!
//! Every rule about the values (ranges, refill days, unique names) is the core's: here a
//! value is only read, and a wrong shape becomes one `invalid_config` error.

use core::fmt::Write as _;

use keyseal::meter::{CreditDecision, LimitDecision, MAX_AMOUNT, MeterAnswer};
use keyseal::{Credits, Error, Meter, MeterSpec, RateLimit, Refill, Result};

use crate::js::Fields;

/// One named limit: `limit` units of cost per `window_ms`.
#[derive(Debug)]
pub struct LimitOptions {
    /// 1 to 64 characters, unique within the meter.
    pub name: String,
    /// 0 to 2^53-1.
    pub limit: u64,
    /// 1 ms to 366 days.
    pub window_ms: u64,
}

/// A refill of credits.
#[derive(Debug)]
pub struct RefillOptions {
    /// Credits per refill, 1 to 2^53-1.
    pub amount: u64,
    /// `"daily"` or `"monthly"`.
    pub interval: String,
    /// The day of the month of a monthly refill (1 to 31); none for a daily one.
    pub day: Option<u64>,
    /// The balance refills stop at. Defaults to `amount`.
    pub cap: Option<u64>,
}

/// The credits every new subject starts with, and their refill.
#[derive(Debug)]
pub struct CreditOptions {
    /// The starting balance, 0 to 2^53-1.
    pub remaining: u64,
    /// Never refilled when `None`.
    pub refill: Option<RefillOptions>,
}

/// A meter's options. `max_subjects` defaults to the core's
/// [`DEFAULT_MAX_SUBJECTS`](keyseal::meter::DEFAULT_MAX_SUBJECTS).
#[derive(Debug, Default)]
pub struct MeterOptions {
    /// Named limits, all applied to every request.
    pub limits: Vec<LimitOptions>,
    /// Credits, or none.
    pub credits: Option<CreditOptions>,
    /// Subjects held at once.
    pub max_subjects: Option<u64>,
}

impl MeterOptions {
    /// The core's [`MeterSpec`], every value checked by the core's constructors.
    pub fn spec(self) -> Result<MeterSpec> {
        let mut limits = Vec::with_capacity(self.limits.len());
        for l in self.limits {
            limits.push((l.name, RateLimit::new(l.limit, l.window_ms)?));
        }
        let credits = match self.credits {
            None => None,
            Some(c) => {
                let refill = match c.refill {
                    None => None,
                    Some(r) => Some(Refill::from_parts(r.amount, &r.interval, r.day, r.cap)?),
                };
                Some((c.remaining, Credits::new(refill)))
            }
        };
        let max_subjects = match self.max_subjects {
            None => None,
            Some(n) => Some(usize::try_from(n).map_err(|_| Error::InvalidConfig {
                setting: "max_subjects",
                expected: "a number of subjects this platform can address",
            })?),
        };
        Ok(MeterSpec {
            limits,
            credits,
            max_subjects,
        })
    }

    /// The core's [`Meter`].
    pub fn build(self) -> Result<Meter> {
        Meter::new(self.spec()?)
    }
}

/// What a per-call number must be: an integer from 0 to 2^53-1.
const AMOUNT: &str = "an integer from 0 to 2^53-1";

/// A per-call number (`cost`, `now_ms`, an amount of credits) a host read as an unsigned
/// integer, or `None` when it was out of that range (negative, beyond 64 bits): accepted
/// from 0 to 2^53-1, the range every runtime holds exactly.
pub fn amount(setting: &'static str, v: Option<u64>) -> Result<u64> {
    match v {
        Some(n) if n <= MAX_AMOUNT => Ok(n),
        _ => Err(Error::InvalidConfig {
            setting,
            expected: AMOUNT,
        }),
    }
}

/// [`amount`] from a JS number: NaN, infinities, fractions and negatives are refused.
pub fn amount_from_f64(setting: &'static str, v: f64) -> Result<u64> {
    // Every integer up to 2^53-1 is exact in an f64, so the comparison is exact too.
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_AMOUNT as f64;
    if v.is_finite() && v >= 0.0 && v <= max && v.fract() == 0.0 {
        // In range and integral: the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(v as u64)
    } else {
        Err(Error::InvalidConfig {
            setting,
            expected: AMOUNT,
        })
    }
}

/// The shape the JS options must have, for the one error of a wrong shape.
const JS_SHAPE: &str = "{limits?: [{name: string, limit: integer, windowMs: integer}], credits?: {remaining: integer, refill?: {amount: integer, interval: \"daily\" | \"monthly\", day?: integer, cap?: integer} | null} | null, maxSubjects?: integer}";

/// `Fields` of a nested object.
fn nested(v: serde_json::Value, allowed: &[&str]) -> Option<Fields> {
    match v {
        serde_json::Value::Object(map) => Fields::from_map(map, allowed),
        _ => None,
    }
}

fn js_limit(v: serde_json::Value) -> Option<LimitOptions> {
    let mut f = nested(v, &["name", "limit", "windowMs"])?;
    Some(LimitOptions {
        name: f.req_str("name")?,
        limit: f.opt_u64("limit")??,
        window_ms: f.opt_u64("windowMs")??,
    })
}

fn js_refill(v: serde_json::Value) -> Option<RefillOptions> {
    let mut f = nested(v, &["amount", "interval", "day", "cap"])?;
    Some(RefillOptions {
        amount: f.opt_u64("amount")??,
        interval: f.req_str("interval")?,
        day: f.opt_u64("day")?,
        cap: f.opt_u64("cap")?,
    })
}

fn js_credits(v: serde_json::Value) -> Option<CreditOptions> {
    let mut f = nested(v, &["remaining", "refill"])?;
    Some(CreditOptions {
        remaining: f.opt_u64("remaining")??,
        refill: match f.opt("refill") {
            None => None,
            Some(r) => Some(js_refill(r)?),
        },
    })
}

fn js_options(json: &str) -> Option<MeterOptions> {
    let mut f = Fields::parse(json, &["limits", "credits", "maxSubjects"])?;
    let limits = match f.list("limits")? {
        None => Vec::new(),
        Some(items) => items.into_iter().map(js_limit).collect::<Option<_>>()?,
    };
    Some(MeterOptions {
        limits,
        credits: match f.opt("credits") {
            None => None,
            Some(c) => Some(js_credits(c)?),
        },
        max_subjects: f.opt_u64("maxSubjects")?,
    })
}

/// [`MeterOptions`] from the JS options JSON; a wrong shape (an unknown name, a missing
/// field, a value of the wrong type, a fraction or a negative number) is one
/// `invalid_config` error naming the expected shape.
pub fn meter_options_from_json(json: &str) -> Result<MeterOptions> {
    js_options(json).ok_or(Error::InvalidConfig {
        setting: "meter options",
        expected: JS_SHAPE,
    })
}

/// A meter for the JS backends: the core's [`Meter`], the limits' names already quoted
/// as JSON, and the buffer each answer is written into.
#[derive(Debug)]
pub struct JsMeter {
    meter: Meter,
    names: Vec<String>,
    out: String,
}

fn push_ms(out: &mut String, v: Option<u64>) {
    match v {
        // Writing into a String cannot fail.
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

fn push_limit(out: &mut String, name: &str, d: &LimitDecision) {
    out.push_str("{\"name\":");
    out.push_str(name);
    let _ = write!(
        out,
        ",\"allowed\":{},\"limit\":{},\"remaining\":{},\"resetMs\":{},\"retryAfterMs\":",
        d.allowed, d.limit, d.remaining, d.reset_ms
    );
    push_ms(out, d.retry_after_ms);
    out.push('}');
}

fn push_credits(out: &mut String, d: &CreditDecision) {
    let _ = write!(
        out,
        "{{\"allowed\":{},\"remaining\":{},\"refillAtMs\":",
        d.allowed, d.remaining
    );
    push_ms(out, d.refill_at_ms);
    out.push('}');
}

impl JsMeter {
    /// A meter from the JS options JSON.
    pub fn new(json: &str) -> Result<JsMeter> {
        let meter = meter_options_from_json(json)?.build()?;
        let names = meter
            .spec()
            .limits
            .iter()
            .map(|(name, _)| serde_json::to_string(name))
            .collect::<core::result::Result<_, _>>()
            .map_err(|_| Error::Internal {
                detail: "a limit name did not serialize",
            })?;
        Ok(JsMeter {
            meter,
            names,
            out: String::new(),
        })
    }

    /// `meter.check(subject, {cost, dryRun, nowMs})`: the answer as JSON text, `{allowed,
    /// code, retryAfterMs, limits: [{name, allowed, limit, remaining, resetMs,
    /// retryAfterMs}], credits: {allowed, remaining, refillAtMs} | null}`.
    pub fn check(&mut self, subject: &str, now_ms: f64, cost: f64, dry_run: bool) -> Result<&str> {
        let now_ms = amount_from_f64("nowMs", now_ms)?;
        let cost = amount_from_f64("cost", cost)?;
        let a = self.meter.check(subject, now_ms, cost, dry_run)?;
        write_answer(&mut self.out, &self.names, &a);
        Ok(&self.out)
    }

    /// `meter.addCredits(subject, amount, {nowMs})`: the balance after.
    pub fn add_credits(&mut self, subject: &str, now_ms: f64, amount: f64) -> Result<f64> {
        let now_ms = amount_from_f64("nowMs", now_ms)?;
        let amount = amount_from_f64("amount", amount)?;
        let balance = self.meter.add_credits(subject, now_ms, amount)?;
        // A balance is at most 2^53-1: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        Ok(balance as f64)
    }

    /// The number of subjects held.
    pub fn size(&self) -> f64 {
        // A count of subjects in memory: far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let n = self.meter.len() as f64;
        n
    }
}

/// Writes `a` into `out` (cleared first) as the JS answer; `names` are the limits' names
/// quoted as JSON, in the spec's order.
pub fn write_answer(out: &mut String, names: &[String], a: &MeterAnswer) {
    out.clear();
    let v = &a.verdict;
    let _ = write!(out, "{{\"allowed\":{},\"code\":", v.allowed);
    match v.code {
        // Codes are snake_case ASCII: no escaping needed.
        Some(c) => {
            out.push('"');
            out.push_str(c.as_str());
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"retryAfterMs\":");
    push_ms(out, v.retry_after_ms);
    out.push_str(",\"limits\":[");
    for (i, (name, d)) in names.iter().zip(&a.limits).enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_limit(out, name, d);
    }
    out.push_str("],\"credits\":");
    match &a.credits {
        Some(d) => push_credits(out, d),
        None => out.push_str("null"),
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn code(r: Result<impl core::fmt::Debug>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn options_json_builds_a_meter_and_answers_in_camel_case() {
        let mut m = JsMeter::new(
            r#"{"limits":[{"name":"per \"min\"","limit":2,"windowMs":60000}],"credits":{"remaining":5,"refill":{"amount":5,"interval":"monthly","day":31,"cap":null}},"maxSubjects":null}"#,
        )
        .unwrap();
        let a: serde_json::Value =
            serde_json::from_str(m.check("k", 1_000.0, 2.0, false).unwrap()).unwrap();
        assert_eq!(
            a,
            serde_json::json!({
                "allowed": true, "code": null, "retryAfterMs": 0,
                "limits": [{"name": "per \"min\"", "allowed": true, "limit": 2, "remaining": 0, "resetMs": 60000, "retryAfterMs": 0}],
                "credits": {"allowed": true, "remaining": 3, "refillAtMs": 2_592_000_000_u64},
            })
        );
        let a: serde_json::Value =
            serde_json::from_str(m.check("k", 1_000.0, 1.0, false).unwrap()).unwrap();
        assert_eq!(a["code"], "rate_limited");
        assert_eq!(m.add_credits("k", 1_000.0, 4.0).unwrap(), 7.0);
        assert_eq!(m.size(), 1.0);
    }

    #[test]
    fn wrong_shapes_are_one_invalid_config() {
        for json in [
            "",
            "[]",
            r#"{"limit":[]}"#,
            r#"{"limits":null}"#,
            r#"{"limits":[{"name":"a","limit":1}]}"#,
            r#"{"limits":[{"name":"a","limit":1,"window_ms":1}]}"#,
            r#"{"limits":[{"name":"a","limit":1.5,"windowMs":1}]}"#,
            r#"{"limits":[{"name":"a","limit":-1,"windowMs":1}]}"#,
            r#"{"limits":[{"name":1,"limit":1,"windowMs":1}]}"#,
            r#"{"credits":{"remaining":"1"}}"#,
            r#"{"credits":{"remaining":1,"refill":{"amount":1}}}"#,
            r#"{"credits":{"remaining":1,"refill":{"amount":1,"interval":"daily","when":1}}}"#,
            r#"{"maxSubjects":"NaN"}"#,
        ] {
            let e = JsMeter::new(json).unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{json}");
            assert!(e.to_string().contains("windowMs"), "{json}: {e}");
        }
        // Value rules are the core's.
        assert_eq!(
            code(JsMeter::new(
                r#"{"limits":[{"name":"a","limit":1,"windowMs":0}]}"#
            )),
            "invalid_config"
        );
        assert!(JsMeter::new("{}").is_ok());
        assert!(JsMeter::new(r#"{"credits":null}"#).is_ok());
    }

    #[test]
    fn numbers_from_js_are_integers_from_0_to_2_53_minus_1() {
        let mut m = JsMeter::new(r#"{"limits":[{"name":"a","limit":5,"windowMs":1000}]}"#).unwrap();
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -1.0,
            0.5,
            9_007_199_254_740_992.0,
            1e300,
        ] {
            assert_eq!(code(m.check("s", bad, 1.0, false)), "invalid_config");
            assert_eq!(code(m.check("s", 0.0, bad, false)), "invalid_config");
        }
        assert!(m.check("s", 9_007_199_254_740_991.0, 0.0, false).is_ok());
        assert!(m.check("s", -0.0, 1.0, true).is_ok());
        assert_eq!(code(m.add_credits("s", 0.0, 1.0)), "invalid_config");
        assert_eq!(amount("cost", None).unwrap_err().code(), "invalid_config");
        assert_eq!(
            amount("cost", Some(MAX_AMOUNT + 1)).unwrap_err().code(),
            "invalid_config"
        );
    }
}
