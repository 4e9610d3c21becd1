//! The fast reader of JWT claims objects (RFC 8259 JSON): an optimisation of the serde
//! reference reader in `claims_parse.rs`, which it must agree with on every input.
//!
//! Registered claims are read in place: strings without escapes are copied straight out of
//! the payload and integers parsed directly, which is where a general JSON parser spends
//! most of a token's verification time. Anything unusual (escaped strings, fractional
//! dates, extra claims) is handed to `serde_json` for exactly that value, so the grammar
//! is still checked by a full parser. `fuzz/fuzz_targets/claims_differential.rs` checks
//! that this reader and the plain serde reader agree on every input.

use alloc::borrow::Cow;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::claim::expected::{self, AUDIENCE as AUD, DATE, NUMBER_RANGE, STRING as STR};
use super::claim::{
    Claim, MAX_SAFE_INTEGER, f64_in_claim_range, i64_in_claim_range, numeric_date_from_f64,
};
use super::claims::Claims;
use super::claims_parse::parse_claims_reference;
use super::claims_ref::{AudienceRef, ClaimsRef};
use crate::error::{Error, Result};

/// Deepest nesting accepted inside one extra claim (serde_json's limit is 128 for the
/// whole document, and the claims object itself is one level).
const MAX_DEPTH: usize = 127;

fn bad_json() -> Error {
    Error::InvalidJson { segment: "payload" }
}

fn bad_claim(claim: &'static str, expected: &'static str) -> Error {
    Error::InvalidClaim { claim, expected }
}

struct Reader<'a> {
    b: &'a [u8],
    /// The same bytes as text: the payload is checked as UTF-8 once, so string contents
    /// (delimited by ASCII quotes) are sliced out without further checks.
    text: &'a str,
    i: usize,
    /// Set by [`Reader::skip_value`] when a number beyond ±2^53 - 1 was skipped: the
    /// value is read to its end first (a syntax error after it wins, as in serde_json),
    /// then refused.
    out_of_range: bool,
}

