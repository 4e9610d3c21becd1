//! The `meter` vectors' input, run through the core's [`Meter`]: a meter configuration
//! and a list of steps (checks and credit additions, each at its own `now_ms`), answered
//! step by step.

use keyseal::meter::{CreditDecision, LimitDecision, Meter, MeterSpec, Verdict};
use keyseal::{Credits, Error, RateLimit, Refill};
use serde_json::{Value, json};

fn u(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("meter vector field {field:?} must be a non-negative integer"))
}

fn opt_u(v: &Value, field: &str) -> Option<u64> {
    v.get(field).filter(|x| !x.is_null()).map(|_| u(v, field))
}

/// The meter spec of a vector: `{limits: [{name, limit, window_ms}], credits: {remaining,
/// refill: {amount, interval, day, cap} | null} | null, max_subjects}`.
pub fn spec(v: &Value) -> Result<MeterSpec, Error> {
    let mut limits = Vec::new();
    for l in v["limits"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = l["name"].as_str().expect("limit name").to_owned();
        limits.push((name, RateLimit::new(u(l, "limit"), u(l, "window_ms"))?));
    }
    let credits = match v.get("credits").filter(|c| !c.is_null()) {
        None => None,
        Some(c) => {
            let refill = match c.get("refill").filter(|r| !r.is_null()) {
                None => None,
                Some(r) => Some(Refill::from_parts(
                    u(r, "amount"),
                    r["interval"].as_str().expect("refill interval"),
                    opt_u(r, "day"),
                    opt_u(r, "cap"),
                )?),
            };
            Some((u(c, "remaining"), Credits::new(refill)))
        }
    };
    Ok(MeterSpec {
        limits,
        credits,
        max_subjects: opt_u(v, "max_subjects").map(|n| n as usize),
    })
}

fn ms(v: Option<u64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// One limit's answer as the vectors spell it.
pub fn limit_json(name: &str, d: &LimitDecision) -> Value {
    json!({
        "name": name,
        "allowed": d.allowed,
        "limit": d.limit,
        "remaining": d.remaining,
        "reset_ms": d.reset_ms,
        "retry_after_ms": ms(d.retry_after_ms),
    })
}

/// The credits' answer as the vectors spell it.
pub fn credits_json(d: &CreditDecision) -> Value {
    json!({
        "allowed": d.allowed,
        "remaining": d.remaining,
        "refill_at_ms": ms(d.refill_at_ms),
    })
}

fn verdict_json(v: &Verdict) -> (Value, Value, Value) {
    (
        Value::Bool(v.allowed),
        v.code.map_or(Value::Null, |c| Value::from(c.as_str())),
        ms(v.retry_after_ms),
    )
}

/// Runs the steps; each answers `{allowed, code, retry_after_ms, limits, credits}` (a
/// check) or `{remaining}` (an `add_credits` step). A step that fails stops the run with
/// its error.
pub fn run(input: &Value) -> Result<Value, Error> {
    let mut meter = Meter::new(spec(&input["meter"])?)?;
    let names: Vec<String> = meter.spec().limits.iter().map(|(n, _)| n.clone()).collect();
    let mut out = Vec::new();
    for step in input["steps"].as_array().expect("steps") {
        let subject = step["subject"].as_str().expect("subject");
        let now = u(step, "now_ms");
        if let Some(amount) = opt_u(step, "add_credits") {
            out.push(json!({ "remaining": meter.add_credits(subject, now, amount)? }));
            continue;
        }
        let cost = opt_u(step, "cost").unwrap_or(1);
        let dry = step["dry_run"].as_bool().unwrap_or(false);
        let a = meter.check(subject, now, cost, dry)?;
        let (allowed, code, retry) = verdict_json(&a.verdict);
        out.push(json!({
            "allowed": allowed,
            "code": code,
            "retry_after_ms": retry,
            "limits": names.iter().zip(&a.limits).map(|(n, d)| limit_json(n, d)).collect::<Vec<_>>(),
            "credits": a.credits.as_ref().map_or(Value::Null, credits_json),
        }));
    }
    Ok(Value::Array(out))
}
