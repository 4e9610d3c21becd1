//! [`Validation`]: what verification checks beyond the signature, with each option's
//! default documented on it. The time rules are RFC 7519 sections 4.1.4 (`exp`) and
//! 4.1.5 (`nbf`); an `aud` nobody accepts is refused (RFC 7519 section 4.1.3; RFC 8725
//! section 3.9).

use alloc::string::String;
use alloc::vec::Vec;

use super::claim::{Claim, claim_present};
use super::claims::Claims;
use super::claims_ref::{AudienceRef, ClaimsRef};
use crate::error::{Error, Result};

/// What [`Validation`] reads of a set of claims, owned or borrowed.
pub(super) trait ClaimSource {
    fn has(&self, claim: Claim) -> bool;
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>);
    fn iss(&self) -> Option<&str>;
    fn aud_is_none(&self) -> bool;
    fn aud_contains(&self, audience: &str) -> bool;
}

impl ClaimSource for Claims {
    fn has(&self, claim: Claim) -> bool {
        Claims::has(self, claim)
    }
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, self.iat)
    }
    fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    fn aud_is_none(&self) -> bool {
        self.aud.is_none()
    }
    fn aud_contains(&self, audience: &str) -> bool {
        self.aud.contains(audience)
    }
}

impl ClaimSource for ClaimsRef<'_> {
    fn has(&self, claim: Claim) -> bool {
        claim_present!(self, claim, aud: self.aud != AudienceRef::None)
    }
    fn times(&self) -> (Option<i64>, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, self.iat)
    }
    fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    fn aud_is_none(&self) -> bool {
        self.aud == AudienceRef::None
    }
    fn aud_contains(&self, audience: &str) -> bool {
        self.aud.contains(audience)
    }
}