/// True when any byte of `w` is `"`, `\\` or a control character (below 0x20).
#[inline]
fn special_in(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = has_zero(w ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20 (ASCII only: bytes >= 0x80 are masked off by `!w`).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

impl<'a> Reader<'a> {
    /// Skips whitespace; one comparison in the usual case of none.
    #[inline(always)]
    fn ws(&mut self) {
        if self.b.get(self.i).is_some_and(|&c| c > b' ') {
            return;
        }
        self.ws_slow();
    }

    fn ws_slow(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// After an array element or object member: skips whitespace and a `,` (then
    /// whitespace again) and returns `false`, or the closing `close` and returns `true`.
    #[inline]
    fn end_of_member(&mut self, close: u8) -> Result<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(bad_json()),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(bad_json())
        }
    }

    /// Scans a string starting at its opening quote; returns the raw span (quotes included)
    /// and whether it holds escapes. Control characters are rejected (RFC 8259 section 7).
    fn string_span(&mut self) -> Result<(usize, usize, bool)> {
        let start = self.i;
        self.eat(b'"')?;
        let mut escaped = false;
        loop {
            // Skip 8 ordinary bytes at a time (SWAR); the byte loop below handles the rest.
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let hits = special_in(u64::from_le_bytes(w));
                if hits == 0 {
                    self.i += 8;
                } else {
                    self.i += (hits.trailing_zeros() / 8) as usize;
                    break;
                }
            }
            let c = self.peek().ok_or_else(bad_json)?;
            self.i += 1;
            match c {
                b'"' => return Ok((start, self.i, escaped)),
                b'\\' => {
                    escaped = true;
                    // The escape's validity is checked by serde_json when the string is
                    // decoded; here it only must not end the string.
                    self.peek().ok_or_else(bad_json)?;
                    self.i += 1;
                }
                0..=0x1f => return Err(bad_json()),
                _ => {}
            }
        }
    }

    /// Reads a registered claim name, quotes included, when the next bytes are exactly one
    /// (no escapes); otherwise reads nothing and returns `None`.
    #[inline]
    fn registered_name(&mut self) -> Option<Claim> {
        const fn word(quoted: &[u8]) -> u64 {
            let mut w = 0u64;
            let mut i = 0;
            while i < quoted.len() {
                w |= (quoted[i] as u64) << (8 * i);
                i += 1;
            }
            w
        }
        const MASK5: u64 = (1 << 40) - 1;
        const MASK6: u64 = (1 << 48) - 1;
        const MASK7: u64 = (1 << 56) - 1;
        // Any registered name is followed by at least ':' and a value byte, so a member
        // that starts one has 8 bytes left; fewer means it is not one of these.
        let chunk = self.b.get(self.i..self.i + 8)?;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes);
        let (claim, len) = match w & MASK5 {
            x if x == word(b"\"iss\"") => (Claim::Iss, 5),
            x if x == word(b"\"sub\"") => (Claim::Sub, 5),
            x if x == word(b"\"aud\"") => (Claim::Aud, 5),
            x if x == word(b"\"exp\"") => (Claim::Exp, 5),
            x if x == word(b"\"nbf\"") => (Claim::Nbf, 5),
            x if x == word(b"\"iat\"") => (Claim::Iat, 5),
            x if x == word(b"\"jti\"") => (Claim::Jti, 5),
            _ if w & MASK6 == word(b"\"role\"") => (Claim::Role, 6),
            _ if w & MASK7 == word(b"\"scope\"") => (Claim::Scope, 7),
            _ => return None,
        };
        self.i += len;
        Some(claim)
    }

    /// Reads a string value, borrowed unless it has escapes.
    #[inline]
    fn str(&mut self) -> Result<Cow<'a, str>> {
        let (start, end, escaped) = self.string_span()?;
        if escaped {
            serde_json::from_str::<String>(&self.text[start..end])
                .map(Cow::Owned)
                .map_err(|_| bad_json())
        } else {
            Ok(Cow::Borrowed(&self.text[start + 1..end - 1]))
        }
    }

    /// Scans a number (RFC 8259 section 6 grammar) and returns its span.
    fn number_span(&mut self) -> Result<(usize, usize)> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                // RFC 8259 section 6: no leading zeros.
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(bad_json());
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad_json()),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad_json());
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad_json());
            }
            self.digits();
        }
        Ok((start, self.i))
    }

    #[inline]
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// Skips a string (value or object key), checking its escapes the way serde_json
    /// does when it builds a value (lone surrogates included), so raw extra claims are
    /// valid JSON.
    fn checked_string(&mut self) -> Result<()> {
        let (a, b, escaped) = self.string_span()?;
        if escaped && serde_json::from_str::<String>(&self.text[a..b]).is_err() {
            return Err(bad_json());
        }
        Ok(())
    }

    /// Skips any JSON value and returns its span.
    fn skip_value(&mut self, depth: usize) -> Result<(usize, usize)> {
        let start = self.i;
        match self.peek().ok_or_else(bad_json)? {
            b'"' => self.checked_string()?,
            b'-' | b'0'..=b'9' => {
                let (a, b) = self.number_span()?;
                // serde_json reads the number as a Value does; one beyond f64 is a syntax
                // error, one beyond 2^53 - 1 (RFC 7493 section 2.2) is refused once the
                // whole claim has been read.
                let v: f64 = serde_json::from_str(&self.text[a..b]).map_err(|_| bad_json())?;
                if !f64_in_claim_range(v) {
                    self.out_of_range = true;
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(bad_json());
                }
                self.i += 1;
                self.ws();
                let close = if open == b'[' { b']' } else { b'}' };
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok((start, self.i));
                }
                loop {
                    if open == b'{' {
                        if self.peek() != Some(b'"') {
                            return Err(bad_json());
                        }
                        self.checked_string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    if self.end_of_member(close)? {
                        break;
                    }
                }
            }
            _ => return Err(bad_json()),
        }
        Ok((start, self.i))
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(bad_json())
        }
    }

    /// A registered string claim, borrowed from the payload unless it has escapes.
    fn string_claim(&mut self, claim: &'static str) -> Result<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.type_error(claim, STR));
        }
        self.str()
    }

    /// A NumericDate: an integer, or a finite number rounded down; the same rules as the
    /// serde path in `claims_parse.rs`.
    fn date_claim(&mut self, claim: &'static str) -> Result<i64> {
        // Fast path: an integer of at most 18 digits (so it fits an i64) that ends where
        // the number ends. Anything else (a fraction, an exponent, a leading zero, more
        // digits, no digits) takes the general path below from the same position.
        let b = self.b;
        let negative = b.get(self.i) == Some(&b'-');
        let first = self.i + usize::from(negative);
        let mut j = first;
        let mut v = 0i64;
        // Dates have 10 digits: the first 8 in one step when they are all digits.
        if let Some(chunk) = b.get(first..first + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if let Some(eight) = eight_digits(u64::from_le_bytes(w)) {
                v = i64::from(eight);
                j += 8;
            }
        }
        while let Some(&d) = b.get(j) {
            if !d.is_ascii_digit() || j - first == 18 {
                break;
            }
            v = v * 10 + i64::from(d - b'0');
            j += 1;
        }
        let digits = j - first;
        if digits > 0
            && !(digits > 1 && b[first] == b'0')
            && !matches!(b.get(j), Some(b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.i = j;
            // RFC 7493 section 2.2: within +-(2^53 - 1), like every number in claims.
            if v > MAX_SAFE_INTEGER {
                return Err(bad_claim(claim, DATE));
            }
            return Ok(if negative { -v } else { v });
        }
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(self.type_error(claim, DATE));
        }
        let (start, end) = self.number_span()?;
        let text = &self.text[start..end];
        let integer = !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E'));
        if integer {
            if let Ok(v) = text.parse::<i64>() {
                return if i64_in_claim_range(v) {
                    Ok(v)
                } else {
                    Err(bad_claim(claim, DATE))
                };
            }
            // serde_json reads integers up to u64::MAX as integers (out of range for a
            // date) and anything longer as a float (out of range too, below).
            if text.parse::<u64>().is_ok() {
                return Err(bad_claim(claim, DATE));
            }
        }
        // Read by serde_json itself, so the value (and the error for a number beyond f64,
        // a syntax error rather than a type error) is the reference reader's to the bit.
        // It also keeps core's `dec2flt` tables (10 KB) out of the wasm build.
        let v: f64 = serde_json::from_str(text).map_err(|_| bad_json())?;
        numeric_date_from_f64(v).ok_or_else(|| bad_claim(claim, DATE))
    }

    fn aud_claim(&mut self) -> Result<AudienceRef<'a>> {
        match self.peek() {
            Some(b'"') => Ok(AudienceRef::One(self.str()?)),
            Some(b'[') => {
                self.i += 1;
                self.ws();
                let mut v = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(AudienceRef::Many(v));
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.type_error("aud", AUD));
                    }
                    v.push(self.str()?);
                    if self.end_of_member(b']')? {
                        return Ok(AudienceRef::Many(v));
                    }
                }
            }
            _ => Err(self.type_error("aud", AUD)),
        }
    }

    /// A value of the wrong type: `invalid_claim`. Like serde_json, the scalar that is
    /// there is read first, so a value that is not even JSON (`tru`, `-`) is `invalid_json`;
    /// arrays and objects are rejected at their first byte.
    fn type_error(&mut self, claim: &'static str, expected: &'static str) -> Error {
        let scalar_ok = match self.peek() {
            Some(b'[' | b'{') => true,
            Some(b'"') => self.str().is_ok(),
            // serde_json reads the number first; one beyond f64's range is a syntax error.
            Some(b'-' | b'0'..=b'9') => self
                .number_span()
                .is_ok_and(|(a, b)| number_in_range(&self.text[a..b])),
            Some(b't') => self.literal(b"true").is_ok(),
            Some(b'f') => self.literal(b"false").is_ok(),
            Some(b'n') => self.literal(b"null").is_ok(),
            _ => false,
        };
        if scalar_ok {
            bad_claim(claim, expected)
        } else {
            bad_json()
        }
    }
}

