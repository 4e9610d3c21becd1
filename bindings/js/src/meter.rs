//! `Meter`: named rate limits and credits per subject, in memory (the core's
//! [`keyseal::Meter`]). Options and answers cross as JSON text, read and written by
//! `keyseal_binding_common::meter::JsMeter`, so both backends give the same bytes; numbers
//! from JS (`nowMs`, `cost`, `amount`) must be integers from 0 to 2^53-1, else
//! `invalid_config`.

use keyseal_binding_common::meter::JsMeter;
#[cfg(not(target_arch = "wasm32"))]
use napi_derive::napi;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

use crate::{Result, to_js};

/// An in-process meter.
#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
pub struct Meter(JsMeter);

#[cfg_attr(not(target_arch = "wasm32"), napi)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen)]
impl Meter {
    /// From meter options JSON (`{limits, credits, maxSubjects}`).
    #[cfg_attr(not(target_arch = "wasm32"), napi(constructor, catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(constructor))]
    pub fn new(json: String) -> Result<Meter> {
        JsMeter::new(&json).map(Meter).map_err(to_js)
    }
    /// Checks (and unless `dry_run` spends) `cost` for `subject` at `now_ms`; the answer
    /// as JSON text.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn check(
        &mut self,
        subject: String,
        now_ms: f64,
        cost: f64,
        dry_run: bool,
    ) -> Result<String> {
        self.0
            .check(&subject, now_ms, cost, dry_run)
            .map(str::to_owned)
            .map_err(to_js)
    }
    /// Adds `amount` credits to `subject`; the balance after.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen(js_name = addCredits))]
    pub fn add_credits(&mut self, subject: String, now_ms: f64, amount: f64) -> Result<f64> {
        self.0.add_credits(&subject, now_ms, amount).map_err(to_js)
    }
    /// The number of subjects held.
    #[cfg_attr(not(target_arch = "wasm32"), napi(catch_unwind))]
    pub fn size(&self) -> f64 {
        self.0.size()
    }
}
