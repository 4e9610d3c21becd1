//! The API key format: `<prefix>_<id>_<secret><checksum>`.
//!
//! - `prefix`: chosen by the issuer (`acme_live`), 1-32 characters of `[a-z0-9_]`,
//!   starting with a letter.
//! - `id`: the public lookup handle, base62, [`KeyFormat::id_len`] characters
//!   (default 16, at least 16: about 95 bits, so ids never collide in practice).
//! - `secret`: base62 from a CSPRNG, [`KeyFormat::secret_len`] characters (default 32,
//!   about 190 bits; at least 27, i.e. 160 bits, as RFC 6749 section 10.10 asks).
//! - `checksum`: 6 base62 characters of the CRC32 (IEEE) of everything before it, as
//!   GitHub's tokens do, so typos and random strings are rejected without a lookup.
//!
//! The base62 alphabet is `0-9A-Za-z`, in that order. A key is parsed from the right, so
//! prefixes that contain `_` work.

use alloc::string::String;
use core::fmt;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The base62 alphabet, in digit order.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the checksum suffix.
pub const CHECKSUM_LEN: usize = 6;
/// Longest prefix.
pub const MAX_PREFIX_LEN: usize = 32;
/// Shortest id (16 base62 characters, about 95 bits).
pub const MIN_ID_LEN: usize = 16;
/// Longest id.
pub const MAX_ID_LEN: usize = 32;
/// Shortest secret: 27 base62 characters carry 160.7 bits (RFC 6749 section 10.10).
pub const MIN_SECRET_LEN: usize = 27;
/// Longest secret.
pub const MAX_SECRET_LEN: usize = 64;
/// Longest key any format can produce; longer input is rejected before any other work.
pub const MAX_KEY_LEN: usize = MAX_PREFIX_LEN + 1 + MAX_ID_LEN + 1 + MAX_SECRET_LEN + CHECKSUM_LEN;

/// A source of cryptographically secure random bytes for key generation.
///
/// The core never reaches for randomness itself: it comes in through this trait, or
/// through [`OsRandom`] behind the `getrandom` feature.
pub trait RandomSource {
    /// Fills `dest` with random bytes, or fails with [`Error::RngFailed`].
    fn fill(&mut self, dest: &mut [u8]) -> Result<()>;
}

impl<F: FnMut(&mut [u8]) -> Result<()>> RandomSource for F {
    fn fill(&mut self, dest: &mut [u8]) -> Result<()> {
        self(dest)
    }
}

/// The operating system's CSPRNG (Web Crypto `getRandomValues` on wasm32-unknown-unknown).
#[cfg(feature = "getrandom")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "getrandom")]
impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<()> {
        getrandom::fill(dest).map_err(|_| Error::RngFailed)
    }
}

/// Fixed bytes as a random source, for tests and test vectors: deterministic, and fails
/// with [`Error::RngFailed`] when the bytes run out. Never use it for real keys.
#[derive(Clone, Debug)]
pub struct FixedEntropy<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> FixedEntropy<'a> {
    /// Wraps `bytes`; they are handed out in order.
    pub fn new(bytes: &'a [u8]) -> Self {
        FixedEntropy { bytes, pos: 0 }
    }

    /// How many bytes have been consumed.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl RandomSource for FixedEntropy<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<()> {
        let end = self.pos.checked_add(dest.len()).ok_or(Error::RngFailed)?;
        let src = self.bytes.get(self.pos..end).ok_or(Error::RngFailed)?;
        dest.copy_from_slice(src);
        self.pos = end;
        Ok(())
    }
}

/// How keys of one kind look: their prefix and the lengths of id and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: String,
    id_len: usize,
    secret_len: usize,
}

impl fmt::Debug for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFormat")
            .field("prefix", &self.prefix)
            .field("id_len", &self.id_len)
            .field("secret_len", &self.secret_len)
            .finish()
    }
}

impl KeyFormat {
    /// Default id length: 16 base62 characters.
    pub const DEFAULT_ID_LEN: usize = 16;
    /// Default secret length: 32 base62 characters (about 190 bits).
    pub const DEFAULT_SECRET_LEN: usize = 32;

    /// A format with `prefix` and the default lengths (id 16, secret 32).
    ///
    /// Fails with `invalid_prefix` unless `prefix` is 1-32 characters of `[a-z0-9_]`
    /// starting with a letter.
    pub fn new(prefix: &str) -> Result<Self> {
        validate_prefix(prefix)?;
        Ok(KeyFormat {
            prefix: String::from(prefix),
            id_len: Self::DEFAULT_ID_LEN,
            secret_len: Self::DEFAULT_SECRET_LEN,
        })
    }