/// The value of 8 ASCII digits read as a little-endian word (first digit in the low
/// byte), or `None` if any byte is not a digit. SWAR: three multiplications instead of
/// eight steps (the method of simdjson's `parse_eight_digits_unrolled`).
#[inline]
fn eight_digits(w: u64) -> Option<u32> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // Every byte is 0x30..=0x39: its high nibble is 3, and adding 6 keeps it 3.
    let high = w & 0xf0f0_f0f0_f0f0_f0f0;
    let high_after_6 = w.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0;
    if high | (high_after_6 >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let mut v = w - ZEROS;
    // Pairs of digits, then groups of four, then all eight.
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    v = ((v & MASK).wrapping_mul(MUL1)).wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)) >> 32;
    Some(v as u32)
}

/// True when serde_json reads this number as a finite value (it reports numbers beyond
/// f64 as errors).
fn number_in_range(text: &str) -> bool {
    serde_json::from_str::<f64>(text).is_ok()
}

impl Claims {
    /// Reads claims from a JSON object, with the rules verification uses: registered
    /// claims must have their registered types (`invalid_claim` otherwise), NumericDates
    /// may be fractional (rounded down), duplicate names are rejected, any number beyond
    /// ±[`MAX_SAFE_INTEGER`] is `invalid_claim`, and everything else goes into
    /// [`Claims::extra`]. Bindings use this to turn host objects (sent as
    /// JSON text) into claims, so every runtime types claims the same way.
    pub fn from_json(json: &[u8]) -> Result<Claims> {
        parse_claims(json)
    }
}

