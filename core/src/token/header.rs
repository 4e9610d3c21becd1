//! Reading a JOSE header (RFC 7515 section 4): `alg`, `kid`, and the parameters keyseal
//! refuses to ignore (`crit`, RFC 7515 section 4.1.11; `b64`, RFC 7797). Also parsing an
//! `alg` name into an [`Algorithm`].

use alloc::string::String;
use core::cell::Cell;
use core::fmt;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};

impl Algorithm {
    /// Parses a JOSE `alg` name. Anything but `HS256`, `HS384`, `HS512` (exact case) is
    /// `unsupported_algorithm`.
    pub fn from_name(name: &str) -> Result<Algorithm> {
        match name {
            "HS256" => Ok(Algorithm::HS256),
            "HS384" => Ok(Algorithm::HS384),
            "HS512" => Ok(Algorithm::HS512),
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }
}

/// A string from JSON, borrowed when it has no escapes.
pub(super) enum JsonStr<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl JsonStr<'_> {
    pub(super) fn as_str(&self) -> &str {
        match self {
            JsonStr::Borrowed(s) => s,
            JsonStr::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for JsonStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Owned(String::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> core::result::Result<Self::Value, E> {
                Ok(JsonStr::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads `bytes` as one JSON object with `visitor`, with nothing but whitespace after it.
/// Shared by the header reader and the reference claims reader.
pub(super) fn read_object<'de, V: Visitor<'de>>(
    bytes: &'de [u8],
    visitor: V,
) -> serde_json::Result<V::Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = (&mut de).deserialize_map(visitor)?;
    de.end()?;
    Ok(value)
}

/// The header parameters keyseal reads.
pub(super) struct Header<'h> {
    pub(super) alg: JsonStr<'h>,
    pub(super) kid: Option<JsonStr<'h>>,
}

pub(super) fn parse_header(bytes: &[u8]) -> Result<Header<'_>> {
    struct HeaderVisitor<'c> {
        unsupported: &'c Cell<Option<&'static str>>,
    }
    impl<'de> Visitor<'de> for HeaderVisitor<'_> {
        type Value = Header<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JOSE header object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> core::result::Result<Self::Value, A::Error> {
            let mut alg = None;
            let mut kid = None;
            while let Some(name) = map.next_key::<JsonStr<'de>>()? {
                match name.as_str() {
                    "alg" => {
                        if alg.is_some() {
                            return Err(de::Error::custom("duplicate alg"));
                        }
                        alg = Some(map.next_value::<JsonStr<'de>>()?);
                    }
                    "kid" => {
                        if kid.is_some() {
                            return Err(de::Error::custom("duplicate kid"));
                        }
                        kid = Some(map.next_value::<JsonStr<'de>>()?);
                    }
                    // RFC 7515 4.1.11: unknown critical extensions MUST be rejected; keyseal
                    // implements none, and b64=false (RFC 7797) changes what is signed.
                    "crit" | "b64" => {
                        self.unsupported.set(Some(if name.as_str() == "crit" {
                            "crit"
                        } else {
                            "b64"
                        }));
                        return Err(de::Error::custom("unsupported header"));
                    }
                    _ => {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
            let alg = alg.ok_or_else(|| de::Error::custom("missing alg"))?;
            Ok(Header { alg, kid })
        }
    }
    let unsupported = Cell::new(None);
    let parsed = read_object(
        bytes,
        HeaderVisitor {
            unsupported: &unsupported,
        },
    );
    match parsed {
        Ok(h) => Ok(h),
        Err(_) => match unsupported.get() {
            Some(param) => Err(Error::UnsupportedHeader { param }),
            None => Err(Error::InvalidJson { segment: "header" }),
        },
    }
}
