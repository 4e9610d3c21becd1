//! What every keyseal binding shares, so each rule is written once.
//!
//! - [`options`]: verify options, exchange arguments, key policies and the requests a policy
//!   checks, built into core values by one function each, with one error text each,
//!   whatever the host language.
//!   The bindings only turn host values (Python keywords, a JS options object) into these
//!   plain structs.
//! - [`js`]: the JSON shapes of the napi and the wasm binding (options as JSON text, the
//!   verify result as one string plus numbers), so both JS backends produce the same bytes.
//! - [`meter`]: the in-process `Meter`'s options built into the core's spec once, the JS
//!   options JSON and the JS answer.
//!
//! A plain `rlib`: the binding crates are `cdylib` only so fat LTO applies to them, and the
//! code here is inlined into each.

pub mod js;
pub mod meter;
pub mod options;
