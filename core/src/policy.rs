//! The policy a key carries, checked against a request: a pure function from
//! ([`KeyPolicy`], [`RequestContext`]) to "allowed" or one error code.
//!
//! Checks run in this order, and the first failure is returned: revoked (`key_revoked`),
//! disabled (`key_disabled`), expired (`key_expired`), IP allowlist (`ip_not_allowed`),
//! role (`role_not_allowed`), read-only (`read_only_key`), scopes (`insufficient_scope`).
//! [`KeyPolicy::check`] does not allocate.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

use crate::error::{Error, Result};

/// An IPv4 or IPv6 network: a CIDR range, or a single address (`/32`, `/128`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` is inside this network. IPv4-mapped IPv6 addresses
    /// (`::ffff:1.2.3.4`) match IPv4 networks, as dual-stack sockets report them.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(ip) & mask) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(ip) & mask) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = Error;

    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a single address. Host bits must be zero
    /// (`10.0.0.1/8` is rejected: it is almost always a typo for a narrower range).
    fn from_str(s: &str) -> Result<IpNet> {
        if s.len() > 64 {
            return Err(Error::InvalidCidr {
                found: "more than 64 characters",
            });
        }
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| Error::InvalidCidr {
            found: "an address that does not parse",
        })?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::InvalidCidr {
                        found: "a prefix length that is not a number",
                    });
                }
                let n: u8 = p.parse().map_err(|_| Error::InvalidCidr {
                    found: "a prefix length that is not a number",
                })?;
                if n > max {
                    return Err(Error::InvalidCidr {
                        found: "a prefix length longer than the address",
                    });
                }
                n
            }
        };
        let net = IpNet { addr, prefix };
        if net.has_host_bits() {
            return Err(Error::InvalidCidr {
                found: "host bits set after the prefix",
            });
        }
        Ok(net)
    }
}

impl IpNet {
    fn has_host_bits(&self) -> bool {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & !mask != 0
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & !mask != 0
            }
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Debug for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Longest scope accepted.
pub const MAX_SCOPE_LEN: usize = 128;

/// A scope a key grants: `keys:read`, or a wildcard with a trailing `*` (`keys:*` grants
/// every scope starting with `keys:`; `*` grants all).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    text: String,
}

impl Scope {
    /// Parses a scope: 1-128 characters of `[A-Za-z0-9:._/-]`, with an optional single
    /// trailing `*`.
    pub fn new(text: &str) -> Result<Scope> {
        validate_scope(text)?;
        Ok(Scope {
            text: String::from(text),
        })
    }

    /// The scope's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when this granted scope covers the `required` one.
    #[inline]
    pub fn grants(&self, required: &str) -> bool {
        match self.text.strip_suffix('*') {
            Some(stem) => required.starts_with(stem),
            None => self.text == required,
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Validates a scope's text (see [`Scope::new`]).
pub fn validate_scope(text: &str) -> Result<()> {
    if text.is_empty() || text.len() > MAX_SCOPE_LEN {
        return Err(Error::InvalidScope {
            found: "an empty or over-long scope",
        });
    }
    let body = text.strip_suffix('*').unwrap_or(text);
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'/' | b'-'))
    {
        return Err(Error::InvalidScope {
            found: "a character outside the allowed set, or a '*' before the end",
        });
    }
    Ok(())
}

/// HTTP methods a read-only key may use (the scoped-keys flow of `docs/compat.md`: "access
/// only to GET operations"; HEAD
/// and OPTIONS are safe methods too, RFC 9110 section 9.2.1). Methods are case-sensitive
/// (RFC 9110 section 9.1), so `get` is not GET.
pub const READ_ONLY_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// What a key record says about where and how the key may be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Usable at all. Defaults to true.
    pub enabled: bool,
    /// Deleted or revoked. Defaults to false.
    pub revoked: bool,
    /// Unix seconds after which the key stops working; `None` = never (the default).
    pub expires_at: Option<i64>,
    /// The key's role, e.g. `account-owner`. Defaults to none.
    pub role: Option<String>,
    /// The scopes the key grants. Defaults to none (so any required scope fails).
    pub scopes: Vec<Scope>,
    /// Only GET, HEAD and OPTIONS. Defaults to false.
    pub read_only: bool,
    /// Networks the client must come from; empty (the default) = anywhere.
    pub allowed_ips: Vec<IpNet>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            enabled: true,
            revoked: false,
            expires_at: None,
            role: None,
            scopes: Vec::new(),
            read_only: false,
            allowed_ips: Vec::new(),
        }
    }
}

/// The request a key is presented with.
#[derive(Clone, Copy, Debug)]
pub struct RequestContext<'a> {
    /// Unix seconds.
    pub now: i64,
    /// The client's address, if known. Keys with an allowlist need it.
    pub client_ip: Option<IpAddr>,
    /// The HTTP method, if known. Read-only keys need it.
    pub method: Option<&'a str>,
    /// Scopes the request needs; each must be granted by one of the key's scopes.
    pub required_scopes: &'a [&'a str],
    /// Roles the request accepts; empty = any role (or none).
    pub allowed_roles: &'a [&'a str],
}

impl<'a> RequestContext<'a> {
    /// A context at `now` with nothing else required.
    pub fn at(now: i64) -> RequestContext<'a> {
        RequestContext {
            now,
            client_ip: None,
            method: None,
            required_scopes: &[],
            allowed_roles: &[],
        }
    }
}

impl KeyPolicy {
    /// Checks the request against this policy; see the module documentation for the
    /// order of checks.
    pub fn check(&self, ctx: &RequestContext<'_>) -> Result<()> {
        if self.revoked {
            return Err(Error::KeyRevoked);
        }
        if !self.enabled {
            return Err(Error::KeyDisabled);
        }
        if let Some(expires_at) = self.expires_at
            && ctx.now >= expires_at
        {
            return Err(Error::KeyExpired {
                expires_at,
                now: ctx.now,
            });
        }
        if !self.allowed_ips.is_empty() {
            let ip = ctx.client_ip.ok_or(Error::IpNotAllowed { missing: true })?;
            if !self.allowed_ips.iter().any(|net| net.contains(ip)) {
                return Err(Error::IpNotAllowed { missing: false });
            }
        }
        if !ctx.allowed_roles.is_empty() {
            let ok = match &self.role {
                Some(role) => ctx.allowed_roles.iter().any(|r| r == role),
                None => false,
            };
            if !ok {
                return Err(Error::RoleNotAllowed);
            }
        }
        if self.read_only {
            match ctx.method {
                Some(m) if READ_ONLY_METHODS.contains(&m) => {}
                _ => return Err(Error::ReadOnlyKey),
            }
        }
        for required in ctx.required_scopes {
            if !self.scopes.iter().any(|s| s.grants(required)) {
                return Err(Error::InsufficientScope);
            }
        }
        Ok(())
    }
}

/// Parses a client IP address (IPv4 or IPv6, no brackets or port); `invalid_cidr` if it
/// does not parse.
pub fn parse_ip(text: &str) -> Result<IpAddr> {
    IpAddr::from_str(text).map_err(|_| Error::InvalidCidr {
        found: "a client address that does not parse",
    })
}
