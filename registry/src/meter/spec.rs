//! A key's metering as the API and the database spell it ([`LimitSpec`], [`CreditSpec`],
//! [`RefillSpec`]), and the core rules built from it ([`Rules`]). Every value rule is the
//! core's (`keyseal::meter`); the names' rules are here.

use keyseal::meter::{Credits, RateLimit, Refill};
use keyseal::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

/// At most this many named limits per key.
pub const MAX_LIMITS: usize = 8;

/// A named rate limit: at most `limit` units of cost per `window_ms` milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    /// 1-64 characters of `[A-Za-z0-9_-]`, unique per key.
    pub name: String,
    /// Units of cost per window, 0 to 2^53-1.
    pub limit: u64,
    /// The window in milliseconds, 1 ms to 366 days.
    pub window_ms: u64,
}

/// When and how much credits refill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefillSpec {
    /// Credits added per refill.
    pub amount: u64,
    /// `daily` (midnight UTC) or `monthly` (midnight UTC of `day`).
    pub interval: String,
    /// The day of the month of a monthly refill (1-31, clamped to the month's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u64>,
    /// Refills stop at this balance. Defaults to `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u64>,
}

/// A key's credits: the refill rule, and (on input, and in answers that read it) the
/// balance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditSpec {
    /// The balance: on create the starting balance (default 0), on update a new balance
    /// (absent: unchanged). Not part of the stored rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// The refill, if any.
    #[serde(default)]
    pub refill: Option<RefillSpec>,
}

/// What the database column `keys.meter` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMeter {
    #[serde(default)]
    pub(crate) limits: Vec<LimitSpec>,
    #[serde(default)]
    pub(crate) credits: Option<CreditSpec>,
}

/// The core rules of a key's metering.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Named limits, in the key's order.
    pub limits: Vec<(String, RateLimit)>,
    /// The credits rule, when the key has credits.
    pub credits: Option<Credits>,
}

impl Rules {
    /// True when nothing is metered.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.credits.is_none()
    }
}

fn invalid(detail: &'static str) -> Error {
    Error::registry(ErrorCode::InvalidArgument, detail)
}

/// The error of a value the core refuses: a key's field, so `invalid_argument`.
fn out_of_range(_: Error) -> Error {
    invalid(
        "a limit or credits value is out of range: limit 0 to 2^53-1, window_ms 1 to 31622400000, \
         refill amount 1 to 2^53-1, interval daily or monthly with day 1-31, cap at least the amount",
    )
}

/// A limit's phase for `subject`: where its windows start within the window, the same on
/// every instance (FNV-1a of the subject and the limit's name), so that many keys' windows
/// do not all roll over at the same instant (and ask the database for new leases at once).
fn phase(subject: &str, name: &str, window_ms: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in subject.bytes().chain([0]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % window_ms
}

/// [`rules`] for `subject`: each limit with the subject's phase (see [`phase`]).
pub fn rules_for(
    subject: &str,
    limits: &[LimitSpec],
    credits: Option<&CreditSpec>,
) -> Result<Rules, Error> {
    let mut r = rules(limits, credits)?;
    for (name, l) in &mut r.limits {
        *l = l.with_phase(phase(subject, name, l.window_ms()));
    }
    Ok(r)
}

/// Builds the core's rules, checking names (1-64 of `[A-Za-z0-9_-]`, unique, at most
/// [`MAX_LIMITS`]) here and every value with the core's constructors; any failure is
/// `invalid_argument`.
pub fn rules(limits: &[LimitSpec], credits: Option<&CreditSpec>) -> Result<Rules, Error> {
    rules_of(limits, credits).map_err(|e| match e.error_code() {
        ErrorCode::InvalidArgument => e,
        _ => out_of_range(e),
    })
}

fn rules_of(limits: &[LimitSpec], credits: Option<&CreditSpec>) -> Result<Rules, Error> {
    if limits.len() > MAX_LIMITS {
        return Err(invalid("a key has at most 8 limits"));
    }
    let mut out = Vec::with_capacity(limits.len());
    for (i, l) in limits.iter().enumerate() {
        let ok = (1..=64).contains(&l.name.len())
            && l.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(invalid(
                "a limit name is 1-64 characters of letters, digits, '-' and '_'",
            ));
        }
        if limits[..i].iter().any(|o| o.name == l.name) {
            return Err(invalid("limit names are unique within a key"));
        }
        out.push((l.name.clone(), RateLimit::new(l.limit, l.window_ms)?));
    }
    let credits = match credits {
        None => None,
        Some(c) => {
            if let Some(r) = c.remaining {
                keyseal::meter::CreditState::new(r, 0)?;
            }
            let refill = match &c.refill {
                None => None,
                Some(r) => Some(Refill::from_parts(r.amount, &r.interval, r.day, r.cap)?),
            };
            Some(Credits::new(refill))
        }
    };
    Ok(Rules {
        limits: out,
        credits,
    })
}

/// The `keys.meter` column of a key: `None` when nothing is metered. The balance is not
/// part of it.
pub(crate) fn to_column(
    limits: &[LimitSpec],
    credits: Option<&CreditSpec>,
) -> Result<Option<String>, Error> {
    if limits.is_empty() && credits.is_none() {
        return Ok(None);
    }
    let stored = StoredMeter {
        limits: limits.to_vec(),
        credits: credits.map(|c| CreditSpec {
            remaining: None,
            refill: c.refill.clone(),
        }),
    };
    serde_json::to_string(&stored)
        .map(Some)
        .map_err(|_| Error::Internal {
            detail: "a key's metering did not serialize",
        })
}

/// Reads the `keys.meter` column.
pub(crate) fn from_column(text: Option<&str>) -> Result<StoredMeter, Error> {
    match text {
        None | Some("") => Ok(StoredMeter::default()),
        Some(t) => serde_json::from_str(t).map_err(|_| Error::Internal {
            detail: "a key row holds metering json that does not parse",
        }),
    }
}