    /// Sets the id length (16-32) and the secret length (27-64).
    pub fn with_lengths(mut self, id_len: usize, secret_len: usize) -> Result<Self> {
        if !(MIN_ID_LEN..=MAX_ID_LEN).contains(&id_len) {
            return Err(Error::InvalidConfig {
                setting: "id_len",
                expected: "16 to 32 characters",
            });
        }
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret_len) {
            return Err(Error::InvalidConfig {
                setting: "secret_len",
                expected: "27 to 64 characters",
            });
        }
        self.id_len = id_len;
        self.secret_len = secret_len;
        Ok(self)
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Length of the id part. Defaults to 16.
    pub fn id_len(&self) -> usize {
        self.id_len
    }

    /// Length of the secret part. Defaults to 32.
    pub fn secret_len(&self) -> usize {
        self.secret_len
    }

    /// Total length of a key of this format.
    pub fn key_len(&self) -> usize {
        self.prefix.len() + 1 + self.id_len + 1 + self.secret_len + CHECKSUM_LEN
    }

    /// Generates a key with bytes from `rng`.
    ///
    /// Bytes are turned into base62 by rejection sampling (bytes >= 248 are skipped), so
    /// every character is uniform. The id is drawn first, then the secret; with
    /// [`FixedEntropy`] the result depends only on the bytes.
    pub fn generate<R: RandomSource + ?Sized>(&self, rng: &mut R) -> Result<ApiKey> {
        let mut buf: Zeroizing<String> = Zeroizing::new(String::with_capacity(self.key_len()));
        buf.push_str(&self.prefix);
        buf.push('_');
        push_base62(&mut buf, self.id_len, rng)?;
        buf.push('_');
        push_base62(&mut buf, self.secret_len, rng)?;
        let sum = checksum(buf.as_bytes());
        // The checksum is ASCII base62, so pushing it byte by byte is valid UTF-8.
        for b in sum {
            buf.push(char::from(b));
        }
        let id_start = self.prefix.len() + 1;
        Ok(ApiKey {
            key: buf,
            id_start,
            secret_start: id_start + self.id_len + 1,
        })
    }

    /// Generates a key with the operating system's CSPRNG.
    #[cfg(feature = "getrandom")]
    pub fn generate_os(&self) -> Result<ApiKey> {
        self.generate(&mut OsRandom)
    }

    /// Checks that `key` is a well-formed key of this format (structure, checksum,
    /// prefix, lengths) without allocating.
    pub fn check<'k>(&self, key: &'k str) -> Result<KeyParts<'k>> {
        match self.check_exact_shape(key) {
            Some(parts) => Ok(parts),
            None => self.check_general(key),
        }
    }

    /// [`KeyFormat::check`] without the fast path: finds the separators from the right.
    fn check_general<'k>(&self, key: &'k str) -> Result<KeyParts<'k>> {
        let parts = split_key(key)?;
        if parts.prefix != self.prefix {
            return Err(Error::PrefixMismatch {
                expected: self.prefix.clone(),
                found: String::from(parts.prefix),
            });
        }
        if parts.id.len() != self.id_len {
            return Err(Error::MalformedKey {
                found: "an id of another length than the format's",
            });
        }
        if parts.secret.len() != self.secret_len {
            return Err(Error::MalformedKey {
                found: "a secret of another length than the format's",
            });
        }
        Ok(parts)
    }

    /// The hot path of [`KeyFormat::check`]: a key of exactly this format's length, with
    /// this prefix, separators where the lengths put them and base62 everywhere after
    /// the prefix, needs no search for its separators. Gives the same parts as the
    /// general parser; `None` leaves the key (and the choice of error) to it.
    #[inline]
    fn check_exact_shape<'k>(&self, key: &'k str) -> Option<KeyParts<'k>> {
        let b = key.as_bytes();
        let p = self.prefix.len();
        let last = p + 1 + self.id_len;
        if b.len() != last + 1 + self.secret_len + CHECKSUM_LEN
            || !b.starts_with(self.prefix.as_bytes())
            || b[p] != b'_'
            || b[last] != b'_'
        {
            return None;
        }
        let mut bad = 0u8;
        for &c in b[p + 1..last].iter().chain(&b[last + 1..]) {
            bad |= NOT_BASE62[usize::from(c)];
        }
        let split = b.len() - CHECKSUM_LEN;
        if bad != 0 || checksum(&b[..split]) != b[split..] {
            return None;
        }
        Some(KeyParts {
            prefix: &key[..p],
            id: &key[p + 1..last],
            secret: &key[last + 1..split],
        })
    }

    /// Parses `key` as a key of this format into an owned, zeroizing [`ApiKey`].
    pub fn parse(&self, key: &str) -> Result<ApiKey> {
        let parts = self.check(key)?;
        Ok(ApiKey::from_parts(key, &parts))
    }
}