/// Parses a claims object (the decoded payload of a token) into owned claims.
pub(crate) fn parse_claims(bytes: &[u8]) -> Result<Claims> {
    // Checked once for the whole payload. A payload that is not UTF-8 is invalid, but
    // which error comes first (a wrong claim type before the bad byte, or the byte) is
    // decided by reading in order, so it is left to the serde reader.
    let Ok(text) = core::str::from_utf8(bytes) else {
        return parse_claims_reference(bytes);
    };
    parse_claims_ref(text)?.into_owned()
}

/// Parses a claims object without copying: strings borrow from `text` (unless they hold
/// escapes) and extra claims stay raw JSON text, already checked to be valid.
pub(crate) fn parse_claims_ref(text: &str) -> Result<ClaimsRef<'_>> {
    let mut c = ClaimsRef::default();
    parse_claims_into(text, &mut c)?;
    Ok(c)
}

/// [`parse_claims_ref`] into claims the caller holds (cleared first), so the claims are
/// not moved through the return value.
pub(crate) fn parse_claims_into<'a>(text: &'a str, c: &mut ClaimsRef<'a>) -> Result<()> {
    let bytes = text.as_bytes();
    let mut r = Reader {
        b: bytes,
        text,
        i: 0,
        out_of_range: false,
    };
    *c = ClaimsRef::default();
    // Registered claims seen so far, one bit each.
    let mut seen = 0u16;
    let mut index: Option<BTreeSet<Cow<'_, str>>> = None;
    r.ws();
    r.eat(b'{')?;
    r.ws();
    if r.peek() == Some(b'}') {
        r.i += 1;
    } else {
        loop {
            if r.peek() != Some(b'"') {
                return Err(bad_json());
            }
            // The usual case: a registered name, unescaped, read in one 8-byte comparison.
            // Anything else is read as a string and matched after unescaping.
            let (claim, name) = match r.registered_name() {
                Some(claim) => (Some(claim), None),
                None => {
                    let name = r.str()?;
                    (Claim::from_name(&name), Some(name))
                }
            };
            r.ws();
            // Duplicates are rejected before the ':' is read, as the serde path does.
            if let Some(claim) = claim {
                if seen & claim.bit() != 0 {
                    return Err(bad_claim(claim.as_str(), expected::SINGLE));
                }
                seen |= claim.bit();
            }
            r.eat(b':')?;
            r.ws();
            match (claim, name) {
                (Some(Claim::Iss), _) => c.iss = Some(r.string_claim("iss")?),
                (Some(Claim::Sub), _) => c.sub = Some(r.string_claim("sub")?),
                (Some(Claim::Aud), _) => c.aud = r.aud_claim()?,
                (Some(Claim::Exp), _) => c.exp = Some(r.date_claim("exp")?),
                (Some(Claim::Nbf), _) => c.nbf = Some(r.date_claim("nbf")?),
                (Some(Claim::Iat), _) => c.iat = Some(r.date_claim("iat")?),
                (Some(Claim::Jti), _) => c.jti = Some(r.string_claim("jti")?),
                (Some(Claim::Scope), _) => c.scope = Some(r.string_claim("scope")?),
                (Some(Claim::Role), _) => c.role = Some(r.string_claim("role")?),
                (None, None) => return Err(bad_json()),
                (None, Some(name)) => {
                    let (start, end) = r.skip_value(1)?;
                    if r.out_of_range {
                        return Err(bad_claim("extra", NUMBER_RANGE));
                    }
                    // A linear scan for the usual handful of extra claims; an index once
                    // there are many, so a large payload cannot make this quadratic.
                    let duplicate = if c.extra.len() < 16 {
                        c.extra.iter().any(|(n, _)| *n == name)
                    } else {
                        let index = index.get_or_insert_with(|| {
                            c.extra
                                .iter()
                                .map(|(n, _)| n.clone())
                                .collect::<BTreeSet<_>>()
                        });
                        !index.insert(name.clone())
                    };
                    if duplicate {
                        return Err(bad_claim("extra", expected::SINGLE_EXTRA));
                    }
                    c.extra.push((name, &text[start..end]));
                }
            }
            if r.end_of_member(b'}')? {
                break;
            }
        }
    }
    r.ws();
    if r.i != bytes.len() {
        return Err(bad_json());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::parse_claims;
    use crate::token::claims_parse::parse_claims_reference;
    use alloc::format;

    /// The fast reader and the reference give the same claims, or errors of the same code.
    fn assert_agree(case: &str) {
        let fast = parse_claims(case.as_bytes());
        let reference = parse_claims_reference(case.as_bytes());
        match (&fast, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{case}"),
            (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{case}: fast {a}, reference {b}"),
            _ => panic!("{case}: fast {fast:?}, reference {reference:?}"),
        }
    }

    /// The 8-byte name matcher knows exactly the claims of the table in `claim.rs`.
    #[test]
    fn registered_names_match_the_claim_table() {
        let read = |text: &str| {
            let mut r = super::Reader {
                b: text.as_bytes(),
                text,
                i: 0,
                out_of_range: false,
            };
            (r.registered_name(), r.i)
        };
        for claim in super::Claim::ALL {
            let name = claim.as_str();
            let text = format!("\"{name}\":1}}");
            assert_eq!(read(&text), (Some(claim), name.len() + 2), "{name}");
        }
        for text in [
            r#""is":1}  "#,
            r#""issx":1}"#,
            r#""Iss":1} "#,
            r#""key_id":1}"#,
        ] {
            assert_eq!(read(text), (None, 0), "{text}");
        }
    }

    #[test]
    fn eight_digits_matches_parse() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = [0u8; 8];
            for (k, b) in bytes.iter_mut().enumerate() {
                let r = (seed >> (8 * k)) as u8;
                // Mostly digits, sometimes the bytes around them.
                *b = match r % 16 {
                    0 => {
                        [b'/', b':', 0x00, 0xff, b'.', b'e', 0x39 + 0x80, b'-'][usize::from(r >> 5)]
                    }
                    _ => b'0' + r % 10,
                };
            }
            let expected = core::str::from_utf8(&bytes)
                .ok()
                .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
                .map(|t| t.parse::<u32>().unwrap_or(u32::MAX));
            assert_eq!(
                super::eight_digits(u64::from_le_bytes(bytes)),
                expected,
                "{bytes:?}"
            );
        }
    }

    /// RFC 7493 section 2.2: every number in claims lies within +-(2^53 - 1), whatever its
    /// notation; beyond that it is `invalid_claim` in both readers.
    #[test]
    fn numbers_beyond_2_53_are_invalid_claims() {
        let ok: &[(&str, Option<i64>)] = &[
            (r#"{"exp":9007199254740991}"#, Some(9_007_199_254_740_991)),
            (r#"{"exp":-9007199254740991}"#, Some(-9_007_199_254_740_991)),
            (
                r#"{"exp":9.007199254740991e15}"#,
                Some(9_007_199_254_740_991),
            ),
            (r#"{"x":9007199254740991,"y":-9007199254740991}"#, None),
            (r#"{"x":[0.5,-1.5e15,{"z":9007199254740991.0}]}"#, None),
        ];
        for (case, exp) in ok {
            for claims in [
                parse_claims(case.as_bytes()),
                parse_claims_reference(case.as_bytes()),
            ] {
                let claims = claims.unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(claims.exp, *exp, "{case}");
            }
        }
        let refused: &[&str] = &[
            r#"{"exp":9007199254740992}"#,
            r#"{"exp":-9007199254740992}"#,
            r#"{"exp":18446744073709551616}"#,
            r#"{"iat":1e16}"#,
            r#"{"nbf":-999999999999999999}"#,
            r#"{"x":9007199254740992}"#,
            r#"{"x":-9007199254740992}"#,
            r#"{"x":18446744073709551616}"#,
            r#"{"x":-18446744073709551616}"#,
            r#"{"x":1e16}"#,
            r#"{"x":9007199254740991.5}"#,
            r#"{"x":{"a":[1,{"b":9007199254740992}]}}"#,
        ];
        for case in refused {
            for got in [
                parse_claims(case.as_bytes()),
                parse_claims_reference(case.as_bytes()),
            ] {
                match got {
                    Err(e) => assert_eq!(e.code(), "invalid_claim", "{case}: {e}"),
                    Ok(c) => panic!("{case}: accepted as {c:?}"),
                }
            }
        }
    }

    /// Random numbers around 2^53 (lengths 14-21 digits, signs, fractions, exponents) in
    /// dates and in extra claims: both readers give the same claims or the same code.
    #[test]
    fn numbers_near_the_range_edge_agree() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let r = next();
            let mut n = alloc::string::String::new();
            if r & 1 == 1 {
                n.push('-');
            }
            // Mostly "9007199254740..." prefixes, so the edge itself is hit often.
            let len = 14 + (r >> 1) as usize % 8;
            let prefix = if r & 6 != 0 { "9007199254740" } else { "1" };
            n.push_str(prefix);
            while n.trim_start_matches('-').len() < len {
                n.push(char::from(b'0' + (next() % 10) as u8));
            }
            match (r >> 8) % 5 {
                0 => n.push_str(&format!(".{}", next() % 1000)),
                1 => n.push_str(&format!("e{}", next() % 3)),
                2 => n.push_str(&format!("e-{}", next() % 3)),
                _ => {}
            }
            for case in [
                format!(r#"{{"exp":{n}}}"#),
                format!(r#"{{"x":[{n}]}}"#),
                format!(r#"{{"x":{{"y":{n}}},"iat":{n}}}"#),
            ] {
                assert_agree(&case);
            }
        }
    }

    /// The fast reader and the serde reference agree (the fuzz target does this at scale).
    #[test]
    fn agrees_with_serde_reference() {
        let cases: &[&str] = &[
            r#"{}"#,
            // A number beyond 2^53 that a later duplicate key replaces in serde's map,
            // then a syntax error: both readers count the number (found by the
            // differential fuzz target).
            "{\"\": {\"a\": 16666666666666666666666, \"a\": 1})",
            r#"{"x": {"a": 1e300, "a": 1}}"#,
            r#"{"x": [{"a": 9007199254740992, "a": 0}]}"#,
            r#" { } "#,
            r#"{"exp":1}"#,
            r#"{"exp":-0}"#,
            r#"{"exp":01}"#,
            r#"{"exp":1.5}"#,
            r#"{"exp":-1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":1e400}"#,
            r#"{"exp":-1e400}"#,
            r#"{"exp":9223372036854775807}"#,
            r#"{"exp":9223372036854775808}"#,
            r#"{"exp":-9223372036854775809}"#,
            r#"{"exp":18446744073709551616}"#,
            r#"{"exp":"1"}"#,
            r#"{"exp":tru}"#,
            r#"{"exp":true}"#,
            r#"{"exp":[1]}"#,
            r#"{"exp":{}}"#,
            r#"{"exp":-}"#,
            r#"{"exp":1.}"#,
            r#"{"exp":.5}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"exp":1,"exp"}"#,
            r#"{"sub":"a\"b"}"#,
            r#"{"sub":"\u00e9\ud83d\ude00"}"#,
            r#"{"sub":"\ud800"}"#,
            r#"{"sub":"\x"}"#,
            "{\"sub\":\"a\u{1}\"}",
            "{\"sub\":\"\u{e9}\"}",
            r#"{"sub":5x}"#,
            r#"{"sub":nul}"#,
            r#"{"sub":null}"#,
            r#"{"aud":"a"}"#,
            r#"{"aud":["a","b"]}"#,
            r#"{"aud":[]}"#,
            r#"{"aud":[1]}"#,
            r#"{"aud":["a",]}"#,
            r#"{"aud":["a" "b"]}"#,
            r#"{"aud":{}}"#,
            r#"{"aud":"a","aud":"b"}"#,
            r#"{"x":1,"x":2}"#,
            r#"{"x":[1,{"y":[true,false,null,"s",-1.5e-3]}]}"#,
            r#"{"x":[1,]}"#,
            r#"{"x":{"a\ b":1}}"#,
            r#"{"x":{"a\u0041":1},"y":"\ud800"}"#,
            r#"{"x":[1e400]}"#,
            r#"{"x":[1.7976931348623157e308]}"#,
            r#"{"x":[1.7976931348623158e308]}"#,
            r#"{"x":[1.7976931348623159e308]}"#,
            r#"{"x":[1e-400]}"#,
            r#"{"exp":1.7976931348623159e308}"#,
            r#"{"exp":1e-400}"#,
            r#"{"exp":999999999999999999.5}"#,
            r#"{"exp":1700000000.9999999999999999}"#,
            r#"{"exp":-0.5}"#,
            r#"{"x":[123456789012345678901234567890]}"#,
            r#"{"x":{"a"}}"#,
            r#"{"\u0065xp":5}"#,
            r#"{"exp":5}x"#,
            r#"{"exp":5,}"#,
            r#"{,}"#,
            r#"[]"#,
            r#""s""#,
            "",
            r#"{"exp":5"#,
            r#"{"exp""#,
            r#"{"a":1 "b":2}"#,
            "{\"x\":\"\u{7f}\"}",
            r#"{"iss":"i","sub":"s","aud":"a","exp":1,"nbf":2,"iat":3,"jti":"j","scope":"a b","role":"r","z":{"k":[1]}}"#,
            // Numbers at the edge of +-(2^53 - 1), in every notation.
            r#"{"exp":9007199254740991}"#,
            r#"{"exp":9007199254740992}"#,
            r#"{"exp":-9007199254740991}"#,
            r#"{"exp":-9007199254740992}"#,
            r#"{"exp":99999999999999999}"#,
            r#"{"exp":999999999999999999}"#,
            r#"{"exp":-999999999999999999}"#,
            r#"{"exp":9007199254740991.0}"#,
            r#"{"exp":9007199254740991.5}"#,
            r#"{"exp":-9007199254740991.4}"#,
            r#"{"exp":9.007199254740991e15}"#,
            r#"{"exp":9.007199254740992e15}"#,
            r#"{"exp":-18446744073709551616}"#,
            r#"{"nbf":18446744073709551616,"x":tru}"#,
            r#"{"x":9007199254740991}"#,
            r#"{"x":-9007199254740991}"#,
            r#"{"x":9007199254740992}"#,
            r#"{"x":-9007199254740992}"#,
            r#"{"x":18446744073709551615}"#,
            r#"{"x":18446744073709551616}"#,
            r#"{"x":-18446744073709551616}"#,
            r#"{"x":9007199254740991.4}"#,
            r#"{"x":9007199254740991.5}"#,
            r#"{"x":1e16}"#,
            r#"{"x":-1e300}"#,
            r#"{"x":1e-300}"#,
            r#"{"x":0.5,"y":-4503599627370495.5}"#,
            r#"{"x":{"a":[1,{"b":9007199254740992}]}}"#,
            r#"{"x":[9007199254740992,tru]}"#,
            r#"{"x":[9007199254740992],"x":1}"#,
            r#"{"x":1,"x":[9007199254740992]}"#,
            r#"{"x":[9007199254740992],"exp":"s"}"#,
            r#"{"x":[9007199254740992]"#,
            r#"{"x":[1e400,9007199254740992]}"#,
        ];
        for case in cases {
            assert_agree(case);
        }
        let deep_ok = format!(r#"{{"x":{}{}}}"#, "[".repeat(126), "]".repeat(126));
        let deep_bad = format!(r#"{{"x":{}{}}}"#, "[".repeat(128), "]".repeat(128));
        for case in [deep_ok, deep_bad] {
            assert_eq!(
                parse_claims(case.as_bytes()).is_ok(),
                parse_claims_reference(case.as_bytes()).is_ok(),
                "depth {}",
                case.len()
            );
        }
    }
}
