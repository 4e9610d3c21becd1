//! What only the wasm build has: its error type and conversion (a real JS `Error`, never a
//! string or a plain object), byte arrays, the module's memory, and the verify buffer that
//! lives in that memory.

use keyseal_binding_common::js as common;
use wasm_bindgen::prelude::*;

use crate::{Keyset, Validation};

/// The error type every export throws.
pub type Result<T> = std::result::Result<T, JsValue>;

/// Bytes from and to JS.
pub type Bytes = Box<[u8]>;

/// The ONE conversion from a core error to a thrown JS error.
pub(crate) fn to_js(e: keyseal::Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    // Setting a data property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(e.code()),
    );
    err.into()
}

thread_local! {
    /// The verify buffer shared with JS (see `common::split_io`); wasm32 has one thread.
    static IO: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Index of the first 8-byte aligned byte of `io` (JS reads the numbers through a
/// `Float64Array`, which must be aligned).
fn aligned_start(io: &[u8]) -> usize {
    let addr = io.as_ptr() as usize;
    (8 - addr % 8) % 8
}

fn buffer_in_use() -> JsValue {
    to_js(keyseal::Error::Internal {
        detail: "verify buffer in use",
    })
}

/// Makes the verify buffer at least `size` bytes (and gives back room beyond 4 times
/// that); returns its address in the module's memory (8-byte aligned). The address
/// changes only when the buffer is replaced.
#[wasm_bindgen(js_name = ioReserve)]
pub fn io_reserve(size: u32) -> Result<u32> {
    IO.with(|io| {
        let mut io = io.try_borrow_mut().map_err(|_| buffer_in_use())?;
        let want = size as usize + 8;
        if io.len() < want || io.len() / 4 > want {
            *io = vec![0; want];
        }
        let start = aligned_start(&io);
        Ok((io.as_ptr() as usize + start) as u32)
    })
}

/// The module's memory, for the wrapper's views of the verify buffer.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

#[wasm_bindgen]
impl Keyset {
    /// Verifies the token whose UTF-8 bytes the npm wrapper wrote into the verify buffer
    /// (`ioReserve`) with `TextEncoder.encodeInto`, so no string is passed in; returns the
    /// string of `common::write_verified` and writes its numbers into the buffer.
    pub fn verify(&mut self, len: u32, now: f64, validation: &Validation) -> Result<String> {
        IO.with(|io| {
            let mut io = io.try_borrow_mut().map_err(|_| buffer_in_use())?;
            let start = aligned_start(&io);
            let io = io.get_mut(start..).unwrap_or_default();
            let (meta, token) = common::split_io(io, len).map_err(to_js)?;
            let parts = self
                .verify_into(token, now, validation, meta)
                .map_err(to_js)?;
            Ok(parts.to_owned())
        })
    }
}