/// Parses a key of any valid prefix and lengths (no format configured).
pub fn parse_key(key: &str) -> Result<ApiKey> {
    let parts = split_key(key)?;
    Ok(ApiKey::from_parts(key, &parts))
}

/// A borrowed view of a checked key's parts; the secret is only reachable through
/// [`KeyParts::expose_secret`], and `Debug` redacts it.
#[derive(Clone, Copy)]
pub struct KeyParts<'k> {
    prefix: &'k str,
    id: &'k str,
    secret: &'k str,
}

impl<'k> KeyParts<'k> {
    /// The prefix.
    pub fn prefix(&self) -> &'k str {
        self.prefix
    }
    /// The public id.
    pub fn id(&self) -> &'k str {
        self.id
    }
    /// The secret part (without the checksum). Handle with care.
    pub fn expose_secret(&self) -> &'k str {
        self.secret
    }
}

impl fmt::Debug for KeyParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyParts")
            .field("prefix", &self.prefix)
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A parsed or generated API key. Owns the key text, zeroizes it on drop, and never
/// shows the secret in `Debug` or `Display` (which print `prefix_id_…`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: Zeroizing<String>,
    id_start: usize,
    secret_start: usize,
}

impl ApiKey {
    fn from_parts(key: &str, parts: &KeyParts<'_>) -> ApiKey {
        let id_start = parts.prefix.len() + 1;
        ApiKey {
            key: Zeroizing::new(String::from(key)),
            id_start,
            secret_start: id_start + parts.id.len() + 1,
        }
    }

    /// The prefix, e.g. `acme_live`.
    pub fn prefix(&self) -> &str {
        &self.key[..self.id_start - 1]
    }

    /// The public id: safe to log, store and show.
    pub fn id(&self) -> &str {
        &self.key[self.id_start..self.secret_start - 1]
    }

    /// The 6-character checksum.
    pub fn checksum(&self) -> &str {
        &self.key[self.key.len() - CHECKSUM_LEN..]
    }

    /// The secret part, without the checksum. Handle with care.
    ///
    /// The four views of a key are [`ApiKey::expose`] (the whole key),
    /// [`ApiKey::prefixed_id`] (`prefix_id`, public), this method (the secret alone) and
    /// [`ApiKey::expose_secret_with_checksum`] (the secret and its checksum).
    pub fn expose_secret(&self) -> &str {
        &self.key[self.secret_start..self.key.len() - CHECKSUM_LEN]
    }

    /// The whole key, to hand to its owner once. Handle with care.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// `prefix_id`: the public part of the key, safe to log and show. It is the
    /// `accessKey` of the access-key/secret-key flow (docs/compat.md).
    pub fn prefixed_id(&self) -> &str {
        &self.key[..self.secret_start - 1]
    }

