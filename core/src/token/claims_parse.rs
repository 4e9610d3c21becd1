//! The reference reader of a claims object: plain serde_json with keyseal's claim rules
//! ([`super::claim`]). It is what the fast reader in `claims_parse_fast.rs` (an
//! optimisation of this one) is tested and fuzzed against
//! (`fuzz/fuzz_targets/claims_differential.rs`), and that reader's fallback for payloads
//! that are not UTF-8.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::claim::expected::{self, AUDIENCE, DATE, NUMBER_RANGE, STRING as STR};
use super::claim::{
    Claim, claim_present, f64_in_claim_range, i64_in_claim_range, numeric_date_from_f64,
    u64_in_claim_range,
};
use super::claims::{Audience, Claims};
use super::header::{JsonStr, read_object};
use crate::error::{Error, Result};

/// What went wrong while reading one claim, recorded beside serde's error.
#[derive(Clone, Copy)]
struct ClaimFault {
    claim: &'static str,
    expected: &'static str,
}

/// A NumericDate: an integer, or a finite number rounded down (RFC 7519 section 2).
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> core::result::Result<NumericDate, E> {
                if i64_in_claim_range(v) {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> core::result::Result<NumericDate, E> {
                if u64_in_claim_range(v) {
                    Ok(NumericDate(v as i64))
                } else {
                    Err(E::custom("numeric date out of range"))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> core::result::Result<NumericDate, E> {
                // Within +-(2^53 - 1) (RFC 7493 section 2.2), like every number in claims.
                numeric_date_from_f64(v)
                    .map(NumericDate)
                    .ok_or_else(|| E::custom("numeric date out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `aud` value: a string or an array of strings.
struct AudValue(Audience);

impl<'de> Deserialize<'de> for AudValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AudValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<AudValue, E> {
                Ok(AudValue(Audience::One(String::from(v))))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<AudValue, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(AudValue(Audience::Many(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The plain serde_json reading of a claims object: the reference the fast reader in
/// `claims_parse_fast.rs` is fuzzed against, and its fallback for payloads that are not UTF-8 (so the
/// error reported is the one a full parser finds first).
/// An extra claim's value read as serde_json reads it into a [`Value`], noting (not
/// failing on) every number beyond ±`MAX_SAFE_INTEGER` as it is read. Noted as read, not
/// checked on the finished `Value`: a key repeated inside an object keeps only its last
/// value there, while the fast reader checks every number of the text, so a number a
/// later duplicate replaced counts in both.
struct RangeNoted<'c> {
    out_of_range: &'c Cell<bool>,
}

impl<'de> de::DeserializeSeed<'de> for RangeNoted<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> core::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RangeNoted<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> core::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> core::result::Result<Value, E> {
        if !i64_in_claim_range(v) {
            self.out_of_range.set(true);
        }
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> core::result::Result<Value, E> {
        if !u64_in_claim_range(v) {
            self.out_of_range.set(true);
        }
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> core::result::Result<Value, E> {
        if !f64_in_claim_range(v) {
            self.out_of_range.set(true);
        }
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> core::result::Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }
    fn visit_string<E>(self, v: String) -> core::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> core::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(RangeNoted {
            out_of_range: self.out_of_range,
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<Value, A::Error> {
        let mut m = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(RangeNoted {
                out_of_range: self.out_of_range,
            })?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

pub(crate) fn parse_claims_reference(bytes: &[u8]) -> Result<Claims> {
    struct ClaimsVisitor<'c> {
        fault: &'c Cell<Option<ClaimFault>>,
    }

    impl ClaimsVisitor<'_> {
        /// Reads one registered claim's value, noting which claim failed and why.
        fn value<'de, A, T>(
            &self,
            map: &mut A,
            slot_taken: bool,
            claim: &'static str,
            expected: &'static str,
        ) -> core::result::Result<T, A::Error>
        where
            A: MapAccess<'de>,
            T: Deserialize<'de>,
        {
            if slot_taken {
                self.fault.set(Some(ClaimFault {
                    claim,
                    expected: expected::SINGLE,
                }));
                return Err(de::Error::custom("duplicate claim"));
            }
            self.fault.set(Some(ClaimFault { claim, expected }));
            let v = map.next_value::<T>()?;
            self.fault.set(None);
            Ok(v)
        }
    }

    impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
        type Value = Claims;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JWT claims object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> core::result::Result<Claims, A::Error> {
            let mut c = Claims::default();
            let mut aud_seen = false;
            while let Some(name) = map.next_key::<JsonStr<'de>>()? {
                let Some(claim) = Claim::from_name(name.as_str()) else {
                    let out_of_range = Cell::new(false);
                    let value = map.next_value_seed(RangeNoted {
                        out_of_range: &out_of_range,
                    })?;
                    // Checked once the whole value has been read, as the fast reader
                    // does, so a syntax error later in the value wins in both.
                    if out_of_range.get() {
                        self.fault.set(Some(ClaimFault {
                            claim: "extra",
                            expected: NUMBER_RANGE,
                        }));
                        return Err(de::Error::custom("number out of range"));
                    }
                    if c.extra.insert(String::from(name.as_str()), value).is_some() {
                        self.fault.set(Some(ClaimFault {
                            claim: "extra",
                            expected: expected::SINGLE_EXTRA,
                        }));
                        return Err(de::Error::custom("duplicate claim"));
                    }
                    continue;
                };
                // The names, and which claims are already present, come from the claim
                // table (`claim.rs`), as in the fast reader.
                let taken = claim_present!(c, claim, aud: aud_seen);
                let n = claim.as_str();
                match claim {
                    Claim::Iss => c.iss = Some(self.value(&mut map, taken, n, STR)?),
                    Claim::Sub => c.sub = Some(self.value(&mut map, taken, n, STR)?),
                    Claim::Aud => {
                        let v: AudValue = self.value(&mut map, taken, n, AUDIENCE)?;
                        aud_seen = true;
                        c.aud = v.0;
                    }
                    Claim::Exp => {
                        c.exp = Some(self.value::<_, NumericDate>(&mut map, taken, n, DATE)?.0)
                    }
                    Claim::Nbf => {
                        c.nbf = Some(self.value::<_, NumericDate>(&mut map, taken, n, DATE)?.0)
                    }
                    Claim::Iat => {
                        c.iat = Some(self.value::<_, NumericDate>(&mut map, taken, n, DATE)?.0)
                    }
                    Claim::Jti => c.jti = Some(self.value(&mut map, taken, n, STR)?),
                    Claim::Scope => c.scope = Some(self.value(&mut map, taken, n, STR)?),
                    Claim::Role => c.role = Some(self.value(&mut map, taken, n, STR)?),
                }
            }
            Ok(c)
        }
    }

    let fault = Cell::new(None);
    let parsed = read_object(bytes, ClaimsVisitor { fault: &fault });
    match parsed {
        Ok(c) => Ok(c),
        Err(e) => match (e.classify(), fault.get()) {
            (serde_json::error::Category::Data, Some(f)) => Err(Error::InvalidClaim {
                claim: f.claim,
                expected: f.expected,
            }),
            _ => Err(Error::InvalidJson { segment: "payload" }),
        },
    }
}
