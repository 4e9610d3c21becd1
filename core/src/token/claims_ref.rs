//! [`ClaimsRef`]: a token's claims borrowed from its decoded payload, what the
//! allocation-free verification path returns; [`ClaimsRef::into_owned`] gives [`Claims`].

use alloc::borrow::Cow;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use super::claims::{Audience, Claims};
use crate::error::{Error, Result};

/// The `aud` claim of a [`ClaimsRef`], borrowed from the payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AudienceRef<'a> {
    /// No `aud` claim.
    #[default]
    None,
    /// `"aud": "x"`.
    One(Cow<'a, str>),
    /// `"aud": ["x", "y"]`.
    Many(Vec<Cow<'a, str>>),
}

impl AudienceRef<'_> {
    /// True when `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            AudienceRef::None => false,
            AudienceRef::One(a) => a == audience,
            AudienceRef::Many(v) => v.iter().any(|a| a == audience),
        }
    }

    fn into_owned(self) -> Audience {
        match self {
            AudienceRef::None => Audience::None,
            AudienceRef::One(a) => Audience::One(a.into_owned()),
            AudienceRef::Many(v) => Audience::Many(v.into_iter().map(Cow::into_owned).collect()),
        }
    }
}

/// A token's claims borrowed from its decoded payload: what
/// [`Keyset::verify_borrowed`](crate::Keyset::verify_borrowed) returns. Strings are borrowed unless they held JSON escapes;
/// extra claims are kept as their JSON text (already checked to be valid JSON), so
/// reading a token allocates nothing for them. [`ClaimsRef::into_owned`] gives [`Claims`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimsRef<'a> {
    /// `iss`.
    pub iss: Option<Cow<'a, str>>,
    /// `sub`.
    pub sub: Option<Cow<'a, str>>,
    /// `aud`.
    pub aud: AudienceRef<'a>,
    /// `exp`, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`, unix seconds.
    pub iat: Option<i64>,
    /// `jti`.
    pub jti: Option<Cow<'a, str>>,
    /// `scope`.
    pub scope: Option<Cow<'a, str>>,
    /// `role`.
    pub role: Option<Cow<'a, str>>,
    /// Extra claims in payload order: name and raw JSON value text.
    pub extra: Vec<(Cow<'a, str>, &'a str)>,
}

impl ClaimsRef<'_> {
    /// Copies the claims out of the payload, parsing extra claims into JSON values.
    pub fn into_owned(self) -> Result<Claims> {
        let mut extra = Map::new();
        for (name, raw) in self.extra {
            // The reader checked the text is valid JSON; a failure here is a bug.
            let value: Value = serde_json::from_str(raw).map_err(|_| Error::Internal {
                detail: "a checked extra claim did not parse",
            })?;
            extra.insert(name.into_owned(), value);
        }
        Ok(Claims {
            iss: self.iss.map(Cow::into_owned),
            sub: self.sub.map(Cow::into_owned),
            aud: self.aud.into_owned(),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti.map(Cow::into_owned),
            scope: self.scope.map(Cow::into_owned),
            role: self.role.map(Cow::into_owned),
            extra,
        })
    }
}