/// Largest leeway accepted: 300 seconds.
pub const MAX_LEEWAY: u64 = 300;
/// Default size limit of a token: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What [`Keyset::verify`](crate::Keyset::verify) checks beyond the signature.
///
/// Defaults: leeway 0 seconds; `exp` required ([`Validation::require`] adds claims to
/// it, and only [`Validation::dangerously_allow_missing_exp`] drops it); no audience accepted (so a
/// token that carries `aud` is rejected, RFC 7519 section 4.1.3); issuer not checked;
/// tokens over 8 KiB rejected before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    pub(super) leeway: u64,
    pub(super) audiences: Vec<String>,
    pub(super) issuers: Vec<String>,
    pub(super) required: u16,
    pub(super) max_token_len: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            leeway: 0,
            audiences: Vec::new(),
            issuers: Vec::new(),
            required: Claim::Exp.bit(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

impl Validation {
    /// The default validation (see the type's documentation).
    pub fn new() -> Validation {
        Validation::default()
    }

    /// Seconds of clock skew tolerated for `exp`, `nbf` and `iat`. Defaults to 0 seconds;
    /// at most 300 (`invalid_config` above that).
    pub fn with_leeway(mut self, seconds: u64) -> Result<Validation> {
        if seconds > MAX_LEEWAY {
            return Err(Error::InvalidConfig {
                setting: "leeway",
                expected: "0 to 300 seconds",
            });
        }
        self.leeway = seconds;
        Ok(self)
    }

    /// Accepts tokens whose `aud` names `audience` (any of the accepted ones). A token
    /// without `aud` is then rejected. Defaults to none accepted.
    pub fn with_audience(mut self, audience: &str) -> Validation {
        self.audiences.push(String::from(audience));
        self
    }

    /// Accepts tokens whose `iss` is `issuer` (any of the accepted ones); a token without
    /// `iss` is then rejected. Defaults to not checking `iss`.
    pub fn with_issuer(mut self, issuer: &str) -> Validation {
        self.issuers.push(String::from(issuer));
        self
    }

    /// Requires `claim` to be present, in addition to the claims already required.
    /// Defaults to requiring `exp` alone; requiring other claims never stops requiring
    /// `exp`.
    pub fn require(mut self, claim: Claim) -> Validation {
        self.required |= claim.bit();
        self
    }

    /// Weakens verification: accepts tokens without `exp`, i.e. tokens that never expire
    /// (an `exp` that is present is still checked). Defaults to off: `exp` is required.
    /// A later [`Validation::require`]`(Claim::Exp)` requires it again; bindings apply
    /// this before the claims they are asked to require, so naming `exp` among the
    /// required claims always wins.
    pub fn dangerously_allow_missing_exp(mut self) -> Validation {
        self.required &= !Claim::Exp.bit();
        self
    }

    /// Largest token accepted, in bytes; longer ones fail with `token_too_large` before any
    /// decoding. Defaults to 8192; 64 to 1,048,576.
    pub fn with_max_token_len(mut self, bytes: usize) -> Result<Validation> {
        if !(64..=1 << 20).contains(&bytes) {
            return Err(Error::InvalidConfig {
                setting: "max_token_len",
                expected: "64 to 1048576 bytes",
            });
        }
        self.max_token_len = bytes;
        Ok(self)
    }

    /// The leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The accepted issuers.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The required claims.
    pub fn required(&self) -> impl Iterator<Item = Claim> + '_ {
        Claim::ALL
            .iter()
            .copied()
            .filter(|c| self.required & c.bit() != 0)
    }

    /// The size limit in bytes.
    pub fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// Checks claims against this validation at `now` (RFC 7519 section 4.1, RFC 8725).
    pub fn check_claims(&self, claims: &Claims, now: i64) -> Result<()> {
        self.check(claims, now)
    }

    /// [`Validation::check_claims`] for borrowed claims.
    pub fn check_claims_ref(&self, claims: &ClaimsRef<'_>, now: i64) -> Result<()> {
        self.check(claims, now)
    }

    fn check<C: ClaimSource>(&self, claims: &C, now: i64) -> Result<()> {
        for claim in self.required() {
            if !claims.has(claim) {
                return Err(Error::MissingClaim {
                    claim: claim.as_str(),
                });
            }
        }
        // Leeway is at most 300, so this never overflows an i64 time of sane magnitude;
        // saturating arithmetic keeps absurd values from wrapping around.
        let leeway = self.leeway as i64;
        let (exp, nbf, iat) = claims.times();
        // RFC 7519 4.1.4: the current time MUST be before exp.
        if let Some(exp) = exp
            && now >= exp.saturating_add(leeway)
        {
            return Err(Error::TokenExpired { exp, now });
        }
        // RFC 7519 4.1.5: the current time MUST be after or equal to nbf.
        if let Some(nbf) = nbf
            && now.saturating_add(leeway) < nbf
        {
            return Err(Error::TokenNotYetValid { nbf, now });
        }
        if let Some(iat) = iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Error::TokenIssuedInFuture { iat, now });
        }
        if !self.issuers.is_empty() {
            match claims.iss() {
                None => {
                    return Err(Error::InvalidIssuer {
                        found: "expected an accepted iss, the token has none",
                    });
                }
                Some(iss) if !self.issuers.iter().any(|i| i == iss) => {
                    return Err(Error::InvalidIssuer {
                        found: "expected an accepted iss, found another",
                    });
                }
                Some(_) => {}
            }
        }
        if self.audiences.is_empty() {
            // RFC 7519 4.1.3: a principal that does not identify with a value in a present
            // aud MUST reject the token.
            if !claims.aud_is_none() {
                return Err(Error::InvalidAudience {
                    found: "the token names an audience and none is accepted",
                });
            }
        } else if claims.aud_is_none() {
            return Err(Error::InvalidAudience {
                found: "expected an accepted aud, the token has none",
            });
        } else if !self.audiences.iter().any(|a| claims.aud_contains(a)) {
            return Err(Error::InvalidAudience {
                found: "expected an accepted aud, found others",
            });
        }
        Ok(())
    }
}
