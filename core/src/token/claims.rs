//! [`Claims`], the owned claims of a token, and their serializer: registered claims in
//! the order of [`Claim::ALL`], then extra claims sorted by name, so every runtime issues
//! the same bytes. Reading claims from JSON lives in `claims_parse_fast.rs`.

use alloc::string::String;
use alloc::vec::Vec;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::claim::{
    Claim, REGISTERED_CLAIMS, claim_present, expected, i64_in_claim_range, numbers_in_claim_range,
};
use crate::error::{Error, Result};

/// The `aud` claim: absent, one string, or an array of strings (RFC 7519 section 4.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// No `aud` claim.
    #[default]
    None,
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl Audience {
    /// True when there is no `aud` claim.
    pub fn is_none(&self) -> bool {
        matches!(self, Audience::None)
    }

    /// The audiences as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Audience::None => &[],
            Audience::One(a) => core::slice::from_ref(a),
            Audience::Many(v) => v,
        }
    }

    /// True when `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        self.as_slice().iter().any(|a| a == audience)
    }
}

/// The claims of a token: the registered ones plus any extra JSON claims.
///
/// Times are NumericDate seconds (RFC 7519 section 2); fractional values in received tokens
/// are rounded down. Every number, dates and extra claims alike, lies within
/// ±[`MAX_SAFE_INTEGER`](super::MAX_SAFE_INTEGER) (RFC 7493 section 2.2): [`Keyset::issue`](crate::Keyset::issue) refuses others with
/// `invalid_claim`, as verification does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    /// `iss`: who issued the token.
    pub iss: Option<String>,
    /// `sub`: whom the token is about (the key's owner for exchange tokens).
    pub sub: Option<String>,
    /// `aud`: who the token is for.
    pub aud: Audience,
    /// `exp`: expiry, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`: not before, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`: issued at, unix seconds.
    pub iat: Option<i64>,
    /// `jti`: unique token id.
    pub jti: Option<String>,
    /// `scope`: space-separated scopes (RFC 8693 section 4.2).
    pub scope: Option<String>,
    /// `role`: the key's role.
    pub role: Option<String>,
    /// Any other claims, sorted by name when serialized. Must not reuse a registered name.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// The claims as JSON, in issue order (see the module documentation).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|_| Error::Internal {
            detail: "claims did not serialize",
        })
    }

    /// The scopes of the `scope` claim, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    pub(super) fn has(&self, claim: Claim) -> bool {
        claim_present!(self, claim, aud: !self.aud.is_none())
    }

    /// Checks what [`Keyset::issue`](crate::Keyset::issue) requires: no extra claim reuses a registered name,
    /// and every number is within ±[`MAX_SAFE_INTEGER`](super::MAX_SAFE_INTEGER) (what verification accepts, so
    /// keyseal never issues a token it would refuse).
    pub(super) fn check_for_issue(&self) -> Result<()> {
        if REGISTERED_CLAIMS
            .iter()
            .any(|n| self.extra.contains_key(*n))
        {
            return Err(Error::InvalidClaim {
                claim: "extra",
                expected: expected::NOT_REGISTERED,
            });
        }
        for (claim, date) in [("exp", self.exp), ("nbf", self.nbf), ("iat", self.iat)] {
            if date.is_some_and(|t| !i64_in_claim_range(t)) {
                return Err(Error::InvalidClaim {
                    claim,
                    expected: expected::DATE,
                });
            }
        }
        if !self.extra.values().all(numbers_in_claim_range) {
            return Err(Error::InvalidClaim {
                claim: "extra",
                expected: expected::NUMBER_RANGE,
            });
        }
        Ok(())
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        entry(&mut map, "iss", &self.iss)?;
        entry(&mut map, "sub", &self.sub)?;
        match &self.aud {
            Audience::None => {}
            Audience::One(a) => map.serialize_entry("aud", a)?,
            Audience::Many(v) => map.serialize_entry("aud", v)?,
        }
        entry(&mut map, "exp", &self.exp)?;
        entry(&mut map, "nbf", &self.nbf)?;
        entry(&mut map, "iat", &self.iat)?;
        entry(&mut map, "jti", &self.jti)?;
        entry(&mut map, "scope", &self.scope)?;
        entry(&mut map, "role", &self.role)?;
        // Sorted explicitly: serde_json's map keeps insertion order when some crate in the
        // build enables `preserve_order`, and issued bytes must not depend on that.
        let mut extra: Vec<(&String, &Value)> = self.extra.iter().collect();
        extra.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (k, v) in extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Writes `name: value` when the claim is present; an absent claim is left out.
fn entry<M: SerializeMap, T: Serialize>(
    map: &mut M,
    name: &'static str,
    value: &Option<T>,
) -> core::result::Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(name, v),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::{Audience, Claims, REGISTERED_CLAIMS};
    use alloc::format;
    use alloc::string::String;
    use serde_json::Value;

    /// Issued claims come out in the order of the claim table, then extra claims by name.
    #[test]
    fn serializes_in_table_order() {
        let s = |v: &str| Some(String::from(v));
        let mut claims = Claims {
            iss: s("i"),
            sub: s("s"),
            aud: Audience::One(String::from("a")),
            exp: Some(3),
            nbf: Some(1),
            iat: Some(2),
            jti: s("j"),
            scope: s("read write"),
            role: s("r"),
            extra: serde_json::Map::new(),
        };
        claims.extra.insert(String::from("zz"), Value::from(1));
        claims.extra.insert(String::from("aa"), Value::from(2));
        let json = claims
            .to_json()
            .unwrap_or_else(|e| panic!("serialize: {e}"));
        let names = REGISTERED_CLAIMS.iter().copied().chain(["aa", "zz"]);
        let at: alloc::vec::Vec<usize> = names
            .map(|n| {
                json.find(&format!("\"{n}\":"))
                    .unwrap_or_else(|| panic!("{n} missing from {json}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
    }
}
