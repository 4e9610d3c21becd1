//! The registered claims keyseal knows (RFC 7519 section 4.1, plus `scope` from RFC 8693
//! section 4.2 and `role`) and the rules every reader and the issuer share: one home for
//! the claim list, the NumericDate rule and the texts `invalid_claim` reports.
//!
//! - The list: [`Claim`], [`Claim::ALL`] and [`REGISTERED_CLAIMS`] are generated from the
//!   one table below, in serialization order.
//! - NumericDate (RFC 7519 section 2): seconds since the epoch, an integer or a finite
//!   number rounded down, within ±[`MAX_SAFE_INTEGER`] (RFC 7493 section 2.2).
//! - [`expected`]: what `invalid_claim` says was expected, the same in both readers.

use serde_json::Value;

macro_rules! registered_claims {
    ($( $variant:ident => $name:literal, )*) => {
        /// A registered claim, for [`Validation::require`](crate::Validation::require).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Claim {
            $( #[doc = concat!("`", $name, "`")] $variant, )*
        }

        const COUNT: usize = [$( $name ),*].len();

        /// The registered claim names keyseal knows, in serialization order.
        pub const REGISTERED_CLAIMS: [&str; COUNT] = [$( $name ),*];

        impl Claim {
            /// All registered claims, in serialization order.
            pub const ALL: [Claim; COUNT] = [$( Claim::$variant ),*];
        }
    };
}

// The order is the serialization order of issued tokens (see the `token` module).
registered_claims! {
    Iss => "iss",
    Sub => "sub",
    Aud => "aud",
    Exp => "exp",
    Nbf => "nbf",
    Iat => "iat",
    Jti => "jti",
    Scope => "scope",
    Role => "role",
}

/// Whether a set of claims (owned [`Claims`](super::Claims) or borrowed
/// [`ClaimsRef`](super::ClaimsRef)) carries `claim`; `aud` is present when `aud` is true.
/// One match over the fields for both, so a claim is added in one place.
macro_rules! claim_present {
    ($claims:expr, $claim:expr, aud: $aud:expr) => {
        match $claim {
            Claim::Iss => $claims.iss.is_some(),
            Claim::Sub => $claims.sub.is_some(),
            Claim::Aud => $aud,
            Claim::Exp => $claims.exp.is_some(),
            Claim::Nbf => $claims.nbf.is_some(),
            Claim::Iat => $claims.iat.is_some(),
            Claim::Jti => $claims.jti.is_some(),
            Claim::Scope => $claims.scope.is_some(),
            Claim::Role => $claims.role.is_some(),
        }
    };
}
pub(crate) use claim_present;

impl Claim {
    /// The claim's name.
    pub const fn as_str(self) -> &'static str {
        REGISTERED_CLAIMS[self as usize]
    }

    /// Looks a registered claim up by name.
    pub fn from_name(name: &str) -> Option<Claim> {
        Claim::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The largest magnitude a number in a claims object may have: 2^53 - 1.
///
/// RFC 7493 (I-JSON) section 2.2: beyond ±(2^53 - 1) a receiver cannot be expected to keep
/// an integer exact, and runtimes disagree on what they make of it (an exact int in
/// Python, a rounded number in JavaScript, a float in a plain serde_json `Value`). So every
/// number in claims (NumericDates and any number nested in extra claims, in any notation,
/// `1e16` included) must lie within ±`MAX_SAFE_INTEGER`; anything larger is `invalid_claim`,
/// both when a token is verified and when claims are issued. Within the range every
/// runtime reads the same value.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// What `invalid_claim` says was expected. Both readers (the fast one and the serde
/// reference) and [`Keyset::issue`](crate::Keyset::issue) use these texts, so the same
/// fault reads the same everywhere.
pub(crate) mod expected {
    /// A registered string claim (`iss`, `sub`, `jti`, `scope`, `role`).
    pub(crate) const STRING: &str = "a string";
    /// The `aud` claim (RFC 7519 section 4.1.3).
    pub(crate) const AUDIENCE: &str = "a string or an array of strings";
    /// A NumericDate of the wrong type or beyond [`super::MAX_SAFE_INTEGER`].
    pub(crate) const DATE: &str = "a NumericDate (number of seconds) within +-(2^53 - 1)";
    /// A number in an extra claim beyond [`super::MAX_SAFE_INTEGER`].
    pub(crate) const NUMBER_RANGE: &str = "numbers within +-(2^53 - 1) (RFC 7493 section 2.2)";
    /// A registered claim that appears twice.
    pub(crate) const SINGLE: &str = "a single occurrence";
    /// An extra claim that appears twice.
    pub(crate) const SINGLE_EXTRA: &str = "a single occurrence of each claim";
    /// An extra claim named like a registered one, refused at issue.
    pub(crate) const NOT_REGISTERED: &str = "no registered claim name among the extra claims";
}

/// True when an integer is within ±[`MAX_SAFE_INTEGER`].
#[inline]
pub(crate) const fn i64_in_claim_range(v: i64) -> bool {
    v.unsigned_abs() <= MAX_SAFE_INTEGER as u64
}

/// True when an unsigned integer is within [`MAX_SAFE_INTEGER`].
#[inline]
pub(crate) const fn u64_in_claim_range(v: u64) -> bool {
    v <= MAX_SAFE_INTEGER as u64
}

/// True when a number read as an `f64` is within ±[`MAX_SAFE_INTEGER`].
#[inline]
pub(crate) fn f64_in_claim_range(v: f64) -> bool {
    // NaN is never produced by a JSON reader; it compares false and is refused anyway.
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_SAFE_INTEGER as f64;
    v.abs() <= max
}

/// The NumericDate (RFC 7519 section 2) a non-integer JSON number stands for: rounded
/// down, or `None` beyond ±[`MAX_SAFE_INTEGER`]. Integers are dates as they are, within
/// the same range ([`i64_in_claim_range`]).
#[inline]
pub(crate) fn numeric_date_from_f64(v: f64) -> Option<i64> {
    if f64_in_claim_range(v) {
        let t = v as i64;
        // `as` truncates toward zero; round down for negative fractions.
        Some(if (t as f64) > v { t - 1 } else { t })
    } else {
        None
    }
}

/// True when a JSON number (`i64`, `u64` or `f64` in a `Value`) is within
/// ±[`MAX_SAFE_INTEGER`].
fn number_in_claim_range(n: &serde_json::Number) -> bool {
    if let Some(i) = n.as_i64() {
        i64_in_claim_range(i)
    } else if let Some(u) = n.as_u64() {
        u64_in_claim_range(u)
    } else {
        n.as_f64().is_some_and(f64_in_claim_range)
    }
}

/// True when every number inside `v` (at any depth) is within ±[`MAX_SAFE_INTEGER`].
/// Iterative, so a deeply nested value cannot exhaust the stack.
pub(crate) fn numbers_in_claim_range(v: &Value) -> bool {
    let mut stack: alloc::vec::Vec<&Value> = alloc::vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if !number_in_claim_range(n) => return false,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    true
}