    /// The secret and its checksum: the whole key after `prefix_id_`, the `secretKey`
    /// of the access-key/secret-key flow. Handle with care.
    pub fn expose_secret_with_checksum(&self) -> &str {
        &self.key[self.secret_start..]
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("prefix", &self.prefix())
            .field("id", &self.id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_…", self.prefixed_id())
    }
}

/// Validates an issuer's prefix: 1-32 characters of `[a-z0-9_]`, starting with a letter.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let bytes = prefix.as_bytes();
    if bytes.is_empty() {
        return Err(Error::InvalidPrefix {
            found: "an empty prefix",
        });
    }
    if bytes.len() > MAX_PREFIX_LEN {
        return Err(Error::InvalidPrefix {
            found: "more than 32 characters",
        });
    }
    if !bytes[0].is_ascii_lowercase() {
        return Err(Error::InvalidPrefix {
            found: "a first character that is not a-z",
        });
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    {
        return Err(Error::InvalidPrefix {
            found: "a character outside [a-z0-9_]",
        });
    }
    Ok(())
}

/// A byte table: 0 for base62 (`[A-Za-z0-9]`) and, when `underscore`, for `_`; 1 for
/// every other byte. One lookup per byte, OR-ed together, checks a whole string.
const fn not_in_alphabet(underscore: bool) -> [u8; 256] {
    let mut t = [1u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || (underscore && c == b'_') {
            t[b] = 0;
        }
        b += 1;
    }
    t
}

/// 1 for bytes outside the key alphabet `[A-Za-z0-9_]`.
const NOT_KEY_CHAR: [u8; 256] = not_in_alphabet(true);

/// 1 for bytes outside base62 (`[A-Za-z0-9]`).
const NOT_BASE62: [u8; 256] = not_in_alphabet(false);

/// Splits and checks a key from the right: checksum, secret, id, then prefix.
fn split_key(key: &str) -> Result<KeyParts<'_>> {
    let bytes = key.as_bytes();
    if bytes.len() > MAX_KEY_LEN {
        return Err(Error::MalformedKey {
            found: "more than 136 characters",
        });
    }
    // The alphabet check is a table lookup per byte with no branch; the two separators are
    // then found from the right (memrchr). id and secret are base62 (no '_'), so
    // everything before the second-to-last '_' is the prefix, underscores included.
    let mut bad = 0u8;
    for &b in bytes {
        bad |= NOT_KEY_CHAR[usize::from(b)];
    }
    if bad != 0 {
        return Err(Error::MalformedKey {
            found: "a character outside [A-Za-z0-9_]",
        });
    }
    let last = key.rfind('_').ok_or(Error::MalformedKey {
        found: "no '_' separators",
    })?;
    let mid = key[..last].rfind('_').ok_or(Error::MalformedKey {
        found: "one '_' separator, two are needed",
    })?;
    let tail = &key[last + 1..];
    let prefix = &key[..mid];
    let id = &key[mid + 1..last];
    if tail.len() < MIN_SECRET_LEN + CHECKSUM_LEN || tail.len() > MAX_SECRET_LEN + CHECKSUM_LEN {
        return Err(Error::MalformedKey {
            found: "a secret outside 27-64 characters",
        });
    }
    if id.len() < MIN_ID_LEN || id.len() > MAX_ID_LEN {
        return Err(Error::MalformedKey {
            found: "an id outside 16-32 characters",
        });
    }
    validate_prefix(prefix).map_err(|_| Error::MalformedKey {
        found: "a prefix that is not [a-z][a-z0-9_]{0,31}",
    })?;
    let split = key.len() - CHECKSUM_LEN;
    let expected = checksum(&bytes[..split]);
    // Not secret (anyone can compute a CRC32), so a plain comparison is fine here.
    if expected != bytes[split..] {
        return Err(Error::BadChecksum);
    }
    Ok(KeyParts {
        prefix,
        id,
        secret: &tail[..tail.len() - CHECKSUM_LEN],
    })
}

/// The 6-character base62 CRC32 (IEEE) checksum of `data`, most significant digit first.
pub fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crate::fast::crc32::crc32(data);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Appends `n` uniform base62 characters drawn from `rng` by rejection sampling.
fn push_base62<R: RandomSource + ?Sized>(out: &mut String, n: usize, rng: &mut R) -> Result<()> {
    let mut pool = Zeroizing::new([0u8; MAX_SECRET_LEN]);
    let mut left = n;
    while left > 0 {
        // Draw exactly as many bytes as characters are still needed, so no usable byte is
        // ever discarded and fixed entropy maps to one key only.
        let chunk = &mut pool[..left];
        rng.fill(chunk)?;
        for &b in chunk.iter() {
            // 248 = 4 * 62: bytes below it map uniformly onto base62.
            if b < 248 {
                out.push(char::from(BASE62[usize::from(b % 62)]));
                left -= 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloc::vec::Vec;

    fn outcome(
        r: Result<KeyParts<'_>>,
    ) -> core::result::Result<(String, String, String), &'static str> {
        r.map(|p| (p.prefix().into(), p.id().into(), p.expose_secret().into()))
            .map_err(|e| e.code())
    }

    /// The exact-shape fast path gives what the general parser gives, for valid keys and
    /// for every single-byte change of them (separators, alphabet, checksum, lengths).
    #[test]
    fn fast_path_agrees_with_general_parser() {
        let formats = [
            KeyFormat::new("acme_live").unwrap(),
            KeyFormat::new("k").unwrap(),
            KeyFormat::new("a_b_c").unwrap(),
        ];
        let replacements = [b'_', b'a', b'Z', b'0', b'-', b'.', 0x80];
        for (n, format) in formats.iter().enumerate() {
            let key = format
                .generate(&mut FixedEntropy::new(&[n as u8 + 7; 64]))
                .unwrap();
            let key = key.expose().as_bytes().to_vec();
            let mut cases: Vec<Vec<u8>> = alloc::vec![key.clone()];
            for i in 0..key.len() {
                for &r in &replacements {
                    let mut k = key.clone();
                    k[i] = r;
                    cases.push(k);
                }
                let mut shorter = key.clone();
                shorter.remove(i);
                cases.push(shorter);
            }
            for case in cases {
                let Ok(text) = core::str::from_utf8(&case) else {
                    continue;
                };
                assert_eq!(
                    outcome(format.check(text)),
                    outcome(format.check_general(text)),
                    "{text}"
                );
            }
        }
    }
}
