//! The metering headers of an answer: `RateLimit-Policy` and `RateLimit` from the IETF
//! httpapi draft "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers),
//! one item per applied limit, and on a refusal the status 429 with `Retry-After` (RFC 6585
//! section 4, RFC 9110 section 10.2.3).
//!
//! `RateLimit-Policy: "per_minute";q=5;w=60` names each limit with its quota `q` and window
//! `w` in seconds; `RateLimit: "per_minute";r=0;t=42` gives what remains `r` and the
//! seconds `t` until the current window ends. The owner's shared limits are named
//! `owner.<name>`. Credits are not a window: they are in the
//! body's `meter.credits` only.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use keyseal_registry::meter::{LimitReport, MeterReport, Scope};

/// Writes the item name of a limit, quoted: its name, or `owner.<name>` for its owner's.
fn item(out: &mut String, l: &LimitReport) {
    out.push('"');
    if l.scope == Scope::Owner {
        out.push_str("owner.");
    }
    out.push_str(&l.name);
    out.push('"');
}

/// Seconds, rounded up.
fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// Adds the headers for `report` to `resp`; a `rate_limited` or `usage_exceeded` answer
/// becomes 429 with `Retry-After` when the wait is known.
pub fn apply(resp: &mut Response, report: &MeterReport, code: &str, now_ms: u64) {
    use std::fmt::Write as _;
    // One string per header for all the limits of the answer (the verify path).
    let (mut policy, mut state) = (String::new(), String::new());
    for (i, l) in report.limits.iter().enumerate() {
        if i > 0 {
            policy.push_str(", ");
            state.push_str(", ");
        }
        item(&mut policy, l);
        let _ = write!(policy, ";q={};w={}", l.limit, secs(l.window_ms));
        item(&mut state, l);
        let _ = write!(
            state,
            ";r={};t={}",
            l.remaining,
            secs(l.reset_ms.saturating_sub(now_ms))
        );
    }
    let h = resp.headers_mut();
    // Limit names are `[A-Za-z0-9_-]`, so both values are valid header text.
    if !policy.is_empty()
        && let (Ok(p), Ok(s)) = (HeaderValue::try_from(policy), HeaderValue::try_from(state))
    {
        h.insert("ratelimit-policy", p);
        h.insert("ratelimit", s);
    }
    if code == "rate_limited" || code == "usage_exceeded" {
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Some(ms) = report.retry_after_ms {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(secs(ms).max(1)),
            );
        }
    }
}
