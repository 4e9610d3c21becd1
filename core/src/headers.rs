//! Finding the credential in a request's headers, the ways the reference flows of
//! `docs/compat.md` send it:
//!
//! - `Authorization: Bearer <key or token>` (the key-for-token and scoped-keys flows); a
//!   value with a `.` is a token, anything else a key. The scheme is case-insensitive
//!   (RFC 9110 section 11.1).
//! - `x-api-key: <key>` (the named-keys flow).
//! - `accessKey: <prefix_id>` + `secretKey: <secret+checksum>` (the access-key/secret-key
//!   flow): the two halves of one keyseal key, joined with `_` by [`Credential::key`].
//!
//! Header names are case-insensitive. More than one kind of credential is
//! `ambiguous_credential`; the same header twice (or a comma-joined value, as proxies
//! fold repeated headers) is `duplicate_credential`. keyseal never guesses.

use alloc::string::String;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Where a credential came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// `x-api-key`.
    XApiKey,
    /// `accessKey` + `secretKey`.
    KeyPair,
}

impl CredentialSource {
    /// Stable name: `bearer`, `x-api-key` or `key-pair`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Bearer => "bearer",
            CredentialSource::XApiKey => "x-api-key",
            CredentialSource::KeyPair => "key-pair",
        }
    }
}

/// A credential found in headers. Borrowed from the header values; `Debug` redacts
/// secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// An API key from `Authorization: Bearer` or `x-api-key`.
    ApiKey {
        /// The key text.
        key: &'a str,
        /// Which header carried it.
        source: CredentialSource,
    },
    /// A signed token from `Authorization: Bearer` (it contains `.`).
    Token(&'a str),
    /// An `accessKey` + `secretKey` pair.
    KeyPair {
        /// `prefix_id`: not secret.
        access_key: &'a str,
        /// The secret half.
        secret_key: &'a str,
    },
}

impl core::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Credential::ApiKey { source, .. } => f
                .debug_struct("ApiKey")
                .field("key", &"<redacted>")
                .field("source", source)
                .finish(),
            Credential::Token(_) => f.debug_tuple("Token").field(&"<redacted>").finish(),
            Credential::KeyPair { access_key, .. } => f
                .debug_struct("KeyPair")
                .field("access_key", access_key)
                .field("secret_key", &"<redacted>")
                .finish(),
        }
    }
}

impl Credential<'_> {
    /// Where it came from ([`CredentialSource::Bearer`] for tokens).
    pub fn source(&self) -> CredentialSource {
        match self {
            Credential::ApiKey { source, .. } => *source,
            Credential::Token(_) => CredentialSource::Bearer,
            Credential::KeyPair { .. } => CredentialSource::KeyPair,
        }
    }

    /// The full API key text (the pair's halves joined with `_`), or `None` for a token.
    pub fn key(&self) -> Option<Zeroizing<String>> {
        match self {
            Credential::ApiKey { key, .. } => Some(Zeroizing::new(String::from(*key))),
            Credential::Token(_) => None,
            Credential::KeyPair {
                access_key,
                secret_key,
            } => {
                let mut s = Zeroizing::new(String::with_capacity(
                    access_key.len() + 1 + secret_key.len(),
                ));
                s.push_str(access_key);
                s.push('_');
                s.push_str(secret_key);
                Some(s)
            }
        }
    }
}

/// Longest credential header value considered (a token's 8 KiB limit plus the scheme).
pub const MAX_HEADER_VALUE_LEN: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Authorization,
    XApiKey,
    AccessKey,
    SecretKey,
}

impl Which {
    fn of(name: &str) -> Option<Which> {
        let name = name.trim_matches(|c| c == ' ' || c == '\t');
        if name.eq_ignore_ascii_case("authorization") {
            Some(Which::Authorization)
        } else if name.eq_ignore_ascii_case("x-api-key") {
            Some(Which::XApiKey)
        } else if name.eq_ignore_ascii_case("accesskey") {
            Some(Which::AccessKey)
        } else if name.eq_ignore_ascii_case("secretkey") {
            Some(Which::SecretKey)
        } else {
            None
        }
    }

    fn canonical(self) -> &'static str {
        match self {
            Which::Authorization => "authorization",
            Which::XApiKey => "x-api-key",
            Which::AccessKey => "accesskey",
            Which::SecretKey => "secretkey",
        }
    }
}

/// Trims optional whitespace (RFC 9110 section 5.5: SP and HTAB) around a value.
fn ows(v: &str) -> &str {
    v.trim_matches(|c| c == ' ' || c == '\t')
}

/// Finds the one credential in `headers` (name, value pairs; names in any case).
pub fn extract_credential<'a, I>(headers: I) -> Result<Credential<'a>>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut slots: [Option<&'a str>; 4] = [None; 4];
    for (name, value) in headers {
        let Some(which) = Which::of(name) else {
            continue;
        };
        let slot = &mut slots[which as usize];
        if slot.is_some() {
            return Err(Error::DuplicateCredential {
                header: which.canonical(),
            });
        }
        if value.len() > MAX_HEADER_VALUE_LEN {
            return Err(Error::IncompleteCredential {
                found: "a credential header over 16 KiB",
            });
        }
        let value = ows(value);
        // Proxies fold repeated headers into one comma-separated value (RFC 9110 5.3);
        // no key or token contains a comma, so a comma means two credentials.
        if value.contains(',') {
            return Err(Error::DuplicateCredential {
                header: which.canonical(),
            });
        }
        *slot = Some(value);
    }
    let [authorization, x_api_key, access_key, secret_key] = slots;
    let kinds = usize::from(authorization.is_some())
        + usize::from(x_api_key.is_some())
        + usize::from(access_key.is_some() || secret_key.is_some());
    if kinds > 1 {
        return Err(Error::AmbiguousCredential);
    }
    if let Some(auth) = authorization {
        let (scheme, rest) = match auth.find([' ', '\t']) {
            Some(i) => (&auth[..i], ows(&auth[i..])),
            None => (auth, ""),
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::UnsupportedAuthScheme);
        }
        return bearer(rest);
    }
    if let Some(key) = x_api_key {
        return single_value(key, "the x-api-key header is empty or has spaces").map(|key| {
            Credential::ApiKey {
                key,
                source: CredentialSource::XApiKey,
            }
        });
    }
    match (access_key, secret_key) {
        (Some(a), Some(s)) => {
            let access_key = single_value(a, "the accessKey header is empty or has spaces")?;
            let secret_key = single_value(s, "the secretKey header is empty or has spaces")?;
            Ok(Credential::KeyPair {
                access_key,
                secret_key,
            })
        }
        (Some(_), None) => Err(Error::IncompleteCredential {
            found: "accessKey without secretKey",
        }),
        (None, Some(_)) => Err(Error::IncompleteCredential {
            found: "secretKey without accessKey",
        }),
        (None, None) => Err(Error::MissingCredential),
    }
}

fn single_value<'a>(v: &'a str, problem: &'static str) -> Result<&'a str> {
    if v.is_empty() || v.contains([' ', '\t']) {
        return Err(Error::IncompleteCredential { found: problem });
    }
    Ok(v)
}

fn bearer(value: &str) -> Result<Credential<'_>> {
    let value = single_value(value, "the bearer credential is empty or has spaces")?;
    if value.contains('.') {
        Ok(Credential::Token(value))
    } else {
        Ok(Credential::ApiKey {
            key: value,
            source: CredentialSource::Bearer,
        })
    }
}
