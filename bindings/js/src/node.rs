//! What only the napi build has: its error type and conversion, byte arrays, and
//! `Keyset.verify` over a buffer JS passes in.

use keyseal_binding_common::js as common;
use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;

use crate::{Keyset, Validation};

/// The error type every export throws: `code` = the core's snake_case code.
pub type Result<T> = std::result::Result<T, napi::Error<&'static str>>;

/// Bytes from and to JS.
pub type Bytes = Uint8Array;

/// The ONE conversion from a core error to a thrown JS error.
pub(crate) fn to_js(e: keyseal::Error) -> napi::Error<&'static str> {
    napi::Error::new(e.code(), e.to_string())
}

/// A `Uint8Array` read and written in place. An alias because napi-derive reads a literal
/// `&mut [u8]` argument as a class reference.
type IoBuffer<'a> = &'a mut [u8];

#[napi]
impl Keyset {
    /// Verifies the token whose UTF-8 bytes are `io[IO_TOKEN..IO_TOKEN + len]` (the npm
    /// wrapper writes them with `TextEncoder.encodeInto`, so no string is converted here);
    /// returns the string of `common::write_verified` and writes its numbers into
    /// `io[..IO_TOKEN]`.
    #[napi(catch_unwind)]
    pub fn verify(
        &mut self,
        io: IoBuffer<'_>,
        len: u32,
        now: f64,
        validation: &Validation,
    ) -> Result<&str> {
        let (meta, token) = common::split_io(io, len).map_err(to_js)?;
        self.verify_into(token, now, validation, meta)
            .map_err(to_js)
    }
}
