//! Token verify against the HMAC floor, robust to a busy machine: both are timed in the
//! same process in interleaved batches, and the best batch of each is kept (load only
//! ever adds time). Same token, keys and validation as `benches/core.rs`.
//!
//! `cargo run --release -p keyseal --example verify_ratio`

#![allow(missing_docs, clippy::unwrap_used)]

use hmac::{KeyInit, Mac};
use keyseal::{Algorithm, Keyset, TokenKey};
use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/fixture/mod.rs"]
mod fixture;
use fixture::{NOW, SECRET};

const ROUNDS: usize = 200;
const BATCH: u32 = 20_000;

fn best_ns(best: &mut f64, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..BATCH {
        f();
    }
    *best = best.min(t.elapsed().as_nanos() as f64 / f64::from(BATCH));
}

fn main() {
    let keyset = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &SECRET).unwrap());
    let token = keyset.issue(&fixture::claims()).unwrap();
    let signing_input = token.rsplit_once('.').unwrap().0.to_owned();
    let validation = fixture::validation();
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&SECRET).unwrap();
    let mut scratch = Vec::new();
    let (mut floor, mut verify) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        best_ns(&mut floor, || {
            let mut m = mac.clone();
            m.update(black_box(signing_input.as_bytes()));
            black_box(m.finalize().into_bytes());
        });
        best_ns(&mut verify, || {
            let v = keyset
                .verify_borrowed(black_box(&token), &validation, NOW, &mut scratch)
                .unwrap();
            black_box(v.claims.exp);
        });
    }
    println!(
        "signing input {} bytes: HMAC floor {floor:.0} ns, verify_borrowed {verify:.0} ns = {:.2}x the floor (target <= 2.0x)",
        signing_input.len(),
        verify / floor
    );
}
