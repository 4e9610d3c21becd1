//! Options as every binding receives them, and the ONE function that builds each into its
//! core value. A binding reads its host's values (keyword arguments, a JSON object) into
//! these structs, reporting a wrong type in its own way; every rule about the values
//! themselves, and every error text about them, is here or in the core.

use keyseal::{
    Claim, Claims, Error, ExchangeOptions, KeyIdentity, KeyPolicy, RequestContext, Result, Scope,
    Validation,
};

/// What `required` names, for the error when a name is not a registered claim.
const REGISTERED_CLAIMS: &str =
    "names of registered claims (iss, sub, aud, exp, nbf, iat, jti, scope, role)";

/// Verify options; absent values (`None`, empty lists) are the core's defaults.
#[derive(Debug, Default)]
pub struct VerifyOptions<S> {
    /// Seconds of clock skew tolerated. Defaults to the core's (0).
    pub leeway: Option<u64>,
    /// Accepted `aud` values; empty accepts none required.
    pub audience: Vec<S>,
    /// Accepted `iss` values; empty accepts none required.
    pub issuer: Vec<S>,
    /// Claim names required in addition to `exp`.
    pub required: Vec<S>,
    /// Stops requiring `exp` (unless `required` names it).
    pub dangerously_allow_missing_exp: bool,
    /// Largest token accepted, in bytes. Defaults to the core's
    /// [`DEFAULT_MAX_TOKEN_LEN`](keyseal::token::DEFAULT_MAX_TOKEN_LEN).
    pub max_token_len: Option<usize>,
}

impl<S: AsRef<str>> VerifyOptions<S> {
    /// The core's [`Validation`]. `required` adds claims to the default `exp`; only
    /// `dangerously_allow_missing_exp` stops requiring `exp`, and it is applied first, so
    /// naming `exp` in `required` requires it even then.
    pub fn build(&self) -> Result<Validation> {
        let mut v = Validation::new();
        if let Some(leeway) = self.leeway {
            v = v.with_leeway(leeway)?;
        }
        for a in &self.audience {
            v = v.with_audience(a.as_ref());
        }
        for i in &self.issuer {
            v = v.with_issuer(i.as_ref());
        }
        if self.dangerously_allow_missing_exp {
            v = v.dangerously_allow_missing_exp();
        }
        for name in &self.required {
            let claim = Claim::from_name(name.as_ref()).ok_or(Error::InvalidConfig {
                setting: "required",
                expected: REGISTERED_CLAIMS,
            })?;
            v = v.require(claim);
        }
        if let Some(max) = self.max_token_len {
            v = v.with_max_token_len(max)?;
        }
        Ok(v)
    }
}

/// The arguments of an API key -> token exchange.
#[derive(Debug)]
pub struct ExchangeArgs<'a> {
    /// The key's public id (`sub` of the token).
    pub key_id: &'a str,
    /// The key's owner, if any.
    pub owner: Option<&'a str>,
    /// The key's scopes.
    pub scopes: &'a [&'a str],
    /// The key's role, if any.
    pub role: Option<&'a str>,
    /// Unix seconds of the exchange.
    pub now: i64,
    /// Lifetime in seconds. Defaults to the core's
    /// [`DEFAULT_EXCHANGE_TTL`](keyseal::token::DEFAULT_EXCHANGE_TTL).
    pub ttl: Option<u64>,
    /// `iss` of the token.
    pub issuer: Option<String>,
    /// `aud` of the token.
    pub audience: Option<String>,
    /// `jti` of the token.
    pub jti: Option<String>,
}

impl ExchangeArgs<'_> {
    /// The claims the exchange token carries.
    pub fn claims(self) -> Result<Claims> {
        let identity = KeyIdentity {
            key_id: self.key_id,
            owner: self.owner,
            scopes: self.scopes,
            role: self.role,
        };
        let options = ExchangeOptions {
            ttl: self.ttl.unwrap_or(keyseal::token::DEFAULT_EXCHANGE_TTL),
            issuer: self.issuer,
            audience: self.audience,
            jti: self.jti,
        };
        keyseal::exchange_claims(&identity, self.now, &options)
    }
}

/// A key policy's settings; absent values are the core's defaults.
#[derive(Debug, Default)]
pub struct PolicyOptions<S> {
    /// Whether the key may be used. Defaults to the core's (true).
    pub enabled: Option<bool>,
    /// Whether the key is revoked. Defaults to the core's (false).
    pub revoked: Option<bool>,
    /// Unix seconds after which the key is expired; none by default.
    pub expires_at: Option<i64>,
    /// The key's role; none by default.
    pub role: Option<String>,
    /// The key's scopes, parsed by the core.
    pub scopes: Vec<S>,
    /// Whether only read methods are allowed. Defaults to the core's (false).
    pub read_only: Option<bool>,
    /// CIDRs the client address must be in; empty allows any.
    pub allowed_ips: Vec<S>,
}

impl<S: AsRef<str>> PolicyOptions<S> {
    /// The core's [`KeyPolicy`]; bad scopes and CIDRs fail with the core's errors.
    pub fn build(self) -> Result<KeyPolicy> {
        let mut p = KeyPolicy::default();
        if let Some(v) = self.enabled {
            p.enabled = v;
        }
        if let Some(v) = self.revoked {
            p.revoked = v;
        }
        if let Some(v) = self.read_only {
            p.read_only = v;
        }
        p.expires_at = self.expires_at;
        p.role = self.role;
        p.scopes = self
            .scopes
            .iter()
            .map(|s| Scope::new(s.as_ref()))
            .collect::<Result<_>>()?;
        p.allowed_ips = self
            .allowed_ips
            .iter()
            .map(|s| s.as_ref().parse())
            .collect::<Result<_>>()?;
        Ok(p)
    }
}

/// The request a key policy is checked against.
#[derive(Debug)]
pub struct CheckArgs<S> {
    /// Unix seconds of the request.
    pub now: i64,
    /// The client's address, parsed by the core (IPv4 or IPv6 text).
    pub client_ip: Option<S>,
    /// The HTTP method, for read-only keys.
    pub method: Option<S>,
    /// Scopes the request needs.
    pub required_scopes: Vec<S>,
    /// Roles the request accepts; empty accepts any.
    pub allowed_roles: Vec<S>,
}

impl<S: AsRef<str>> CheckArgs<S> {
    /// Checks `policy` against this request: the first failing check's error.
    pub fn check(&self, policy: &KeyPolicy) -> Result<()> {
        let client_ip = self
            .client_ip
            .as_ref()
            .map(|ip| keyseal::policy::parse_ip(ip.as_ref()))
            .transpose()?;
        let required: Vec<&str> = self.required_scopes.iter().map(AsRef::as_ref).collect();
        let roles: Vec<&str> = self.allowed_roles.iter().map(AsRef::as_ref).collect();
        policy.check(&RequestContext {
            now: self.now,
            client_ip,
            method: self.method.as_ref().map(AsRef::as_ref),
            required_scopes: &required,
            allowed_roles: &roles,
        })
    }
}
